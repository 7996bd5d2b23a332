import {describe, expect, it} from 'vitest';
import {findXminHorizon, summarizeActivity} from '../source/postgres/monitor/activity-summary.js';
import type {Backend} from '../source/postgres/monitor/backends-query.js';
import {buildBlockingTree, flattenBlockingTree} from '../source/postgres/monitor/blocking-tree.js';
import {summarizeConnections} from '../source/postgres/monitor/connections-summary.js';
import {counterDelta} from '../source/postgres/monitor/counter-rates.js';
import {ownCostBetween} from '../source/postgres/monitor/own-statement-cost.js';
import {unavailableFromError} from '../source/postgres/monitor/panel-result.js';
import {statementsPrerequisite} from '../source/postgres/monitor/postgres-monitor.js';
import {markSql, SQL_MARKER} from '../source/postgres/monitor/queryable.js';
import {extensionVersionAtLeast, type ServerInfo} from '../source/postgres/monitor/server-info.js';
import {statementNumbersSql, statementsColumns} from '../source/postgres/monitor/statements-query.js';
import {rankStatements, type StatementStat} from '../source/postgres/monitor/statements-sampler.js';
import {formatVersionNum, UnsupportedServerError} from '../source/postgres/monitor/version-gate.js';

const backend = (pid: number, fields: Partial<Backend> = {}): Backend => ({
	pid,
	leaderPid: null,
	database: 'newapi',
	inCurrentDatabase: true,
	usename: 'newapi',
	applicationName: 'gateway',
	clientAddr: '10.0.0.5',
	backendType: 'client backend',
	state: 'idle',
	waitEventType: null,
	waitEvent: null,
	backendAgeS: 100,
	backendStart: '2023-11-14 22:13:20.123456+00',
	queryStart: '2023-11-14 22:14:10.654321+00',
	xactAgeS: null,
	queryAgeS: 5,
	stateAgeS: 5,
	xminAgeXids: null,
	xidAgeXids: null,
	query: null,
	visible: true,
	blockedBy: [],
	...fields,
});

describe('blocking tree', () => {
	it('puts the blocker that waits on nobody at the root, and chains below it', () => {
		// 10 holds a row lock; 11 waits on 10; 12 waits on 11 (tuple lock) and 10; 20 waits on 21 elsewhere.
		const tree = buildBlockingTree(
			[
				{pid: 11, blockedBy: [10]},
				{pid: 12, blockedBy: [11, 10]},
				{pid: 20, blockedBy: [21]},
			],
			new Set([10, 11, 12, 20]),
		);
		expect(tree.map(node => node.pid)).toEqual([10, 21]);
		expect(tree[0]!.blockedTotal).toBe(2);
		expect(tree[1]!.known).toBe(false);
		expect(flattenBlockingTree(tree)).toEqual([
			{pid: 10, depth: 0},
			{pid: 11, depth: 1},
			{pid: 12, depth: 2},
			{pid: 12, depth: 1},
			{pid: 21, depth: 0},
			{pid: 20, depth: 1},
		]);
	});

	it('starts a wait cycle at its lowest pid and does not loop', () => {
		const tree = buildBlockingTree(
			[
				{pid: 7, blockedBy: [5]},
				{pid: 5, blockedBy: [7]},
			],
			new Set([5, 7]),
		);
		expect(flattenBlockingTree(tree)).toEqual([
			{pid: 5, depth: 0},
			{pid: 7, depth: 1},
		]);
	});

	it('is empty when nobody waits', () => {
		expect(buildBlockingTree([{pid: 1, blockedBy: []}], new Set([1]))).toEqual([]);
	});
});

