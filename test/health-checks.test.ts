// The health checks' decisions, pure: settings against RAM and cores, the pool, connections,
// tables, indexes, statements, load, SQLite files; the report's order and exit codes; the text
// and JSON output. The database-backed checks are in health-postgres.test.ts and cli-doctor.test.ts.

import {describe, expect, it} from 'vitest';
import {connectionChecks, poolSuggestion} from '../source/health/connection-checks.js';
import type {HealthCheck} from '../source/health/health-check.js';
import {DOCTOR_EXIT, exitCodeOf, healthReport} from '../source/health/health-report.js';
import {indexChecks, MISSING_INDEX_CRITICAL_ROWS} from '../source/health/index-checks.js';
import {loadCheck} from '../source/health/load-check.js';
import {machineFacts, parseCores, parseRam, type MachineFacts} from '../source/health/machine-facts.js';
import {baseValue, type ServerSetting} from '../source/health/server-settings.js';
import {pgSize, settingsChecks} from '../source/health/settings-checks.js';
import {sqliteFileChecks} from '../source/health/sqlite-checks.js';
import {preloadList, statementsCheck} from '../source/health/statement-checks.js';
import {tableChecks} from '../source/health/table-checks.js';
import {deriveIndexAdvice, type AdvisedIndex} from '../source/maintenance/index-advisor.js';
import {NEWAPI_LOGS_INDEX_NEEDS} from '../source/postgres/monitor/index-needs.js';
import type {Backend} from '../source/postgres/monitor/backends-query.js';
import type {TableStats} from '../source/postgres/monitor/table-stats.js';
import {healthJson} from '../source/output/health-json.js';
import {healthText} from '../source/output/health-text.js';
import {terminalSafeJson} from '../source/output/json-snapshot.js';

const MB = 1024 ** 2;
const GB = 1024 ** 3;
const SMALL: MachineFacts = {ramBytes: 2 * GB, ramFrom: 'given', cores: 1, coresFrom: 'given'};

const byId = (checks: readonly HealthCheck[], id: string): HealthCheck => {
	const found = checks.find(check => check.id === id);
	if (found === undefined) throw new Error(`no check ${id} in ${checks.map(check => check.id).join(', ')}`);
	return found;
};

/** A pg_settings row as readServerSettings makes it, from the setting in its unit. */
function setting(name: string, text: string, unit: string | null = null, context = 'sighup', source = 'default', vartype = unit === null && !/^-?[\d.]+$/u.test(text) ? 'bool' : 'integer'): ServerSetting {
	return {name, shown: text, value: baseValue(text, unit, vartype), text, context, source, pendingRestart: false};
}

/** PostgreSQL 15's defaults for the checked settings. */
function stockSettings(overrides: readonly ServerSetting[] = []): Map<string, ServerSetting> {
	const rows = [
		setting('shared_buffers', '16384', '8kB', 'postmaster'),
		setting('effective_cache_size', '524288', '8kB'),
		setting('work_mem', '4096', 'kB', 'user'),
		setting('maintenance_work_mem', '65536', 'kB', 'user'),
		setting('max_connections', '100', null, 'postmaster'),
		setting('log_min_duration_statement', '-1', 'ms', 'superuser'),
		setting('track_io_timing', 'off', null, 'superuser', 'default', 'bool'),
		setting('autovacuum', 'on', null, 'sighup', 'default', 'bool'),
		setting('autovacuum_max_workers', '3', null, 'postmaster'),
		{...setting('autovacuum_vacuum_scale_factor', '0.2', null, 'sighup', 'default', 'real')},
		{...setting('autovacuum_analyze_scale_factor', '0.1', null, 'sighup', 'default', 'real')},
	];
	const map = new Map(rows.map(row => [row.name, row]));
	for (const row of overrides) map.set(row.name, row);
	return map;
}

