import type Database from 'better-sqlite3';
import {InputError} from '../../usage/input-error.js';
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
import {sql, type SqlFragment} from '../sql/fragment.js';
import {fillTimeline, timelineWindow} from '../sql/timeline.js';
import {modelsSql, rateSql, summarySql, timelineSql} from '../sql/usage-aggregates.js';
import {requireColumns, tableColumns} from '../sqlite/open-sqlite.js';
import {SqliteQueries} from '../sqlite/sqlite-queries.js';
import {
	apiKeyKey,
	dimensionKey,
	facetsSql,
	narrowingConditions,
	newestRequestSql,
	requestRows,
	searchConditions,
	timeConditions,
	usagePartials,
	type LogsColumns,
	type NewApiDialect,
} from './newapi-sql.js';

export const DEFAULT_QUOTA_PER_UNIT = 500_000;

const REQUIRED_COLUMNS = ['id', 'created_at', 'type', 'username', 'token_name', 'model_name', 'quota', 'prompt_tokens', 'completion_tokens', 'channel_id'];

const CAPABILITIES: SourceCapabilities = {
	dimensions: ['user', 'channel', 'group'],
	filters: ['account', 'channel', 'group', 'model', 'apiKey', 'status', 'search'],
};

const LABELS_TTL_MS = 30_000;

const sqliteNewApiDialect: NewApiDialect = {
	...sqliteDialect,
	// json_extract raises on malformed text, so validity is checked first (CASE short-circuits).
	cachedTokens: other => `max(COALESCE(CAST(CASE WHEN json_valid(${other}) THEN json_extract(${other}, '$.cache_tokens') END AS INTEGER), 0), 0)`,
	likeIgnoringCase: column => `${column} LIKE ? ESCAPE '\\'`,
};

interface Labels {
	readonly channels: ReadonlyMap<string, string>;
	readonly tokens: ReadonlyMap<string, string>;
}

/** new-api / one-api `logs` in a SQLite file, read-only. */
export class NewApiSqliteSource implements UsageSource {
	readonly kind = 'newapi-sqlite' as const;
	readonly capabilities = CAPABILITIES;
	private readonly queries: SqliteQueries;
	private readonly columns: LogsColumns;
	/** Channel and token names live in the main database's small tables, when they are here. */
	private readonly labels: () => Labels;

	constructor(
		db: Database.Database,
		readonly target: string,
		private readonly quotaPerUnit: number = DEFAULT_QUOTA_PER_UNIT,
	) {
		const present = tableColumns(db, 'logs');
		requireColumns(present, REQUIRED_COLUMNS, 'logs', target);
		this.queries = new SqliteQueries(db);
		this.columns = {
			tokenId: present.has('token_id'),
			group: present.has('group'),
			other: present.has('other'),
			useTime: present.has('use_time'),
			elapsedTime: present.has('elapsed_time'),
		};
		this.labels = cachedFor(LABELS_TTL_MS, () => ({channels: this.names('channels'), tokens: this.names('tokens')}));
	}

	async summary(query: UsageQuery): Promise<Summary> {
		return decodeSummary(this.queries.one(summarySql(this.partials(query))));
	}

	async facets(query: UsageQuery): Promise<Facets> {
		const conditions = [...timeConditions(query.range), ...searchConditions(query.filters.search, sqliteNewApiDialect)];
		const {channels, tokens} = this.labels();
		return decodeFacets(this.queries.all(facetsSql(conditions, this.columns)), (facet, value, label) => {
			if (facet === 'channels') {
				return channels.get(value) ?? `#${value}`;
			}
			return facet === 'apiKeys' ? (tokens.get(value) ?? label ?? value) : value;
		});
	}

	async rate(query: UsageQuery): Promise<Rate> {
		const window = {range: {startMs: query.range.endMs - RATE_WINDOW_S * 1000, endMs: query.range.endMs}, filters: query.filters};
		return decodeRate(this.queries.one(rateSql(this.requests(window))));
	}

	async timeline(query: UsageQuery, bucketMs: number, buckets: number): Promise<TimelineBucket[]> {
		const window = timelineWindow(query, bucketMs, buckets);
		return fillTimeline(this.queries.all(timelineSql(this.requests(window.query), window)), window);
	}

	async models(query: UsageQuery): Promise<ModelUsage[]> {
		return this.queries.all(modelsSql(this.partials(query), sqliteNewApiDialect)).map(decodeModel);
	}

	async groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest): Promise<GroupPage> {
		const groupKey = dimensionKey(dimension, this.columns);
		if (groupKey === undefined) {
			throw new InputError(`dimension "${dimension}" does not apply to new-api logs; use one of: ${CAPABILITIES.dimensions.join(', ')}`);
		}
		const channels = dimension === 'channel' ? this.labels().channels : undefined;
		return this.queries.groupPage(this.partials(query, groupKey), page, sqliteNewApiDialect, row => {
			const key = String(row.group_key);
			return channels === undefined ? key : (channels.get(key) ?? `#${key}`);
		});
	}

	async apiKeys(query: UsageQuery, page: SortedPageRequest): Promise<GroupPage> {
		const {tokens} = this.labels();
		return this.queries.groupPage(this.partials(query, apiKeyKey(this.columns), 'token_name'), page, sqliteNewApiDialect, row => {
			const key = String(row.group_key);
			return tokens.get(key) ?? (typeof row.label_hint === 'string' && row.label_hint !== '' ? row.label_hint : key);
		});
	}

	async realtime(query: UsageQuery, page: PageRequest): Promise<RequestPage> {
		const {tokens} = this.labels();
		const rows = this.requests(query);
		return this.queries.requestPage(rows, rows, page, key => tokens.get(key) ?? key);
	}

	async newestRequestMs(): Promise<number | null> {
		const {newest} = this.queries.one(newestRequestSql());
		return newest === null ? null : num(newest) * 1000;
	}

	async close(): Promise<void> {
		this.queries.close();
	}

	private conditions(query: UsageQuery): SqlFragment[] {
		return [
			...timeConditions(query.range),
			...searchConditions(query.filters.search, sqliteNewApiDialect),
			...narrowingConditions(query.filters, this.columns, name => this.channelIdsNamed(name)),
		];
	}

	private partials(query: UsageQuery, groupKey?: string, labelHint?: string) {
		return usagePartials({conditions: this.conditions(query), groupKey, labelHint, quotaPerUnit: this.quotaPerUnit}, this.columns, sqliteNewApiDialect);
	}

	private requests(query: UsageQuery) {
		return requestRows({conditions: this.conditions(query), quotaPerUnit: this.quotaPerUnit}, this.columns);
	}

	private names(table: 'channels' | 'tokens'): Map<string, string> {
		if (!this.queries.hasTable(table)) {
			return new Map();
		}
		const rows = this.queries.all(sql(`SELECT id, name FROM ${table} WHERE name IS NOT NULL AND name <> ''`));
		return new Map(rows.map(row => [String(row.id), String(row.name)]));
	}

	private channelIdsNamed(name: string): number[] {
		const {channels} = this.labels();
		return [...channels].filter(([, channelName]) => channelName === name).map(([id]) => Number(id));
	}
}
