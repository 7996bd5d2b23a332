import {isConnectionFailure} from '../../poll/connection-failure.js';
import {summarizeActivity, type ActivitySnapshot} from './activity-summary.js';
import {readBackends} from './backends-query.js';
import {summarizeConnections, type ConnectionsSummary} from './connections-summary.js';
import {DatabaseStatsSampler, type DatabaseStatsSnapshot} from './database-stats.js';
import {readIndexes, type IndexesSnapshot} from './index-list.js';
import {matchIndexNeeds, NEWAPI_LOGS_INDEX_NEEDS, type IndexNeed, type IndexNeedVerdict} from './index-needs.js';
import {createExtensionHint, PRELOAD_HINT, runPanel, unavailable, type HintContext, type PanelResult} from './panel-result.js';
import {readProgress, type ProgressSnapshot} from './progress.js';
import {ownApplicationName, type OwnBackendOptions, type Queryable} from './queryable.js';
import {readServerInfo, type ServerInfo} from './server-info.js';
import {StatementsSampler, type StatementsOptions, type StatementsSnapshot} from './statements-sampler.js';
import {readTables, type TablesSnapshot} from './table-stats.js';

/** How long server info is trusted before a snapshot that asks for it reads it again. */
const SERVER_INFO_MAX_AGE_MS = 60_000;

export const PANELS = ['server', 'connections', 'activity', 'database', 'statements', 'tables', 'indexes', 'progress'] as const;
export type PanelName = (typeof PANELS)[number];

export interface MonitorOptions extends OwnBackendOptions {
	/** The table the tables and indexes panels look at; default 'logs' (search_path applies unless schema-qualified). */
	readonly table?: string;
	/** How many of the largest tables to list; default 10. */
	readonly largestTables?: number;
	readonly statements?: StatementsOptions;
	/** What the indexes panel checks the table's indexes against; default new-api's hot queries on logs. */
	readonly indexNeeds?: readonly IndexNeed[];
}

export interface IndexesPanel extends IndexesSnapshot {
	readonly needs: readonly IndexNeedVerdict[];
}

/** One sample of the panels asked for; each panel is its data or why it has none. */
export interface MonitorSnapshot {
	readonly server: PanelResult<ServerInfo>;
	readonly connections?: PanelResult<ConnectionsSummary>;
	readonly activity?: PanelResult<ActivitySnapshot>;
	readonly database?: PanelResult<DatabaseStatsSnapshot>;
	readonly statements?: PanelResult<StatementsSnapshot>;
	readonly tables?: PanelResult<TablesSnapshot>;
	readonly indexes?: PanelResult<IndexesPanel>;
	readonly progress?: PanelResult<ProgressSnapshot>;
}

/** The statements panel without a query when the extension state already says it cannot work. */
export function statementsPrerequisite(server: ServerInfo): PanelResult<never> | null {
	const {installed, preloaded, available} = server.statements;
	if (!installed) {
		const install = available === false ? 'install the PostgreSQL contrib package, then ' : '';
		const preload = preloaded ? '' : `; and ${PRELOAD_HINT}`;
		return unavailable('extension-missing', `pg_stat_statements is not installed in database ${server.database}`, `${install}${createExtensionHint(server.database)}${preload}`);
	}
	if (!preloaded) return unavailable('not-preloaded', 'pg_stat_statements is installed but its library is not loaded', PRELOAD_HINT);
	return null;
}

/**
 * The PostgreSQL view's data layer: runs the panels one after another on the caller's connection (one
 * connection, one query at a time) and keeps what rates need between snapshots (statements, database).
 * A panel that fails for privilege, a missing extension, an old server or a timeout comes back as
 * 'unavailable' with a hint; the others still run. A connection lost or refused, and errors that are
 * not server errors, are thrown.
 */
export class PostgresMonitor {
	private readonly statementsSampler: StatementsSampler;
	private readonly databaseSampler = new DatabaseStatsSampler();
	private server: ServerInfo | null = null;
	private serverReadAt = Number.NEGATIVE_INFINITY;
	/** A panel of the last snapshot was unavailable: a GRANT or CREATE EXTENSION may fix it any moment. */
	private lastHadUnavailable = false;

