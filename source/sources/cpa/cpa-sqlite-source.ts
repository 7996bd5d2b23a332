import type Database from 'better-sqlite3';
import {InputError, quoted} from '../../usage/input-error.js';
import type {
	Dimension,
	Facets,
	Filters,
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
import {decodeFacets, decodeGroupPage, decodeModel, decodeRate, decodeSummary, num, type Row} from '../sql/decode.js';
import {sqliteDialect} from '../sql/dialect.js';
import {allOf, sql, type SqlFragment} from '../sql/fragment.js';
import type {RequestRows, UsagePartials} from '../sql/request-rows.js';
import {fillTimeline, timelineWindow} from '../sql/timeline.js';
import {modelsSql, rateSql, summarySql, timelineSql} from '../sql/usage-aggregates.js';
import {requireColumns, tableColumns} from '../sqlite/open-sqlite.js';
import {SqliteQueries, sqliteRunner} from '../sqlite/sqlite-queries.js';
import {groupPage, requestPage, type SqlRunner} from '../sql/sql-runner.js';
import type {FeedBounds, RollupFeed} from '../rollup/rollup-feed.js';
import {RangeRollups, type RollupPolicy} from '../rollup/range-rollups.js';
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

/** The price rows of a resolved model (`rr`) and of a requested one (`rm`), for pricedBy. */
const priceJoins = (resolved: string, model: string): string => `LEFT JOIN prices rr ON rr.name = ${resolved}\nLEFT JOIN prices rm ON rm.name = ${model}`;

/** The sums of some events, with the billable quantities their price applies to (pricedBy on the sums). */
const summedEvents = (c: ColumnOf): string => `count(*) AS requests, sum(CASE WHEN e.failed = 0 THEN 1 ELSE 0 END) AS successes,
		sum(e.input_tokens) AS input_tokens, sum(e.output_tokens) AS output_tokens, sum(e.reasoning_tokens) AS reasoning_tokens,
		sum(${cachedTokens}) AS cached_tokens, sum(e.total_tokens) AS total_tokens,
		sum(${billableInput}) AS billable_input, sum(${billableOutput}) AS billable_output,
		sum(${c('latency_ms')}) AS latency_sum, count(${c('latency_ms')}) AS latency_count, max(e.timestamp_ms) AS last_ts_ms`;

/** The axes of a rollup: the requested models, each account dimension, the API keys. */
const ROLLUP_AXES = ['model', 'account', 'provider', 'channel', 'apiKeys'] as const;

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
	/** Long ranges' figures kept in memory and merged with new rows, when the caller asks for them (the live dashboard). */
	private readonly rollups: RangeRollups | undefined;

	constructor(
		db: Database.Database,
		readonly target: string,
		rollupPolicy?: RollupPolicy,
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
		this.rollups = rollupPolicy === undefined ? undefined : new RangeRollups(async filters => this.rollupFeed(filters), rollupPolicy);
	}

	async summary(query: UsageQuery): Promise<Summary> {
		const read = await this.rollups?.read(query, rollup => rollup.summaryRow());
		const summary = decodeSummary(read?.value ?? this.queries.one(summarySql(this.partials(query))));
		return read === undefined ? summary : {...summary, aggregation: read.aggregation};
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
		const read = await this.rollups?.read(query, rollup => rollup.modelRows());
		return (read?.value ?? this.queries.all(modelsSql(this.partials(query), sqliteDialect))).map(decodeModel);
	}

	async groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest): Promise<GroupPage> {
		const keys: Partial<Record<Dimension, string>> = {account: accountKey(this.c), provider: providerKey(this.c), channel: channelKey(this.c)};
		// Own keys only: `__proto__` or `constructor` would find Object.prototype's members.
		const groupKey = Object.hasOwn(keys, dimension) ? keys[dimension] : undefined;
		if (groupKey === undefined) {
			throw new InputError(`dimension ${quoted(dimension)} does not apply to a CPA-Manager store; use one of: ${CAPABILITIES.dimensions.join(', ')}`);
		}
		return this.groupPage(query, dimension, page, groupKey, row => String(row.group_key));
	}

	async apiKeys(query: UsageQuery, page: SortedPageRequest): Promise<GroupPage> {
		const aliases = this.aliases();
		return this.groupPage(query, 'apiKeys', page, apiKeyKey(this.c), row => aliases.get(String(row.group_key)) ?? String(row.group_key));
	}

	async realtime(query: UsageQuery, page: PageRequest): Promise<RequestPage> {
		const aliases = this.aliases();
		// Counting a long range's requests reads all of them; its rollup knows the number.
		const counted = await this.rollups?.read(query, rollup => rollup.requests);
		return requestPage(this.runner, this.requests(query, true), counted?.value ?? this.requests(query, false), page, key => aliases.get(key) ?? key);
	}

	async newestRequestMs(): Promise<number | null> {
		const {newest} = this.queries.one(sql('SELECT max(timestamp_ms) AS newest FROM usage_events'));
		return newest === null ? null : num(newest);
	}

	async reconcile(): Promise<void> {
		this.rollups?.reconcile();
	}

	async close(): Promise<void> {
		this.queries.close();
	}

	/** A page of groups from the range's rollup when it has one, else grouped by the engine. */
	private async groupPage(query: UsageQuery, axis: Dimension | 'apiKeys', page: SortedPageRequest, groupKey: string, label: (row: Row) => string): Promise<GroupPage> {
		const read = await this.rollups?.read(query, rollup => rollup.groupPage(axis, page));
		if (read?.value !== undefined) {
			return decodeGroupPage(page, read.value.rows, label, read.value.totalItems);
		}
		return groupPage(this.runner, this.partials(query, groupKey), page, sqliteDialect, label);
	}

	private conditions(query: UsageQuery, narrowed: boolean): SqlFragment[] {
		return [...timeConditions(query.range), ...this.filterConditions(query.filters, narrowed)];
	}

	/** Search, and the filters when `narrowed`: everything but the time range. */
	private filterConditions(filters: Filters, narrowed: boolean): SqlFragment[] {
		const search = searchCondition(this.c, filters.search, this.searchIndexes);
		return [...(search === null ? [] : [search]), ...(narrowed ? narrowingConditions(this.c, filters) : [])];
	}

	/**
	 * The events a rollup under these filters reads, bounded by id and time through the primary key
	 * and the time index: one priced row per event for a refresh, and for a load sums per
	 * combination of keys and resolved model, each priced once.
	 */
	private rollupFeed(filters: Filters): RollupFeed {
		const c = this.c;
		const conditions = this.filterConditions(filters, true);
		const where = (bounds: FeedBounds) =>
			allOf([
				...conditions,
				...(bounds.range === undefined ? [] : timeConditions(bounds.range)),
				...(bounds.idAbove === undefined ? [] : [sql('e.id > ?', bounds.idAbove)]),
				...(bounds.idAtMost === undefined ? [] : [sql('e.id <= ?', bounds.idAtMost)]),
			]);
		const keys = `e.model AS k_model, ${accountKey(c)} AS k_account, ${providerKey(c)} AS k_provider, ${channelKey(c)} AS k_channel, ${apiKeyKey(c)} AS k_apikeys`;
		return {
			runner: this.runner,
			axes: ROLLUP_AXES,
			sharedCte: 'AS MATERIALIZED',
			rows: bounds => {
				const w = where(bounds);
				const select = sql(
					`SELECT e.id AS id, e.timestamp_ms AS ts_ms, ${keys}, NULL AS label_hint,
	1 AS requests, CASE WHEN e.failed = 0 THEN 1 ELSE 0 END AS successes,
	e.input_tokens AS input_tokens, e.output_tokens AS output_tokens, e.reasoning_tokens AS reasoning_tokens,
	${cachedTokens} AS cached_tokens, e.total_tokens AS total_tokens,
	${c('latency_ms')} AS latency_sum, CASE WHEN ${c('latency_ms')} IS NULL THEN 0 ELSE 1 END AS latency_count,
	${pricedBy(billableInput, cachedTokens, billableOutput, '0')} AS cost_usd,
	CASE WHEN rr.name IS NULL AND rm.name IS NULL THEN 1 ELSE 0 END AS unpriced_requests, e.timestamp_ms AS last_ts_ms
FROM usage_events e
${priceJoins(c('resolved_model'), 'e.model')}
WHERE ${w.sql}`,
					...w.params,
				);
				return {with: [this.prices.cte()], select};
			},
			combined: bounds => {
				const w = where(bounds);
				const sums = sql(
					`cpa_rollup_sums AS (
	SELECT ${keys}, ${c('resolved_model')} AS resolved_model,
		${summedEvents(c)}
	FROM usage_events e
	WHERE ${w.sql}
	GROUP BY 1, 2, 3, 4, 5, 6
)`,
					...w.params,
				);
				const select = sql(`SELECT s.k_model, s.k_account, s.k_provider, s.k_channel, s.k_apikeys, NULL AS label_hint,
	s.requests, s.successes, s.input_tokens, s.output_tokens, s.reasoning_tokens, s.cached_tokens, s.total_tokens,
	s.latency_sum, s.latency_count, ${pricedBy('s.billable_input', 's.cached_tokens', 's.billable_output', '0')} AS cost_usd,
	CASE WHEN rr.name IS NULL AND rm.name IS NULL THEN s.requests ELSE 0 END AS unpriced_requests, s.last_ts_ms
FROM cpa_rollup_sums s
${priceJoins('s.resolved_model', 's.k_model')}`);
				return {with: [this.prices.cte(), sums], select};
			},
			ids: bounds => {
				const w = where(bounds);
				return sql(`SELECT e.id AS id, e.timestamp_ms AS ts_ms FROM usage_events e WHERE ${w.sql}`, ...w.params);
			},
			probe: () => sql('SELECT (SELECT max(id) FROM usage_events) AS max_id, (SELECT min(timestamp_ms) FROM usage_events) AS oldest_ms'),
		};
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
		${summedEvents(c)}
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
${priceJoins('s.resolved_model', 's.model')}`);
		return {shape: 'partials', with: [this.prices.cte(), sums], select};
	}

	/** One row per request, for the request log (priced) and the 60 s rate and counts (not). */
	private requests(query: UsageQuery, priced: boolean): RequestRows {
		const c = this.c;
		const where = allOf(this.conditions(query, true));
		const joins = priced ? priceJoins(c('resolved_model'), 'e.model') : '';
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