describe('machine facts', () => {
	it('parses --ram in PostgreSQL-style units and refuses nonsense', () => {
		expect(parseRam('2GB')).toBe(2 * GB);
		expect(parseRam('2g')).toBe(2 * GB);
		expect(parseRam('1.5GiB')).toBe(1.5 * GB);
		expect(parseRam('512MB')).toBe(512 * MB);
		expect(parseRam(String(4 * GB))).toBe(4 * GB);
		for (const bad of ['', 'lots', '2 gigs', '-1GB', '10MB', '100TB']) expect(() => parseRam(bad)).toThrow(/--ram takes a size/u);
		expect(parseCores('4')).toBe(4);
		for (const bad of ['0', '1.5', 'two', '']) expect(() => parseCores(bad)).toThrow(/--cores/u);
	});

	it('takes given facts over detection, and assumes the small server for a remote host', () => {
		expect(machineFacts({ram: '8GB', cores: '4'}, true)).toEqual({ramBytes: 8 * GB, ramFrom: 'given', cores: 4, coresFrom: 'given'});
		expect(machineFacts({}, false)).toEqual({ramBytes: 2 * GB, ramFrom: 'assumed', cores: 1, coresFrom: 'assumed'});
		const local = machineFacts({}, true);
		expect(local.ramFrom).toBe('detected');
		expect(local.coresFrom).toBe('detected');
	});
});

