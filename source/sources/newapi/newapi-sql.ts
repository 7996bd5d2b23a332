import {parseStatus} from '../../usage/parse-options.js';
import {checkedRange} from '../../usage/time-range.js';
import type {Dimension, Filters, TimeRange} from '../../usage/types.js';
import type {UsageRollup} from '../rollup/usage-rollup.js';
import type {Row} from '../sql/decode.js';
import type {Dialect} from '../sql/dialect.js';
import {allOf, anyOf, placeholders, sql, type SqlFragment} from '../sql/fragment.js';
import type {RequestRows, UsagePartials} from '../sql/request-rows.js';
import {likePrefix, splitTerms} from '../sql/search-terms.js';

/** How one engine reads new-api's `logs` where engines differ. */
export interface NewApiDialect extends Dialect {
	/** `other.cache_tokens` as a whole number ≥ 0; empty or malformed JSON must give 0, never an error. */
	cachedTokens(otherColumn: string): string;
	/** Case-insensitive LIKE with `\` as the escape character. */
	likeIgnoringCase(column: string): string;
	/** How a common table expression read several times is declared so that it is computed once. */
	readonly sharedCte: 'AS' | 'AS MATERIALIZED';
	/** GROUPING SETS: several groupings in one pass (PostgreSQL; SQLite has none). */
	readonly groupingSets?: boolean;
	/** Its text cannot hold U+0000, nor take a parameter that does (PostgreSQL): such a value equals nothing. */
	readonly textRefusesNul?: boolean;
}

/** The optional columns a `logs` table may lack (one-api and older new-api schemas). */
export interface LogsColumns {
	readonly tokenId: boolean;
	readonly group: boolean;
	readonly other: boolean;
	readonly useTime: boolean;
	/** one-api's latency column, in milliseconds. */
	readonly elapsedTime: boolean;
}

const CONSUME = 2;
const ERROR = 5;

/** The key of a text column: its value as stored (so equality can use the column's index), `-` when empty. */
const NO_VALUE = '-';
const textKey = (column: string): string => `COALESCE(NULLIF(${column}, ''), '${NO_VALUE}')`;

const NOTHING = sql('1 = 0');

/** `column = value` for a text column; a value the engine's text cannot hold equals no row. */
const textEquals = (column: string, value: string, dialect: NewApiDialect): SqlFragment =>
	dialect.textRefusesNul === true && value.includes('\u0000') ? NOTHING : sql(`${column} = ?`, value);

/** `column = value`, where the key `-` stands for an empty or missing value. */
const textKeyEquals = (column: string, value: string, dialect: NewApiDialect): SqlFragment =>
	value === NO_VALUE ? sql(`(${column} IS NULL OR ${column} = '')`) : textEquals(column, value, dialect);

const INT64_MAX = 9_223_372_036_854_775_807n;

/**
 * `column = id` for an integer column and an id in decimal digits, bound as a 64-bit integer: a
 * JavaScript number loses digits past 2^53, and PostgreSQL refuses a bigint parameter past 2^63
 * (where no row can be, so that equals nothing).
 */
function idEquals(column: string, digits: string): SqlFragment {
	const id = BigInt(digits);
	return id > INT64_MAX ? NOTHING : sql(`${column} = ?`, id);
}

export function apiKeyKey(columns: LogsColumns): string {
	return columns.tokenId ? 'CAST(COALESCE(token_id, 0) AS TEXT)' : textKey('token_name');
}

export function dimensionKey(dimension: Dimension, columns: LogsColumns): string | undefined {
	switch (dimension) {
		case 'user':
			return textKey('username');
		case 'channel':
			return `COALESCE(CAST(channel_id AS TEXT), '${NO_VALUE}')`;
		case 'group':
			return columns.group ? textKey('"group"') : `'${NO_VALUE}'`;
		default:
			return undefined;
	}
}

function latencyMs(columns: LogsColumns): string {
	if (columns.useTime) {
		return 'use_time * 1000';
	}
	return columns.elapsedTime ? 'elapsed_time' : 'NULL';
}

/** Unix seconds covering the inclusive millisecond range. */
export function timeConditions(unchecked: TimeRange): SqlFragment[] {
	const range = checkedRange(unchecked);
	return [
		...(range.startMs === null ? [] : [sql('created_at >= ?', Math.ceil(range.startMs / 1000))]),
		sql('created_at <= ?', Math.floor(range.endMs / 1000)),
	];
}