	constructor(private readonly options: MonitorOptions = {}) {
		this.statementsSampler = new StatementsSampler(options.statements);
	}

	/** Server info of the last snapshot that read it. */
	get serverInfo(): ServerInfo | null {
		return this.server;
	}

	/**
	 * Runs the panels asked for (default all). The other panels need the server's version and the
	 * role's privileges: server info is read when not yet known, and when asked for, at most once a
	 * minute (it changes with a restart, a GRANT, an extension), or at once while a panel is unavailable.
	 * A dashboard polls this every refresh on the server it watches. A server out of reach throws (no
	 * panel can say more than that), and its info is read again once it answers: it may have come back
	 * restarted with other settings, upgraded, or as a standby.
	 */
	async snapshot(db: Queryable, panels: readonly PanelName[] = PANELS): Promise<MonitorSnapshot> {
		try {
			return await this.sample(db, panels);
		} catch (error) {
			if (isConnectionFailure(error)) this.server = null;
			throw error;
		}
	}

	private async sample(db: Queryable, panels: readonly PanelName[]): Promise<MonitorSnapshot> {
		const wanted = new Set(panels);
		const now = Date.now();
		const stale = now - this.serverReadAt >= SERVER_INFO_MAX_AGE_MS || this.lastHadUnavailable;
		const read = this.server === null || (wanted.has('server') && stale);
		const serverPanel: PanelResult<ServerInfo> = read ? await runPanel(() => readServerInfo(db)) : {status: 'ok', data: this.server!};
		if (read) this.serverReadAt = now;
		if (serverPanel.status === 'unavailable') {
			this.lastHadUnavailable = true;
			const snapshot: Record<string, PanelResult<unknown>> = {server: serverPanel};
			for (const panel of wanted) if (panel !== 'server') snapshot[panel] = serverPanel;
			return snapshot as unknown as MonitorSnapshot;
		}
		const server = serverPanel.data;
		this.server = server;
		const hints: HintContext = {role: server.role, database: server.database};
		const own = {ownApplicationName: ownApplicationName(this.options)};
		const result: {-readonly [K in keyof MonitorSnapshot]: MonitorSnapshot[K]} = {server: serverPanel};

		if (wanted.has('connections') || wanted.has('activity')) {
			const backends = await runPanel(() => readBackends(db, server.versionNum, own), hints);
			if (wanted.has('connections')) {
				result.connections = backends.status === 'ok' ? {status: 'ok', data: summarizeConnections(backends.data.backends, server.maxConnections)} : backends;
			}
			if (wanted.has('activity')) {
				result.activity = backends.status === 'ok' ? {status: 'ok', data: summarizeActivity(backends.data, server.role)} : backends;
			}
		}
		if (wanted.has('database')) result.database = await runPanel(() => this.databaseSampler.sample(db), hints);
		if (wanted.has('statements')) {
			result.statements =
				statementsPrerequisite(server) ??
				(await runPanel(() => this.statementsSampler.sample(db, server), {...hints, statements: true, extensionSchema: server.statements.schema ?? undefined}));
		}
		if (wanted.has('tables')) {
			result.tables = await runPanel(() => readTables(db, server.versionNum, {table: this.options.table ?? 'logs', largest: this.options.largestTables ?? 10}), hints);
		}
		if (wanted.has('indexes')) {
			result.indexes = await runPanel(async () => {
				const indexes = await readIndexes(db, server.versionNum, this.options.table ?? 'logs');
				return {...indexes, needs: indexes.table === null ? [] : matchIndexNeeds(indexes.indexes, this.options.indexNeeds ?? NEWAPI_LOGS_INDEX_NEEDS)};
			}, hints);
		}
		if (wanted.has('progress')) result.progress = await runPanel(() => readProgress(db, server.versionNum, own), hints);
		this.lastHadUnavailable = Object.values(result).some(panel => panel?.status === 'unavailable');
		return result;
	}
}
