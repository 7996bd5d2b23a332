import {adviseIndexes} from '../maintenance/index-maintenance.js';
import {readBackends} from '../postgres/monitor/backends-query.js';
import {runPanel, type HintContext, type PanelUnavailable} from '../postgres/monitor/panel-result.js';
import {queryRows, type Queryable} from '../postgres/monitor/queryable.js';
import {readServerInfo} from '../postgres/monitor/server-info.js';
import {readTables} from '../postgres/monitor/table-stats.js';
import {InputError} from '../usage/input-error.js';
import {connectionChecks, type ConnectionThresholds} from './connection-checks.js';
import {fix, type HealthCheck, type HealthGroup} from './health-check.js';
import {indexChecks} from './index-checks.js';
import {isThisHost, machineFacts, type GivenMachine, type MachineFacts} from './machine-facts.js';
import {readServerSettings} from './server-settings.js';
import {CHECKED_SETTINGS, settingsChecks} from './settings-checks.js';
import {readTopStatements, statementsCheck, statementsMissingCheck} from './statement-checks.js';
import {tableChecks, type TableThresholds} from './table-checks.js';

export interface HealthOptions {
	/** --ram / --cores, when given. */
	readonly machine?: GivenMachine;
	/** The gateway's table; default 'logs'. */
	readonly table?: string;
	readonly thresholds?: {readonly connections?: Partial<ConnectionThresholds>; readonly tables?: Partial<TableThresholds>};
}

export interface HealthResult {
	/** What the settings and the pool were judged against; null where no setting is judged (SQLite). */
	readonly machine: MachineFacts | null;
	readonly checks: readonly HealthCheck[];
}

/** A part that could not be read: why, and what to grant or change. */
const unreadable = (group: HealthGroup, what: string, failure: PanelUnavailable): HealthCheck => ({
	id: `${group}.unreadable`,
	group,
	title: what,
	status: 'warning',
	summary: `${what} could not be read: ${failure.message}`,
	evidence: [{label: 'SQLSTATE', value: failure.sqlstate}],
	fix: fix('advice', [failure.hint]),
});

/**
 * Every PostgreSQL check, read on the caller's connection one query at a time: server info and
 * address, sessions, settings, tables, the index advisor, statements. A part the role may not read
 * becomes a warning that says what to grant; the others still run. A lost connection throws.
 */
export async function postgresHealth(db: Queryable, options: HealthOptions = {}): Promise<HealthResult> {
	const server = await readServerInfo(db);
	const [where] = await queryRows<{address: string | null; pid: number}>(db, 'SELECT host(inet_server_addr()) AS address, pg_backend_pid() AS pid');
	const machine = machineFacts(options.machine ?? {}, isThisHost(where?.address ?? null, where?.pid ?? 0));
	const hints: HintContext = {role: server.role, database: server.database};
	const table = options.table ?? 'logs';
	const checks: HealthCheck[] = [];

	const settings = await runPanel(() => readServerSettings(db, [...CHECKED_SETTINGS, 'shared_preload_libraries', 'reserved_connections']), hints);
	const backends = await runPanel(() => readBackends(db, server.versionNum), hints);
	if (backends.status === 'ok') {
		// reserved_connections (PostgreSQL 16+) is held back for pg_use_reserved_connections like the superusers' share.
		const reserved = server.superuserReservedConnections + (settings.status === 'ok' ? (settings.data.get('reserved_connections')?.value ?? 0) : 0);
		checks.push(
			...connectionChecks({
				backends: backends.data.backends,
				maxConnections: server.maxConnections,
				reservedConnections: reserved,
				database: server.database,
				role: server.role,
				machine,
				thresholds: options.thresholds?.connections,
			}),
		);
	} else checks.push(unreadable('connections', 'sessions', backends));

	if (settings.status === 'ok') checks.push(...settingsChecks(settings.data, machine));
	else checks.push(unreadable('settings', 'server settings', settings));

	const tables = await runPanel(() => readTables(db, server.versionNum, {table, largest: 10}), hints);
	if (tables.status === 'ok') {
		const scale = (name: string, fallback: number): number => (settings.status === 'ok' ? (settings.data.get(name)?.value ?? fallback) : fallback);
		checks.push(
			...tableChecks({
				tables: tables.data,
				serverScaleFactors: {vacuum: scale('autovacuum_vacuum_scale_factor', 0.2), analyze: scale('autovacuum_analyze_scale_factor', 0.1)},
				nowMs: Date.now(),
				thresholds: options.thresholds?.tables,
			}),
		);
	} else checks.push(unreadable('tables', 'table statistics', tables));

	// No table, no hot queries to serve: the table checks already say so.
	if (tables.status !== 'ok' || tables.data.table !== null) {
		const advice = await runPanel(() => adviseIndexes({engine: 'postgres', observer: db, table}), hints).catch((error: unknown) => {
			if (error instanceof InputError) return null;
			throw error;
		});
		if (advice?.status === 'ok') checks.push(...indexChecks(advice.data));
		else if (advice?.status === 'unavailable') checks.push(unreadable('indexes', 'indexes', advice));
	}

	const missing = statementsMissingCheck(server, settings.status === 'ok' ? (settings.data.get('shared_preload_libraries')?.text ?? null) : null);
	if (missing !== null) checks.push(missing);
	else {
		const top = await runPanel(() => readTopStatements(db, server), {...hints, statements: true, extensionSchema: server.statements.schema ?? undefined});
		checks.push(top.status === 'ok' ? statementsCheck(top.data, server.versionNum) : unreadable('statements', 'pg_stat_statements', top));
	}
	return {machine, checks};
}
