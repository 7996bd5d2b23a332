import type Database from 'better-sqlite3';
import {InputError, quoted} from '../../usage/input-error.js';
import type {
	Dimension,
	Facets,
	GroupPage,
	ModelUsage,
	PageRequest,
	Rate,
	RequestPage,
	SortedPageRequest,
	SourceCapabilities,
	Summary,
	TimelineBucket,
	UsageQuery,
	UsageSource,
} from '../../usage/types.js';
import {RATE_WINDOW_S} from '../../usage/types.js';
import {cachedFor} from '../cached.js';
import {decodeFacets, decodeModel, decodeRate, decodeSummary, num} from '../sql/decode.js';
import {sqliteDialect} from '../sql/dialect.js';
import {allOf, sql, type SqlFragment} from '../sql/fragment.js';
import type {RequestRows, UsagePartials} from '../sql/request-rows.js';
import {fillTimeline, timelineWindow} from '../sql/timeline.js';
import {modelsSql, rateSql, summarySql, timelineSql} from '../sql/usage-aggregates.js';
import {requireColumns, tableColumns} from '../sqlite/open-sqlite.js';
import {SqliteQueries, sqliteRunner} from '../sqlite/sqlite-queries.js';
import {groupPage, requestPage, type SqlRunner} from '../sql/sql-runner.js';
import {accountKey, apiKeyKey, billableInput, billableOutput, cachedTokens, channelKey, columnsOf, pricedBy, providerKey, type ColumnOf} from './cpa-expressions.js';
import {facetsSql} from './cpa-facets.js';
import {narrowingConditions, searchCondition, timeConditions, type SearchIndexes} from './cpa-filters.js';
import {CpaPriceTable} from './cpa-price-table.js';

const REQUIRED_COLUMNS = ['id', 'timestamp_ms', 'model', 'input_tokens', 'output_tokens', 'reasoning_tokens', 'cached_tokens', 'cache_tokens', 'total_tokens', 'failed'];

const CAPABILITIES: SourceCapabilities = {
	dimensions: ['account', 'provider', 'channel'],
	filters: ['account', 'provider', 'channel', 'model', 'apiKey', 'status', 'search'],
};

const ALIASES_TTL_MS = 30_000;

/** CPA-Manager's SQLite store (`usage_events`), read-only. */
export class CpaSqliteSource implements UsageSource {
	readonly kind = 'cpa-sqlite' as const;
	readonly capabilities = CAPABILITIES;
	private readonly queries: SqliteQueries;
	private readonly runner: SqlRunner;
	private readonly c: ColumnOf;
	private readonly searchIndexes: SearchIndexes;
	private readonly prices: CpaPriceTable;
	/** Aliases by lower-case key hash; a small table. */
	private readonly aliases: () => Map<string, string>;

	constructor(
		db: Database.Database,
		readonly target: string,
	) {
		const columns = tableColumns(db, 'usage_events');
		requireColumns(columns, REQUIRED_COLUMNS, 'usage_events', target);
		this.queries = new SqliteQueries(db);
		this.runner = sqliteRunner(this.queries);
		this.c = columnsOf(columns);
		this.searchIndexes = {events: this.queries.hasTable('usage_events_fts'), aliases: this.queries.hasTable('api_key_aliases_fts')};
		this.prices = new CpaPriceTable(this.queries, columns.has('resolved_model'), this.queries.hasTable('model_prices'));
		this.aliases = cachedFor(ALIASES_TTL_MS, () =>
			this.queries.hasTable('api_key_aliases')
				? new Map(this.queries.all(sql('SELECT lower(api_key_hash) AS hash, alias FROM api_key_aliases')).map(row => [String(row.hash), String(row.alias)]))
				: new Map(),
		);
	}

	async summary(query: UsageQuery): Promise<Summary> {
		return decodeSummary(this.queries.one(summarySql(this.partials(query))));
	}

