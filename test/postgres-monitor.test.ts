import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {flattenBlockingTree} from '../source/postgres/monitor/blocking-tree.js';
import {NEWAPI_LOGS_INDEX_NEEDS, type IndexNeed} from '../source/postgres/monitor/index-needs.js';
import {ownCostBetween, readOwnStatementCost} from '../source/postgres/monitor/own-statement-cost.js';
import {PRELOAD_HINT, unavailableFromError, type PanelResult} from '../source/postgres/monitor/panel-result.js';
import {PostgresMonitor, type MonitorSnapshot, type PanelName} from '../source/postgres/monitor/postgres-monitor.js';
import {SQL_MARKER} from '../source/postgres/monitor/queryable.js';
import {extensionVersionAtLeast} from '../source/postgres/monitor/server-info.js';
import type {StatementStat} from '../source/postgres/monitor/statements-sampler.js';
import {freshDatabase, testPostgres} from './support/postgres-server.js';
import {flushStats, waitFor} from './support/postgres-waits.js';
import {NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';

const LOGS_DDL = NEWAPI_LOGS_POSTGRES_DDL;

const UPSTREAM_INDEXES = [
	'idx_created_at_id',
	'idx_created_at_type',
	'idx_logs_channel_id',
	'idx_logs_group',
	'idx_logs_ip',
	'idx_logs_model_name',
	'idx_logs_request_id',
	'idx_logs_token_id',
	'idx_logs_token_name',
	'idx_logs_upstream_request_id',
	'idx_logs_user_id',
	'idx_logs_username',
	'idx_user_id_id',
	'index_username_model_name',
	'logs_pkey',
];

const LOG_ROWS = 2000;
const DELETED_ROWS = 500;

let versionNum = 0;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let admin: pg.Client;
let monitorDb: pg.Client;
let statementsReady = false;
let extensionInstalled = false;
const opened: pg.Client[] = [];


/** A session like the caller's or a workload's; ended in afterAll. */
async function connect(applicationName: string, url = database.url, extra: pg.ClientConfig = {}): Promise<pg.Client> {
	const client = new pg.Client({connectionString: url, application_name: applicationName, ...extra});
	client.on('error', () => {}); // sessions terminated on purpose
	await client.connect();
	opened.push(client);
	return client;
}

/** What the caller does: application_name relaytop, statement_timeout and lock_timeout set. */
const connectAsRelaytop = async (url = database.url): Promise<pg.Client> => connect('relaytop', url, {statement_timeout: 10_000, lock_timeout: 2000});

const pidOf = async (client: pg.Client): Promise<number> => (await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

/** Sends a statement that will block or run long; its outcome is awaited (or ignored) later. */
const start = (client: pg.Client, text: string): Promise<unknown> => {
	const running = client.query(text);
	running.catch(() => {});
	return running;
};



function ok<T>(panel: PanelResult<T> | undefined): T {
	if (panel === undefined) throw new Error('panel missing');
	if (panel.status !== 'ok') throw new Error(`panel unavailable: ${panel.reason}: ${panel.message} (${panel.hint})`);
	return panel.data;
}

const snapshot = async (monitor: PostgresMonitor, panels?: readonly PanelName[]): Promise<MonitorSnapshot> => monitor.snapshot(monitorDb, panels);

beforeAll(async () => {
	versionNum = (await testPostgres()).versionNum;
	database = await freshDatabase('relaytop_pgmon');
	admin = await connect('pgmon-admin');
	await admin.query(LOGS_DDL);
	// Dead tuples must stay until the test vacuums: no autovacuum on logs.
	await admin.query('ALTER TABLE logs SET (autovacuum_enabled = false)');
	await admin.query(
		`INSERT INTO logs (user_id, created_at, type, username, model_name, quota, prompt_tokens, completion_tokens, channel_id, "group", token_id)
		SELECT i % 10, 1700000000 + (i % 100), CASE WHEN i % 7 = 0 THEN 5 ELSE 2 END, 'user' || (i % 10), 'gpt-4o', i, 10, 20, i % 3, 'default', i % 5
		FROM generate_series(1, ${LOG_ROWS}) AS i`,
	);
	await admin.query('CREATE TABLE locks_demo (id int PRIMARY KEY, n int NOT NULL DEFAULT 0)');
	await admin.query('INSERT INTO locks_demo (id) VALUES (1), (2), (3)');
	const preload = await admin.query<{loaded: boolean}>("SELECT current_setting('shared_preload_libraries') ~ 'pg_stat_statements' AS loaded");
	// CREATE EXTENSION works without the preload (the view then raises 55000).
	extensionInstalled = await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(
		() => true,
		() => false,
	);
	statementsReady = extensionInstalled && preload.rows[0]!.loaded;
	await flushStats(admin, versionNum);
	monitorDb = await connectAsRelaytop();
});

afterAll(async () => {
	await Promise.all(opened.map(async client => client.end().catch(() => {})));
	await database?.drop();
});

describe('server panel', () => {
	it('reads server info once, not on every refresh, and again while a panel is unavailable', async () => {
		// The real connection, counting the server-info query (it alone reads track_activity_query_size).
		let reads = 0;
		const counting = {
			query: (text: string, values?: unknown[]) => {
				if (text.includes('track_activity_query_size')) reads += 1;
				return monitorDb.query(text, values);
			},
		} as unknown as pg.Client;
		const monitor = new PostgresMonitor();
		for (let refresh = 0; refresh < 3; refresh++) await monitor.snapshot(counting, ['server', 'connections', 'tables']);
		expect(reads).toBe(1);
		// A panel the server will not give: statements, in a database where the extension was never created.
		const noExtension = await freshDatabase('relaytop_pgmon_noext');
		try {
			const other = await connectAsRelaytop(noExtension.url);
			let otherReads = 0;
			const countingOther = {
				query: (text: string, values?: unknown[]) => {
					if (text.includes('track_activity_query_size')) otherReads += 1;
					return other.query(text, values);
				},
			} as unknown as pg.Client;
			const watcher = new PostgresMonitor();
			const first = await watcher.snapshot(countingOther, ['server', 'statements']);
			expect(first.statements?.status).toBe('unavailable');
			await watcher.snapshot(countingOther, ['server', 'statements']);
			expect(otherReads).toBe(2); // re-read at once: a CREATE EXTENSION would show on the next refresh
			await other.end();
		} finally {
			await noExtension.drop();
		}
	});

	it('reports the version, max_connections and what this superuser may see', async () => {
		const server = ok((await snapshot(new PostgresMonitor(), ['server'])).server);
		const expected = (await admin.query<{max: string; version: string}>("SELECT current_setting('max_connections') AS max, current_setting('server_version') AS version")).rows[0]!;
		expect(server.versionNum).toBe(versionNum);
		expect(server.version).toBe(expected.version);
		expect(server.maxConnections).toBe(Number(expected.max));
		expect(server.database).toBe(database.name);
		expect(server.capabilities).toEqual({superuser: true, pgMonitor: true, pgReadAllStats: true, seesAllSessions: true});
		expect(server.statements.preloaded).toBe(statementsReady);
		if (statementsReady) {
			const ext = (await admin.query<{extversion: string}>("SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'")).rows[0]!;
			expect(server.statements).toEqual({installed: true, version: ext.extversion, schema: 'public', preloaded: true, available: null});
		}
	});
});

describe('tables panel', () => {
	it('shows dead tuples after deletes, then none after VACUUM', async () => {
		await admin.query(`DELETE FROM logs WHERE id <= ${DELETED_ROWS}`);
		await flushStats(admin, versionNum);
		const monitor = new PostgresMonitor();
		const tables = ok(
			(await waitFor(() => snapshot(monitor, ['tables']), s => s.tables?.status === 'ok' && s.tables.data.table?.nDeadTup === DELETED_ROWS, 'dead tuples in pg_stat_user_tables')).tables,
		);
		const logs = tables.table!;
		const sizes = (await admin.query<{total: string; heap: string}>("SELECT pg_total_relation_size('logs') AS total, pg_relation_size('logs') AS heap")).rows[0]!;
		expect(tables.requested).toBe('logs');
		expect(logs).toMatchObject({
			schema: 'public',
			name: 'logs',
			qualifiedName: 'logs',
			sizeBytes: Number(sizes.total),
			tableBytes: Number(sizes.heap),
			sizeRank: 1,
			locked: false,
			nLiveTup: LOG_ROWS - DELETED_ROWS,
			nDeadTup: DELETED_ROWS,
			deadRatio: DELETED_ROWS / LOG_ROWS,
			nModSinceAnalyze: LOG_ROWS + DELETED_ROWS,
			lastVacuumAtMs: null,
			lastAutovacuumAtMs: null,
			vacuumCount: 0,
			autovacuumEnabled: false,
		});
		if (versionNum >= 130_000) expect(logs.nInsSinceVacuum).toBe(LOG_ROWS);
		expect(logs.sizeBytes!).toBeGreaterThan(logs.tableBytes!);
		expect(tables.largest[0]!.name).toBe('logs');
		expect(tables.largest.map(table => table.name)).toContain('locks_demo');

		await admin.query('VACUUM logs');
		await flushStats(admin, versionNum);
		const vacuumed = ok(
			(await waitFor(() => snapshot(monitor, ['tables']), s => s.tables?.status === 'ok' && s.tables.data.table?.vacuumCount === 1, 'the vacuum in pg_stat_user_tables')).tables,
		).table!;
		expect(vacuumed.nDeadTup).toBe(0);
		expect(vacuumed.lastVacuumAtMs).toBeGreaterThan(Date.now() - 5 * 60_000);
	});

	it('finds a schema-qualified table and says null for a missing one', async () => {
		const found = ok((await new PostgresMonitor({table: 'public.locks_demo', largestTables: 1}).snapshot(monitorDb, ['tables'])).tables);
		expect(found.table).toMatchObject({name: 'locks_demo', qualifiedName: 'locks_demo'});
		expect(found.largest.map(table => table.name)).toEqual(['logs']);
		const missing = ok((await new PostgresMonitor({table: 'no_such_table'}).snapshot(monitorDb, ['tables'])).tables);
		expect(missing.table).toBeNull();
	});
});

describe('connections panel', () => {
	it('groups a pool of idle gateway connections by application, user and address', async () => {
		const pool = await Promise.all([1, 2, 3, 4, 5].map(async () => connect('fake-gateway')));
		const seen = (await pool[0]!.query<{user: string; addr: string | null}>('SELECT current_user AS user, host(client_addr) AS addr FROM pg_stat_activity WHERE pid = pg_backend_pid()')).rows[0]!;
		const connections = ok((await snapshot(new PostgresMonitor(), ['connections'])).connections);
		const group = connections.groups.find(item => item.applicationName === 'fake-gateway');
		expect(group).toEqual({
			applicationName: 'fake-gateway',
			usename: seen.user,
			clientAddr: seen.addr,
			total: 5,
			byState: {active: 0, idle: 5, idleInTransaction: 0, idleInTransactionAborted: 0, fastpathFunctionCall: 0, disabled: 0, unknown: 0},
		});
		expect(connections.byApplication.find(app => app.applicationName === 'fake-gateway')?.total).toBe(5);
		expect(connections.byApplication.map(app => app.applicationName)).not.toContain('relaytop');
		expect(connections.total).toBeGreaterThanOrEqual(6); // the pool and the admin session
		expect(connections.hidden).toBe(0);
		expect(connections.maxConnections).toBe(ok((await snapshot(new PostgresMonitor(), ['server'])).server).maxConnections);
		expect(connections.otherBackends.map(item => item.backendType)).toContain('checkpointer');
		await Promise.all(pool.map(async client => client.end()));
	});
});

describe('activity panel', () => {
	it("shows a long query with its age, and never relaytop's own sessions", async () => {
		const report = await connect('report-job');
		const ownOther = await connect('relaytop');
		const [reportPid, ownOtherPid, monitorPid] = await Promise.all([pidOf(report), pidOf(ownOther), pidOf(monitorDb)]);
		const sentAt = Date.now();
		start(report, 'SELECT pg_sleep(60)');
		start(ownOther, 'SELECT pg_sleep(60)');
		const monitor = new PostgresMonitor();
		const activity = ok(
			(
				await waitFor(
					() => snapshot(monitor, ['activity']),
					s => s.activity?.status === 'ok' && (s.activity.data.sessions.find(session => session.pid === reportPid)?.queryAgeS ?? 0) >= 1,
					'the long query',
				)
			).activity,
		);
		const session = activity.sessions.find(item => item.pid === reportPid)!;
		expect(session).toMatchObject({
			state: 'active',
			applicationName: 'report-job',
			query: 'SELECT pg_sleep(60)',
			visible: true,
			database: database.name,
			backendType: 'client backend',
			blockedBy: [],
			holdsXminHorizon: true, // the only snapshot in this database besides relaytop's own, which is left out
		});
		expect(activity.xminHorizon).toMatchObject({pid: reportPid, idleInTransaction: false});
		expect(session.queryAgeS!).toBeLessThanOrEqual((Date.now() - sentAt) / 1000 + 1);
		expect(session.xactAgeS!).toBeGreaterThanOrEqual(session.queryAgeS! - 0.01);
		const pids = activity.sessions.map(item => item.pid);
		expect(pids).not.toContain(ownOtherPid);
		expect(pids).not.toContain(monitorPid);
		expect(activity.sessions.some(item => item.applicationName === 'relaytop')).toBe(false);
		expect(activity.hint).toBeNull();
		await admin.query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = ANY($1)', [[reportPid, ownOtherPid]]);
	});

	it('builds the blocking tree from a held row lock and marks the idle-in-transaction session holding the xmin horizon', async () => {
		const snapshotHolder = await connect('xmin-holder');
		const holder = await connect('lock-holder');
		const waiter = await connect('lock-waiter');
		const waiter2 = await connect('lock-waiter-2');
		const [snapshotPid, holderPid, waiterPid, waiter2Pid] = [await pidOf(snapshotHolder), await pidOf(holder), await pidOf(waiter), await pidOf(waiter2)];
		let waiting: Promise<unknown> = Promise.resolve();
		let waiting2: Promise<unknown> = Promise.resolve();
		try {
			await snapshotHolder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
			await snapshotHolder.query('SELECT n FROM locks_demo WHERE id = 3');
			for (let i = 0; i < 3; i += 1) await admin.query('INSERT INTO locks_demo (id) VALUES ($1)', [100 + i]); // three xids after its snapshot
			await holder.query('BEGIN');
			await holder.query('UPDATE locks_demo SET n = n + 1 WHERE id = 1');
			const monitor = new PostgresMonitor();
			const blocked = (pid: number) => (s: MonitorSnapshot) => s.activity?.status === 'ok' && s.activity.data.sessions.some(session => session.pid === pid && session.blockedBy.length > 0);
			waiting = start(waiter, 'UPDATE locks_demo SET n = n + 1 WHERE id = 1');
			await waitFor(() => snapshot(monitor, ['activity']), blocked(waiterPid), 'the first waiter');
			waiting2 = start(waiter2, 'UPDATE locks_demo SET n = n + 10 WHERE id = 1');
			const activity = ok((await waitFor(() => snapshot(monitor, ['activity']), blocked(waiter2Pid), 'the second waiter')).activity);

			const byPid = new Map(activity.sessions.map(session => [session.pid, session]));
			expect(byPid.get(waiterPid)).toMatchObject({state: 'active', waitEventType: 'Lock', blockedBy: [holderPid], query: 'UPDATE locks_demo SET n = n + 1 WHERE id = 1'});
			expect(byPid.get(waiter2Pid)!.waitEventType).toBe('Lock');
			expect([holderPid, waiterPid]).toEqual(expect.arrayContaining([...byPid.get(waiter2Pid)!.blockedBy]));
			expect(byPid.get(holderPid)).toMatchObject({state: 'idle in transaction', blockedBy: [], query: 'UPDATE locks_demo SET n = n + 1 WHERE id = 1'});

			const root = activity.blockingTree.find(node => node.pid === holderPid);
			// Roots are cluster-wide; of our sessions only the holder is one.
			expect(activity.blockingTree.map(node => node.pid).filter(pid => [snapshotPid, holderPid, waiterPid, waiter2Pid].includes(pid))).toEqual([holderPid]);
			expect(root).toMatchObject({known: true, blockedTotal: 2});
			expect(root!.blocks.map(node => node.pid)).toContain(waiterPid);
			const below = flattenBlockingTree(root!.blocks).map(item => item.pid);
			expect(new Set(below)).toEqual(new Set([waiterPid, waiter2Pid]));

			expect(activity.xminHorizon).toMatchObject({pid: snapshotPid, state: 'idle in transaction', idleInTransaction: true, visible: true});
			expect(activity.xminHorizon!.ageXids).toBeGreaterThanOrEqual(4);
			expect(activity.sessions.filter(session => session.holdsXminHorizon).map(session => session.pid)).toEqual([snapshotPid]);
			expect(byPid.get(snapshotPid)!.xminAgeXids).toBe(activity.xminHorizon!.ageXids);
		} finally {
			await holder.query('ROLLBACK');
			await Promise.all([waiting, waiting2]);
			await snapshotHolder.query('COMMIT');
		}
	});
});

describe('indexes panel', () => {
	const userPagesByTime: IndexNeed = {name: 'user pages by time', columns: ['user_id', 'created_at']};

	it('lists the upstream indexes with columns, validity and size, and finds both hot queries served', async () => {
		const indexes = ok((await snapshot(new PostgresMonitor(), ['indexes'])).indexes);
		expect(indexes.table).toBe('logs');
		expect(indexes.indexes.map(index => index.name)).toEqual(UPSTREAM_INDEXES);
		const byName = new Map(indexes.indexes.map(index => [index.name, index]));
		expect(byName.get('idx_created_at_type')).toMatchObject({keyColumns: ['created_at', 'type'], valid: true, ready: true, unique: false, building: false, method: 'btree'});
		expect(byName.get('idx_logs_group')!.keyColumns).toEqual(['group']);
		expect(byName.get('logs_pkey')).toMatchObject({primary: true, unique: true, keyColumns: ['id']});
		const size = (await admin.query<{size: string}>("SELECT pg_relation_size('idx_user_id_id') AS size")).rows[0]!;
		expect(byName.get('idx_user_id_id')!.sizeBytes).toBe(Number(size.size));
		expect(indexes.needs).toEqual([
			{need: NEWAPI_LOGS_INDEX_NEEDS[0]!.name, status: 'served', servedBy: ['idx_created_at_type', 'idx_created_at_id'], complete: true, invalid: [], building: [], partial: []},
			{need: NEWAPI_LOGS_INDEX_NEEDS[1]!.name, status: 'served', servedBy: ['idx_user_id_id'], complete: true, invalid: [], building: [], partial: []},
		]);
	});

	it('reads expression and INCLUDE columns', async ({skip}) => {
		if (versionNum < 110_000) skip();
		await admin.query('CREATE INDEX idx_lower_model ON logs (lower(model_name), created_at DESC) INCLUDE (quota)');
		const indexes = ok((await snapshot(new PostgresMonitor(), ['indexes'])).indexes);
		const index = indexes.indexes.find(item => item.name === 'idx_lower_model')!;
		expect(index.columns).toEqual([
			{name: 'lower(model_name)', expression: true, included: false, descending: false},
			{name: 'created_at', expression: false, included: false, descending: true},
			{name: 'quota', expression: false, included: true, descending: false},
		]);
		expect(index.keyColumns).toEqual([null, 'created_at']);
		await admin.query('DROP INDEX idx_lower_model');
	});

	it('reports an index left INVALID by a failed CREATE UNIQUE INDEX CONCURRENTLY, and the need it would serve as invalid-only', async () => {
		// (user_id, created_at) repeats: user_id = i % 10, created_at = … + i % 100.
		await expect(admin.query('CREATE UNIQUE INDEX CONCURRENTLY idx_user_created_unique ON logs (user_id, created_at)')).rejects.toMatchObject({code: '23505'});
		const indexes = ok((await snapshot(new PostgresMonitor({indexNeeds: [userPagesByTime, ...NEWAPI_LOGS_INDEX_NEEDS]}), ['indexes'])).indexes);
		expect(indexes.indexes.find(index => index.name === 'idx_user_created_unique')).toMatchObject({valid: false, unique: true, building: false, buildPid: null, keyColumns: ['user_id', 'created_at']});
		expect(indexes.needs[0]).toEqual({need: 'user pages by time', status: 'invalid-only', servedBy: [], complete: false, invalid: ['idx_user_created_unique'], building: [], partial: []});
		expect(indexes.needs[2]).toMatchObject({status: 'served', servedBy: ['idx_user_id_id'], invalid: ['idx_user_created_unique']});
		await admin.query('DROP INDEX idx_user_created_unique');
	});

	it('shows a CREATE INDEX CONCURRENTLY waiting for a writer: progress, the locker pid, and the index as building', async ({skip}) => {
		if (versionNum < 120_000) skip();
		const writer = await connect('open-writer');
		await writer.query('BEGIN');
		await writer.query('UPDATE logs SET quota = quota WHERE id = 1000');
		const builder = await connect('index-builder');
		const [writerPid, builderPid] = await Promise.all([pidOf(writer), pidOf(builder)]);
		const building = start(builder, 'CREATE INDEX CONCURRENTLY idx_user_created ON logs (user_id, created_at)');
		const monitor = new PostgresMonitor({indexNeeds: [userPagesByTime]});
		try {
			const seen = await waitFor(
				() => snapshot(monitor, ['progress', 'indexes']),
				// The catalog row can show a few milliseconds after the progress row names the index: wait for both.
				s =>
					s.progress?.status === 'ok' &&
					s.progress.data.createIndexes.some(row => row.pid === builderPid && row.currentLockerPid === writerPid) &&
					s.indexes?.status === 'ok' &&
					s.indexes.data.indexes.some(index => index.name === 'idx_user_created'),
				'the index build waiting for the writer',
			);
			const progress = ok(seen.progress).createIndexes.find(row => row.pid === builderPid)!;
			expect(progress).toMatchObject({database: database.name, relation: 'logs', index: 'idx_user_created', command: 'CREATE INDEX CONCURRENTLY', currentLockerPid: writerPid});
			expect(progress.phase).toMatch(/^waiting for/u);
			const indexes = ok(seen.indexes);
			expect(indexes.indexes.find(index => index.name === 'idx_user_created')).toMatchObject({valid: false, building: true, buildPid: builderPid});
			expect(indexes.needs[0]).toMatchObject({status: 'building', building: ['idx_user_created']});

		} finally {
			await writer.query('ROLLBACK');
			await building;
		}
		const after = ok((await snapshot(monitor, ['indexes'])).indexes);
		expect(after.needs[0]).toMatchObject({status: 'served', servedBy: ['idx_user_created']});
		await admin.query('DROP INDEX idx_user_created');
	});
});

describe('progress panel', () => {
	it('shows a VACUUM (FREEZE) waiting for a page a cursor keeps pinned', async () => {
		await admin.query('CREATE TABLE vac_demo AS SELECT i AS id, repeat(\'x\', 200) AS pad FROM generate_series(1, 2000) AS i');
		const reader = await connect('cursor-reader');
		await reader.query('BEGIN');
		await reader.query('DECLARE pinned CURSOR FOR SELECT * FROM vac_demo');
		await reader.query('FETCH 1 FROM pinned');
		const vacuumer = await connect('manual-vacuum');
		const vacuumerPid = await pidOf(vacuumer);
		const vacuuming = start(vacuumer, 'VACUUM (FREEZE) vac_demo');
		try {
			const seen = await waitFor(
				() => snapshot(new PostgresMonitor(), ['progress']),
				s => s.progress?.status === 'ok' && s.progress.data.vacuums.some(row => row.pid === vacuumerPid),
				'the vacuum in pg_stat_progress_vacuum',
			);
			const row = ok(seen.progress).vacuums.find(item => item.pid === vacuumerPid)!;
			const pages = (await admin.query<{pages: string}>("SELECT pg_relation_size('vac_demo') / current_setting('block_size')::int AS pages")).rows[0]!;
			expect(row).toMatchObject({database: database.name, relation: 'vac_demo', autovacuum: false, heapBlksTotal: Number(pages.pages)});
			expect(row.phase).toBe('scanning heap');
			expect(row.scannedPct).toBeGreaterThanOrEqual(0);
			expect(row.scannedPct).toBeLessThan(100);
		} finally {
			await reader.query('COMMIT');
			await vacuuming;
		}
	});
});

describe('database panel', () => {
	it('counts transactions, temp files and a deadlock between two samples on the server clock', async () => {
		const monitor = new PostgresMonitor();
		const first = ok((await snapshot(monitor, ['database'])).database);
		expect(first.interval).toBeNull();
		expect(first.database).toBe(database.name);

		const work = await connect('tps-work');
		for (let i = 0; i < 20; i += 1) await work.query('SELECT 1');
		await work.query("SET work_mem = '64kB'");
		await work.query('SELECT i FROM generate_series(1, 200000) AS i ORDER BY i DESC OFFSET 199999');
		const a = await connect('deadlock-a');
		const b = await connect('deadlock-b');
		await a.query('BEGIN');
		await b.query('BEGIN');
		await a.query('UPDATE locks_demo SET n = n + 1 WHERE id = 1');
		await b.query('UPDATE locks_demo SET n = n + 1 WHERE id = 2');
		const outcomes = await Promise.allSettled([a.query('UPDATE locks_demo SET n = n + 1 WHERE id = 2'), b.query('UPDATE locks_demo SET n = n + 1 WHERE id = 1')]);
		expect(outcomes.filter(outcome => outcome.status === 'rejected').map(outcome => (outcome as PromiseRejectedResult).reason.code)).toEqual(['40P01']);
		await a.query('ROLLBACK');
		await b.query('ROLLBACK');
		await Promise.all([work, a, b].map(flushStats));

		let deadlocks = 0;
		let tempFiles = 0;
		const reached = await waitFor(
			async () => {
				const data = ok((await snapshot(monitor, ['database'])).database);
				deadlocks += data.interval?.deadlocks ?? 0;
				tempFiles += data.interval?.tempFiles ?? 0;
				return data;
			},
			data => data.counters.xactCommit - first.counters.xactCommit >= 21 && data.counters.deadlocks > first.counters.deadlocks && data.counters.tempFiles > first.counters.tempFiles,
			'the workload in pg_stat_database',
		);
		expect(deadlocks).toBe(1);
		expect(tempFiles).toBeGreaterThanOrEqual(1);
		expect(reached.counters.deadlocks - first.counters.deadlocks).toBe(1);
		const interval = reached.interval!;
		expect(interval.restarted).toBe(false);
		expect(interval.seconds).toBeGreaterThan(0);
		expect(interval.tps).toBeGreaterThan(0);
		expect(reached.cacheHitRatio).toBeGreaterThan(0);
		expect(reached.cacheHitRatio).toBeLessThanOrEqual(1);
	});
});

describe('statements panel', () => {
	const PROBE = 'SELECT $1::int AS relaytop_test_probe';
	const probe = (stats: readonly StatementStat[]): StatementStat | undefined => stats.find(stat => stat.query === PROBE);
	const runProbe = async (client: pg.Client, times: number): Promise<void> => {
		for (let i = 0; i < times; i += 1) await client.query(PROBE, [i]);
	};

	it('gives calls and rates from deltas between samples, and no negative rate after pg_stat_statements_reset()', async ({skip}) => {
		if (!statementsReady) skip();
		const monitor = new PostgresMonitor({statements: {limit: 500}});
		const work = await connect('statements-work');
		const server = ok((await snapshot(monitor, ['server'])).server);
		const first = ok((await snapshot(monitor, ['statements'])).statements);
		expect(first.intervalS).toBeNull();
		expect(first.totalColumn).toBe(extensionVersionAtLeast(server.statements.version, 1, 8) ? 'total_exec_time' : 'total_time');
		const costBefore = await readOwnStatementCost(monitorDb, server);

		await runProbe(work, 5);
		const second = ok((await snapshot(monitor, ['statements'])).statements);
		const appeared = probe(second.top)!;
		expect(appeared).toMatchObject({calls: 5, own: false});
		expect(appeared.interval).toMatchObject({calls: 5, appeared: true, restarted: false});
		expect(appeared.interval!.callsPerS).toBeCloseTo(5 / second.intervalS!, 6);
		expect(appeared.interval!.callsPerS).toBeGreaterThan(0);
		expect(second.totals.callsPerS).toBeGreaterThan(0);
		// The monitor's own statements carry the marker and are flagged.
		expect(second.top.some(stat => stat.own && stat.query!.includes(SQL_MARKER) && stat.query!.includes('pg_stat_statements'))).toBe(true);

		await runProbe(work, 7);
		const third = ok((await snapshot(monitor, ['statements'])).statements);
		const grown = probe(third.top)!;
		expect(grown.calls).toBe(12);
		expect(grown.interval).toMatchObject({calls: 7, appeared: false, restarted: false, seconds: third.intervalS});
		expect(grown.interval!.rows).toBe(7);

		const costAfter = await readOwnStatementCost(monitorDb, server);
		const cost = ownCostBetween(costBefore, costAfter)!;
		expect(cost.calls).toBeGreaterThanOrEqual(3); // two numbers queries and the first cost reading, at least
		expect(cost.totalMs).toBeGreaterThan(0);
		expect(costAfter.entries.length).toBeGreaterThan(0);

		// Reset this database's entries (1.7+; the whole view before), then run the probe fewer times than before.
		if (extensionVersionAtLeast(server.statements.version, 1, 7)) {
			await admin.query('SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)');
		} else {
			await admin.query('SELECT pg_stat_statements_reset()');
		}
		await runProbe(work, 3);
		const fourth = ok((await snapshot(monitor, ['statements'])).statements);
		const restarted = probe(fourth.top)!;
		expect(restarted.calls).toBe(3);
		expect(restarted.interval).toMatchObject({calls: 3, restarted: true});
		for (const stat of fourth.top) {
			for (const value of [stat.interval!.calls, stat.interval!.totalMs, stat.interval!.rows, stat.interval!.callsPerS, stat.interval!.msPerS]) expect(value).toBeGreaterThanOrEqual(0);
		}
		expect(fourth.totals.callsPerS).toBeGreaterThanOrEqual(0);
		expect(fourth.totals.msPerS).toBeGreaterThanOrEqual(0);
	});
});

describe('statements panel without the preload', () => {
	it('says to preload the library, and maps the server\'s own 55000 error the same way', async ({skip}) => {
		if (statementsReady || !extensionInstalled) skip();
		const snap = await snapshot(new PostgresMonitor(), ['statements', 'tables']);
		expect(snap.statements).toEqual({
			status: 'unavailable',
			reason: 'not-preloaded',
			sqlstate: null,
			message: 'pg_stat_statements is installed but its library is not loaded',
			hint: PRELOAD_HINT,
		});
		expect(ok(snap.tables).table?.name).toBe('logs');
		const error: unknown = await admin.query('SELECT calls FROM pg_stat_statements LIMIT 1').then(
			() => null,
			(reason: unknown) => reason,
		);
		expect(unavailableFromError(error, {statements: true})).toMatchObject({reason: 'not-preloaded', sqlstate: '55000', hint: PRELOAD_HINT});
	});
});

describe('a role without pg_monitor', () => {
	const role = `relaytop_mon_${process.pid}_${Date.now().toString(36)}`;
	const ROLE_PASSWORD = 'monitor-test-password';
	let noExtension: Awaited<ReturnType<typeof freshDatabase>> | undefined;
	const roleUrl = (url: string): string => {
		const parsed = new URL(url);
		parsed.username = role;
		parsed.password = ROLE_PASSWORD; // servers that check passwords (scram) as well as trust ones
		return parsed.toString();
	};

	const roleClients: pg.Client[] = [];
	const connectAsRole = async (url: string): Promise<pg.Client> => {
		const client = await connectAsRelaytop(roleUrl(url));
		roleClients.push(client);
		return client;
	};

	afterAll(async () => {
		await Promise.all(roleClients.map(async client => client.end().catch(() => {})));
		await noExtension?.drop();
		const {url} = await testPostgres();
		const cleanup = new pg.Client({connectionString: url});
		await cleanup.connect();
		try {
			await cleanup.query(`DROP ROLE IF EXISTS ${role}`);
		} finally {
			await cleanup.end();
		}
	});

	it('sees its panels, other sessions hidden with a hint, and nothing throws', async () => {
		await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${ROLE_PASSWORD}'`);
		// A superuser session with an xid the role may not see the query of.
		const hidden = await connect('superuser-writer');
		await hidden.query('BEGIN');
		await hidden.query('UPDATE locks_demo SET n = n + 1 WHERE id = 3');
		const hiddenPid = await pidOf(hidden);
		const roleDb = await connectAsRole(database.url);
		const monitor = new PostgresMonitor();
		const snap = await monitor.snapshot(roleDb);

		expect(ok(snap.server).capabilities).toEqual({superuser: false, pgMonitor: false, pgReadAllStats: false, seesAllSessions: false});
		const connections = ok(snap.connections);
		expect(connections.hidden).toBeGreaterThan(0);
		expect(connections.groups.find(group => group.applicationName === 'superuser-writer')).toMatchObject({clientAddr: null, total: 1, byState: {unknown: 1}});

		const activity = ok(snap.activity);
		expect(activity.hint).toBe(`other roles' sessions show no query, state or client: GRANT pg_monitor TO ${role}; (as a superuser)`);
		const session = activity.sessions.find(item => item.pid === hiddenPid);
		expect(session).toMatchObject({visible: false, query: null, state: null, holdsXminHorizon: true});
		expect(activity.xminHorizon).toMatchObject({pid: hiddenPid, visible: false});
		expect(activity.sessions.some(item => item.query === '<insufficient privilege>')).toBe(false);

		expect(ok(snap.tables).table).toMatchObject({name: 'logs', nLiveTup: LOG_ROWS - DELETED_ROWS});
		expect(ok(snap.indexes).needs.map(need => need.status)).toEqual(['served', 'served']);
		expect(ok(snap.database).database).toBe(database.name);
		expect(ok(snap.progress).createIndexes).toEqual([]);
		if (statementsReady) {
			const statements = ok(snap.statements);
			expect(statements.hidden.statements).toBeGreaterThan(0);
			expect(statements.hint).toContain(`GRANT pg_monitor TO ${role}`);
			// Its own statements (the monitor's, marked) are listed with their text.
			expect(statements.top.some(stat => stat.own && stat.query!.includes('pg_stat_activity'))).toBe(true);
			expect(statements.top.some(stat => stat.query === '<insufficient privilege>')).toBe(false);
		} else {
			expect(snap.statements).toMatchObject({status: 'unavailable', reason: extensionInstalled ? 'not-preloaded' : 'extension-missing'});
		}
		await hidden.query('ROLLBACK');
	});

	it('says what to grant when pg_stat_statements is revoked, and what to install where it is missing', async ({skip}) => {
		if (!statementsReady) skip();
		const roleDb = await connectAsRole(database.url);
		await admin.query('REVOKE EXECUTE ON FUNCTION pg_stat_statements(boolean) FROM PUBLIC');
		try {
			const revoked = (await new PostgresMonitor().snapshot(roleDb, ['statements', 'connections'])).statements;
			expect(revoked).toMatchObject({status: 'unavailable', reason: 'privilege', sqlstate: '42501'});
			expect(revoked?.status === 'unavailable' && revoked.hint).toBe(`GRANT EXECUTE ON FUNCTION public.pg_stat_statements(boolean) TO ${role}; or GRANT pg_monitor TO ${role}; (as a superuser)`);
		} finally {
			await admin.query('GRANT EXECUTE ON FUNCTION pg_stat_statements(boolean) TO PUBLIC');
		}

		noExtension = await freshDatabase('relaytop_pgmon_noext');
		const bare = await connectAsRole(noExtension.url);
		const snap = await new PostgresMonitor().snapshot(bare);
		expect(snap.statements, JSON.stringify(snap.server)).toMatchObject({status: 'unavailable', reason: 'extension-missing'});
		expect(snap.statements?.status === 'unavailable' && snap.statements.hint).toBe(`CREATE EXTENSION pg_stat_statements; (as a superuser, in database ${noExtension.name})`);
		expect(ok(snap.tables).table).toBeNull();
		expect(ok(snap.indexes)).toEqual({requested: 'logs', table: null, indexes: [], needs: []});
		expect(ok(snap.connections).total).toBeGreaterThan(0);
		await bare.end();
	});
});
