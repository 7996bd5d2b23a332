import {byteOrder} from '../../usage/byte-order.js';
import {checkedPage} from '../../usage/page-limits.js';
import type {SortKey, SortedPageRequest} from '../../usage/types.js';
import {num, type Row} from '../sql/decode.js';

// A range's figures held in memory as sums per group, one map per axis (models, each account
// dimension, API keys): rows add into them and, when they leave the range, subtract out. Every
// answer is shaped as the SQL sources' rows are, so one decoder serves both.

/** The additive figures of some requests; lastTsMs is a maximum, kept while any request remains. */
interface Sums {
	requests: number;
	successes: number;
	input: number;
	output: number;
	reasoning: number;
	cached: number;
	total: number;
	latencySum: number;
	latencyCount: number;
	cost: number;
	unpriced: number;
	lastTsMs: number;
	/** A label the engine knows the key by (new-api's token name), when it has one. */
	labelHint: string | null;
}

const emptySums = (): Sums => ({
	requests: 0,
	successes: 0,
	input: 0,
	output: 0,
	reasoning: 0,
	cached: 0,
	total: 0,
	latencySum: 0,
	latencyCount: 0,
	cost: 0,
	unpriced: 0,
	lastTsMs: 0,
	labelHint: null,
});

/**
 * A feed row's figures: one request, or a group of them. Columns: requests, successes,
 * input_tokens, output_tokens, reasoning_tokens, cached_tokens, total_tokens, latency_sum,
 * latency_count, cost_usd (priced requests only), unpriced_requests, last_ts_ms, label_hint.
 */
function sumsOf(row: Row): Sums {
	return {
		requests: num(row.requests),
		successes: num(row.successes),
		input: num(row.input_tokens),
		output: num(row.output_tokens),
		reasoning: num(row.reasoning_tokens),
		cached: num(row.cached_tokens),
		total: num(row.total_tokens),
		latencySum: num(row.latency_sum),
		latencyCount: num(row.latency_count),
		cost: num(row.cost_usd),
		unpriced: num(row.unpriced_requests),
		lastTsMs: num(row.last_ts_ms),
		labelHint: typeof row.label_hint === 'string' && row.label_hint !== '' ? row.label_hint : null,
	};
}

function addInto(into: Sums, from: Sums, sign: 1 | -1): void {
	into.requests += sign * from.requests;
	into.successes += sign * from.successes;
	into.input += sign * from.input;
	into.output += sign * from.output;
	into.reasoning += sign * from.reasoning;
	into.cached += sign * from.cached;
	into.total += sign * from.total;
	into.latencySum += sign * from.latencySum;
	into.latencyCount += sign * from.latencyCount;
	into.cost += sign * from.cost;
	into.unpriced += sign * from.unpriced;
	// Rows leave from the old end of the range, so the newest request of what remains is unchanged.
	if (sign === 1) {
		into.lastTsMs = Math.max(into.lastTsMs, from.lastTsMs);
		if (from.labelHint !== null && (into.labelHint === null || byteOrder(from.labelHint, into.labelHint) > 0)) {
			into.labelHint = from.labelHint;
		}
	}
}

const successRate = (sums: Sums): number => (sums.requests === 0 ? 1 : sums.successes / sums.requests);

const SORT_VALUES: Record<SortKey, (sums: Sums) => number> = {
	totalCalls: s => s.requests,
	successCalls: s => s.successes,
	failureCalls: s => s.requests - s.successes,
	successRate,
	totalTokens: s => s.total,
	totalCost: s => s.cost,
	inputTokens: s => s.input,
	outputTokens: s => s.output,
	cachedTokens: s => s.cached,
	lastSeenAt: s => s.lastTsMs,
};

/** The figures every row of a table or the summary carries, named as the SQL sources name them. */
const totalsRow = (sums: Sums): Row => ({
	total_requests: sums.requests,
	success_count: sums.successes,
	total_tokens: sums.total,
	cost_usd: sums.cost,
	unpriced_requests: sums.unpriced,
});

/** The axes a rollup keeps: `model`, then the source's account dimensions and `apiKeys`. */
export type Axis = string;

/** The column holding a row's key on an axis: lower case, as PostgreSQL folds an unquoted name. */
export const keyColumn = (axis: Axis): string => `k_${axis.toLowerCase()}`;

