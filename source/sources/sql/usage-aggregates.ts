import {checkedPage} from '../../usage/page-limits.js';
import type {PageRequest, SortKey, SortedPageRequest} from '../../usage/types.js';
import type {Dialect} from './dialect.js';
import {joinSql, sql, type SqlFragment} from './fragment.js';
import type {RequestRows, UsagePartials} from './request-rows.js';
import type {TimelineWindow} from './timeline.js';

// Every figure is aggregated, sorted and paged by the engine. (A source polled again and again
// keeps long ranges in memory instead: source/sources/rollup.)

function over(name: string, rows: RequestRows | UsagePartials, body: SqlFragment): SqlFragment {
	const ctes = [...rows.with, {...rows.select, sql: `${name} AS (${rows.select.sql})`}];
	const withClause = joinSql(ctes, ',\n');
	return joinSql([{...withClause, sql: `WITH ${withClause.sql}`}, body], '\n');
}

const overPartials = (partials: UsagePartials, body: string, ...params: unknown[]) => over('usage_partials', partials, sql(body, ...params));
const overRequests = (rows: RequestRows, body: string, ...params: unknown[]) => over('request_rows', rows, sql(body, ...params));

const TOTALS = `coalesce(sum(requests), 0) AS total_requests,
	coalesce(sum(successes), 0) AS success_count,
	coalesce(sum(total_tokens), 0) AS total_tokens,
	coalesce(sum(cost_usd), 0) AS cost_usd,
	coalesce(sum(unpriced_requests), 0) AS unpriced_requests`;

export const summarySql = (partials: UsagePartials): SqlFragment =>
	overPartials(
		partials,
		`SELECT ${TOTALS},
	coalesce(sum(input_tokens), 0) AS input_tokens,
	coalesce(sum(output_tokens), 0) AS output_tokens,
	coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
	coalesce(sum(cached_tokens), 0) AS cached_tokens,
	sum(latency_sum) * 1.0 / nullif(sum(latency_count), 0) AS latency_ms_avg
FROM usage_partials`,
	);

export const modelsSql = (partials: UsagePartials, dialect: Dialect): SqlFragment =>
	overPartials(
		partials,
		`SELECT model, ${TOTALS}
FROM usage_partials
GROUP BY model
ORDER BY sum(requests) DESC, ${dialect.byteOrder('model')} ASC`,
	);

const SUCCESS_RATE = 'CASE WHEN sum(requests) = 0 THEN 1.0 ELSE sum(successes) * 1.0 / sum(requests) END';

const SORT_EXPRESSIONS: Record<SortKey, string> = {
	totalCalls: 'sum(requests)',
	successCalls: 'sum(successes)',
	failureCalls: 'sum(requests) - sum(successes)',
	successRate: SUCCESS_RATE,
	totalTokens: 'sum(total_tokens)',
	totalCost: 'coalesce(sum(cost_usd), 0)',
	inputTokens: 'sum(input_tokens)',
	outputTokens: 'sum(output_tokens)',
	cachedTokens: 'sum(cached_tokens)',
	lastSeenAt: 'max(last_ts_ms)',
};

/**
 * One page of groups, with the number of groups in the same pass (a window over the grouped
 * result). Ties break on the last request time, then on the key's bytes, in the same direction.
 */
export function groupPageSql(partials: UsagePartials, request: SortedPageRequest, dialect: Dialect): SqlFragment {
	const page = checkedPage(request);
	const direction = page.sortDirection === 'asc' ? 'ASC' : 'DESC';
	const order = [SORT_EXPRESSIONS[page.sortKey], 'max(last_ts_ms)', dialect.byteOrder('group_key')]
		.map(expression => `${expression} ${direction}`)
		.join(', ');
	return overPartials(
		partials,
		`SELECT group_key, max(label_hint) AS label_hint, ${TOTALS},
	coalesce(sum(input_tokens), 0) AS input_tokens,
	coalesce(sum(output_tokens), 0) AS output_tokens,
	coalesce(sum(cached_tokens), 0) AS cached_tokens,
	${SUCCESS_RATE} AS success_rate,
	max(last_ts_ms) AS last_seen_at_ms,
	count(*) OVER () AS total_items
FROM usage_partials
GROUP BY group_key
ORDER BY ${order}
LIMIT ? OFFSET ?`,
		page.pageSize,
		(page.page - 1) * page.pageSize,
	);
}

/** The number of groups, for a page past the end (which returns no row to carry the window count). */
export const groupCountSql = (partials: UsagePartials): SqlFragment =>
	overPartials(partials, 'SELECT count(*) AS total_items FROM (SELECT 1 FROM usage_partials GROUP BY group_key) AS grouped');

export const rateSql = (rows: RequestRows): SqlFragment =>
	overRequests(rows, 'SELECT count(*) AS requests, coalesce(sum(total_tokens), 0) AS tokens FROM request_rows');

/**
 * Requests and tokens per bucket, from rows already limited to the window, in one GROUP BY keyed
 * by whole buckets back from the end: (end − ts) div bucket, so a boundary row joins the older
 * bucket. Bound numbers are cast: an engine may bind them as floating point (better-sqlite3 does).
 */
export const timelineSql = (rows: RequestRows, window: TimelineWindow): SqlFragment =>
	overRequests(
		rows,
		`SELECT buckets_back, count(*) AS requests, coalesce(sum(total_tokens), 0) AS tokens
FROM (SELECT (CAST(? AS BIGINT) - ts_ms) / CAST(? AS BIGINT) AS buckets_back, total_tokens FROM request_rows) AS aged
GROUP BY buckets_back`,
		window.endMs,
		window.bucketMs,
	);

export const requestCountSql = (rows: RequestRows): SqlFragment => overRequests(rows, 'SELECT count(*) AS total_items FROM request_rows');

/** Newest first, on the raw time column so the engine can walk its index backwards. */
export function requestPageSql(rows: RequestRows, request: PageRequest): SqlFragment {
	const page = checkedPage(request);
	return overRequests(
		rows,
		`SELECT ts_ms, model, account, api_key, ok, input_tokens, output_tokens, total_tokens, latency_ms, cost_usd
FROM request_rows
ORDER BY sort_ts DESC, id DESC
LIMIT ? OFFSET ?`,
		page.pageSize,
		(page.page - 1) * page.pageSize,
	);
}
