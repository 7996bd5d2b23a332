/** Cumulative counters read at one moment of the server's clock. */
export interface CounterReading<K extends string> {
	/** Server time of the reading, epoch ms. */
	readonly atMs: number;
	/**
	 * When the counters last started from zero, if the server says (pg_stat_database.stats_reset,
	 * pg_stat_statements_info.stats_reset, pg_stat_statements.stats_since); null when unknown.
	 */
	readonly resetAtMs: number | null;
	readonly values: Readonly<Record<K, number>>;
}

export interface CounterDelta<K extends string> {
	/** The seconds the deltas cover: the interval, or the part of it since a reset. */
	readonly seconds: number;
	/** The counters started over inside the interval (reset, or a counter went down): deltas count from zero. */
	readonly restarted: boolean;
	/** Never negative. */
	readonly deltas: Readonly<Record<K, number>>;
	readonly perSecond: Readonly<Record<K, number>>;
}

const mapValues = <K extends string>(keys: readonly K[], value: (key: K) => number): Record<K, number> =>
	Object.fromEntries(keys.map(key => [key, value(key)])) as Record<K, number>;

/**
 * Deltas and per-second rates between two readings, robust to resets: when the reset time moved or any
 * counter went down, the counters started from zero inside the interval, so the current values are the
 * delta, over the seconds since the reset when it is known (else over the whole interval, a lower
 * bound). Null without a previous reading or when the server clock did not advance. Pure.
 */
export function counterDelta<K extends string>(previous: CounterReading<K> | null, current: CounterReading<K>): CounterDelta<K> | null {
	if (previous === null) return null;
	const intervalS = (current.atMs - previous.atMs) / 1000;
	if (!(intervalS > 0)) return null;
	const keys = Object.keys(current.values) as K[];
	const resetMoved = current.resetAtMs !== null && current.resetAtMs !== previous.resetAtMs;
	const wentDown = keys.some(key => current.values[key] < (previous.values[key] ?? 0));
	if (!resetMoved && !wentDown) {
		const deltas = mapValues(keys, key => current.values[key] - (previous.values[key] ?? 0));
		return {seconds: intervalS, restarted: false, deltas, perSecond: mapValues(keys, key => deltas[key] / intervalS)};
	}
	const since = resetMoved && current.resetAtMs !== null && current.resetAtMs > previous.atMs && current.resetAtMs < current.atMs ? current.resetAtMs : previous.atMs;
	const seconds = (current.atMs - since) / 1000;
	const deltas = mapValues(keys, key => Math.max(0, current.values[key]));
	return {seconds, restarted: true, deltas, perSecond: mapValues(keys, key => deltas[key] / seconds)};
}

/** part / whole, or null when whole is 0. */
export const ratio = (part: number, whole: number): number | null => (whole > 0 ? part / whole : null);