	async facets(query: UsageQuery): Promise<Facets> {
		const aliases = this.aliases();
		const rows = this.queries.all(facetsSql(this.c, this.conditions(query, false)));
		return decodeFacets(rows, (facet, value) => (facet === 'apiKeys' ? (aliases.get(value) ?? value) : value));
	}

	async rate(query: UsageQuery): Promise<Rate> {
		const window = {range: {startMs: query.range.endMs - RATE_WINDOW_S * 1000, endMs: query.range.endMs}, filters: query.filters};
		return decodeRate(this.queries.one(rateSql(this.requests(window, false))));
	}

	async timeline(query: UsageQuery, bucketMs: number, buckets: number): Promise<TimelineBucket[]> {
		const window = timelineWindow(query, bucketMs, buckets);
		return fillTimeline(this.queries.all(timelineSql(this.requests(window.query, false), window)), window);
	}

	async models(query: UsageQuery): Promise<ModelUsage[]> {
		return this.queries.all(modelsSql(this.partials(query), sqliteDialect)).map(decodeModel);
	}

	async groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest): Promise<GroupPage> {
		const keys: Partial<Record<Dimension, string>> = {account: accountKey(this.c), provider: providerKey(this.c), channel: channelKey(this.c)};
		// Own keys only: `__proto__` or `constructor` would find Object.prototype's members.
		const groupKey = Object.hasOwn(keys, dimension) ? keys[dimension] : undefined;
		if (groupKey === undefined) {
			throw new InputError(`dimension ${quoted(dimension)} does not apply to a CPA-Manager store; use one of: ${CAPABILITIES.dimensions.join(', ')}`);
		}
		return groupPage(this.runner, this.partials(query, groupKey), page, sqliteDialect, row => String(row.group_key));
	}

	async apiKeys(query: UsageQuery, page: SortedPageRequest): Promise<GroupPage> {
		const aliases = this.aliases();
		return groupPage(this.runner, this.partials(query, apiKeyKey(this.c)), page, sqliteDialect, row => aliases.get(String(row.group_key)) ?? String(row.group_key));
	}

	async realtime(query: UsageQuery, page: PageRequest): Promise<RequestPage> {
		const aliases = this.aliases();
		return requestPage(this.runner, this.requests(query, true), this.requests(query, false), page, key => aliases.get(key) ?? key);
	}

	async newestRequestMs(): Promise<number | null> {
		const {newest} = this.queries.one(sql('SELECT max(timestamp_ms) AS newest FROM usage_events'));
		return newest === null ? null : num(newest);
	}

	async close(): Promise<void> {
		this.queries.close();
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
LEFT JOIN prices rr ON rr.name = s.resolved_model
LEFT JOIN prices rm ON rm.name = s.model`);
		return {shape: 'partials', with: [this.prices.cte(), sums], select};
	}

	/** One row per request, for the request log (priced) and the 60 s rate and counts (not). */
	private requests(query: UsageQuery, priced: boolean): RequestRows {
		const c = this.c;
		const where = allOf(this.conditions(query, true));
		const joins = priced ? `LEFT JOIN prices rr ON rr.name = ${c('resolved_model')}\nLEFT JOIN prices rm ON rm.name = e.model` : '';
		const select = sql(
			`SELECT e.id AS id, e.timestamp_ms AS sort_ts, e.timestamp_ms AS ts_ms,
	CASE WHEN e.failed = 0 THEN 1 ELSE 0 END AS ok, e.model AS model,
	e.input_tokens AS input_tokens, e.output_tokens AS output_tokens, e.total_tokens AS total_tokens,
	${c('latency_ms')} AS latency_ms,
	${priced ? pricedBy(billableInput, cachedTokens, billableOutput, 'NULL') : 'NULL'} AS cost_usd,
	${accountKey(c)} AS account, ${apiKeyKey(c)} AS api_key
FROM usage_events e
${joins}
WHERE ${where.sql}`,
			...where.params,
		);
		return {shape: 'requests', with: priced ? [this.prices.cte()] : [], select};
	}
}