describe('xmin horizon', () => {
	it('marks the backend with the oldest xmin or xid in this database, skipping autovacuum and other databases', () => {
		const backends = [
			backend(1, {state: 'active', xminAgeXids: 3}),
			backend(2, {state: 'idle in transaction', xidAgeXids: 40, xactAgeS: 600}),
			backend(3, {backendType: 'autovacuum worker', state: 'active', xminAgeXids: 900}),
			backend(4, {database: 'other', inCurrentDatabase: false, state: 'idle in transaction', xminAgeXids: 1000}),
		];
		const horizon = findXminHorizon(backends);
		expect(horizon).toEqual({pid: 2, state: 'idle in transaction', idleInTransaction: true, ageXids: 40, xactAgeS: 600, visible: true});
		const activity = summarizeActivity({sampledAtMs: 0, backends});
		expect(activity.sessions.filter(session => session.holdsXminHorizon).map(session => session.pid)).toEqual([2]);
	});

	it('is null when no backend holds a snapshot', () => {
		expect(findXminHorizon([backend(1)])).toBeNull();
	});
});

describe('activity list', () => {
	it('lists active, waiting and idle-in-transaction sessions and their blockers, oldest transaction first; idle ones stay out', () => {
		const activity = summarizeActivity({
			sampledAtMs: 0,
			backends: [
				backend(1, {state: 'idle'}),
				backend(2, {state: 'active', xactAgeS: 1, query: 'SELECT 1'}),
				backend(3, {state: 'idle in transaction', xactAgeS: 50, query: 'UPDATE t'}),
				backend(4, {state: 'active', waitEventType: 'Lock', waitEvent: 'transactionid', xactAgeS: 10, blockedBy: [3]}),
				backend(5, {visible: false, state: null, backendType: null, clientAddr: null}),
			],
		}, 'watcher');
		expect(activity.sessions.map(session => session.pid)).toEqual([3, 4, 2]);
		expect(activity.blockingTree.map(node => node.pid)).toEqual([3]);
		expect(activity.hiddenSessions).toBe(0);
		expect(activity.hint).toBe("other roles' sessions show no query, state or client: GRANT pg_monitor TO watcher; (as a superuser)");
	});
});

describe('connections summary', () => {
	it('groups sessions by application, user and address, keeps background processes apart, and counts hidden sessions', () => {
		const backends = [
			...[1, 2, 3, 4].map(pid => backend(pid)),
			backend(5, {state: 'active'}),
			backend(6, {state: 'idle in transaction', waitEventType: 'Lock'}),
			backend(7, {applicationName: 'psql', clientAddr: null, state: 'idle in transaction (aborted)'}),
			backend(8, {backendType: 'autovacuum worker', state: 'active', applicationName: ''}),
			backend(9, {backendType: 'checkpointer', state: null, database: null, applicationName: ''}),
			backend(10, {visible: false, state: null, backendType: null, clientAddr: null, applicationName: 'report'}),
			backend(11, {visible: false, state: null, backendType: null, clientAddr: null, database: null, usename: null, applicationName: ''}),
		];
		const summary = summarizeConnections(backends, 100);
		expect(summary.total).toBe(8);
		expect(summary.usedRatio).toBe(0.08);
		expect(summary.hidden).toBe(2);
		expect(summary.waitingOnLock).toBe(1);
		expect(summary.byState).toEqual({active: 1, idle: 4, idleInTransaction: 1, idleInTransactionAborted: 1, fastpathFunctionCall: 0, disabled: 0, unknown: 1});
		expect(summary.otherBackends).toEqual([
			{backendType: 'autovacuum worker', count: 1},
			{backendType: 'checkpointer', count: 1},
			{backendType: 'unknown (insufficient privilege)', count: 1},
		]);
		expect(summary.byApplication.map(app => [app.applicationName, app.total])).toEqual([
			['gateway', 6],
			['psql', 1],
			['report', 1],
		]);
		expect(summary.groups[0]).toEqual({
			applicationName: 'gateway',
			usename: 'newapi',
			clientAddr: '10.0.0.5',
			total: 6,
			byState: {active: 1, idle: 4, idleInTransaction: 1, idleInTransactionAborted: 0, fastpathFunctionCall: 0, disabled: 0, unknown: 0},
		});
	});
});

