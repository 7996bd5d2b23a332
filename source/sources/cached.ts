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
 * An asynchronous value read at most once every `ttlMs`; a load that fails is forgotten, so the
 * next call tries again rather than repeating the failure until the time is up.
 */
export function cachedPromise<T>(ttlMs: number, load: () => Promise<T>, now: () => number = Date.now): () => Promise<T> {
	let value: Promise<T> | undefined;
	let loadedAt = Number.NEGATIVE_INFINITY;
	return () => {
		if (value === undefined || now() - loadedAt >= ttlMs) {
			const loading = load();
			value = loading;
			loadedAt = now();
			loading.catch(() => {
				if (value === loading) {
					value = undefined;
				}
			});
		}
		return value;
	};
}
