import {byLabel} from '../../usage/choice-order.js';
import type {Choice, Facets, GroupPage, GroupUsage, ModelUsage, Rate, RequestRecord, SortedPageRequest, Summary} from '../../usage/types.js';
import {RATE_WINDOW_S} from '../../usage/types.js';

// Engine rows → domain objects. Engines hand back numbers, numeric strings (PostgreSQL bigint)
// or NULL; everything leaves here as a plain number.

export type Row = Record<string, unknown>;

export const num = (value: unknown): number => (value === null || value === undefined ? 0 : Number(value));
const nullableNum = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const roundTenth = (value: number): number => Math.round(value * 10) / 10;

export function decodeSummary(row: Row): Summary {
	const total = num(row.total_requests);
	const success = num(row.success_count);
	const latency = nullableNum(row.latency_ms_avg);
	return {
		totalRequests: total,
		successCount: success,
		failureCount: total - success,
		totalTokens: num(row.total_tokens),
		tokens: {
			input: num(row.input_tokens),
			output: num(row.output_tokens),
			reasoning: num(row.reasoning_tokens),
			cached: num(row.cached_tokens),
		},
		latencyMsAvg: latency === null ? null : roundTenth(latency),
		costUsd: num(row.cost_usd),
		unpricedRequests: num(row.unpriced_requests),
	};
}

export const decodeRate = (row: Row): Rate => ({windowS: RATE_WINDOW_S, rpm: num(row.requests), tpm: num(row.tokens)});

export function decodeModel(row: Row): ModelUsage {
	const total = num(row.total_requests);
	const success = num(row.success_count);
	return {
		model: String(row.model ?? ''),
		totalRequests: total,
		successCount: success,
		failureCount: total - success,
		totalTokens: num(row.total_tokens),
		costUsd: num(row.cost_usd),
		unpricedRequests: num(row.unpriced_requests),
	};
}

function decodeGroup(row: Row, label: string): GroupUsage {
	const total = num(row.total_requests);
	const success = num(row.success_count);
	return {
		key: String(row.group_key),
		label,
		totalRequests: total,
		successCount: success,
		failureCount: total - success,
		successRate: num(row.success_rate),
		inputTokens: num(row.input_tokens),
		outputTokens: num(row.output_tokens),
		cachedTokens: num(row.cached_tokens),
		totalTokens: num(row.total_tokens),
		costUsd: num(row.cost_usd),
		unpricedRequests: num(row.unpriced_requests),
		lastSeenAtMs: num(row.last_seen_at_ms),
	};
}

export function decodeGroupPage(request: SortedPageRequest, rows: readonly Row[], label: (row: Row) => string, totalItems: number): GroupPage {
	return {
		page: request.page,
		pageSize: request.pageSize,
		totalItems,
		sortKey: request.sortKey,
		sortDirection: request.sortDirection,
		items: rows.map(row => decodeGroup(row, label(row))),
	};
}

export type FacetName = keyof Facets;

/** Facet rows (facet, value, label) into sorted choice lists; `labelOf` may name a value better. */
export function decodeFacets(rows: readonly Row[], labelOf: (facet: FacetName, value: string, label: string | null) => string): Facets {
	const lists: Record<FacetName, Choice[]> = {accounts: [], providers: [], channels: [], groups: [], models: [], apiKeys: []};
	for (const row of rows) {
		const facet = row.facet as FacetName;
		const value = String(row.value);
		const label = labelOf(facet, value, typeof row.label === 'string' && row.label !== '' ? row.label : null);
		lists[facet].push({value, label});
	}
	for (const list of Object.values(lists)) {
		list.sort(byLabel);
	}
	return lists;
}

export function decodeRequest(row: Row, apiKeyLabel: (key: string) => string): RequestRecord {
	const apiKey = String(row.api_key ?? '');
	return {
		timestampMs: num(row.ts_ms),
		model: String(row.model ?? ''),
		account: String(row.account ?? '-'),
		apiKey,
		apiKeyLabel: apiKeyLabel(apiKey),
		status: num(row.ok) === 1 ? 'success' : 'failed',
		inputTokens: num(row.input_tokens),
		outputTokens: num(row.output_tokens),
		totalTokens: num(row.total_tokens),
		latencyMs: nullableNum(row.latency_ms),
		costUsd: nullableNum(row.cost_usd),
	};
}
