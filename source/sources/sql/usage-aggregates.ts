import type {SortKey, SortedPageRequest, PageRequest} from '../../usage/types.js';
import type {Dialect} from './dialect.js';
import {joinSql, sql, type SqlFragment} from './fragment.js';
import type {RequestRows} from './request-rows.js';

// Every figure is aggregated, sorted and paged by the engine; nothing is grouped in memory.

function overRows(rows: RequestRows, body: SqlFragment): SqlFragment {
	const ctes = [...rows.with, {...rows.select, sql: `request_rows AS (${rows.select.sql})`}];
	const withClause = joinSql(ctes, ',\n');
	return joinSql([{...withClause, sql: `WITH ${withClause.sql}`}, body], '\n');
}

const TOTALS = `count(*) AS total_requests,
	coalesce(sum(ok), 0) AS success_count,
	coalesce(sum(total_tokens), 0) AS total_tokens,
	coalesce(sum(cost_usd), 0) AS cost_usd,
	coalesce(sum(CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END), 0) AS unpriced_requests`;

export const summarySql = (rows: RequestRows): SqlFragment =>
	overRows(
		rows,
		sql(`SELECT ${TOTALS},
	coalesce(sum(input_tokens), 0) AS input_tokens,
	coalesce(sum(output_tokens), 0) AS output_tokens,
	coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
	coalesce(sum(cached_tokens), 0) AS cached_tokens,
	avg(latency_ms) AS latency_ms_avg
FROM request_rows`),
	);

export const rateSql = (rows: RequestRows): SqlFragment =>
	overRows(rows, sql('SELECT count(*) AS requests, coalesce(sum(total_tokens), 0) AS tokens FROM request_rows'));

export const modelsSql = (rows: RequestRows, dialect: Dialect): SqlFragment =>
	overRows(
		rows,
		sql(`SELECT model, ${TOTALS}
FROM request_rows
GROUP BY model
ORDER BY count(*) DESC, ${dialect.byteOrder('model')} ASC`),
	);

const SUCCESS_RATE = 'CASE WHEN count(*) = 0 THEN 1.0 ELSE sum(ok) * 1.0 / count(*) END';

const SORT_EXPRESSIONS: Record<SortKey, string> = {
	totalCalls: 'count(*)',
	successCalls: 'sum(ok)',
	failureCalls: 'count(*) - sum(ok)',
	successRate: SUCCESS_RATE,
	totalTokens: 'sum(total_tokens)',
	totalCost: 'coalesce(sum(cost_usd), 0)',
	inputTokens: 'sum(input_tokens)',
	outputTokens: 'sum(output_tokens)',
	cachedTokens: 'sum(cached_tokens)',
	lastSeenAt: 'max(ts_ms)',
};

/**
 * One page of groups, with the number of groups in the same pass (a window over the grouped
 * result). Ties break on the last request time, then on the key's bytes, in the same direction.
 */
export function groupPageSql(rows: RequestRows, page: SortedPageRequest, dialect: Dialect): SqlFragment {
	const direction = page.sortDirection === 'asc' ? 'ASC' : 'DESC';
	const order = [SORT_EXPRESSIONS[page.sortKey], 'max(ts_ms)', dialect.byteOrder('group_key')]
		.map(expression => `${expression} ${direction}`)
		.join(', ');
	return overRows(
		rows,
		sql(
			`SELECT group_key, max(label_hint) AS label_hint, ${TOTALS},
	coalesce(sum(input_tokens), 0) AS input_tokens,
	coalesce(sum(output_tokens), 0) AS output_tokens,
	coalesce(sum(cached_tokens), 0) AS cached_tokens,
	${SUCCESS_RATE} AS success_rate,
	max(ts_ms) AS last_seen_at_ms,
	count(*) OVER () AS total_items
FROM request_rows
GROUP BY group_key
ORDER BY ${order}
LIMIT ? OFFSET ?`,
			page.pageSize,
			(page.page - 1) * page.pageSize,
		),
	);
}

/** The number of groups, for a page past the end (which returns no row to carry the window count). */
export const groupCountSql = (rows: RequestRows): SqlFragment =>
	overRows(rows, sql('SELECT count(*) AS total_items FROM (SELECT 1 FROM request_rows GROUP BY group_key) AS grouped'));

export const requestCountSql = (rows: RequestRows): SqlFragment =>
	overRows(rows, sql('SELECT count(*) AS total_items FROM request_rows'));

/** Newest first, on the raw time column so the engine can walk its index backwards. */
export const requestPageSql = (rows: RequestRows, page: PageRequest): SqlFragment =>
	overRows(
		rows,
		sql(
			`SELECT ts_ms, model, account, api_key, ok, input_tokens, output_tokens, total_tokens, latency_ms, cost_usd
FROM request_rows
ORDER BY sort_ts DESC, id DESC
LIMIT ? OFFSET ?`,
			page.pageSize,
			(page.page - 1) * page.pageSize,
		),
	);
