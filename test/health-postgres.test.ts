import pg from 'pg';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {poolSuggestion} from '../source/health/connection-checks.js';
import {HEALTH_GROUPS, SEVERITIES, type HealthCheck} from '../source/health/health-check.js';
import {postgresHealth, type HealthOptions, type HealthResult} from '../source/health/postgres-health.js';
import {localMaintenance, type MaintenanceAction, type MaintenanceOutcome} from '../source/maintenance/maintenance-service.js';
import {openMaintenanceTarget, type MaintenanceTarget} from '../source/maintenance/maintenance-target.js';
import {freshDatabase, testPostgres} from './support/postgres-server.js';
import {flushStats, waitFor} from './support/postgres-waits.js';

// `relaytop doctor`'s PostgreSQL checks on a real server: each test makes one bad state in a
// database of its own, reads the numbers the check should show with its own SQL, applies the fix
// (relaytop's maintenance action where the check offers one) and sees the check clear.

/** What the settings and the pool are judged against, whatever machine runs the tests. */
const MACHINE = {ram: '2GB', cores: '1'} as const;

let versionNum = 0;
const opened: pg.Client[] = [];
const targets: MaintenanceTarget[] = [];
const drops: Array<() => Promise<void>> = [];

beforeAll(async () => {
	versionNum = (await testPostgres()).versionNum;
});

afterAll(async () => {
	await Promise.all(opened.map(async client => client.end().catch(() => undefined)));
	await Promise.all(targets.map(async target => target.close().catch(() => undefined)));
	for (const drop of drops) await drop();
});


async function connect(url: string, applicationName: string): Promise<pg.Client> {
	const client = new pg.Client({connectionString: url, application_name: applicationName});
	client.on('error', () => undefined); // sessions terminated on purpose
	await client.connect();
	opened.push(client);
	return client;
}

interface Database {
	readonly url: string;
	readonly name: string;
	/** The test's own session: builds the state and reads the expected numbers. */
	readonly admin: pg.Client;
	/** What `relaytop doctor` opens: its observer reads the checks, its writer runs the fixes. */
	readonly target: PostgresTarget;
}

type PostgresTarget = Extract<MaintenanceTarget, {engine: 'postgres'}>;

/** A new database, with new-api's `logs` table (upstream DDL) unless told otherwise. */
async function database(prefix: string, {logs = true}: {logs?: boolean} = {}): Promise<Database> {
	const made = await freshDatabase(`relaytop_health_${prefix}`);
	drops.push(made.drop);
	const admin = await connect(made.url, 'health-test-admin');
	if (logs) await admin.query(NEWAPI_LOGS_POSTGRES_DDL);
	const target = await openMaintenanceTarget(made.url);
	targets.push(target);
	if (target.engine !== 'postgres') throw new Error(`${made.url} opened as ${target.engine}`);
	return {url: made.url, name: made.name, admin, target};
}

async function fillLogs(admin: pg.Client, rows: number): Promise<void> {
	await admin.query(
		`INSERT INTO logs (user_id, created_at, type, username, model_name, quota, prompt_tokens, completion_tokens, channel_id)
		SELECT i % 50, 1790000000 + i, CASE WHEN i % 17 = 0 THEN 5 ELSE 2 END, 'user' || (i % 50), 'gpt-4o', i, 10, 20, i % 3
		FROM generate_series(1, $1::int) AS i`,
		[rows],
	);
}

/** The checks as `doctor` reads them, with the shape every result must have. */
async function health(db: Database, options: HealthOptions = {}): Promise<HealthResult> {
	const result = await postgresHealth(db.target.observer, {machine: MACHINE, ...options});
	expect(result.machine).toMatchObject({ramBytes: 2 * 1024 ** 3, ramFrom: 'given', cores: 1, coresFrom: 'given'});
	for (const each of result.checks) {
		expect(SEVERITIES).toContain(each.status);
		expect(HEALTH_GROUPS).toContain(each.group);
	}
	const ids = result.checks.map(check => check.id);
	expect(new Set(ids).size).toBe(ids.length);
	// Nothing of these servers is hidden from a superuser: no part may come back unreadable.
	expect(ids.filter(id => id.endsWith('.unreadable'))).toEqual([]);
	return result;
}