/** Each term must be a prefix of the username, the token name or the model. */
export function searchConditions(search: string | undefined, dialect: NewApiDialect): SqlFragment[] {
	return splitTerms(search).map(term => {
		const pattern = likePrefix(term);
		return anyOf(['username', 'token_name', 'model_name'].map(column => sql(dialect.likeIgnoringCase(column), pattern)));
	});
}

/** Filters select exactly what a table row or a facet value shows: its key, or a channel by name. */
export function narrowingConditions(filters: Filters, columns: LogsColumns, dialect: NewApiDialect, channelIdsNamed: (name: string) => number[]): SqlFragment[] {
	const conditions: SqlFragment[] = [];
	if (filters.account !== undefined) {
		conditions.push(textKeyEquals('username', filters.account, dialect));
	}
	if (filters.channel !== undefined) {
		const channel = filters.channel.trim();
		if (/^\d+$/u.test(channel)) {
			conditions.push(idEquals('channel_id', channel));
		} else if (channel === NO_VALUE) {
			conditions.push(sql('channel_id IS NULL'));
		} else {
			const ids = channelIdsNamed(channel);
			conditions.push(ids.length === 0 ? NOTHING : sql(`channel_id IN (${placeholders(ids.length)})`, ...ids));
		}
	}
	if (filters.group !== undefined) {
		conditions.push(columns.group ? textKeyEquals('"group"', filters.group, dialect) : filters.group === NO_VALUE ? sql('1 = 1') : NOTHING);
	}
	if (filters.model !== undefined) {
		conditions.push(textEquals('model_name', filters.model, dialect));
	}
	if (filters.apiKey !== undefined) {
		const key = filters.apiKey.trim();
		conditions.push(columns.tokenId && /^\d+$/u.test(key) ? idEquals('token_id', key) : textKeyEquals('token_name', key, dialect));
	}
	if (filters.status !== undefined) {
		conditions.push(sql('type = ?', parseStatus(filters.status) === 'success' ? CONSUME : ERROR));
	}
	return conditions;
}

export interface RowsSpec {
	readonly conditions: readonly SqlFragment[];
	readonly quotaPerUnit: number;
}

export interface PartialsSpec extends RowsSpec {
	readonly groupKey?: string;
	readonly labelHint?: string;
}

const requestsWhere = (conditions: readonly SqlFragment[]) => allOf([sql(`type IN (${CONSUME}, ${ERROR})`), ...conditions]);
const cost = 'COALESCE(quota, 0) * 1.0 / ?';

/** Requests are consume (success) and error (failure) rows; every other type is bookkeeping. */
export function requestRows(spec: RowsSpec, columns: LogsColumns): RequestRows {
	const where = requestsWhere(spec.conditions);
	const select = sql(
		`SELECT id, created_at AS sort_ts, created_at * 1000 AS ts_ms,
	CASE WHEN type = ${CONSUME} THEN 1 ELSE 0 END AS ok, model_name AS model,
	COALESCE(prompt_tokens, 0) AS input_tokens, COALESCE(completion_tokens, 0) AS output_tokens,
	COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0) AS total_tokens,
	${latencyMs(columns)} AS latency_ms, ${cost} AS cost_usd,
	${textKey('username')} AS account, ${apiKeyKey(columns)} AS api_key
FROM logs
WHERE ${where.sql}`,
		spec.quotaPerUnit,
		...where.params,
	);
	return {shape: 'requests', with: [], select};
}

/** A request's figures, the columns usage partials and rollup feeds share; binds quotaPerUnit once. */
function figureColumns(columns: LogsColumns, dialect: NewApiDialect, quotaPerUnit: number): SqlFragment {
	const latency = latencyMs(columns);
	return sql(
		`1 AS requests, CASE WHEN type = ${CONSUME} THEN 1 ELSE 0 END AS successes,
	COALESCE(prompt_tokens, 0) AS input_tokens, COALESCE(completion_tokens, 0) AS output_tokens, 0 AS reasoning_tokens,
	${columns.other ? dialect.cachedTokens('other') : '0'} AS cached_tokens,
	COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0) AS total_tokens,
	${latency} AS latency_sum, CASE WHEN ${latency} IS NULL THEN 0 ELSE 1 END AS latency_count,
	${cost} AS cost_usd, 0 AS unpriced_requests, created_at * 1000 AS last_ts_ms`,
		quotaPerUnit,
	);
}

