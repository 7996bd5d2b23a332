/** What decides the gap between one load of a panel and the next. */
export interface DelayInput {
	/** The panel's healthy gap: base interval × every. */
	readonly cadenceMs: number;
	/** Consecutive failures, counting the load that just ended. */
	readonly failures: number;
	/** How long the load that just ended took. */
	readonly durationMs: number;
	readonly maxBackoffMs: number;
}

/**
 * Waiting at least twice as long as a load took keeps one panel's queries to about a third of wall
 * time, whatever the interval: a struggling server gets fewer queries from us, not more.
 */
const SLOW_LOAD_GAP_FACTOR = 2;

/** Milliseconds from the end of a load to the start of the next one. */
export function nextDelayMs(input: DelayInput): number {
	return Math.max(errorBackoffMs(input), SLOW_LOAD_GAP_FACTOR * input.durationMs);
}

/** cadence × 2^failures, capped; the cap never makes a failing panel poll faster than a healthy one. */
export function errorBackoffMs({cadenceMs, failures, maxBackoffMs}: DelayInput): number {
	if (failures <= 0) return cadenceMs;
	return Math.min(cadenceMs * 2 ** failures, Math.max(maxBackoffMs, cadenceMs));
}
