import type Database from 'better-sqlite3';
import {InputError} from '../../usage/input-error.js';
import type {
	Dimension,
	GroupPage,
	ModelUsage,
	PageRequest,
	Rate,
	RequestPage,
	SortedPageRequest,
	SourceCapabilities,
	Summary,
	UsageQuery,
	UsageSource,
} from '../../usage/types.js';
import {RATE_WINDOW_S} from '../../usage/types.js';
import {decodeModel, decodeRate, decodeRequest, decodeSummary, groupPage, num, type Row} from '../sql/decode.js';
import {sqliteDialect} from '../sql/dialect.js';
import {allOf, sql, type SqlFragment} from '../sql/fragment.js';
import type {RequestRows, UsagePartials} from '../sql/request-rows.js';
import {groupCountSql, groupPageSql, modelsSql, rateSql, requestCountSql, requestPageSql, summarySql} from '../sql/usage-aggregates.js';
import {hasTable, requireColumns, tableColumns} from '../sqlite/open-sqlite.js';
import {accountValue, apiKeyKey, billableInput, billableOutput, cachedTokens, channelValue, columnsOf, pricedBy, providerValue, type ColumnOf} from './cpa-expressions.js';
import {decodeFacets, facetsSql} from './cpa-facets.js';
import {narrowingConditions, searchCondition, timeConditions, type SearchIndexes} from './cpa-filters.js';
import {CpaRateTable} from './cpa-rate-table.js';

const REQUIRED_COLUMNS = ['id', 'timestamp_ms', 'model', 'input_tokens', 'output_tokens', 'reasoning_tokens', 'cached_tokens', 'cache_tokens', 'total_tokens', 'failed'];

const CAPABILITIES: SourceCapabilities = {
	dimensions: ['account', 'provider', 'channel'],
	filters: ['account', 'provider', 'channel', 'model', 'apiKey', 'status', 'search'],
};


/** CPA-Manager's SQLite store (`usage_events`), read-only. */
export class CpaSqliteSource implements UsageSource {
	readonly kind = 'cpa-sqlite' as const;
	readonly capabilities = CAPABILITIES;
	private readonly c: ColumnOf;
	private readonly searchIndexes: SearchIndexes;
	private readonly rates: CpaRateTable;

	constructor(
		private readonly db: Database.Database,
		readonly target: string,
	) {
		const columns = tableColumns(db, 'usage_events');
		requireColumns(columns, REQUIRED_COLUMNS, 'usage_events', target);
		this.c = columnsOf(columns);
		this.searchIndexes = {events: hasTable(db, 'usage_events_fts'), aliases: hasTable(db, 'api_key_aliases_fts')};
		this.rates = new CpaRateTable(db, columns.has('resolved_model'));
	}

	async summary(query: UsageQuery): Promise<Summary> {
		const totals = this.one(summarySql(this.partials(query)));
		const aliases = this.aliases();
		const facetRows = this.all(facetsSql(this.c, this.conditions(query, false))) as Array<{facet: 'models'; value: string}>;
		return decodeSummary(totals, decodeFacets(facetRows, hash => aliases.get(hash)));
	}

	async rate(query: UsageQuery): Promise<Rate> {
		const window = {range: {startMs: query.range.endMs - RATE_WINDOW_S * 1000, endMs: query.range.endMs}, filters: query.filters};
		return decodeRate(this.one(rateSql(this.requests(window, false))));
	}

	async models(query: UsageQuery): Promise<ModelUsage[]> {
		return this.all(modelsSql(this.partials(query), sqliteDialect)).map(decodeModel);
	}

