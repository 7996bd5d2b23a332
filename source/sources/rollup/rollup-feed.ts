import type {TimeRange} from '../../usage/types.js';
import {joinSql, sql, type SqlFragment} from '../sql/fragment.js';
import type {SqlRunner} from '../sql/sql-runner.js';
import {keyColumn, type Axis} from './usage-rollup.js';

/** Which requests a feed query reads, besides the feed's own filters and search. */
export interface FeedBounds {
	/** Inclusive at both ends, as every range is. */
	readonly range?: TimeRange;
	readonly idAbove?: number;
	readonly idAtMost?: number;
}

/**
 * A source's requests under one set of filters and search, as a rollup reads them: one row each,
 * with its id, its time (`ts_ms`), its key on every axis (keyColumn) and its figures (the
 * columns usage-rollup.ts sums). The source builds the SQL; the rollup decides what to read.
 */
export interface RollupFeed {
	readonly runner: SqlRunner;
	readonly axes: readonly Axis[];
	/** How a common table expression read several times is declared so that it is computed once. */
	readonly sharedCte: 'AS' | 'AS MATERIALIZED';
	/** The engine groups by several sets of columns in one pass over the rows (PostgreSQL's GROUPING SETS). */
	readonly groupingSets?: boolean;
	/** One row per request; `with` holds the common table expressions its SELECT needs. */
	rows(bounds: FeedBounds): {with: readonly SqlFragment[]; select: SqlFragment};
	/**
	 * The same requests summed per combination of keys; a source that prices per group (CPA-Manager)
	 * prices here. Absent, the rows are grouped as they are.
	 */
	combined?(bounds: FeedBounds): {with: readonly SqlFragment[]; select: SqlFragment};
	/** The same requests' `id` and `ts_ms` alone: no figures, so nothing to price. */
	ids(bounds: FeedBounds): SqlFragment;
	/** `max_id`: the largest id in the table; `oldest_ms`: the oldest request's time, any filter aside. */
	probe(): SqlFragment;
}

const FIGURES = ['requests', 'successes', 'input_tokens', 'output_tokens', 'reasoning_tokens', 'cached_tokens', 'total_tokens', 'latency_sum', 'latency_count', 'cost_usd', 'unpriced_requests'];
const SUMMED = [...FIGURES.map(column => `sum(${column}) AS ${column}`), 'max(last_ts_ms) AS last_ts_ms'].join(', ');

const withClause = (ctes: readonly SqlFragment[], body: SqlFragment): SqlFragment =>
	ctes.length === 0 ? body : joinSql([{...joinSql(ctes, ',\n'), sql: `WITH ${joinSql(ctes, ',\n').sql}`}, body], '\n');

/** One request per row, for the few rows a refresh reads. */
export function feedRowsSql(feed: RollupFeed, bounds: FeedBounds): SqlFragment {
	const rows = feed.rows(bounds);
	return withClause(rows.with, rows.select);
}

/**
 * How many requests the bounds hold (`n`), the sum of their ids (`id_sum`) and of their times
 * from `originMs` (`ts_sum`): what tells a rollup that its newest ids changed. An index range
 * read; the figures of the rows are not summed.
 */
export function feedCheckSql(feed: RollupFeed, bounds: FeedBounds, originMs: number): SqlFragment {
	const ids = feed.ids(bounds);
	return {
		sql: `SELECT count(*) AS n, coalesce(sum(id), 0) AS id_sum, coalesce(sum(ts_ms - ?), 0) AS ts_sum FROM (${ids.sql}) AS request_ids`,
		params: [originMs, ...ids.params],
	};
}

/**
 * The sums per group of every axis and the grand total (axis NULL) in one statement, over rows
 * computed once: what a first load or a reconciliation reads, one slice of the range at a time.
 */
export function marginalsSql(feed: RollupFeed, bounds: FeedBounds): SqlFragment {
	if (feed.combined === undefined && feed.groupingSets === true) {
		return groupingSetsSql(feed, bounds);
	}
	const keys = feed.axes.map(keyColumn);
	let combined = feed.combined?.(bounds);
	if (combined === undefined) {
		const rows = feed.rows(bounds);
		combined = {
			with: rows.with,
			select: {...rows.select, sql: `SELECT ${keys.join(', ')}, max(label_hint) AS label_hint, ${SUMMED}\nFROM (${rows.select.sql}) AS request_rows\nGROUP BY ${keys.join(', ')}`},
		};
	}
	const shared = {...combined.select, sql: `feed_groups ${feed.sharedCte} (${combined.select.sql})`};
	const parts = [
		`SELECT NULL AS axis, NULL AS axis_key, NULL AS label_hint, ${SUMMED} FROM feed_groups`,
		...feed.axes.map(axis => `SELECT '${axis}', ${keyColumn(axis)}, max(label_hint), ${SUMMED} FROM feed_groups GROUP BY ${keyColumn(axis)}`),
	];
	return withClause([...combined.with, shared], sql(parts.join('\nUNION ALL ')));
}

/**
 * The same marginals in one pass over the rows, each axis's groups and the total in their own hash
 * table: no sort of every row by all the keys, no table of their combinations written and read
 * again. GROUPING(k) is 0 in the rows grouped by k.
 */
function groupingSetsSql(feed: RollupFeed, bounds: FeedBounds): SqlFragment {
	const rows = feed.rows(bounds);
	const keys = feed.axes.map(keyColumn);
	const axis = `CASE ${feed.axes.map(name => `WHEN GROUPING(${keyColumn(name)}) = 0 THEN '${name}'`).join(' ')} END`;
	const axisKey = `CASE ${keys.map(key => `WHEN GROUPING(${key}) = 0 THEN ${key}`).join(' ')} END`;
	const select = {
		...rows.select,
		sql: `SELECT ${axis} AS axis, ${axisKey} AS axis_key, CASE WHEN GROUPING(${keys.join(', ')}) = ${2 ** keys.length - 1} THEN NULL ELSE max(label_hint) END AS label_hint, ${SUMMED}
FROM (${rows.select.sql}) AS request_rows
GROUP BY GROUPING SETS ((), ${keys.map(key => `(${key})`).join(', ')})`,
	};
	return withClause(rows.with, select);
}
