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
