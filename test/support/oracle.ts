// An independent recomputation of every figure from raw rows, in plain JavaScript: the query
// layer's SQL is checked against this, never against itself.
import type {Facets, SortDirection, SortKey} from '../../source/usage/types.js';

export interface OracleRow {
	readonly id: number;
	readonly tsMs: number;
	readonly ok: boolean;
	readonly model: string;
	readonly input: number;
	readonly output: number;
	readonly reasoning: number;
	readonly cached: number;
	readonly total: number;
	readonly latency: number | null;
	/** null when unpriced */
	readonly cost: number | null;
	/** group key per dimension */
	readonly dims: Readonly<Record<string, string>>;
	readonly apiKey: string;
	readonly account: string;
}

export interface OracleGroup {
	key: string;
	totalRequests: number;
	successCount: number;
	failureCount: number;
	successRate: number;
	inputTokens: number;
	outputTokens: number;
	cachedTokens: number;
	totalTokens: number;
	costUsd: number;
	unpricedRequests: number;
	lastSeenAtMs: number;
}

export const inRange = (rows: readonly OracleRow[], startMs: number | null, endMs: number) =>
	rows.filter(row => (startMs === null || row.tsMs >= startMs) && row.tsMs <= endMs);

export function summarize(rows: readonly OracleRow[]) {
	const withLatency = rows.filter(row => row.latency !== null);
	return {
		totalRequests: rows.length,
		successCount: rows.filter(row => row.ok).length,
		failureCount: rows.filter(row => !row.ok).length,
		totalTokens: sum(rows, row => row.total),
		tokens: {
			input: sum(rows, row => row.input),
			output: sum(rows, row => row.output),
			reasoning: sum(rows, row => row.reasoning),
			cached: sum(rows, row => row.cached),
		},
		latencyMsAvg: withLatency.length === 0 ? null : sum(withLatency, row => row.latency!) / withLatency.length,
		costUsd: sum(rows, row => row.cost ?? 0),
		unpricedRequests: rows.filter(row => row.cost === null).length,
	};
}

export const sum = <T>(items: readonly T[], value: (item: T) => number): number => items.reduce((total, item) => total + value(item), 0);

export function groupBy(rows: readonly OracleRow[], key: (row: OracleRow) => string): OracleGroup[] {
	const groups = new Map<string, OracleRow[]>();
	for (const row of rows) {
		const k = key(row);
		const members = groups.get(k);
		if (members === undefined) {
			groups.set(k, [row]);
		} else {
			members.push(row);
		}
	}
	return [...groups].map(([k, members]) => {
		const s = summarize(members);
		return {
			key: k,
			totalRequests: s.totalRequests,
			successCount: s.successCount,
			failureCount: s.failureCount,
			successRate: s.totalRequests === 0 ? 1 : s.successCount / s.totalRequests,
			inputTokens: s.tokens.input,
			outputTokens: s.tokens.output,
			cachedTokens: s.tokens.cached,
			totalTokens: s.totalTokens,
			costUsd: s.costUsd,
			unpricedRequests: s.unpricedRequests,
			lastSeenAtMs: members.reduce((latest, m) => Math.max(latest, m.tsMs), 0),
		};
	});
}

const METRIC: Record<SortKey, (group: OracleGroup) => number> = {
	totalCalls: g => g.totalRequests,
	successCalls: g => g.successCount,
	failureCalls: g => g.failureCount,
	successRate: g => g.successRate,
	totalTokens: g => g.totalTokens,
	totalCost: g => g.costUsd,
	inputTokens: g => g.inputTokens,
	outputTokens: g => g.outputTokens,
	cachedTokens: g => g.cachedTokens,
	lastSeenAt: g => g.lastSeenAtMs,
};

const compareNumbers = (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0);
export const compareBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** The documented order: the key's metric, then last seen, then the group key's bytes, all in one direction. */
export function sortGroups(groups: readonly OracleGroup[], sortKey: SortKey, direction: SortDirection): OracleGroup[] {
	const sign = direction === 'asc' ? 1 : -1;
	return [...groups].sort(
		(a, b) =>
			sign *
			(compareNumbers(METRIC[sortKey](a), METRIC[sortKey](b)) || compareNumbers(a.lastSeenAtMs, b.lastSeenAtMs) || compareBytes(a.key, b.key)),
	);
}

/** Bucket i holds the rows with endMs − (buckets − i)·bucketMs < tsMs ≤ endMs − (buckets − 1 − i)·bucketMs. */
export function bucketize(rows: readonly OracleRow[], endMs: number, bucketMs: number, buckets: number) {
	return Array.from({length: buckets}, (_, i) => {
		const startMs = endMs - (buckets - i) * bucketMs;
		const members = rows.filter(row => row.tsMs > startMs && row.tsMs <= startMs + bucketMs);
		return {startMs, requests: members.length, tokens: sum(members, row => row.total)};
	});
}

export function newestFirst(rows: readonly OracleRow[]): OracleRow[] {
	return [...rows].sort((a, b) => b.tsMs - a.tsMs || b.id - a.id);
}

/** Facet lists in the documented order: case-insensitive label, then value, code-unit order. */
export function sortChoices<T extends {value: string; label: string}>(choices: T[]): T[] {
	const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
	return choices.sort((a, b) => cmp(a.label.toLowerCase(), b.label.toLowerCase()) || cmp(a.value, b.value));
}

export type OracleFacets = {[K in keyof Facets]: Array<{value: string; label: string}>};

/** Close enough for money summed in a different order; exact for integers. */
export function expectClose(actual: number, expected: number, what: string): void {
	const tolerance = Math.max(1e-9, Math.abs(expected) * 1e-9);
	if (Math.abs(actual - expected) > tolerance) {
		throw new Error(`${what}: expected ${expected}, got ${actual}`);
	}
}
