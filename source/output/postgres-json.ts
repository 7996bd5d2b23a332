import type {MonitorSnapshot} from '../postgres/monitor/postgres-monitor.js';
import type {PanelResult} from '../postgres/monitor/panel-result.js';
import type {StateCounts} from '../postgres/monitor/connections-summary.js';

// The `postgres` section of the JSON snapshot (design.md): snake case, numbers as numbers, times
// in epoch milliseconds. A panel the server would not give is {"unavailable": {reason, message,
// hint}} in place of its value, so a script can tell "none" from "not allowed to see".

/** A panel's value, or why there is none. */
function panel<T, J>(result: PanelResult<T> | undefined, json: (data: T) => J): J | {unavailable: {reason: string; message: string; hint: string}} | null {
	if (result === undefined) {
		return null;
	}
	if (result.status === 'unavailable') {
		return {unavailable: {reason: result.reason, message: result.message, hint: result.hint}};
	}
	return json(result.data);
}

/** A time from the server (fractional milliseconds) as whole epoch milliseconds. */
const ms = (value: number | null): number | null => (value === null ? null : Math.round(value));

const states = (counts: StateCounts) => ({
	active: counts.active,
	idle: counts.idle,
	idle_in_transaction: counts.idleInTransaction,
	idle_in_transaction_aborted: counts.idleInTransactionAborted,
	fastpath_function_call: counts.fastpathFunctionCall,
	disabled: counts.disabled,
	unknown: counts.unknown,
});

export function postgresJson(snapshot: MonitorSnapshot): object {
	return {
		server: panel(snapshot.server, server => ({
			version: server.version,
			version_num: server.versionNum,
			max_connections: server.maxConnections,
			database: server.database,
			role: server.role,
			in_recovery: server.inRecovery,
			privileges: {superuser: server.capabilities.superuser, pg_monitor: server.capabilities.pgMonitor, pg_read_all_stats: server.capabilities.pgReadAllStats},
			pg_stat_statements: {installed: server.statements.installed, version: server.statements.version, preloaded: server.statements.preloaded},
		})),
		connections: panel(snapshot.connections, connections => ({
			total: connections.total,
			max_connections: connections.maxConnections,
			used_ratio: connections.usedRatio,
			by_state: states(connections.byState),
			waiting_on_lock: connections.waitingOnLock,
			hidden: connections.hidden,
			by_application: connections.byApplication.map(application => ({application_name: application.applicationName, total: application.total, by_state: states(application.byState)})),
			groups: connections.groups.map(group => ({
				application_name: group.applicationName,
				usename: group.usename,
				client_addr: group.clientAddr,
				total: group.total,
				by_state: states(group.byState),
			})),
			other_backends: connections.otherBackends.map(other => ({backend_type: other.backendType, count: other.count})),
		})),
		activity: panel(snapshot.activity, activity =>
			activity.sessions.map(session => ({
				pid: session.pid,
				usename: session.usename,
				application_name: session.applicationName,
				client_addr: session.clientAddr,
				state: session.state,
				wait_event_type: session.waitEventType,
				wait_event: session.waitEvent,
				xact_age_s: session.xactAgeS,
				query_age_s: session.queryAgeS,
				state_age_s: session.stateAgeS,
				xmin_age_xids: session.xminAgeXids,
				holds_xmin_horizon: session.holdsXminHorizon,
				query: session.query,
				blocked_by: [...session.blockedBy],
			})),
		),
		statements: panel(snapshot.statements, statements =>
			statements.top.map(statement => ({
				queryid: statement.queryid,
				query: statement.query,
				relaytop: statement.own,
				calls: statement.calls,
				total_ms: statement.totalMs,
				mean_ms: statement.meanMs,
				rows: statement.rows,
				calls_per_s: statement.interval?.callsPerS ?? null,
				ms_per_s: statement.interval?.msPerS ?? null,
			})),
		),
		tables: panel(snapshot.tables, tables =>
			[...(tables.table === null ? [] : [tables.table]), ...tables.largest.filter(table => table.qualifiedName !== tables.table?.qualifiedName)].map(table => ({
				name: table.qualifiedName,
				size_bytes: table.sizeBytes,
				n_live_tup: table.nLiveTup,
				n_dead_tup: table.nDeadTup,
				dead_ratio: table.deadRatio,
				last_autovacuum: ms(table.lastAutovacuumAtMs),
				last_autoanalyze: ms(table.lastAutoanalyzeAtMs),
				last_vacuum: ms(table.lastVacuumAtMs),
				last_analyze: ms(table.lastAnalyzeAtMs),
				seq_scan: table.seqScan,
				idx_scan: table.idxScan,
			})),
		),
		indexes: panel(snapshot.indexes, indexes =>
			indexes.indexes.map(index => ({
				table: indexes.table,
				name: index.name,
				columns: index.columns.filter(column => !column.included).map(column => column.name),
				include: index.columns.filter(column => column.included).map(column => column.name),
				valid: index.valid,
				building: index.building,
				size_bytes: index.sizeBytes,
				idx_scan: index.idxScan,
				serves: indexes.needs.filter(need => need.servedBy.includes(index.name)).map(need => need.need),
			})),
		),
		index_needs: panel(snapshot.indexes, indexes =>
			indexes.needs.map(need => ({need: need.need, status: need.status, served_by: [...need.servedBy], invalid: [...need.invalid], building: [...need.building]})),
		),
		progress: panel(snapshot.progress, progress => [
			...progress.vacuums.map(vacuum => ({
				command: vacuum.autovacuum ? 'autovacuum' : 'VACUUM',
				pid: vacuum.pid,
				relation: vacuum.relation,
				phase: vacuum.phase,
				percent: vacuum.scannedPct,
			})),
			...progress.createIndexes.map(build => ({command: build.command, pid: build.pid, relation: build.relation, index: build.index, phase: build.phase, percent: build.percent})),
		]),
		database: panel(snapshot.database, database => ({
			name: database.database,
			tps: database.interval?.tps ?? null,
			cache_hit_ratio: database.interval?.cacheHitRatio ?? database.cacheHitRatio,
			temp_files: database.counters.tempFiles,
			temp_bytes: database.counters.tempBytes,
			deadlocks: database.counters.deadlocks,
			interval_s: database.interval?.seconds ?? null,
		})),
	};
}
