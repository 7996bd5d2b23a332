import {InputError} from '../usage/input-error.js';
import {parseInstant} from '../usage/time-range.js';

const UNIT_MS = {d: 86_400_000, h: 3_600_000} as const;

/** `30d` or `12h` → milliseconds. Anything else is an InputError: a typo must not delete rows. */
export function parseKeep(text: string): number {
	const match = /^(\d{1,6})([dh])$/u.exec(text.trim());
	const amount = match === null ? 0 : Number(match[1]);
	if (match === null || amount === 0) {
		throw new InputError(`--keep ${JSON.stringify(text)} is not a duration: give days or hours, e.g. 30d or 72h`);
	}
	return amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** How the user says which rows go: keep the last `keep` (from `nowMs`), or an absolute cutoff. */
export interface CutoffChoice {
	/** `30d`, `72h`: rows older than now minus this go. */
	readonly keep?: string;
	/** An absolute cutoff (ISO 8601, epoch ms as text, or epoch ms): what a resumed run passes again. */
	readonly cutoff?: string | number;
	/** The clock `keep` counts back from; Date.now() when absent. */
	readonly nowMs?: number;
}

/** The cutoff in epoch ms: rows with a time before it go, a row exactly at it stays. */
export function resolveCutoff(choice: CutoffChoice): number {
	const nowMs = choice.nowMs ?? Date.now();
	if ((choice.keep === undefined) === (choice.cutoff === undefined)) {
		throw new InputError('give either --keep (e.g. 30d) or --cutoff (an ISO time), exactly one of them');
	}
	if (choice.keep !== undefined) {
		return nowMs - parseKeep(choice.keep);
	}
	const cutoffMs = typeof choice.cutoff === 'number' ? choice.cutoff : parseInstant('cutoff', choice.cutoff!);
	if (!Number.isSafeInteger(cutoffMs)) {
		throw new InputError(`--cutoff ${String(choice.cutoff)} is not a time`);
	}
	if (cutoffMs > nowMs) {
		// A cutoff in the future would take rows written after the dry run was read.
		throw new InputError(`--cutoff ${new Date(cutoffMs).toISOString()} is in the future`);
	}
	return cutoffMs;
}

/** The cutoff in a time column's unit, and the instant it stands for. */
export interface ColumnCutoff {
	/** Compared as `time < value`. */
	readonly value: number;
	/** `value` back in epoch ms: the cutoff actually used, to report and to pass again on resume. */
	readonly effectiveMs: number;
}

/**
 * new-api's `created_at` is unix seconds, truncated: a row stamped S was written in [S, S + 1).
 * Flooring the cutoff to a whole second keeps every row that may have been written at or after it;
 * a row exactly at the cutoff is kept either way. CPA's `timestamp_ms` needs no rounding.
 */
export function columnCutoff(cutoffMs: number, unit: 'seconds' | 'milliseconds'): ColumnCutoff {
	if (unit === 'milliseconds') {
		return {value: cutoffMs, effectiveMs: cutoffMs};
	}
	const value = Math.floor(cutoffMs / 1000);
	return {value, effectiveMs: value * 1000};
}
