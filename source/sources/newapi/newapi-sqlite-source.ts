import type Database from 'better-sqlite3';
import {byLabel} from '../../usage/choice-order.js';
import {InputError} from '../../usage/input-error.js';
import type {
	Choice,
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
	UsageQuery,
	UsageSource,
} from '../../usage/types.js';
import {RATE_WINDOW_S} from '../../usage/types.js';
import {decodeModel, decodeRate, decodeRequest, decodeSummary, groupPage, num, type Row} from '../sql/decode.js';
import type {SqlFragment} from '../sql/fragment.js';
import {groupCountSql, groupPageSql, modelsSql, rateSql, requestCountSql, requestPageSql, summarySql} from '../sql/usage-aggregates.js';
import {hasTable, requireColumns, tableColumns} from '../sqlite/open-sqlite.js';
import {
	apiKeyKey,
	dimensionKey,
	facetsSql,
	newestRequestSql,
	narrowingConditions,
	requestRows,
	usagePartials,
	searchConditions,
	timeConditions,
	type LogsColumns,
	type NewApiDialect,
} from './newapi-sql.js';

export const DEFAULT_QUOTA_PER_UNIT = 500_000;

const REQUIRED_COLUMNS = ['id', 'created_at', 'type', 'username', 'token_name', 'model_name', 'quota', 'prompt_tokens', 'completion_tokens', 'channel_id'];

const CAPABILITIES: SourceCapabilities = {
	dimensions: ['user', 'channel', 'group'],
	filters: ['account', 'channel', 'group', 'model', 'apiKey', 'status', 'search'],
};

const sqliteNewApiDialect: NewApiDialect = {
	name: 'sqlite',
	byteOrder: expression => expression,
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
	private readonly columns: LogsColumns;

	constructor(
		private readonly db: Database.Database,
		readonly target: string,
		private readonly quotaPerUnit: number = DEFAULT_QUOTA_PER_UNIT,
	) {
		const present = tableColumns(db, 'logs');
		requireColumns(present, REQUIRED_COLUMNS, 'logs', target);
		this.columns = {
			tokenId: present.has('token_id'),
			group: present.has('group'),
			other: present.has('other'),
			useTime: present.has('use_time'),
			elapsedTime: present.has('elapsed_time'),
		};
	}

	async summary(query: UsageQuery): Promise<Summary> {
		const totals = this.one(summarySql(this.partials(query)));
		return decodeSummary(totals, this.facets(query));
	}

	async rate(query: UsageQuery): Promise<Rate> {
		const window = {range: {startMs: query.range.endMs - RATE_WINDOW_S * 1000, endMs: query.range.endMs}, filters: query.filters};
		return decodeRate(this.one(rateSql(this.requests(window))));
	}

	async models(query: UsageQuery): Promise<ModelUsage[]> {
		return this.all(modelsSql(this.partials(query), sqliteNewApiDialect)).map(decodeModel);
	}

	async groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest): Promise<GroupPage> {
		const groupKey = dimensionKey(dimension, this.columns);
		if (groupKey === undefined) {
			throw new InputError(`dimension "${dimension}" does not apply to new-api logs; use one of: ${CAPABILITIES.dimensions.join(', ')}`);
		}
		const channels = dimension === 'channel' ? this.labels().channels : undefined;
		return this.groupPage(query, groupKey, undefined, page, row => {
			const key = String(row.group_key);
			return channels === undefined ? key : (channels.get(key) ?? `#${key}`);
		});
	}

	async apiKeys(query: UsageQuery, page: SortedPageRequest): Promise<GroupPage> {
		const tokens = this.labels().tokens;
		return this.groupPage(query, apiKeyKey(this.columns), 'token_name', page, row => {
			const key = String(row.group_key);
			return tokens.get(key) ?? (typeof row.label_hint === 'string' && row.label_hint !== '' ? row.label_hint : key);
		});
	}

	async realtime(query: UsageQuery, page: PageRequest): Promise<RequestPage> {
		const total = num(this.one(requestCountSql(this.requests(query))).total_items);
		const rows = this.all(requestPageSql(this.requests(query), page));
		const tokens = this.labels().tokens;
		return {
			page: page.page,
			pageSize: page.pageSize,
			totalItems: total,
			items: rows.map(row => decodeRequest(row, key => tokens.get(key) ?? key)),
		};
	}

	async newestRequestMs(): Promise<number | null> {
		const {newest} = this.one(newestRequestSql());
		return newest === null ? null : num(newest) * 1000;
	}

	async close(): Promise<void> {
		this.db.close();
	}

	private groupPage(query: UsageQuery, groupKey: string, labelHint: string | undefined, page: SortedPageRequest, label: (row: Row) => string): GroupPage {
		const partials = this.partials(query, groupKey, labelHint);
		const found = this.all(groupPageSql(partials, page, sqliteNewApiDialect));
		return groupPage(page, found, label, () => num(this.one(groupCountSql(partials)).total_items));
	}

	private facets(query: UsageQuery): Facets {
		const conditions = [...timeConditions(query.range), ...searchConditions(query.filters.search, sqliteNewApiDialect)];
		const rows = this.all(facetsSql(conditions, this.columns)) as Array<{facet: keyof Facets; value: string; label: string | null}>;
		const {channels, tokens} = this.labels();
		const lists: Record<keyof Facets, Choice[]> = {accounts: [], providers: [], channels: [], groups: [], models: [], apiKeys: []};
		for (const row of rows) {
			const value = String(row.value);
			const label = row.facet === 'channels' ? (channels.get(value) ?? `#${value}`) : row.facet === 'apiKeys' ? (tokens.get(value) ?? row.label ?? value) : value;
			lists[row.facet].push({value, label: label === '' ? value : label});
		}
		for (const list of Object.values(lists)) {
			list.sort(byLabel);
		}
		return lists;
	}

	private conditions(query: UsageQuery) {
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

	/** Channel and token names live in the main database's small tables, when they are here. */
	private labels(): Labels {
		const read = (table: string, query: string): Map<string, string> =>
			hasTable(this.db, table)
				? new Map((this.db.prepare(query).all() as Array<{id: number; name: string | null}>).filter(r => r.name).map(r => [String(r.id), String(r.name)]))
				: new Map();
		return {
			channels: read('channels', 'SELECT id, name FROM channels'),
			tokens: read('tokens', 'SELECT id, name FROM tokens'),
		};
	}

	private channelIdsNamed(name: string): number[] {
		if (!hasTable(this.db, 'channels')) {
			return [];
		}
		return (this.db.prepare('SELECT id FROM channels WHERE name = ?').all(name) as Array<{id: number}>).map(row => row.id);
	}

	private one(query: SqlFragment): Row {
		return this.db.prepare(query.sql).get(...query.params) as Row;
	}

	private all(query: SqlFragment): Row[] {
		return this.db.prepare(query.sql).all(...query.params) as Row[];
	}
}