function check(result: HealthResult, id: string): HealthCheck {
	const found = result.checks.find(each => each.id === id);
	if (found === undefined) throw new Error(`no check ${id}; the checks are: ${result.checks.map(each => each.id).join(', ')}`);
	return found;
}

function evidence(found: HealthCheck, label: string): HealthCheck['evidence'][number]['value'] {
	const item = found.evidence.find(each => each.label === label);
	if (item === undefined) throw new Error(`check ${found.id} has no evidence "${label}": ${JSON.stringify(found.evidence)}`);
	return item.value;
}

/** Runs a check's fix the way the Health view does: through the maintenance service. */
async function applyFix(db: Database, action: MaintenanceAction | null | undefined): Promise<MaintenanceOutcome> {
	if (action === null || action === undefined) throw new Error('the check offers no action');
	const progress: string[] = [];
	const outcome = await localMaintenance(db.target).run(action, line => progress.push(line), new AbortController().signal);
	expect(outcome, `progress: ${progress.join(' | ')}`).toMatchObject({ok: true});
	return outcome;
}



const one = async <Row extends pg.QueryResultRow>(client: pg.Client, text: string, values: unknown[] = []): Promise<Row> => {
	const {rows} = await client.query<Row>(text, values);
	if (rows.length !== 1) throw new Error(`expected one row from ${text}, got ${rows.length}`);
	return rows[0]!;
};

/** This session's user and address as pg_stat_activity shows them (how the checks name a client). */
const whoAmI = async (client: pg.Client) => one<{user: string; addr: string | null}>(client, 'SELECT usename AS user, host(client_addr) AS addr FROM pg_stat_activity WHERE pid = pg_backend_pid()');