/** Each request is its own partial: new-api bills every row, so there is nothing to price. */
export function usagePartials(spec: PartialsSpec, columns: LogsColumns, dialect: NewApiDialect): UsagePartials {
	const where = requestsWhere(spec.conditions);
	const figures = figureColumns(columns, dialect, spec.quotaPerUnit);
	const select = sql(
		`SELECT ${spec.groupKey ?? 'NULL'} AS group_key, model_name AS model, ${spec.labelHint ?? 'NULL'} AS label_hint,
	${figures.sql}
FROM logs
WHERE ${where.sql}`,
		...figures.params,
		...where.params,
	);
	return {shape: 'partials', with: [], select};
}

/** The axes of a new-api rollup: the models, each account dimension, the API keys. */
export const ROLLUP_AXES = ['model', 'user', 'channel', 'group', 'apiKeys'] as const;

/** One row per request with its id, time, key on every axis and figures: what a rollup reads. */
export function rollupRows(spec: RowsSpec, columns: LogsColumns, dialect: NewApiDialect): SqlFragment {
	const where = requestsWhere(spec.conditions);
	const figures = figureColumns(columns, dialect, spec.quotaPerUnit);
	return sql(
		`SELECT id, created_at * 1000 AS ts_ms, model_name AS k_model, ${dimensionKey('user', columns)} AS k_user,
	${dimensionKey('channel', columns)} AS k_channel, ${dimensionKey('group', columns)} AS k_group,
	${apiKeyKey(columns)} AS k_apikeys, token_name AS label_hint,
	${figures.sql}
FROM logs
WHERE ${where.sql}`,
		...figures.params,
		...where.params,
	);
}

/** The ids and times of the requests the conditions select, for a rollup's check of its newest ids. */
export function rollupIds(conditions: readonly SqlFragment[]): SqlFragment {
	const where = requestsWhere(conditions);
	return sql(`SELECT id, created_at * 1000 AS ts_ms FROM logs WHERE ${where.sql}`, ...where.params);
}

/** The largest id, and the oldest request's time: what tells a rollup that rows went away. */
export const rollupProbeSql = (): SqlFragment =>
	sql(`SELECT (SELECT max(id) FROM logs) AS max_id, (SELECT min(created_at) FROM logs WHERE type IN (${CONSUME}, ${ERROR})) * 1000 AS oldest_ms`);

/** Walks idx_created_at_type backwards to the first request row. */
export const newestRequestSql = (): SqlFragment => sql(`SELECT max(created_at) AS newest FROM logs WHERE type IN (${CONSUME}, ${ERROR})`);

/**
 * The filter menu's choices from a rollup of the same range and search: its keys, less what
 * facetsSql leaves out (requests with no user, channel, group, model or token name), as its rows.
 * A user or group literally named "-" cannot be told from none here, and is left out too.
 */
export function facetRowsOf(rollup: UsageRollup, columns: LogsColumns): Row[] {
	const rows: Row[] = [];
	const add = (facet: string, axis: (typeof ROLLUP_AXES)[number], keep: (key: string) => boolean) => {
		for (const {key, labelHint} of rollup.keysOf(axis)) {
			if (keep(key)) rows.push({facet, value: key, label: facet === 'apiKeys' ? labelHint : null});
		}
	};
	const named = (key: string) => key !== NO_VALUE;
	add('accounts', 'user', named);
	add('channels', 'channel', named);
	add('groups', 'group', named);
	add('models', 'model', key => key !== '');
	add('apiKeys', 'apiKeys', columns.tokenId ? () => true : named);
	return rows;
}

export function facetsSql(conditions: readonly SqlFragment[], columns: LogsColumns, dialect: NewApiDialect): SqlFragment {
	const where = requestsWhere(conditions);
	const group = columns.group ? '"group"' : 'NULL';
	const token = columns.tokenId ? 'CAST(token_id AS TEXT)' : "NULLIF(token_name, '')";
	return sql(
		`WITH facet_rows ${dialect.sharedCte} (
	SELECT username, channel_id, ${group} AS grp, model_name, ${token} AS token, token_name FROM logs WHERE ${where.sql}
)
SELECT 'accounts' AS facet, username AS value, NULL AS label FROM facet_rows WHERE username <> '' GROUP BY username
UNION ALL SELECT 'channels', CAST(channel_id AS TEXT), NULL FROM facet_rows WHERE channel_id IS NOT NULL GROUP BY channel_id
UNION ALL SELECT 'groups', grp, NULL FROM facet_rows WHERE grp <> '' GROUP BY grp
UNION ALL SELECT 'models', model_name, NULL FROM facet_rows WHERE model_name <> '' GROUP BY model_name
UNION ALL SELECT 'apiKeys', token, max(token_name) FROM facet_rows WHERE token IS NOT NULL GROUP BY token`,
		...where.params,
	);
}
