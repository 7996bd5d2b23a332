import {byteOrder} from '../../usage/byte-order.js';
import type {PriceBook} from '../../usage/price-book.js';
import type {ModelUsage, Summary} from '../../usage/types.js';
import type {ModelTokens} from './paged-payloads.js';
import {costOf} from './token-cost.js';

// Totals and costs from per-model rows: /usage/models' details and the groups' `models[]` in paged
// mode, and the same rows aggregated on the client from the legacy payload. One arithmetic for both.

export interface CostTotals {
	usd: number;
	unpriced: number;
}

/** A row priced on its own sums; an unpriced row counts its requests. */
export function addCost(into: CostTotals, prices: PriceBook, row: ModelTokens): void {
	const cost = costOf(prices, row.model, row.resolvedModel, row);
	if (cost === null) into.unpriced += row.requests;
	else into.usd += cost;
}

export function summaryOf(rows: readonly ModelTokens[], prices: PriceBook): Summary {
	let requests = 0;
	let successes = 0;
	let total = 0;
	let latencySum = 0;
	let latencyCount = 0;
	const tokens = {input: 0, output: 0, reasoning: 0, cached: 0};
	const cost = {usd: 0, unpriced: 0};
	for (const row of rows) {
		requests += row.requests;
		successes += row.successes;
		total += row.total;
		latencySum += row.latencySumMs;
		latencyCount += row.latencyCount;
		tokens.input += row.input;
		tokens.output += row.output;
		tokens.reasoning += row.reasoning;
		tokens.cached += row.cached;
		addCost(cost, prices, row);
	}
	return {
		totalRequests: requests,
		successCount: successes,
		failureCount: requests - successes,
		totalTokens: total,
		tokens,
		latencyMsAvg: latencyCount === 0 ? null : Math.round((latencySum / latencyCount) * 10) / 10,
		costUsd: cost.usd,
		unpricedRequests: cost.unpriced,
	};
}

/** Per requested model, most requests first, ties by the name's bytes (as the SQL sources order them). */
export function modelsOf(rows: readonly ModelTokens[], prices: PriceBook): ModelUsage[] {
	const byModel = new Map<string, {requests: number; successes: number; total: number} & CostTotals>();
	for (const row of rows) {
		const entry = byModel.get(row.model) ?? {requests: 0, successes: 0, total: 0, usd: 0, unpriced: 0};
		entry.requests += row.requests;
		entry.successes += row.successes;
		entry.total += row.total;
		addCost(entry, prices, row);
		byModel.set(row.model, entry);
	}
	return [...byModel]
		.sort(([a, x], [b, y]) => y.requests - x.requests || byteOrder(a, b))
		.map(([model, entry]) => ({
			model,
			totalRequests: entry.requests,
			successCount: entry.successes,
			failureCount: entry.requests - entry.successes,
			totalTokens: entry.total,
			costUsd: entry.usd,
			unpricedRequests: entry.unpriced,
		}));
}