describe('counter rates', () => {
	const values = (calls: number, ms: number) => ({calls, ms});

	it('divides deltas by the server-clock interval', () => {
		const delta = counterDelta({atMs: 1000, resetAtMs: null, values: values(10, 100)}, {atMs: 3000, resetAtMs: null, values: values(30, 150)});
		expect(delta).toEqual({seconds: 2, restarted: false, deltas: {calls: 20, ms: 50}, perSecond: {calls: 10, ms: 25}});
	});

	it('counts from zero when a counter went down (reset without a known time): never negative', () => {
		const delta = counterDelta({atMs: 0, resetAtMs: null, values: values(500, 900)}, {atMs: 10_000, resetAtMs: null, values: values(3, 1.5)});
		expect(delta).toEqual({seconds: 10, restarted: true, deltas: {calls: 3, ms: 1.5}, perSecond: {calls: 0.3, ms: 0.15}});
	});

	it('uses the reset time when the server reports one inside the interval', () => {
		const delta = counterDelta({atMs: 0, resetAtMs: null, values: values(5, 5)}, {atMs: 10_000, resetAtMs: 8000, values: values(40, 4)});
		expect(delta).toEqual({seconds: 2, restarted: true, deltas: {calls: 40, ms: 4}, perSecond: {calls: 20, ms: 2}});
	});

	it('has no rate without a previous reading or when the clock did not move', () => {
		expect(counterDelta(null, {atMs: 1, resetAtMs: null, values: values(1, 1)})).toBeNull();
		expect(counterDelta({atMs: 5, resetAtMs: null, values: values(1, 1)}, {atMs: 5, resetAtMs: null, values: values(2, 2)})).toBeNull();
	});

	it("sums relaytop's own statements entry by entry: a vanished entry counts nothing, a new one counts whole", () => {
		const before = {sampledAtMs: 0, statsResetAtMs: null, calls: 110, totalMs: 60, entries: [{key: 'a', calls: 100, totalMs: 50}, {key: 'b', calls: 10, totalMs: 10}]};
		const after = {sampledAtMs: 4000, statsResetAtMs: null, calls: 112, totalMs: 57, entries: [{key: 'a', calls: 110, totalMs: 55}, {key: 'c', calls: 2, totalMs: 2}]};
		expect(ownCostBetween(before, after)).toEqual({seconds: 4, restarted: false, calls: 12, totalMs: 7, msPerS: 1.75});
	});
});

describe('panel errors', () => {
	const serverError = (code: string, message: string) => Object.assign(new Error(message), {code});

	it('maps privilege, missing extension, missing preload and timeouts to hints', () => {
		expect(unavailableFromError(serverError('42501', 'permission denied for function pg_stat_statements'), {role: 'watcher', statements: true, extensionSchema: 'public'})).toEqual({
			status: 'unavailable',
			reason: 'privilege',
			sqlstate: '42501',
			message: 'permission denied for function pg_stat_statements',
			hint: 'GRANT EXECUTE ON FUNCTION public.pg_stat_statements(boolean) TO watcher; or GRANT pg_monitor TO watcher; (as a superuser)',
		});
		expect(unavailableFromError(serverError('42501', 'permission denied'), {role: 'Mixed Case'}).hint).toBe('GRANT pg_monitor TO "Mixed Case"; (as a superuser)');
		const missing = unavailableFromError(serverError('42P01', 'relation "pg_stat_statements" does not exist'), {database: 'newapi', statements: true});
		expect([missing.reason, missing.hint]).toEqual(['extension-missing', 'CREATE EXTENSION pg_stat_statements; (as a superuser, in database newapi)']);
		const notLoaded = unavailableFromError(serverError('55000', 'pg_stat_statements must be loaded via shared_preload_libraries'), {statements: true});
		expect([notLoaded.reason, notLoaded.hint]).toEqual(['not-preloaded', "shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, then restart PostgreSQL"]);
		expect(unavailableFromError(serverError('57014', 'canceling statement due to statement timeout')).reason).toBe('timeout');
		expect(unavailableFromError(new UnsupportedServerError('Index builds', 120_000, 110_022)).reason).toBe('unsupported');
		expect(new UnsupportedServerError('Index builds', 120_000, 90_624).message).toBe('Index builds needs PostgreSQL 12 or later; this server is 9.6');
	});

	it('rethrows errors that are not server errors', () => {
		expect(() => unavailableFromError(new TypeError('bug'))).toThrow('bug');
	});

	it('says what to do before querying when the extension is absent or not preloaded', () => {
		const server = (statements: ServerInfo['statements']) => ({database: 'newapi', statements}) as ServerInfo;
		expect(statementsPrerequisite(server({installed: false, version: null, schema: null, preloaded: false, available: true}))).toMatchObject({
			reason: 'extension-missing',
			hint: "CREATE EXTENSION pg_stat_statements; (as a superuser, in database newapi); and shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, then restart PostgreSQL",
		});
		expect(statementsPrerequisite(server({installed: true, version: '1.10', schema: 'public', preloaded: false, available: null}))).toMatchObject({reason: 'not-preloaded'});
		expect(statementsPrerequisite(server({installed: true, version: '1.10', schema: 'public', preloaded: true, available: null}))).toBeNull();
	});
});