describe('settings against the machine', () => {
	it('reads pg_settings values into bytes and milliseconds', () => {
		expect(baseValue('16384', '8kB', 'integer')).toBe(128 * MB);
		expect(baseValue('4096', 'kB', 'integer')).toBe(4 * MB);
		expect(baseValue('1000', 'ms', 'integer')).toBe(1000);
		expect(baseValue('60', 's', 'integer')).toBe(60_000);
		expect(baseValue('-1', 'ms', 'integer')).toBe(-1);
		expect(baseValue('on', null, 'bool')).toBeNull();
		expect(pgSize(1536 * MB)).toBe('1536MB');
		expect(pgSize(2 * GB)).toBe('2GB');
	});

	it('gives the tuning notes’ values for 2 GB and one core', () => {
		const checks = settingsChecks(stockSettings(), SMALL);
		const recommended = (name: string) => byId(checks, `setting.${name}`).evidence.find(evidence => evidence.label === 'recommended')?.value;
		expect(recommended('shared_buffers')).toBe('512MB');
		expect(recommended('work_mem')).toBe('4MB');
		expect(recommended('maintenance_work_mem')).toBe('128MB');
		expect(recommended('effective_cache_size')).toBe('1536MB');
		expect(recommended('max_connections')).toBe('50');
		expect(recommended('log_min_duration_statement')).toBe('1000');
		expect(recommended('autovacuum_vacuum_scale_factor')).toBe('0.05');
	});

	it('flags stock PostgreSQL on a 2 GB server where it matters, and says restart or reload', () => {
		const checks = settingsChecks(stockSettings(), SMALL);
		const status = (name: string) => byId(checks, `setting.${name}`).status;
		expect(status('shared_buffers')).toBe('warning'); // 128MB of 2 GB
		expect(status('effective_cache_size')).toBe('warning'); // 4GB on a 2 GB machine
		expect(status('log_min_duration_statement')).toBe('warning');
		expect(status('track_io_timing')).toBe('warning');
		expect(status('autovacuum_vacuum_scale_factor')).toBe('warning');
		expect(status('work_mem')).toBe('ok');
		expect(status('maintenance_work_mem')).toBe('ok'); // 64MB is half the 128MB: within tolerance
		expect(status('max_connections')).toBe('ok');
		expect(status('autovacuum_analyze_scale_factor')).toBe('ok');
		expect(status('autovacuum')).toBe('ok');
		const sharedBuffers = byId(checks, 'setting.shared_buffers');
		expect(sharedBuffers.fix?.lines).toEqual(["ALTER SYSTEM SET shared_buffers = '512MB';", '-- then restart PostgreSQL']);
		expect(sharedBuffers.fix?.note).toMatch(/restart/u);
		expect(byId(checks, 'setting.effective_cache_size').fix?.lines).toEqual(["ALTER SYSTEM SET effective_cache_size = '1536MB';", 'SELECT pg_reload_conf();']);
	});

	it('scales with the RAM and the cores', () => {
		const big: MachineFacts = {ramBytes: 32 * GB, ramFrom: 'given', cores: 8, coresFrom: 'given'};
		const checks = settingsChecks(stockSettings([setting('shared_buffers', '1048576', '8kB', 'postmaster'), setting('effective_cache_size', '3145728', '8kB')]), big);
		expect(byId(checks, 'setting.shared_buffers').evidence.find(evidence => evidence.label === 'recommended')?.value).toBe('8GB');
		expect(byId(checks, 'setting.shared_buffers').status).toBe('ok'); // 8GB
		expect(byId(checks, 'setting.work_mem').evidence.find(evidence => evidence.label === 'recommended')?.value).toBe('64MB');
		expect(byId(checks, 'setting.work_mem').status).toBe('warning'); // 4MB, under half of 64MB
		expect(byId(checks, 'setting.max_connections').evidence.find(evidence => evidence.label === 'recommended')?.value).toBe('225');
	});

	it('flags autovacuum off as critical, too-high values, and names where a value really comes from', () => {
		const checks = settingsChecks(
			stockSettings([
				setting('autovacuum', 'off', null, 'sighup', 'configuration file', 'bool'),
				setting('work_mem', '65536', 'kB', 'user'), // 64MB × 100 connections > 2 GB
				setting('shared_buffers', '131072', '8kB', 'postmaster', 'command line'), // 1GB: 50% of RAM
				setting('max_connections', '500', null, 'postmaster'),
			]),
			SMALL,
		);
		expect(byId(checks, 'setting.autovacuum').status).toBe('critical');
		expect(byId(checks, 'setting.work_mem').summary).toMatch(/more than the RAM/u);
		expect(byId(checks, 'setting.shared_buffers').summary).toMatch(/high/u);
		expect(byId(checks, 'setting.shared_buffers').fix?.note).toMatch(/command line.*overrides ALTER SYSTEM/u);
		expect(byId(checks, 'setting.max_connections').status).toBe('warning');
	});

	it('says when a value is this session’s own or set per role', () => {
		const checks = settingsChecks(stockSettings([setting('work_mem', '64', 'kB', 'user', 'client'), setting('maintenance_work_mem', '1024', 'kB', 'user', 'global')]), SMALL);
		expect(byId(checks, 'setting.work_mem').fix?.note).toMatch(/relaytop’s own session/u);
		expect(byId(checks, 'setting.maintenance_work_mem').fix?.note).toMatch(/ALTER ROLE … SET \(global\)/u);
	});

	it('skips a setting the server does not report', () => {
		const settings = stockSettings();
		settings.delete('track_io_timing');
		expect(settingsChecks(settings, SMALL).some(check => check.id === 'setting.track_io_timing')).toBe(false);
	});
});

const backend = (overrides: Partial<Backend>): Backend => ({
	pid: 100,
	leaderPid: null,
	database: 'newapi',
	inCurrentDatabase: true,
	usename: 'newapi',
	applicationName: '',
	clientAddr: '10.0.0.5',
	backendType: 'client backend',
	state: 'idle',
	waitEventType: null,
	waitEvent: null,
	backendAgeS: 100,
	backendStart: '2026-11-22 10:00:00.123456+00',
	queryStart: '2026-11-22 10:00:01.123456+00',
	xactAgeS: null,
	queryAgeS: 1,
	stateAgeS: 1,
	xminAgeXids: null,
	xidAgeXids: null,
	query: 'SELECT 1',
	visible: true,
	blockedBy: [],
	...overrides,
});