export class UsageRollup {
	private readonly total = emptySums();
	private readonly axes: Map<Axis, Map<string, Sums>>;

	constructor(readonly axisNames: readonly Axis[]) {
		this.axes = new Map(axisNames.map(axis => [axis, new Map()]));
	}

	/** How many groups it holds, over every axis: what its memory grows with. */
	get groups(): number {
		let count = 0;
		for (const groups of this.axes.values()) count += groups.size;
		return count;
	}

	get requests(): number {
		return this.total.requests;
	}

	/** One request, or a group with the same key on every axis: its key per axis in its keyColumn. */
	applyRow(row: Row, sign: 1 | -1): void {
		const sums = sumsOf(row);
		addInto(this.total, sums, sign);
		if (this.total.requests <= 0) {
			Object.assign(this.total, emptySums()); // no rounding residue of the cost outlives the last request
		}
		for (const [axis, groups] of this.axes) {
			this.applyTo(groups, String(row[keyColumn(axis)] ?? ''), sums, sign);
		}
	}

	/** A row of the marginal sums: `axis` null for the grand total, else the group `axis_key` of that axis. */
	applyMarginal(row: Row): void {
		const axis = row.axis === null || row.axis === undefined ? null : String(row.axis);
		const sums = sumsOf(row);
		if (axis === null) {
			addInto(this.total, sums, 1);
			return;
		}
		const groups = this.axes.get(axis);
		if (groups === undefined) {
			throw new Error(`a rollup row names the axis ${axis}, which this rollup does not keep`);
		}
		this.applyTo(groups, String(row.axis_key ?? ''), sums, 1);
	}

	summaryRow(): Row {
		const sums = this.total;
		return {
			...totalsRow(sums),
			input_tokens: sums.input,
			output_tokens: sums.output,
			reasoning_tokens: sums.reasoning,
			cached_tokens: sums.cached,
			latency_ms_avg: sums.latencyCount === 0 ? null : sums.latencySum / sums.latencyCount,
		};
	}

	/** Most requests first, ties by the name's bytes, as modelsSql orders them. */
	modelRows(): Row[] {
		return [...this.groupsOf('model')]
			.sort(([a, x], [b, y]) => y.requests - x.requests || byteOrder(a, b))
			.map(([model, sums]) => ({model, ...totalsRow(sums)}));
	}

	/** One page of an axis's groups, ordered as groupPageSql orders them, and how many groups there are. */
	groupPage(axis: Axis, request: SortedPageRequest): {rows: Row[]; totalItems: number} {
		const page = checkedPage(request);
		const value = SORT_VALUES[page.sortKey];
		const sign = page.sortDirection === 'asc' ? 1 : -1;
		const sorted = [...this.groupsOf(axis)].sort(([a, x], [b, y]) => sign * (value(x) - value(y) || x.lastTsMs - y.lastTsMs || byteOrder(a, b)));
		const rows = sorted.slice((page.page - 1) * page.pageSize, page.page * page.pageSize).map(([key, sums]) => ({
			group_key: key,
			label_hint: sums.labelHint,
			...totalsRow(sums),
			input_tokens: sums.input,
			output_tokens: sums.output,
			cached_tokens: sums.cached,
			success_rate: successRate(sums),
			last_seen_at_ms: sums.lastTsMs,
		}));
		return {rows, totalItems: sorted.length};
	}

	/** The keys of an axis's groups, each with its label hint. */
	keysOf(axis: Axis): Array<{key: string; labelHint: string | null}> {
		return [...this.groupsOf(axis)].map(([key, sums]) => ({key, labelHint: sums.labelHint}));
	}

	private groupsOf(axis: Axis): Map<string, Sums> {
		const groups = this.axes.get(axis);
		if (groups === undefined) {
			throw new Error(`this rollup keeps no ${axis} axis`);
		}
		return groups;
	}

	private applyTo(groups: Map<string, Sums>, key: string, sums: Sums, sign: 1 | -1): void {
		let group = groups.get(key);
		if (group === undefined) {
			group = emptySums();
			groups.set(key, group);
		}
		addInto(group, sums, sign);
		// A group whose last request left the range is gone, as it is from a query over the range.
		if (group.requests <= 0) {
			groups.delete(key);
		}
	}
}
