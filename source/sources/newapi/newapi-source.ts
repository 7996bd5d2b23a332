import {InputError, quoted} from '../../usage/input-error.js';
import type {
	Dimension,
	Facets,
	Filters,
	GroupPage,
	ModelUsage,
	PageRequest,
	PostgresObserver,
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
import {cachedPromise} from '../cached.js';
import {decodeFacets, decodeModel, decodeRate, decodeSummary, num} from '../sql/decode.js';
import {sql, type SqlFragment} from '../sql/fragment.js';
import {fillTimeline, timelineWindow} from '../sql/timeline.js';
import {modelsSql, rateSql, summarySql, timelineSql} from '../sql/usage-aggregates.js';
import {groupPage, requestPage, type SqlRunner} from '../sql/sql-runner.js';
import {decodeGroupPage, type Row} from '../sql/decode.js';
import type {FeedBounds, RollupFeed} from '../rollup/rollup-feed.js';
import {RangeRollups, type RollupPolicy} from '../rollup/range-rollups.js';
import {
	apiKeyKey,
	dimensionKey,
	facetRowsOf,
	facetsSql,
	narrowingConditions,
	newestRequestSql,
	requestRows,
	ROLLUP_AXES,
	rollupIds,
	rollupProbeSql,
	rollupRows,
	searchConditions,
	timeConditions,
	usagePartials,
	type LogsColumns,
	type NewApiDialect,
} from './newapi-sql.js';

export const DEFAULT_QUOTA_PER_UNIT = 500_000;

export const REQUIRED_LOGS_COLUMNS = ['id', 'created_at', 'type', 'username', 'token_name', 'model_name', 'quota', 'prompt_tokens', 'completion_tokens', 'channel_id'];

/** The optional columns present among a `logs` table's column names. */
export const logsColumnsOf = (present: ReadonlySet<string>): LogsColumns => ({
	tokenId: present.has('token_id'),
	group: present.has('group'),
	other: present.has('other'),
	useTime: present.has('use_time'),
	elapsedTime: present.has('elapsed_time'),
});

const CAPABILITIES: SourceCapabilities = {
	dimensions: ['user', 'channel', 'group'],
	filters: ['account', 'channel', 'group', 'model', 'apiKey', 'status', 'search'],
};

const LABELS_TTL_MS = 30_000;

interface Labels {
	readonly channels: ReadonlyMap<string, string>;
	readonly tokens: ReadonlyMap<string, string>;
}

/** Where one new-api deployment's tables are, and how its engine reads them. */
export interface NewApiEngine {
	readonly kind: 'newapi-sqlite' | 'newapi-postgres';
	/** The database that holds `logs`. */
	readonly logs: SqlRunner;
	/** The main database, with `channels` and `tokens`: `logs` itself, unless logs live apart. */
	readonly main: SqlRunner;
	readonly dialect: NewApiDialect;
	readonly columns: LogsColumns;
	/** The server's activity, for a source on PostgreSQL; closed with the source. */
	readonly postgres?: PostgresObserver & {close(): Promise<void>};
}

/** new-api / one-api `logs`, read-only, on any engine. */
export class NewApiSource implements UsageSource {
	readonly kind: NewApiEngine['kind'];
	readonly capabilities = CAPABILITIES;
	private readonly logs: SqlRunner;
	private readonly dialect: NewApiDialect;
	private readonly columns: LogsColumns;
	/** Channel and token names live in the main database's small tables, when they are there. */
	private readonly labels: () => Promise<Labels>;
	readonly postgres: PostgresObserver | undefined;
	/** Long ranges' figures kept in memory and merged with new rows, when the caller asks for them (the live dashboard). */
	private readonly rollups: RangeRollups | undefined;

	constructor(
		private readonly engine: NewApiEngine,
		readonly target: string,
		private readonly quotaPerUnit: number = DEFAULT_QUOTA_PER_UNIT,
		rollupPolicy?: RollupPolicy,
	) {
		this.kind = engine.kind;
		this.logs = engine.logs;
		this.dialect = engine.dialect;
		this.columns = engine.columns;
		this.postgres = engine.postgres;
		this.labels = cachedPromise(LABELS_TTL_MS, async () => ({channels: await this.names('channels'), tokens: await this.names('tokens')}));
		this.rollups = rollupPolicy === undefined ? undefined : new RangeRollups(filters => this.rollupFeed(filters), rollupPolicy);
	}

	async summary(query: UsageQuery): Promise<Summary> {
		const read = await this.rollups?.read(query, rollup => rollup.summaryRow());
		const summary = decodeSummary(read?.value ?? (await this.logs.one(summarySql(await this.partials(query)))));
		return read === undefined ? summary : {...summary, aggregation: read.aggregation};
	}

	async facets(query: UsageQuery): Promise<Facets> {
		// The choices ignore every filter but the search: a long range's come from the rollup of the
		// range under that search alone when the dashboard keeps one (it did before a filter was
		// picked); else they are queried, rather than loading a rollup for the menu.
		const read = await this.rollups?.peek({range: query.range, filters: {search: query.filters.search}}, rollup => facetRowsOf(rollup, this.columns));
		const rows =
			read?.value ?? (await this.logs.all(facetsSql([...timeConditions(query.range), ...searchConditions(query.filters.search, this.dialect)], this.columns, this.dialect)));
		const {channels, tokens} = await this.labels();
		return decodeFacets(rows, (facet, value, label) => {
			if (facet === 'channels') {
				return channels.get(value) ?? `#${value}`;
			}
			return facet === 'apiKeys' ? (tokens.get(value) ?? label ?? value) : value;
		});
	}

	async rate(query: UsageQuery): Promise<Rate> {
		const window = {range: {startMs: query.range.endMs - RATE_WINDOW_S * 1000, endMs: query.range.endMs}, filters: query.filters};
		return decodeRate(await this.logs.one(rateSql(await this.requests(window))));
	}

	async timeline(query: UsageQuery, bucketMs: number, buckets: number): Promise<TimelineBucket[]> {
		const window = timelineWindow(query, bucketMs, buckets);
		return fillTimeline(await this.logs.all(timelineSql(await this.requests(window.query), window)), window);
	}

	async models(query: UsageQuery): Promise<ModelUsage[]> {
		const read = await this.rollups?.read(query, rollup => rollup.modelRows());
		return (read?.value ?? (await this.logs.all(modelsSql(await this.partials(query), this.dialect)))).map(decodeModel);
	}

	async groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest): Promise<GroupPage> {
		const groupKey = dimensionKey(dimension, this.columns);
		if (groupKey === undefined) {
			throw new InputError(`dimension ${quoted(dimension)} does not apply to new-api logs; use one of: ${CAPABILITIES.dimensions.join(', ')}`);
		}
		return this.groupPage(query, dimension, page, groupKey, undefined, async () => {
			const channels = dimension === 'channel' ? (await this.labels()).channels : undefined;
			return row => {
				const key = String(row.group_key);
				return channels === undefined ? key : (channels.get(key) ?? `#${key}`);
			};
		});
	}

	async apiKeys(query: UsageQuery, page: SortedPageRequest): Promise<GroupPage> {
		return this.groupPage(query, 'apiKeys', page, apiKeyKey(this.columns), 'token_name', async () => {
			const {tokens} = await this.labels();
			return row => {
				const key = String(row.group_key);
				return tokens.get(key) ?? (typeof row.label_hint === 'string' && row.label_hint !== '' ? row.label_hint : key);
			};
		});
	}

	async realtime(query: UsageQuery, page: PageRequest): Promise<RequestPage> {
		// Counting a long range's requests reads all of them; its rollup knows the number. Read
		// first: a read queued behind another panel's later window would be answered directly.
		const counted = await this.rollups?.read(query, rollup => rollup.requests);
		const {tokens} = await this.labels();
		const rows = await this.requests(query);
		return requestPage(this.logs, rows, counted?.value ?? rows, page, key => tokens.get(key) ?? key);
	}

	async newestRequestMs(): Promise<number | null> {
		const {newest} = await this.logs.one(newestRequestSql());
		return newest === null ? null : num(newest) * 1000;
	}

	async reconcile(): Promise<void> {
		this.rollups?.reconcile();
	}

	async close(): Promise<void> {
		await this.engine.postgres?.close();
		await this.logs.close();
		if (this.engine.main !== this.logs) {
			await this.engine.main.close();
		}
	}

	/**
	 * A page of groups from the range's rollup when it has one, else grouped by the engine. The
	 * rollup is asked first, before the labels are looked up: a read queued behind another panel's
	 * later window would be answered directly.
	 */
	private async groupPage(
		query: UsageQuery,
		axis: Dimension | 'apiKeys',
		page: SortedPageRequest,
		groupKey: string,
		labelHint: string | undefined,
		labeller: () => Promise<(row: Row) => string>,
	): Promise<GroupPage> {
		const read = await this.rollups?.read(query, rollup => rollup.groupPage(axis, page));
		if (read?.value !== undefined) {
			return decodeGroupPage(page, read.value.rows, await labeller(), read.value.totalItems);
		}
		const label = await labeller();
		return groupPage(this.logs, await this.partials(query, groupKey, labelHint), page, this.dialect, label);
	}

	private async conditions(query: UsageQuery): Promise<SqlFragment[]> {
		return [...timeConditions(query.range), ...(await this.filterConditions(query.filters))];
	}

	/** Search and filters: everything but the time range. */
	private async filterConditions(filters: Filters): Promise<SqlFragment[]> {
		// A channel filter by name needs the names first; they are cached.
		const {channels} = filters.channel === undefined ? {channels: new Map<string, string>()} : await this.labels();
		const channelIdsNamed = (name: string) => [...channels].filter(([, channelName]) => channelName === name).map(([id]) => Number(id));
		return [...searchConditions(filters.search, this.dialect), ...narrowingConditions(filters, this.columns, this.dialect, channelIdsNamed)];
	}

	/** The requests a rollup under these filters reads, bounded by id and time through the primary key and the time index. */
	private async rollupFeed(filters: Filters): Promise<RollupFeed> {
		const conditions = await this.filterConditions(filters);
		const bounded = (bounds: FeedBounds): SqlFragment[] => [
			...conditions,
			...(bounds.range === undefined ? [] : timeConditions(bounds.range)),
			...(bounds.idAbove === undefined ? [] : [sql('id > ?', bounds.idAbove)]),
			...(bounds.idAtMost === undefined ? [] : [sql('id <= ?', bounds.idAtMost)]),
		];
		return {
			runner: this.logs,
			axes: ROLLUP_AXES,
			sharedCte: this.dialect.sharedCte,
			groupingSets: this.dialect.groupingSets,
			rows: bounds => ({with: [], select: rollupRows({conditions: bounded(bounds), quotaPerUnit: this.quotaPerUnit}, this.columns, this.dialect)}),
			ids: bounds => rollupIds(bounded(bounds)),
			probe: rollupProbeSql,
		};
	}

	private async partials(query: UsageQuery, groupKey?: string, labelHint?: string) {
		return usagePartials({conditions: await this.conditions(query), groupKey, labelHint, quotaPerUnit: this.quotaPerUnit}, this.columns, this.dialect);
	}

	private async requests(query: UsageQuery) {
		return requestRows({conditions: await this.conditions(query), quotaPerUnit: this.quotaPerUnit}, this.columns);
	}

	private async names(table: 'channels' | 'tokens'): Promise<Map<string, string>> {
		if (!(await this.engine.main.hasTable(table))) {
			return new Map();
		}
		// Only ids and names: the tokens table also holds the keys themselves.
		const rows = await this.engine.main.all(sql(`SELECT id, name FROM ${table} WHERE name IS NOT NULL AND name <> ''`));
		return new Map(rows.map(row => [String(row.id), String(row.name)]));
	}
}
