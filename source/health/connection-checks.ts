import type {Backend} from '../postgres/monitor/backends-query.js';
import {summarizeConnections} from '../postgres/monitor/connections-summary.js';
import {quoteIdent} from '../maintenance/index-advisor.js';
import {terminalSafe} from '../output/terminal-safe.js';
import {fix, type HealthCheck} from './health-check.js';
import type {MachineFacts} from './machine-facts.js';

// The connections of the tuning notes: a gateway pool far above what the cores can use (new-api's
// default SQL_MAX_OPEN_CONNS is 1000, SQL_MAX_IDLE_CONNS 100), slots running out, and a session
// idle in a transaction, which holds back VACUUM for every table of its database.

export interface ConnectionThresholds {
	/** Share of max_connections in use: warning, critical. */
	readonly usageWarning: number;
	readonly usageCritical: number;
	/** Seconds a session may sit idle in a transaction: warning, critical. */
	readonly idleInTransactionWarningS: number;
	readonly idleInTransactionCriticalS: number;
}

export const CONNECTION_THRESHOLDS: ConnectionThresholds = {usageWarning: 0.7, usageCritical: 0.9, idleInTransactionWarningS: 60, idleInTransactionCriticalS: 600};

export interface PoolSuggestion {
	readonly maxOpen: number;
	readonly maxIdle: number;
	readonly maxLifetimeS: number;
}

/** The notes' 20 open / 10 idle for one core, 10 more open per further core; upstream's 60 s lifetime. */
export function poolSuggestion(cores: number): PoolSuggestion {
	const maxOpen = 10 + 10 * Math.max(1, cores);
	return {maxOpen, maxIdle: maxOpen / 2, maxLifetimeS: 60};
}

const poolFix = (suggestion: PoolSuggestion, cores: number) =>
	fix(
		'environment',
		[`SQL_MAX_OPEN_CONNS=${suggestion.maxOpen}`, `SQL_MAX_IDLE_CONNS=${suggestion.maxIdle}`, `SQL_MAX_LIFETIME=${suggestion.maxLifetimeS}`],
		`in the gateway’s environment, for ${cores} core${cores === 1 ? '' : 's'}, then restart it; new-api defaults to 1000 open and 100 idle per pool. SQL_MAX_IDLE_TIME exists only in some forks, not upstream`,
	);

const clientName = (backend: {applicationName: string; usename: string | null; clientAddr: string | null}): string =>
	backend.usename === null
		? '(hidden from this role)'
		: terminalSafe(`${backend.applicationName === '' ? '(no application_name)' : backend.applicationName} as ${backend.usename} from ${backend.clientAddr ?? 'local socket'}`);

export interface ConnectionFacts {
	readonly backends: readonly Backend[];
	readonly maxConnections: number;
	/** superuser_reserved_connections, plus reserved_connections (PostgreSQL 16+): slots the gateway cannot have. */
	readonly reservedConnections: number;
	readonly database: string;
	/** The connected role, named in the grant that shows hidden sessions. */
	readonly role: string;
	readonly machine: MachineFacts;
	readonly thresholds?: Partial<ConnectionThresholds>;
}

function usageCheck(facts: ConnectionFacts, thresholds: ConnectionThresholds): HealthCheck {
	const summary = summarizeConnections(facts.backends, facts.maxConnections);
	const available = facts.maxConnections - facts.reservedConnections;
	const ratio = available > 0 ? summary.total / available : 1;
	const status = ratio >= thresholds.usageCritical ? 'critical' : ratio >= thresholds.usageWarning ? 'warning' : 'ok';
	const apps = summary.byApplication.slice(0, 5).map(app => ({
		label: `application ${terminalSafe(app.applicationName === '' ? '(none)' : app.applicationName)}`,
		value: `${app.total} (${app.byState.active} active, ${app.byState.idle} idle)`,
	}));
	return {
		id: 'connections.usage',
		group: 'connections',
		title: 'connection slots',
		status,
		summary: `${summary.total} of ${available} slots in use (${Math.round(ratio * 100)}%): ${summary.byState.active} active, ${summary.byState.idle} idle, ${summary.byState.idleInTransaction + summary.byState.idleInTransactionAborted} idle in transaction`,
		evidence: [
			{label: 'sessions', value: summary.total, unit: 'count'},
			{label: 'max_connections', value: facts.maxConnections, unit: 'count'},
			{label: 'reserved', value: facts.reservedConnections, unit: 'count'},
			{label: 'used', value: ratio, unit: 'ratio'},
			{label: 'active', value: summary.byState.active, unit: 'count'},
			{label: 'idle', value: summary.byState.idle, unit: 'count'},
			...apps,
		],
		fix: status === 'ok' ? null : poolFix(poolSuggestion(facts.machine.cores), facts.machine.cores),
	};
}