	async groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest): Promise<GroupPage> {
		const keys: Partial<Record<Dimension, string>> = {
			account: `COALESCE(${accountValue(this.c)}, '-')`,
			provider: `COALESCE(${providerValue(this.c)}, '-')`,
			channel: `COALESCE(${channelValue(this.c)}, '-')`,
		};
		const groupKey = keys[dimension];
		if (groupKey === undefined) {
			throw new InputError(`dimension "${dimension}" does not apply to a CPA-Manager store; use one of: ${CAPABILITIES.dimensions.join(', ')}`);
		}
		return this.groupPage(query, groupKey, page, row => String(row.group_key));
	}

	async apiKeys(query: UsageQuery, page: SortedPageRequest): Promise<GroupPage> {
		const aliases = this.aliases();
		return this.groupPage(query, apiKeyKey(this.c), page, row => aliases.get(String(row.group_key)) ?? String(row.group_key));
	}

	async realtime(query: UsageQuery, page: PageRequest): Promise<RequestPage> {
		const total = num(this.one(requestCountSql(this.requests(query, false))).total_items);
		const aliases = this.aliases();
		const rows = this.all(requestPageSql(this.requests(query, true), page));
		return {
			page: page.page,
			pageSize: page.pageSize,
			totalItems: total,
			items: rows.map(row => decodeRequest(row, key => aliases.get(key) ?? key)),
		};
	}

	async newestRequestMs(): Promise<number | null> {
		const {newest} = this.one(sql('SELECT max(timestamp_ms) AS newest FROM usage_events'));
		return newest === null ? null : num(newest);
	}

	async close(): Promise<void> {
		this.db.close();
	}

	private groupPage(query: UsageQuery, groupKey: string, page: SortedPageRequest, label: (row: Row) => string): GroupPage {
		const partials = this.partials(query, groupKey);
		const found = this.all(groupPageSql(partials, page, sqliteDialect));
		return groupPage(page, found, label, () => num(this.one(groupCountSql(partials)).total_items));
	}

	private conditions(query: UsageQuery, narrowed: boolean): SqlFragment[] {
		const search = searchCondition(this.c, query.filters.search, this.searchIndexes);
		return [
			...timeConditions(query.range),
			...(search === null ? [] : [search]),
			...(narrowed ? narrowingConditions(this.c, query.filters) : []),
		];
	}

	/**
	 * Sums per group × requested model × resolved model, priced once per such partial: the price
	 * join then costs the number of partials, not the number of requests.
	 */
	private partials(query: UsageQuery, groupKey = 'NULL'): UsagePartials {
		const c = this.c;
		const where = allOf(this.conditions(query, true));
		const sums = sql(
			`cpa_sums AS (
	SELECT ${groupKey} AS group_key, e.model AS model, ${c('resolved_model')} AS resolved_model,
		count(*) AS requests, sum(CASE WHEN e.failed = 0 THEN 1 ELSE 0 END) AS successes,
		sum(e.input_tokens) AS input_tokens, sum(e.output_tokens) AS output_tokens, sum(e.reasoning_tokens) AS reasoning_tokens,
		sum(${cachedTokens}) AS cached_tokens, sum(e.total_tokens) AS total_tokens,
		sum(${billableInput}) AS billable_input, sum(${billableOutput}) AS billable_output,
		sum(${c('latency_ms')}) AS latency_sum, count(${c('latency_ms')}) AS latency_count, max(e.timestamp_ms) AS last_ts_ms
	FROM usage_events e
	WHERE ${where.sql}
	GROUP BY 1, 2, 3
)`,
			...where.params,
		);
		const select = sql(`SELECT s.group_key, s.model, NULL AS label_hint, s.requests, s.successes, s.input_tokens, s.output_tokens,
	s.reasoning_tokens, s.cached_tokens, s.total_tokens, s.latency_sum, s.latency_count, s.last_ts_ms,
	${pricedBy('s.billable_input', 's.cached_tokens', 's.billable_output', '0')} AS cost_usd,
	CASE WHEN rr.name IS NULL AND rm.name IS NULL THEN s.requests ELSE 0 END AS unpriced_requests
FROM cpa_sums s
LEFT JOIN rate rr ON rr.name = s.resolved_model
LEFT JOIN rate rm ON rm.name = s.model`);
		return {with: [this.rates.cte(), sums], select};
	}

	/** One row per request, for the request log (priced) and the 60 s rate (not). */
	private requests(query: UsageQuery, priced: boolean): RequestRows {
		const c = this.c;
		const where = allOf(this.conditions(query, true));
		const joins = priced ? `LEFT JOIN rate rr ON rr.name = ${c('resolved_model')}\nLEFT JOIN rate rm ON rm.name = e.model` : '';
		const select = sql(
			`SELECT e.id AS id, e.timestamp_ms AS sort_ts, e.timestamp_ms AS ts_ms,
	CASE WHEN e.failed = 0 THEN 1 ELSE 0 END AS ok, e.model AS model,
	e.input_tokens AS input_tokens, e.output_tokens AS output_tokens, e.total_tokens AS total_tokens,
	${c('latency_ms')} AS latency_ms,
	${priced ? pricedBy(billableInput, cachedTokens, billableOutput, 'NULL') : 'NULL'} AS cost_usd,
	COALESCE(${accountValue(c)}, '-') AS account, ${apiKeyKey(c)} AS api_key
FROM usage_events e
${joins}
WHERE ${where.sql}`,
			...where.params,
		);
		return {with: priced ? [this.rates.cte()] : [], select};
	}

	/** Aliases by lower-case key hash; a small table, read whole. */
	private aliases(): Map<string, string> {
		if (!hasTable(this.db, 'api_key_aliases')) {
			return new Map();
		}
		const rows = this.db.prepare('SELECT lower(api_key_hash) AS hash, alias FROM api_key_aliases').all() as Array<{hash: string; alias: string}>;
		return new Map(rows.map(row => [row.hash, row.alias]));
	}

	private one(query: SqlFragment): Row {
		return this.db.prepare(query.sql).get(...query.params) as Row;
	}

	private all(query: SqlFragment): Row[] {
		return this.db.prepare(query.sql).all(...query.params) as Row[];
	}
}