const sessions = (count: number, overrides: Partial<Backend> = {}): Backend[] => Array.from({length: count}, (_, index) => backend({pid: 1000 + index, ...overrides}));

describe('connections', () => {
	const facts = (backends: Backend[], machine = SMALL) => ({backends, maxConnections: 100, reservedConnections: 3, database: 'newapi', role: 'monitor', machine});

	it('suggests the notes’ pool for one core and more for more cores', () => {
		expect(poolSuggestion(1)).toEqual({maxOpen: 20, maxIdle: 10, maxLifetimeS: 60});
		expect(poolSuggestion(4)).toEqual({maxOpen: 50, maxIdle: 25, maxLifetimeS: 60});
	});

	it('warns about an idle pool bigger than the cores need, with the environment to change', () => {
		const ok = connectionChecks(facts([...sessions(10), ...sessions(2, {state: 'active'})]));
		expect(byId(ok, 'connections.pool').status).toBe('ok');
		const idle = connectionChecks(facts([...sessions(11), ...sessions(2, {state: 'active'})]));
		const pool = byId(idle, 'connections.pool');
		expect(pool.status).toBe('warning');
		expect(pool.summary).toMatch(/11 idle connections/u);
		expect(pool.fix?.lines).toEqual(['SQL_MAX_OPEN_CONNS=20', 'SQL_MAX_IDLE_CONNS=10', 'SQL_MAX_LIFETIME=60']);
		expect(pool.fix?.note).toMatch(/SQL_MAX_IDLE_TIME exists only in some forks/u);
		// Sessions of other databases are not this gateway's pool.
		expect(byId(connectionChecks(facts(sessions(30, {inCurrentDatabase: false, database: 'other'}))), 'connections.pool').status).toBe('ok');
	});

	it('counts slots against max_connections less the superuser reserve', () => {
		const checks = connectionChecks(facts(sessions(68, {inCurrentDatabase: false})));
		expect(byId(checks, 'connections.usage').status).toBe('warning'); // 68 of 97: 70%
		expect(byId(connectionChecks(facts(sessions(67, {inCurrentDatabase: false}))), 'connections.usage').status).toBe('ok');
		expect(byId(connectionChecks(facts(sessions(88, {inCurrentDatabase: false}))), 'connections.usage').status).toBe('critical');
	});

	it('names the oldest idle-in-transaction session and offers to end it, guarded by its start time', () => {
		const checks = connectionChecks(
			facts([
				backend({pid: 7, state: 'idle in transaction', stateAgeS: 90, xminAgeXids: 12}),
				backend({pid: 8, state: 'idle in transaction (aborted)', stateAgeS: 700, xidAgeXids: 40, applicationName: 'new-api\u001b[31m'}),
			]),
		);
		const check = byId(checks, 'connections.idle_in_transaction');
		expect(check.status).toBe('critical');
		expect(check.summary).toContain('pid 8');
		expect(check.summary).not.toContain('\u001b');
		expect(check.fix?.action).toEqual({kind: 'terminate', target: {pid: 8, backendStart: '2026-11-22 10:00:00.123456+00', queryStart: '2026-11-22 10:00:01.123456+00'}});
		expect(byId(connectionChecks(facts([backend({state: 'idle in transaction', stateAgeS: 30, xminAgeXids: 5})])), 'connections.idle_in_transaction').status).toBe('ok');
	});

	it('never calls a session critical that holds no snapshot and no xid: it does not hold back VACUUM', () => {
		const check = byId(connectionChecks(facts([backend({state: 'idle in transaction', stateAgeS: 7200})])), 'connections.idle_in_transaction');
		expect(check.status).toBe('warning');
		expect(check.summary).toMatch(/holds its locks and a connection \(not VACUUM/u);
		expect(check.evidence.find(evidence => evidence.label === 'holds back VACUUM')?.value).toBe(false);
	});

	it('says when sessions are hidden from the role, and what to grant', () => {
		const hidden = sessions(25, {visible: false, state: null, usename: null, applicationName: null, clientAddr: null, backendType: null});
		const checks = connectionChecks(facts(hidden));
		const check = byId(checks, 'connections.hidden');
		expect(check.status).toBe('warning');
		expect(check.fix?.lines).toEqual(['GRANT pg_read_all_stats TO "monitor";']);
		expect(byId(checks, 'connections.pool').evidence.find(evidence => evidence.label === 'largest client')?.value).toBe('(hidden from this role): 25 (0 idle)');
		expect(connectionChecks(facts(sessions(3))).some(one => one.id === 'connections.hidden')).toBe(false);
	});
});

const table = (overrides: Partial<TableStats>): TableStats => ({
	schema: 'public',
	name: 'logs',
	qualifiedName: 'logs',
	sizeBytes: 100 * MB,
	tableBytes: 80 * MB,
	sizeRank: 1,
	locked: false,
	nLiveTup: 500_000,
	nDeadTup: 0,
	deadRatio: 0,
	nModSinceAnalyze: 0,
	nInsSinceVacuum: 0,
	lastVacuumAtMs: null,
	lastAutovacuumAtMs: Date.parse('2026-11-22T09:00:00Z'),
	lastAnalyzeAtMs: null,
	lastAutoanalyzeAtMs: null,
	vacuumCount: 0,
	autovacuumCount: 3,
	analyzeCount: 0,
	autoanalyzeCount: 3,
	seqScan: 0,
	seqTupRead: 0,
	idxScan: 0,
	autovacuumEnabled: true,
	autovacuumAtDeadTuples: 25_050,
	reloptions: {},
	...overrides,
});

describe('tables', () => {
	const NOW = Date.parse('2026-11-22T10:00:00Z');
	const facts = (logs: TableStats | null, others: TableStats[] = []) => ({
		tables: {requested: 'logs', table: logs, largest: logs === null ? others : [logs, ...others]},
		serverScaleFactors: {vacuum: 0.05, analyze: 0.05},
		nowMs: NOW,
	});

	it('grades dead rows by share, with a floor, and offers VACUUM (ANALYZE)', () => {
		const dead = (nDeadTup: number, nLiveTup: number) => byId(tableChecks(facts(table({nDeadTup, nLiveTup, deadRatio: nDeadTup / (nDeadTup + nLiveTup)}))), 'table.logs.dead_tuples');
		expect(dead(999, 1000).status).toBe('ok'); // under the 1000-row floor
		expect(dead(1000, 9001).status).toBe('ok'); // 9.99%
		expect(dead(1000, 9000).status).toBe('warning'); // 10%
		expect(dead(4000, 6000).status).toBe('critical'); // 40%
		expect(dead(4000, 6000).fix?.action).toEqual({kind: 'vacuum', table: 'logs'});
		expect(dead(4000, 6000).fix?.lines).toEqual(['VACUUM (ANALYZE) logs;']);
	});

	it('reports another table only past its autovacuum trigger, and never as critical', () => {
		const quiet = table({qualifiedName: 'quota_data', name: 'quota_data', sizeRank: 2});
		const churning = table({qualifiedName: 'tokens', name: 'tokens', sizeRank: 4, nDeadTup: 4000, nLiveTup: 1000, deadRatio: 0.8, autovacuumAtDeadTuples: 4050});
		const bloated = table({qualifiedName: 'users', name: 'users', sizeRank: 3, nDeadTup: 5000, nLiveTup: 5000, deadRatio: 0.5, autovacuumAtDeadTuples: 1050});
		const checks = tableChecks(facts(table({}), [quiet, churning, bloated]));
		expect(byId(checks, 'table.users.dead_tuples').status).toBe('warning');
		expect(checks.map(check => check.id)).not.toContain('table.quota_data.dead_tuples');
		expect(checks.map(check => check.id)).not.toContain('table.tokens.dead_tuples'); // autovacuum's next round takes it
	});

	it('calls autovacuum off critical and behind a warning', () => {
		expect(byId(tableChecks(facts(table({autovacuumEnabled: false}))), 'table.logs.autovacuum').status).toBe('critical');
		const behind = table({nDeadTup: 30_000, deadRatio: 0.057, lastAutovacuumAtMs: NOW - 25 * 3600 * 1000});
		expect(byId(tableChecks(facts(behind)), 'table.logs.autovacuum').status).toBe('warning');
		expect(byId(tableChecks(facts({...behind, lastAutovacuumAtMs: NOW - 3600 * 1000})), 'table.logs.autovacuum').status).toBe('ok');
	});

	it('advises partitioning past 10M rows', () => {
		expect(byId(tableChecks(facts(table({nLiveTup: 10_000_001}))), 'table.logs.size').status).toBe('warning');
		expect(byId(tableChecks(facts(table({nLiveTup: 10_000_000}))), 'table.logs.size').status).toBe('ok');
	});

	it('judges the table’s own autovacuum settings before the server’s, from 100k rows', () => {
		const withServer = (vacuum: number, reloptions: Record<string, string> = {}, rows = 500_000) =>
			byId(tableChecks({...facts(table({nLiveTup: rows, reloptions})), serverScaleFactors: {vacuum, analyze: 0.05}}), 'table.logs.autovacuum_settings');
		expect(withServer(0.2).status).toBe('warning');
		expect(withServer(0.2).fix?.action).toEqual({kind: 'tableSettings', table: 'logs', settings: {autovacuum_vacuum_scale_factor: 0.05, autovacuum_analyze_scale_factor: 0.05}});
		expect(withServer(0.2, {autovacuum_vacuum_scale_factor: '0.02'}).status).toBe('ok');
		expect(withServer(0.05, {autovacuum_vacuum_scale_factor: '0.3'}).status).toBe('warning');
		expect(withServer(0.2, {}, 99_999).status).toBe('ok');
	});

	it('says so when the gateway’s table is not there', () => {
		const [check] = tableChecks(facts(null));
		expect(check?.status).toBe('warning');
		expect(check?.summary).toMatch(/no table logs here/u);
	});
});

const index = (name: string, keyColumns: string[], overrides: Partial<AdvisedIndex> = {}): AdvisedIndex => ({
	name,
	method: 'btree',
	keyColumns,
	valid: true,
	ready: true,
	building: false,
	predicate: null,
	definition: `CREATE INDEX ${name} ON public.logs USING btree (${keyColumns.join(', ')})`,
	...overrides,
});

describe('indexes', () => {
	const advise = (indexes: AdvisedIndex[], rows = 1000) =>
		indexChecks(
			deriveIndexAdvice({engine: 'postgres', schema: 'public', table: 'logs', indexes, takenNames: ['logs', ...indexes.map(one => one.name)], needs: NEWAPI_LOGS_INDEX_NEEDS, tableBytes: rows * 260, totalBytes: rows * 300, rows, versionNum: 150_000}),
		);

	it('passes served hot queries and proposes the missing index as an action', () => {
		const served = advise([index('idx_created_at_type', ['created_at', 'type']), index('idx_user_id_id', ['user_id', 'id'])]);
		expect(served.map(check => check.status)).toEqual(['ok', 'ok']);
		const missing = advise([index('idx_user_id_id', ['user_id', 'id'])]);
		const check = byId(missing, 'index.logs.requests_by_time_and_type');
		expect(check.status).toBe('warning');
		expect(check.fix?.lines).toEqual(['CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type" ON "public"."logs" ("created_at", "type");']);
		expect(check.fix?.action?.kind).toBe('index');
		expect(byId(advise([index('idx_user_id_id', ['user_id', 'id'])], MISSING_INDEX_CRITICAL_ROWS), 'index.logs.requests_by_time_and_type').status).toBe('critical');
	});

	it('repairs an INVALID index instead of proposing a second one, and lists other leftovers', () => {
		const checks = advise([
			index('idx_created_at_type', ['created_at', 'type'], {valid: false}),
			index('idx_user_id_id', ['user_id', 'id']),
			index('idx_user_id_id_ccnew', ['user_id', 'id'], {valid: false}),
		]);
		const need = byId(checks, 'index.logs.requests_by_time_and_type');
		expect(need.status).toBe('warning');
		expect(need.fix?.action?.kind).toBe('repair');
		expect(need.fix?.lines[0]).toBe('DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_created_at_type";');
		const leftover = byId(checks, 'index.logs.invalid.idx_user_id_id_ccnew');
		expect(leftover.fix?.lines).toEqual(['DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_user_id_id_ccnew";']);
		expect(checks.filter(check => check.id.includes('invalid.idx_created_at_type'))).toEqual([]);
	});
});

describe('statements, load and SQLite files', () => {
	const statement = (meanMs: number, calls: number, query = 'SELECT * FROM logs WHERE created_at >= $1') => ({query, calls, totalMs: meanMs * calls, meanMs, share: 0.5});

	it('warns about a slow and frequent statement only, with a plan that does not run it', () => {
		expect(statementsCheck({byTime: [statement(1500, 9)], byCalls: [], statsResetAtMs: null}, 160_000).status).toBe('ok');
		const long = `UPDATE users SET quota = quota - $1 WHERE id = $2 AND ${'status = 1 AND '.repeat(20)}true`;
		const facts = {byTime: [statement(1500, 10, long)], byCalls: [statement(1, 1e6, 'SELECT 1')], statsResetAtMs: null};
		const slow = statementsCheck(facts, 160_000);
		expect(slow.status).toBe('warning');
		// The whole statement: a head cut at the evidence's width would not run.
		expect(slow.fix?.lines).toEqual([`EXPLAIN (GENERIC_PLAN) ${long};`]);
		expect(statementsCheck(facts, 150_000).fix?.lines).toEqual([`EXPLAIN ${long};`]);
		expect(statementsCheck(facts, 150_000).fix?.note).toMatch(/real values in place of \$1/u);
		expect(slow.evidence.map(evidence => evidence.label)).toEqual(['most time #1', 'most calls #1']);
		expect(String(slow.evidence[0]?.value).length).toBeLessThan(long.length);
	});

	it('adds pg_stat_statements to the preloaded libraries, one literal each', () => {
		expect(preloadList(null)).toBe("'pg_stat_statements'");
		expect(preloadList('')).toBe("'pg_stat_statements'");
		expect(preloadList('auto_explain, "my lib"')).toBe("'auto_explain', 'my lib', 'pg_stat_statements'");
		expect(preloadList('pg_stat_statements,auto_explain')).toBe("'auto_explain', 'pg_stat_statements'");
	});

	it('turns heavy token counting on new-api into a warning with CountToken=false, and leaves it out for CPA-Manager', () => {
		const rate = {windowS: 60, rpm: 600, tpm: 1e6, fromMs: 0, toMs: 60_000};
		const cost = (verdict: 'heavy' | 'negligible') => ({rpm: 600, promptTokensPerRequest: 5000, tokensPerS: 50_000, coreShare: {latin: verdict === 'heavy' ? 0.5 : 0.01, cjk: 0.02}, verdict, advice: verdict, assumptions: [], throughput: {encoding: 'o200k_base' as const, latinTokensPerS: 1e5, cjkTokensPerS: 1e4, machine: 'x', measuredAtMs: 0}});
		expect(loadCheck(rate, cost('heavy'), 'newapi-postgres').fix?.lines).toEqual(['CountToken=false']);
		expect(loadCheck(rate, cost('negligible'), 'newapi-sqlite').status).toBe('ok');
		expect(loadCheck(rate, 'not measured yet', 'newapi-sqlite').summary).toBe('600 rpm, 1000000 tpm; the cost of token counting is unknown: not measured yet');
		const cpa = loadCheck(rate, cost('heavy'), 'cpa-http');
		expect(cpa).toMatchObject({status: 'ok', summary: '600 rpm, 1000000 tpm', fix: null});
		expect(cpa.evidence.map(evidence => evidence.label)).toEqual(['rpm', 'tpm']);
	});

	it('wants WAL and gives free pages back past a quarter of the file', () => {
		const file = (journalMode: string, freelistCount: number, autoVacuum = 'none') => sqliteFileChecks({journalMode, pageSize: 4096, pageCount: 100_000, freelistCount, autoVacuum, fileBytes: 409_600_000, walBytes: 0});
		expect(byId(file('wal', 0), 'sqlite.journal_mode').status).toBe('ok');
		expect(byId(file('delete', 0), 'sqlite.journal_mode').fix?.lines).toEqual(['PRAGMA journal_mode = WAL;']);
		expect(byId(file('wal', 24_999), 'sqlite.free_pages').status).toBe('ok');
		expect(byId(file('wal', 25_000), 'sqlite.free_pages').fix?.lines).toEqual(['VACUUM;']);
		expect(byId(file('wal', 25_000, 'incremental'), 'sqlite.free_pages').fix?.lines).toEqual(['PRAGMA incremental_vacuum;']);
	});
});

describe('the report', () => {
	const check = (id: string, status: HealthCheck['status'], group: HealthCheck['group']): HealthCheck => ({id, group, title: id, status, summary: `${id} \u001b[2J\u009b`, evidence: [{label: 'n', value: 3, unit: 'count'}], fix: null});
	const report = (checks: HealthCheck[]) => healthReport({target: 'x.db', kind: 'newapi-sqlite', checkedAtMs: 1, durationMs: 12.4, machine: SMALL, checks});

	it('orders worst first, then by checklist group, and maps the worst to the exit code', () => {
		const ordered = report([check('a', 'ok', 'connections'), check('b', 'warning', 'settings'), check('c', 'warning', 'connections'), check('d', 'critical', 'load')]);
		expect(ordered.checks.map(one => one.id)).toEqual(['d', 'c', 'b', 'a']);
		expect(ordered.counts).toEqual({ok: 1, warning: 2, critical: 1});
		expect(exitCodeOf(ordered)).toBe(DOCTOR_EXIT.critical);
		expect(exitCodeOf(report([check('a', 'ok', 'load'), check('b', 'warning', 'load')]))).toBe(1);
		expect(exitCodeOf(report([check('a', 'ok', 'load')]))).toBe(0);
		expect(exitCodeOf(report([]))).toBe(0);
	});

	it('prints text and JSON without raw control characters from the database', () => {
		const shown = report([check('a', 'warning', 'tables')]);
		const text = healthText(shown);
		expect(text).toMatch(/^relaytop doctor · newapi-sqlite x\.db · 0 critical, 1 warning, 0 ok/u);
		expect(text).toContain('WARNINGS');
		expect(text).not.toMatch(/[\u001b\u009b]/u);
		expect(terminalSafeJson(healthJson(shown))).not.toMatch(/[\u001b\u009b]/u);
		const json = healthJson(shown) as {status: string; exit_code: number; machine: object; checks: Array<{evidence: object[]; fix: null}>};
		expect(json.status).toBe('warning');
		expect(json.exit_code).toBe(1);
		expect(json.machine).toEqual({ram_bytes: 2 * GB, ram_from: 'given', cores: 1, cores_from: 'given'});
		expect(json.checks[0]?.evidence).toEqual([{label: 'n', value: 3, unit: 'count'}]);
	});
});
