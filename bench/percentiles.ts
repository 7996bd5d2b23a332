import {median} from './timing.js';

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
	if (values.length === 0) {
		throw new Error('percentile of no values');
	}
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

export interface Distribution {
	readonly count: number;
	readonly median: number;
	readonly p95: number;
	readonly mean: number;
	readonly min: number;
	readonly max: number;
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

/** The figures reported for a list of timings, rounded to `digits` decimals. */
export function distribution(values: readonly number[], digits = 3): Distribution {
	return {
		count: values.length,
		median: round(median(values), digits),
		p95: round(percentile(values, 95), digits),
		mean: round(values.reduce((sum, value) => sum + value, 0) / values.length, digits),
		min: round(Math.min(...values), digits),
		max: round(Math.max(...values), digits),
	};
}