const sessionsOf = async (admin: pg.Client, applicationName: string): Promise<number> =>
	Number((await one<{n: string}>(admin, 'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [applicationName])).n);

describe('connections', () => {
	// Sessions of another database on the same server: the checks of this one leave them out.
	let elsewhere: string;
	beforeAll(async () => {
		const made = await freshDatabase('relaytop_health_elsewhere');
		drops.push(made.drop);
		elsewhere = made.url;
	});

	it('warns about more idle connections than a pool for one core needs, with their count, and clears when they close', async () => {
		const db = await database('pool');
		const {maxIdle, maxOpen} = poolSuggestion(1);
		const gatewayConnections = maxIdle + 3;
		// Past the idle limit there too; few, since files share the server and its max_connections.
		const otherPool = await Promise.all(Array.from({length: maxIdle + 1}, async () => connect(elsewhere, 'health-fake-gateway')));
		const gateway = await Promise.all(Array.from({length: gatewayConnections}, async () => connect(db.url, 'health-fake-gateway')));
		const {user, addr} = await whoAmI(gateway[0]!);
		// Read independently: the database's idle sessions but relaytop's own, this one counted as the idle session it is during the checks.
		const idleNow = async () =>
			Number(
				(
					await one<{n: string}>(
						db.admin,
						"SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle' AND application_name <> 'relaytop' AND pid <> pg_backend_pid()",
					)
				).n,
			) + 1;
		expect(await idleNow()).toBe(gatewayConnections + 1);

		const before = check(await health(db), 'connections.pool');
		expect(before.status).toBe('warning');
		expect(evidence(before, 'idle')).toBe(gatewayConnections + 1);
		expect(evidence(before, 'sessions in this database')).toBe(gatewayConnections + 1);
		expect(evidence(before, 'largest client')).toBe(`health-fake-gateway as ${user} from ${addr ?? 'local socket'}: ${gatewayConnections} (${gatewayConnections} idle)`);
		expect(evidence(before, 'suggested SQL_MAX_IDLE_CONNS')).toBe(maxIdle);
		expect(evidence(before, 'suggested SQL_MAX_OPEN_CONNS')).toBe(maxOpen);
		expect(before.summary).toContain(`${gatewayConnections + 1} idle connections, more than the ${maxIdle} a pool needs`);
		expect(before.fix).toMatchObject({kind: 'environment', action: null});
		expect(before.fix!.lines).toEqual([`SQL_MAX_OPEN_CONNS=${maxOpen}`, `SQL_MAX_IDLE_CONNS=${maxIdle}`, 'SQL_MAX_LIFETIME=60']);

		await Promise.all(gateway.map(async client => client.end()));
		await waitFor(async () => sessionsOf(db.admin, 'health-fake-gateway'), n => n === 0, 'the gateway sessions to end');
		expect(await idleNow()).toBe(1);
		const after = check(await health(db), 'connections.pool');
		expect(after).toMatchObject({status: 'ok', fix: null});
		expect(evidence(after, 'idle')).toBe(1);
		expect(evidence(after, 'sessions in this database')).toBe(1);
		await Promise.all(otherPool.map(async client => client.end()));
	});

	it('warns about a session left idle in a transaction past the threshold, and its terminate action ends it', async () => {
		const db = await database('idle_tx');
		// Older, and idle in a transaction in another database: not this database's finding.
		const otherStuck = await connect(elsewhere, 'stuck-client');
		await otherStuck.query('BEGIN');
		await otherStuck.query('SELECT 1');
		const stuck = await connect(db.url, 'stuck-client');
		const {user, addr} = await whoAmI(stuck);
		await stuck.query('BEGIN');
		// An xid of its own: it holds back VACUUM's horizon, which makes it critical past the critical age.
		const {pid} = await one<{pid: number}>(stuck, 'SELECT pg_backend_pid() AS pid, txid_current() AS xid');
		const thresholds: HealthOptions = {thresholds: {connections: {idleInTransactionWarningS: 1}}};

		const stateAge = async () =>
			one<{state: string; age: number; backend_start: string; query_start: string}>(
				db.admin,
				'SELECT state, extract(epoch FROM clock_timestamp() - state_change)::float8 AS age, backend_start::text AS backend_start, query_start::text AS query_start FROM pg_stat_activity WHERE pid = $1',
				[pid],
			);
		// Under the threshold: counted, not yet a warning (unless this machine took a second to get here).
		const young = check(await health(db, thresholds), 'connections.idle_in_transaction');
		expect(evidence(young, 'sessions')).toBe(1);
		if ((await stateAge()).age < 1) expect(young).toMatchObject({status: 'ok', fix: null});
		await waitFor(stateAge, row => row.age > 1.2, 'the transaction to sit idle past the threshold');

		const ageBefore = (await stateAge()).age;
		const found = check(await health(db, thresholds), 'connections.idle_in_transaction');
		const session = await stateAge();
		expect(session.state).toBe('idle in transaction');
		expect(found.status).toBe('warning');
		expect(evidence(found, 'sessions')).toBe(1);
		expect(evidence(found, 'oldest idle for')).toBeGreaterThanOrEqual(ageBefore);
		expect(evidence(found, 'oldest idle for')).toBeLessThanOrEqual(session.age);
		expect(evidence(found, 'oldest session')).toBe(`pid ${pid}, stuck-client as ${user} from ${addr ?? 'local socket'}`);
		expect(evidence(found, 'its last statement')).toBe('SELECT pg_backend_pid() AS pid, txid_current() AS xid');
		expect(evidence(found, 'holds back VACUUM')).toBe(true);
		expect(found.fix).toMatchObject({kind: 'sql'});
		expect(found.fix!.lines[0]).toBe(`SELECT pg_terminate_backend(${pid});`);
		expect(found.fix!.action).toEqual({kind: 'terminate', target: {pid, backendStart: session.backend_start, queryStart: session.query_start}});
		// The same session, judged by a critical threshold it has passed.
		expect(check(await health(db, {thresholds: {connections: {idleInTransactionWarningS: 0.5, idleInTransactionCriticalS: 1}}}), 'connections.idle_in_transaction').status).toBe('critical');

		const outcome = await applyFix(db, found.fix!.action);
		expect(outcome.text).toBe('the session was ended');
		await waitFor(async () => sessionsOf(db.admin, 'stuck-client'), n => n === 0, 'the terminated session to leave pg_stat_activity');
		await expect(stuck.query('SELECT 1')).rejects.toThrow();
		const after = check(await health(db, thresholds), 'connections.idle_in_transaction');
		expect(after).toMatchObject({status: 'ok', fix: null});
		expect(evidence(after, 'sessions')).toBe(0);
		await otherStuck.query('COMMIT');
	});
});

describe('tables', () => {
	const ROWS = 20_000;
	const DELETED = 6000; // 30%: past the 10% warning, under the 40% critical, and over the 1000-row minimum

	it('reports the dead rows of a DELETE, clears them with its VACUUM action, and calls autovacuum off critical until it is reset', async () => {
		const db = await database('dead');
		const {admin} = db;
		await admin.query('ALTER TABLE logs SET (autovacuum_enabled = false)'); // no autovacuum racing the counts
		await fillLogs(admin, ROWS);
		await admin.query('DELETE FROM logs WHERE id <= $1', [DELETED]);
		await flushStats(admin, versionNum);
		const stats = async () =>
			one<{dead: number; live: number; vacuums: number; total: number; threshold: number}>(
				admin,
				`SELECT n_dead_tup::float8 AS dead, n_live_tup::float8 AS live, vacuum_count::float8 AS vacuums, pg_total_relation_size(relid)::float8 AS total,
					current_setting('autovacuum_vacuum_threshold')::float8 + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0)::float8 AS threshold
				FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE relid = 'logs'::regclass`,
			);
		const counted = await waitFor(stats, row => row.dead === DELETED, 'the deleted rows in pg_stat_user_tables');
		expect(counted.live).toBe(ROWS - DELETED);

		const result = await health(db);
		const dead = check(result, 'table.logs.dead_tuples');
		expect(dead.status).toBe('warning');
		expect(evidence(dead, 'dead rows')).toBe(DELETED);
		expect(evidence(dead, 'live rows')).toBe(ROWS - DELETED);
		expect(evidence(dead, 'dead share')).toBeCloseTo(DELETED / ROWS, 12);
		expect(evidence(dead, 'size')).toBe(counted.total);
		expect(evidence(dead, 'autovacuum at dead rows')).toBe(Math.round(counted.threshold));
		expect(dead.fix).toMatchObject({kind: 'sql', lines: ['VACUUM (ANALYZE) logs;'], action: {kind: 'vacuum', table: 'logs'}});
		// The same table against a critical threshold of 30%.
		expect(check(await health(db, {thresholds: {tables: {deadCritical: DELETED / ROWS}}}), 'table.logs.dead_tuples').status).toBe('critical');
		// Under the minimum of dead rows, a large share is no finding.
		expect(check(await health(db, {thresholds: {tables: {deadMinimum: DELETED + 1}}}), 'table.logs.dead_tuples').status).toBe('ok');

		const autovacuum = check(result, 'table.logs.autovacuum');
		expect(autovacuum.status).toBe('critical');
		expect(evidence(autovacuum, 'autovacuum enabled')).toBe(false);
		expect(evidence(autovacuum, 'dead rows')).toBe(DELETED);
		expect(autovacuum.fix).toMatchObject({kind: 'sql', action: null});
		expect(autovacuum.fix!.lines[0]).toBe('ALTER TABLE logs RESET (autovacuum_enabled);');

		await applyFix(db, dead.fix!.action);
		const vacuumed = await waitFor(stats, row => row.vacuums === 1, 'the VACUUM in pg_stat_user_tables');
		expect(vacuumed.dead).toBe(0);
		const clean = check(await health(db), 'table.logs.dead_tuples');
		expect(clean).toMatchObject({status: 'ok', fix: null});
		expect(evidence(clean, 'dead rows')).toBe(0);
		expect(evidence(clean, 'live rows')).toBe(ROWS - DELETED);
		expect(check(await health(db), 'table.logs.autovacuum').status).toBe('critical'); // the VACUUM did not turn it on

		await admin.query('ALTER TABLE logs RESET (autovacuum_enabled)');
		const {server} = await one<{server: string}>(admin, "SELECT current_setting('autovacuum') AS server");
		const reset = await health(db);
		const after = check(reset, 'table.logs.autovacuum');
		// The table's switch is reset; autovacuum then runs as the server says (a server may have it off: the setting check says so).
		expect(evidence(after, 'autovacuum enabled')).toBe(server === 'on');
		if (server === 'on') {
			expect(after).toMatchObject({status: 'ok', fix: null});
		} else {
			expect(after.status).toBe('critical');
			expect(check(reset, 'setting.autovacuum').status).toBe('critical');
		}
	});
});

describe('indexes', () => {
	const ROWS = 5000;

	interface CatalogIndex {
		valid: boolean;
		ready: boolean;
		columns: string[];
	}

	async function catalog(admin: pg.Client): Promise<Map<string, CatalogIndex>> {
		const {rows} = await admin.query<CatalogIndex & {name: string}>(
			`SELECT c.relname AS name, i.indisvalid AS valid, i.indisready AS ready,
				ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
					JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
			FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'logs'::regclass`,
		);
		return new Map(rows.map(({name, ...index}) => [name, index]));
	}

	/**
	 * CREATE INDEX CONCURRENTLY, stopped by a statement timeout while it waits for an older snapshot:
	 * it leaves the index INVALID (built and ready, never validated), as a build killed half-way does.
	 */
	async function failedConcurrentBuild(db: Database, statements: readonly string[]): Promise<void> {
		const holder = await connect(db.url, 'health-test-snapshot');
		await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
		await holder.query('SELECT 1');
		try {
			for (const statement of statements) {
				await db.admin.query("SET statement_timeout = '500ms'");
				await expect(db.admin.query(statement)).rejects.toMatchObject({code: '57014'});
				await db.admin.query('RESET statement_timeout');
			}
		} finally {
			await holder.query('COMMIT');
			await holder.end();
		}
	}

	it('warns about a hot query no index serves, builds the index with its action, then says it is served', async () => {
		const db = await database('missing_index');
		await db.admin.query('DROP INDEX idx_created_at_id; DROP INDEX idx_created_at_type'); // nothing leads with created_at
		await fillLogs(db.admin, ROWS);
		await db.admin.query('ANALYZE logs');
		const {reltuples} = await one<{reltuples: number}>(db.admin, "SELECT reltuples::float8 AS reltuples FROM pg_class WHERE oid = 'logs'::regclass");
		expect(reltuples).toBe(ROWS);

		const result = await health(db);
		const missing = check(result, 'index.logs.requests_by_time_and_type');
		expect(missing.status).toBe('warning');
		expect(evidence(missing, 'served by')).toBeNull();
		expect(evidence(missing, 'INVALID')).toBeNull();
		expect(evidence(missing, 'rows (estimate)')).toBe(reltuples);
		const sql = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type" ON "public"."logs" ("created_at", "type")';
		expect(missing.fix).toMatchObject({kind: 'sql', lines: [`${sql};`], action: {kind: 'index', proposal: {name: 'idx_created_at_type', columns: ['created_at', 'type'], sql}}});
		expect(check(result, 'index.logs.user_log_pages')).toMatchObject({status: 'ok', fix: null});

		await applyFix(db, missing.fix!.action);
		expect((await catalog(db.admin)).get('idx_created_at_type')).toEqual({valid: true, ready: true, columns: ['created_at', 'type']});
		const served = check(await health(db), 'index.logs.requests_by_time_and_type');
		expect(served).toMatchObject({status: 'ok', fix: null});
		expect(evidence(served, 'served by')).toBe('idx_created_at_type');
	});

	it('warns about INVALID indexes of failed concurrent builds, and their repair actions leave them valid', async () => {
		const db = await database('invalid_index');
		await db.admin.query('DROP INDEX idx_user_id_id'); // its rebuild below fails: the INVALID one is all the user pages have
		await fillLogs(db.admin, ROWS);
		await db.admin.query('ANALYZE logs');
		await failedConcurrentBuild(db, ['CREATE INDEX CONCURRENTLY idx_user_id_id ON logs (user_id, id)', 'CREATE INDEX CONCURRENTLY idx_logs_quota ON logs (quota)']);
		const broken = await catalog(db.admin);
		expect(broken.get('idx_user_id_id')).toEqual({valid: false, ready: true, columns: ['user_id', 'id']});
		expect(broken.get('idx_logs_quota')).toEqual({valid: false, ready: true, columns: ['quota']});

		const result = await health(db);
		// The INVALID index a hot query would use: the query's own check.
		const pages = check(result, 'index.logs.user_log_pages');
		expect(pages.status).toBe('warning');
		expect(evidence(pages, 'served by')).toBeNull();
		expect(evidence(pages, 'INVALID')).toBe('idx_user_id_id');
		expect(pages.fix?.action).toMatchObject({kind: 'repair', option: 'drop-and-rebuild', repair: {index: 'idx_user_id_id'}});
		expect(pages.fix!.lines).toEqual([
			'DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_user_id_id";',
			'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_id_id ON public.logs USING btree (user_id, id);',
		]);
		// One no hot query needs: a check of its own.
		const leftover = check(result, 'index.logs.invalid.idx_logs_quota');
		expect(leftover.status).toBe('warning');
		expect(evidence(leftover, 'index')).toBe('idx_logs_quota');
		expect(leftover.fix?.action).toMatchObject({kind: 'repair', repair: {index: 'idx_logs_quota'}});
		expect(result.checks.filter(each => each.id.startsWith('index.logs.invalid.')).map(each => each.id)).toEqual(['index.logs.invalid.idx_logs_quota']);
		expect(check(result, 'index.logs.requests_by_time_and_type').status).toBe('ok');

		await applyFix(db, pages.fix!.action);
		await applyFix(db, leftover.fix!.action);
		const repaired = await catalog(db.admin);
		expect(repaired.get('idx_user_id_id')).toEqual({valid: true, ready: true, columns: ['user_id', 'id']});
		expect(repaired.get('idx_logs_quota')).toEqual({valid: true, ready: true, columns: ['quota']});
		const after = await health(db);
		const served = check(after, 'index.logs.user_log_pages');
		expect(served).toMatchObject({status: 'ok', fix: null});
		expect(evidence(served, 'served by')).toBe('idx_user_id_id');
		expect(after.checks.filter(each => each.id.startsWith('index.'))).toHaveLength(2);
		expect(after.checks.filter(each => each.group === 'indexes' && each.status !== 'ok')).toEqual([]);
	});
});

describe('settings', () => {
	// ALTER SYSTEM changes the server every test file shares: always put it back as it was, a value
	// the machine's own postgresql.auto.conf held included.
	let before: string | null = null;
	const putBack = async (client: pg.Client): Promise<void> => {
		await client.query(before === null ? 'ALTER SYSTEM RESET work_mem' : `ALTER SYSTEM SET work_mem = '${before.replaceAll("'", "''")}'`);
		await client.query('SELECT pg_reload_conf()');
	};
	const withServer = async (work: (client: pg.Client) => Promise<void>): Promise<void> => {
		const client = new pg.Client({connectionString: (await testPostgres()).url});
		await client.connect();
		try {
			await work(client);
		} finally {
			await client.end();
		}
	};

	beforeAll(async () =>
		withServer(async client => {
			const {rows} = await client.query<{setting: string}>("SELECT setting FROM pg_file_settings WHERE name = 'work_mem' AND sourcefile LIKE '%postgresql.auto.conf' ORDER BY seqno DESC LIMIT 1");
			before = rows[0]?.setting ?? null;
		}),
	);

	afterEach(async () => withServer(putBack));

	interface SettingRow {
		setting: string;
		bytes: number;
		source: string;
		shown: string;
	}

	const setting = async (client: pg.Client, name: string) =>
		one<SettingRow>(
			client,
			`SELECT setting, source, current_setting(name) AS shown,
				setting::float8 * CASE unit WHEN '8kB' THEN 8192 WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1024 * 1024 ELSE 1 END AS bytes
			FROM pg_settings WHERE name = $1`,
			[name],
		);

	it('warns about a low work_mem set with ALTER SYSTEM, with the reload fix, and clears after a reset and reload', async () => {
		const db = await database('settings', {logs: false});
		const original = await setting(db.admin, 'work_mem');
		// The observer the checks read on: a reload reaches an open session at its next statement.
		const observed = async () => (await db.target.observer.query<{work_mem: string}>('SHOW work_mem')).rows[0]!.work_mem;
		try {
			await db.admin.query("ALTER SYSTEM SET work_mem = '64kB'");
			await db.admin.query('SELECT pg_reload_conf()');
			await waitFor(observed, value => value === '64kB', 'the reload to reach the observer');
			const fresh = await connect(db.url, 'health-test-fresh');
			const low = await setting(fresh, 'work_mem');
			await fresh.end();
			expect(low).toMatchObject({shown: '64kB', bytes: 64 * 1024, source: 'configuration file'});

			const found = check(await health(db), 'setting.work_mem');
			expect(found.status).toBe('warning');
			expect(evidence(found, 'value')).toBe(low.shown);
			expect(evidence(found, 'recommended')).toBe('4MB'); // 2 GB / 512
			expect(evidence(found, 'source')).toBe(low.source);
			expect(evidence(found, 'applies after')).toBe('reload');
			expect(found.fix).toEqual({kind: 'settings', lines: ["ALTER SYSTEM SET work_mem = '4MB';", 'SELECT pg_reload_conf();'], note: null, action: null});

			await putBack(db.admin);
			await waitFor(observed, value => value === original.shown, 'the reset to reach the observer');
			const after = check(await health(db), 'setting.work_mem');
			expect(after).toMatchObject({status: 'ok', fix: null});
			expect(evidence(after, 'value')).toBe(original.shown);
		} finally {
			await putBack(db.admin);
		}
	});

	it('says a shared_buffers under half the recommendation needs a restart, not a reload (read only)', async () => {
		const db = await database('settings_read', {logs: false});
		const current = await setting(db.admin, 'shared_buffers');
		const found = check(await health(db), 'setting.shared_buffers');
		expect(evidence(found, 'value')).toBe(current.shown);
		expect(evidence(found, 'recommended')).toBe('512MB'); // 25% of 2 GB
		expect(evidence(found, 'applies after')).toBe('restart');
		expect(evidence(found, 'source')).toBe(current.source);
		const recommended = 512 * 1024 ** 2;
		if (current.bytes >= recommended / 2 && current.bytes <= 0.4 * 2 * 1024 ** 3) {
			expect(found).toMatchObject({status: 'ok', fix: null});
			return;
		}
		expect(found.status).toBe('warning');
		expect(found.fix).toMatchObject({kind: 'settings', lines: ["ALTER SYSTEM SET shared_buffers = '512MB';", '-- then restart PostgreSQL'], action: null});
		expect(found.fix!.lines.join('\n')).not.toContain('pg_reload_conf');
		expect(found.fix!.note).toContain('needs a restart of PostgreSQL');
		if (current.source === 'command line') expect(found.fix!.note).toContain('command line');
	});
});

describe('statements', () => {
	it('asks for CREATE EXTENSION where pg_stat_statements is missing, then lists the statements, and warns about a slow frequent one', async () => {
		const db = await database('statements');
		const {admin} = db;
		const {installed, preloaded, available} = await one<{installed: boolean; preloaded: boolean; available: boolean}>(
			admin,
			`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
				current_setting('shared_preload_libraries') ~ 'pg_stat_statements' AS preloaded,
				EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available`,
		);
		expect({installed, preloaded, available}).toEqual({installed: false, preloaded: true, available: true});

		const missing = await health(db);
		const extension = check(missing, 'statements.extension');
		expect(extension.status).toBe('warning');
		expect(evidence(extension, 'installed')).toBe(false);
		expect(evidence(extension, 'preloaded')).toBe(true);
		expect(evidence(extension, 'files available')).toBe(true);
		expect(extension.fix).toMatchObject({kind: 'sql', lines: ['CREATE EXTENSION pg_stat_statements;']});
		expect(extension.fix?.note).toContain(`in database ${db.name}`);
		expect(missing.checks.some(each => each.id === 'statements.top')).toBe(false);

		await admin.query('CREATE EXTENSION pg_stat_statements');
		const probes = 40;
		for (let n = 0; n < probes; n++) await admin.query('SELECT $1::int AS health_probe', [n]);
		const listed = await health(db);
		expect(listed.checks.some(each => each.id === 'statements.extension')).toBe(false);
		const top = check(listed, 'statements.top');
		expect(top).toMatchObject({status: 'ok', fix: null});
		expect(evidence(top, 'most calls #1')).toMatch(new RegExp(`^${probes} calls, .*: SELECT \\$1::int AS health_probe$`, 'u'));

		// Ten calls of a one-second statement, at once on ten sessions.
		const slow = await Promise.all(Array.from({length: 10}, async () => connect(db.url, 'slow-client')));
		await Promise.all(slow.map(async client => client.query('SELECT pg_sleep(1.05)')));
		const recorded = await one<{calls: number; mean: number}>(
			admin,
			versionNum >= 130_000
				? "SELECT calls::float8 AS calls, mean_exec_time::float8 AS mean FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query = 'SELECT pg_sleep($1)'"
				: "SELECT calls::float8 AS calls, mean_time::float8 AS mean FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query = 'SELECT pg_sleep($1)'",
		);
		expect(recorded.calls).toBe(10);
		expect(recorded.mean).toBeGreaterThanOrEqual(1000);
		const warned = check(await health(db), 'statements.top');
		expect(warned.status).toBe('warning');
		expect(warned.summary).toContain(`the worst: ${recorded.mean.toFixed(0)} ms × 10`);
		expect(evidence(warned, 'most time #1')).toMatch(new RegExp(`^10 calls, mean ${recorded.mean.toFixed(0)} ms, \\d+% of the time: SELECT pg_sleep\\(\\$1\\)$`, 'u'));
		// PostgreSQL 16+ shows the plan of a statement with $n without running it.
		expect(warned.fix).toMatchObject({kind: 'advice', lines: [versionNum >= 160_000 ? 'EXPLAIN (GENERIC_PLAN) SELECT pg_sleep($1);' : 'EXPLAIN SELECT pg_sleep($1);']});

		// Its numbers gone (this database's only: the server is shared), nothing is slow any more.
		await admin.query('SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)');
		expect(check(await health(db), 'statements.top')).toMatchObject({status: 'ok', fix: null});
	});
});
