import {InputError, quoted} from './input-error.js';
import type {TimeRange} from './types.js';

export const RANGE_PRESETS = ['15m', '1h', '24h', 'today', '7d', '30d', 'all'] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];

const PRESET_MS: Record<Exclude<RangePreset, 'today' | 'all'>, number> = {
	'15m': 15 * 60_000,
	'1h': 3_600_000,
	'24h': 86_400_000,
	'7d': 7 * 86_400_000,
	'30d': 30 * 86_400_000,
};

/**
 * What the user asked for, kept unresolved: a relative range is resolved again at every refresh,
 * so its end moves with the clock instead of freezing at the first render.
 */
export interface RangeSpec {
	readonly preset: RangePreset | null;
	readonly fromMs: number | null;
	readonly toMs: number | null;
}

const DEFAULT_PRESET: RangePreset = '24h';

export function parseRangePreset(value: string): RangePreset {
	const preset = RANGE_PRESETS.find(candidate => candidate === value);
	if (preset === undefined) {
		throw new InputError(`unknown range ${quoted(value)}; expected one of: ${RANGE_PRESETS.join(', ')}`);
	}
	return preset;
}

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/u;
// Anything below this is far more likely epoch seconds than a moment in 1973.
const SMALLEST_EPOCH_MS = 100_000_000_000;
// The last moment a Date can hold: past it, local midnight ("today") is no longer a number.
const LARGEST_EPOCH_MS = 8_640_000_000_000_000;

/**
 * ISO 8601 or epoch milliseconds. Without an offset, a date or a time is local, as an operator
 * reads the clock on the wall; `Z` or `+08:00` say otherwise.
 */
export function parseInstant(flag: string, value: string): number {
	const text = value.trim();
	if (/^\d+$/.test(text)) {
		const ms = Number(text);
		if (ms < SMALLEST_EPOCH_MS) {
			throw new InputError(`--${flag} ${quoted(value)} is not epoch milliseconds (seconds? multiply by 1000)`);
		}
		if (ms > LARGEST_EPOCH_MS) {
			throw new InputError(`--${flag} ${quoted(value)} is later than any date (${LARGEST_EPOCH_MS} ms at most)`);
		}
		return ms;
	}
	const parts = ISO_8601.exec(text);
	if (parts !== null && clockIsReal(parts)) {
		// Date.parse reads a date alone as UTC but a date-time without offset as local: give it both parts.
		const ms = Date.parse(parts[4] === undefined ? `${text}T00:00` : text.replace(' ', 'T'));
		if (Number.isFinite(ms)) {
			return ms;
		}
	}
	throw new InputError(`--${flag} ${quoted(value)} is not a date: give ISO 8601 (2026-11-01T12:00:00Z) or epoch milliseconds`);
}

// Date.parse rolls 2026-02-31 over to March and 24:00 to the next day; a typo like that must be an
// error, not another moment.
function clockIsReal(parts: RegExpExecArray): boolean {
	const [year, month, day, hour, minute, second] = parts.slice(1, 7).map(part => (part === undefined ? 0 : Number(part))) as number[];
	const probe = new Date(Date.UTC(year!, month! - 1, day!));
	const dateIsReal = probe.getUTCFullYear() === year && probe.getUTCMonth() === month! - 1 && probe.getUTCDate() === day;
	return dateIsReal && hour! < 24 && minute! < 60 && second! < 60;
}

export function rangeSpec(options: {preset?: RangePreset; fromMs?: number; toMs?: number}): RangeSpec {
	const {preset, fromMs, toMs} = options;
	if (preset !== undefined && fromMs !== undefined) {
		throw new InputError('give either --range or --from, not both');
	}
	// Both written out and reversed is a slip; --from alone past the clock is a window still to come,
	// empty until the clock reaches it, which a live dashboard then fills.
	if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
		throw new InputError(`--from ${new Date(fromMs).toISOString()} is after --to ${new Date(toMs).toISOString()}`);
	}
	return {
		preset: fromMs === undefined ? (preset ?? DEFAULT_PRESET) : null,
		fromMs: fromMs ?? null,
		toMs: toMs ?? null,
	};
}

/**
 * Every range that reaches an engine is checked here, whoever builds it: the SQL compares whole
 * numbers, and NaN, Infinity or a fraction would be an engine error or silently match nothing. A
 * range that starts after it ends is no mistake at this level: it is empty, as `--from` later than
 * now gives until the clock gets there.
 */
export function checkedRange(range: TimeRange): TimeRange {
	const {startMs, endMs} = range;
	if (!Number.isSafeInteger(endMs) || (startMs !== null && !Number.isSafeInteger(startMs))) {
		throw new InputError(`a time range is whole milliseconds within the safe integers, got ${startMs} to ${endMs}`);
	}
	return range;
}

/** Whether a checked range can hold no request at all: it starts after it ends. */
export const isEmptyRange = (range: TimeRange): boolean => range.startMs !== null && range.startMs > range.endMs;

/** The concrete window for one refresh. */
export function resolveRange(spec: RangeSpec, nowMs: number): TimeRange {
	const endMs = spec.toMs ?? nowMs;
	if (spec.fromMs !== null) {
		return {startMs: spec.fromMs, endMs};
	}
	switch (spec.preset) {
		case null:
		case 'all':
			return {startMs: null, endMs};
		case 'today': {
			const midnight = new Date(endMs);
			midnight.setHours(0, 0, 0, 0);
			return {startMs: midnight.getTime(), endMs};
		}
		default:
			return {startMs: endMs - PRESET_MS[spec.preset], endMs};
	}
}