/** The largest group of sessions from one client in the gateway's database: its connection pool. */
function poolCheck(facts: ConnectionFacts): HealthCheck {
	const local = facts.backends.filter(backend => backend.inCurrentDatabase);
	const summary = summarizeConnections(local, facts.maxConnections);
	const suggestion = poolSuggestion(facts.machine.cores);
	const [largest] = summary.groups;
	const idle = summary.byState.idle;
	const problems = [
		idle > suggestion.maxIdle ? `${idle} idle connections, more than the ${suggestion.maxIdle} a pool needs` : null,
		largest !== undefined && largest.total > suggestion.maxOpen ? `one client holds ${largest.total}, more than ${suggestion.maxOpen} that ${facts.machine.cores} core${facts.machine.cores === 1 ? '' : 's'} can use` : null,
	].filter(problem => problem !== null);
	return {
		id: 'connections.pool',
		group: 'connections',
		title: `gateway pool in ${terminalSafe(facts.database)}`,
		status: problems.length === 0 ? 'ok' : 'warning',
		summary:
			problems.length === 0
				? `${summary.total} sessions (${idle} idle); a pool of ${suggestion.maxOpen} open, ${suggestion.maxIdle} idle suits ${facts.machine.cores} core${facts.machine.cores === 1 ? '' : 's'}`
				: problems.join('; '),
		evidence: [
			{label: 'sessions in this database', value: summary.total, unit: 'count'},
			{label: 'idle', value: idle, unit: 'count'},
			{label: 'active', value: summary.byState.active, unit: 'count'},
			{label: 'largest client', value: largest === undefined ? null : `${clientName(largest)}: ${largest.total} (${largest.byState.idle} idle)`},
			{label: 'cores', value: facts.machine.cores, unit: 'count'},
			{label: 'suggested SQL_MAX_OPEN_CONNS', value: suggestion.maxOpen, unit: 'count'},
			{label: 'suggested SQL_MAX_IDLE_CONNS', value: suggestion.maxIdle, unit: 'count'},
		],
		fix: problems.length === 0 ? null : poolFix(suggestion, facts.machine.cores),
	};
}

const IDLE_IN_TRANSACTION = new Set(['idle in transaction', 'idle in transaction (aborted)']);

/** It holds back VACUUM's horizon: a snapshot (backend_xmin) or a transaction id of its own. */
const holdsHorizon = (backend: Backend): boolean => backend.xminAgeXids !== null || backend.xidAgeXids !== null;

function idleInTransactionCheck(facts: ConnectionFacts, thresholds: ConnectionThresholds): HealthCheck {
	const waiting = facts.backends.filter(backend => backend.inCurrentDatabase && backend.state !== null && IDLE_IN_TRANSACTION.has(backend.state));
	const oldest = waiting.reduce<Backend | undefined>((found, backend) => ((backend.stateAgeS ?? 0) > (found?.stateAgeS ?? -1) ? backend : found), undefined);
	const ageS = oldest?.stateAgeS ?? 0;
	const horizon = oldest !== undefined && holdsHorizon(oldest);
	// Without a snapshot or an xid (read committed, reads only) it still holds its locks and a slot, not VACUUM.
	const status = oldest === undefined || ageS < thresholds.idleInTransactionWarningS ? 'ok' : horizon && ageS >= thresholds.idleInTransactionCriticalS ? 'critical' : 'warning';
	const who = oldest === undefined ? null : `pid ${oldest.pid}, ${clientName({applicationName: oldest.applicationName ?? '', usename: oldest.usename, clientAddr: oldest.clientAddr})}`;
	const holds = horizon ? 'holds back VACUUM for every table of this database' : 'holds its locks and a connection (not VACUUM: it has no snapshot)';
	return {
		id: 'connections.idle_in_transaction',
		group: 'connections',
		title: 'idle in transaction',
		status,
		summary: oldest === undefined ? 'no session is idle in a transaction' : `${waiting.length} session${waiting.length === 1 ? '' : 's'}; the oldest (${who}) for ${Math.round(ageS)} s ${holds}`,
		evidence: [
			{label: 'sessions', value: waiting.length, unit: 'count'},
			{label: 'oldest idle for', value: oldest === undefined ? null : ageS, unit: 's'},
			{label: 'oldest session', value: who},
			{label: 'holds back VACUUM', value: oldest === undefined ? null : horizon},
			{label: 'its last statement', value: oldest?.query === null || oldest === undefined ? null : terminalSafe(oldest.query).slice(0, 200)},
		],
		fix:
			status === 'ok' || oldest === undefined
				? null
				: fix(
						'sql',
						[`SELECT pg_terminate_backend(${oldest.pid});`, "ALTER SYSTEM SET idle_in_transaction_session_timeout = '5min';", 'SELECT pg_reload_conf();'],
						'ending the session rolls its transaction back; find why the client left it open (a request that failed between BEGIN and COMMIT)',
						{kind: 'terminate', target: {pid: oldest.pid, backendStart: oldest.backendStart, queryStart: oldest.queryStart}},
					),
	};
}

/** Sessions whose state and client this role cannot see: the checks above cannot count them. */
function visibilityCheck(facts: ConnectionFacts): HealthCheck | null {
	const hidden = facts.backends.filter(backend => !backend.visible && backend.database !== null).length;
	if (hidden === 0) return null;
	return {
		id: 'connections.hidden',
		group: 'connections',
		title: 'sessions hidden from this role',
		status: 'warning',
		summary: `${hidden} session${hidden === 1 ? '' : 's'} of other roles show no state or client: the pool and idle-in-transaction checks cannot see them`,
		evidence: [{label: 'hidden sessions', value: hidden, unit: 'count'}],
		fix: fix('sql', [`GRANT pg_read_all_stats TO ${quoteIdent(facts.role)};`], 'as a superuser; pg_read_all_stats (part of pg_monitor) shows every session'),
	};
}

/** The connection checks from one read of pg_stat_activity; pure. */
export function connectionChecks(facts: ConnectionFacts): HealthCheck[] {
	const thresholds = {...CONNECTION_THRESHOLDS, ...facts.thresholds};
	const hidden = visibilityCheck(facts);
	return [usageCheck(facts, thresholds), poolCheck(facts), idleInTransactionCheck(facts, thresholds), ...(hidden === null ? [] : [hidden])];
}