describe('version handling', () => {
	it('compares extension versions numerically and picks pg_stat_statements columns by extension version', () => {
		expect(extensionVersionAtLeast('1.10', 1, 9)).toBe(true);
		expect(extensionVersionAtLeast('1.7', 1, 8)).toBe(false);
		expect(statementsColumns('1.7', 'public')).toMatchObject({totalColumn: 'total_time', toplevel: false, info: false, statsSince: false});
		expect(statementsColumns('1.8', 'public')).toMatchObject({totalColumn: 'total_exec_time', toplevel: false, info: false});
		expect(statementsColumns('1.9', 'public')).toMatchObject({toplevel: true, info: true, statsSince: false});
		expect(statementsColumns('1.11', 'ext')).toMatchObject({statsSince: true, functionName: '"ext".pg_stat_statements'});
		expect(statementNumbersSql(statementsColumns('1.7', 'public'))).toContain('s.total_time::float8');
		expect(statementNumbersSql(statementsColumns('1.7', 'public'))).not.toContain('pg_stat_statements_info');
		expect(formatVersionNum(180_001)).toBe('18');
	});

	it('marks statements after their first keyword', () => {
		expect(markSql('SELECT 1')).toBe(`SELECT ${SQL_MARKER} 1`);
		expect(markSql('\n\tWITH x AS (SELECT 1) SELECT * FROM x')).toBe(`\n\tWITH ${SQL_MARKER} x AS (SELECT 1) SELECT * FROM x`);
	});
});

describe('statement ranking', () => {
	const stat = (queryid: string, msPerS: number | null, totalMs: number): StatementStat => ({
		queryid,
		userid: '10',
		toplevel: true,
		query: `SELECT ${queryid}`,
		own: false,
		calls: 1,
		totalMs,
		meanMs: totalMs,
		rows: 1,
		interval: msPerS === null ? null : {seconds: 2, restarted: false, appeared: false, calls: 0, totalMs: msPerS * 2, rows: 0, callsPerS: 0, msPerS, rowsPerS: 0},
	});

	it('ranks by the key, then ties (quiet statements) by their total time, then by queryid', () => {
		const stats = [stat('1', 0, 5), stat('2', 3, 1), stat('3', 0, 900), stat('4', 0, 50), stat('5', 0, 50), stat('6', 0, 1)];
		expect(rankStatements(stats, 'msPerS', 4).map(s => s.queryid)).toEqual(['2', '3', '4', '5']);
		expect(rankStatements(stats, 'totalMs', 2).map(s => s.queryid)).toEqual(['3', '4']);
		expect(stats.map(s => s.queryid)).toEqual(['1', '2', '3', '4', '5', '6']); // the input is left as it was
	});
});
