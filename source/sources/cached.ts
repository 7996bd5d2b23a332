/**
 * A value read at most once every `ttlMs`: names and aliases change rarely, and every panel of a
 * refresh needs them.
 */
export function cachedFor<T>(ttlMs: number, load: () => T, now: () => number = Date.now): () => T {
	let value: T;
	let loadedAt = Number.NEGATIVE_INFINITY;
	return () => {
		if (now() - loadedAt >= ttlMs) {
			value = load();
			loadedAt = now();
		}
		return value;
	};
}

/**
 * An asynchronous value read at most once every `ttlMs`, counted from when the last load settled
 * (a slow load is shared, never doubled); a load that fails is forgotten, so the next call tries
 * again rather than repeating the failure until the time is up.
 */
export function cachedPromise<T>(ttlMs: number, load: () => Promise<T>, now: () => number = Date.now): () => Promise<T> {
	let value: Promise<T> | undefined;
	let settledAt = Number.NEGATIVE_INFINITY;
	let pending = false;
	return () => {
		if (value === undefined || (!pending && now() - settledAt >= ttlMs)) {
			const loading = load();
			value = loading;
			pending = true;
			loading.then(
				() => {
					if (value === loading) {
						pending = false;
						settledAt = now();
					}
				},
				() => {
					if (value === loading) {
						pending = false;
						value = undefined;
					}
				},
			);
		}
		return value;
	};
}
