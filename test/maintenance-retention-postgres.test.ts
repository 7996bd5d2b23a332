import pg from 'pg';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {openMaintenanceClient} from '../source/maintenance/maintenance-connection.js';
import {applyRetentionOn, planRetentionOn} from '../source/maintenance/maintenance-jobs.js';
import {openMaintenanceTarget} from '../source/maintenance/maintenance-target.js';
import {RetentionStoppedError} from '../source/maintenance/retention-batches.js';
import type {RetentionProgress} from '../source/maintenance/retention-plan.js';
import {applyPostgresRetention, planPostgresRetention, quotePostgresTable} from '../source/maintenance/retention-postgres.js';
import {vacuumTable} from '../source/maintenance/table-maintenance.js';
import {InputError} from '../source/usage/input-error.js';
import {freshDatabase} from './support/postgres-server.js';

// Retention of new-api's logs on a real PostgreSQL server. Every expectation is worked out here
// from the rows the test wrote, not by the code under test.

type Database = Awaited<ReturnType<typeof freshDatabase>>;
let database: Database;
let admin: pg.Client;
const clients: pg.Client[] = [];

async function connect(): Promise<pg.Client> {
	const client = new pg.Client({connectionString: database.url});
	client.on('error', () => undefined);
	await client.connect();
	clients.push(client);
	return client;
}

/** A maintenance connection as the CLI opens it, with short limits so a blocked batch fails fast. */
async function maintenance(lockTimeoutMs = 200, statementTimeoutMs = 5000): Promise<pg.Client> {
	const client = await openMaintenanceClient({connectionString: database.url}, {lockTimeoutMs, statementTimeoutMs});
	clients.push(client);
	return client;
}

beforeAll(async () => {
	database = await freshDatabase('relaytop_retention');
	admin = await connect();
});

afterEach(async () => {
	for (const client of clients.splice(1)) {
		await client.end().catch(() => undefined);
	}
});

afterAll(async () => {
	for (const client of clients.splice(0)) {
		await client.end().catch(() => undefined);
	}
	await database?.drop();
});

const NOW = Date.UTC(2026, 10, 1, 12, 0, 0, 789);
/** created_at is unix seconds: the cutoff floors to the second, and a row in that second stays. */
const CUTOFF = Math.floor((NOW - 30 * 86_400_000) / 1000);

interface Row {
	readonly id: number;
	readonly time: number | null;
}

const isOld = (row: Row) => row.time !== null && row.time < CUTOFF;
const sortIds = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);
const keptIds = (rows: readonly Row[]) => sortIds(rows.filter(row => !isOld(row)).map(row => row.id));

/**
 * Ids and times shaped like a real table, with the awkward cases: one second before the cutoff and
 * exactly at it, a new row among old ids and an old row above the new ones, a gap of a million ids,
 * a stretch where old and new alternate, and a row without a time.
 */
function layoutRows(): Row[] {
	const rows: Row[] = [];
	for (let id = 1; id <= 1200; id++) {
		rows.push({id, time: id === 11 ? CUTOFF + 100 : CUTOFF - 5000 + id});
	}
	rows.push({id: 1201, time: CUTOFF - 1}, {id: 1202, time: CUTOFF}, {id: 1500, time: null});
	for (let n = 0; n < 300; n++) {
		rows.push({id: 1_000_000 + n, time: n % 3 === 0 ? CUTOFF + n : CUTOFF - 300 + n});
	}
	for (let n = 0; n < 500; n++) {
		rows.push({id: 2_000_000 + n, time: CUTOFF + 10 + n});
	}
	rows.push({id: 2_000_600, time: CUTOFF - 86_400});
	return rows;
}

/** new-api's logs table as gorm creates it (in `schema` when given), filled with `rows` and analyzed. */
async function createLogs(rows: readonly Row[], options: {schema?: string; analyze?: boolean} = {}): Promise<string> {
	const table = options.schema === undefined ? 'logs' : `${options.schema}.logs`;
	await admin.query(`DROP TABLE IF EXISTS ${table}`);
	if (options.schema !== undefined) {
		await admin.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
		await admin.query(`SET search_path = ${options.schema}`);
	}
	try {
		await admin.query(NEWAPI_LOGS_POSTGRES_DDL);
		if (options.analyze === false) {
			await admin.query('ALTER TABLE logs SET (autovacuum_enabled = false)');
		}
		await admin.query(
			`INSERT INTO logs (id, user_id, created_at, type, content, username, model_name, other)
			SELECT u.id, 1, u.t, 2, rpad('request ' || u.id, 200, 'x'), 'alice', 'gpt-4o', '{}' FROM unnest($1::bigint[], $2::bigint[]) AS u(id, t)`,
			[rows.map(row => row.id), rows.map(row => row.time)],
		);
		await admin.query("SELECT setval(pg_get_serial_sequence('logs', 'id'), (SELECT max(id) FROM logs))");
		if (options.analyze !== false) {
			await admin.query('ANALYZE logs');
		}
	} finally {
		await admin.query('RESET search_path');
	}
	return table;
}

async function ids(table = 'logs'): Promise<number[]> {
	const {rows} = await admin.query<{id: string}>(`SELECT id FROM ${table} ORDER BY id`);
	return rows.map(row => Number(row.id));
}

async function tableStats(): Promise<{vacuums: number; analyzes: number}> {
	const {rows} = await admin.query<{vacuums: string; analyzes: string}>("SELECT vacuum_count AS vacuums, analyze_count AS analyzes FROM pg_stat_user_tables WHERE relid = 'logs'::regclass");
	return {vacuums: Number(rows[0]!.vacuums), analyzes: Number(rows[0]!.analyzes)};
}

/** Table statistics reach other sessions with a delay before PostgreSQL 15. */
async function statsAfter(changed: (stats: {vacuums: number; analyzes: number}) => boolean): Promise<{vacuums: number; analyzes: number}> {
	for (let attempt = 0; ; attempt++) {
		const stats = await tableStats();
		if (changed(stats) || attempt === 50) {
			return stats;
		}
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

/** A second session holding a row lock on `id` in an open transaction, as a gateway's long transaction might. */
async function lockRow(id: number): Promise<pg.Client> {
	const blocker = await connect();
	await blocker.query('BEGIN');
	await blocker.query('SELECT id FROM logs WHERE id = $1 FOR UPDATE', [id]);
	return blocker;
}

describe('table names', () => {
	it('quotes a table and a schema-qualified one, and refuses anything else', () => {
		expect(quotePostgresTable('logs')).toBe('"logs"');
		expect(quotePostgresTable('gw.logs')).toBe('"gw"."logs"');
		expect(quotePostgresTable('we"ird')).toBe('"we""ird"');
		for (const bad of ['', 'a.b.c', '.logs', 'logs.']) {
			expect(() => quotePostgresTable(bad)).toThrow(InputError);
		}
	});
});

describe('the maintenance connection', () => {
	it('has each commit on disk before it is told of it, even where the server runs with synchronous_commit off', async () => {
		const {name} = (await admin.query<{name: string}>('SELECT current_database() AS name')).rows[0]!;
		await admin.query(`ALTER DATABASE "${name}" SET synchronous_commit = off`);
		try {
			const plain = await connect();
			expect((await plain.query<{value: string}>("SELECT current_setting('synchronous_commit') AS value")).rows[0]!.value).toBe('off');
			const client = await maintenance();
			expect((await client.query<{value: string}>("SELECT current_setting('synchronous_commit') AS value")).rows[0]!.value).toBe('local');
		} finally {
			await admin.query(`ALTER DATABASE "${name}" RESET synchronous_commit`);
		}
		// Where it is on (or stricter), the server's own choice stands.
		const client = await maintenance();
		const {rows: [setting]} = await client.query<{value: string; reset: string}>("SELECT current_setting('synchronous_commit') AS value, reset_val AS reset FROM pg_settings WHERE name = 'synchronous_commit'");
		expect(setting!.value).toBe(setting!.reset === 'off' ? 'local' : setting!.reset);
	});
});

describe('the dry run', () => {
	it('counts the rows before the cutoff, their id range and bytes, lists the statements, and changes nothing', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		const before = await ids();
		const plan = await planPostgresRetention(admin, {keep: '30d', nowMs: NOW});
		expect(await ids()).toEqual(before);

		const old = rows.filter(isOld);
		expect(plan).toMatchObject({
			engine: 'postgres', store: 'newapi', table: 'logs', timeColumn: 'created_at', fts: null, vacuum: true,
			cutoffValue: CUTOFF, cutoffMs: CUTOFF * 1000, cutoffIso: new Date(CUTOFF * 1000).toISOString(),
			rows: old.length, minId: Math.min(...old.map(row => row.id)), maxId: Math.max(...old.map(row => row.id)),
		});
		const {rows: [size]} = await admin.query<{bytes: string; count: string}>("SELECT pg_total_relation_size('logs') AS bytes, (SELECT count(*) FROM logs) AS count");
		expect(plan.approxBytes).toBe(Math.round((old.length * Number(size!.bytes)) / Number(size!.count)));
		expect(plan.bytesBasis).toMatch(/pg_total_relation_size.*reltuples/u);
		expect(plan.statements).toEqual([
			'BEGIN',
			'SELECT txid_current() AS xid',
			`DELETE FROM "logs" WHERE id >= $1 AND id < $2 AND created_at < ${CUTOFF}`,
			'COMMIT',
			`SELECT id FROM "logs" WHERE id >= $1 AND id <= $2 AND created_at < ${CUTOFF} ORDER BY id LIMIT 1`,
			'SET statement_timeout = 0',
			"SET lock_timeout = '10s'",
			'VACUUM (ANALYZE) "logs"',
			"SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)",
		]);
	});

	it('on a table never analyzed, measures the old rows themselves', async () => {
		const rows = layoutRows();
		await createLogs(rows, {analyze: false});
		const plan = await planPostgresRetention(admin, {keep: '30d', nowMs: NOW});
		const {rows: [width]} = await admin.query<{avg: number}>(`SELECT avg(pg_column_size(l.*))::float8 AS avg FROM logs l WHERE created_at < ${CUTOFF}`);
		expect(plan.bytesBasis).toMatch(/never been analyzed/u);
		expect(plan.approxBytes! / (plan.rows * width!.avg)).toBeCloseTo(1, 1);
	});

	it('finds a schema-qualified table, and says so when there is none', async () => {
		const rows = layoutRows();
		await createLogs(rows, {schema: 'gw'});
		const plan = await planPostgresRetention(admin, {table: 'gw.logs', keep: '30d', nowMs: NOW, vacuum: false});
		expect(plan).toMatchObject({table: 'gw.logs', rows: rows.filter(isOld).length});
		expect(plan.statements).toContain('ANALYZE "gw"."logs"');
		const client = await maintenance();
		const result = await applyPostgresRetention(client, plan, {batchSize: 1000});
		expect(result).toMatchObject({status: 'done', vacuumed: false, analyzed: true});
		expect(await ids('gw.logs')).toEqual(keptIds(rows));
		await expect(planPostgresRetention(admin, {table: 'nowhere.logs', keep: '30d'})).rejects.toThrow(InputError);
		await admin.query('DROP SCHEMA gw CASCADE');
	});
});

describe('applying', () => {
	it('deletes exactly the rows before the cutoff (one second before goes, at the cutoff stays), then VACUUM (ANALYZE) with the timeout restored', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		const client = await maintenance();
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW});
		const stats = await tableStats();
		const progress: RetentionProgress[] = [];
		const result = await applyPostgresRetention(client, plan, {batchSize: 100, onProgress: entry => progress.push(entry)});

		expect(await ids()).toEqual(keptIds(rows));
		expect(keptIds(rows)).toEqual(expect.arrayContaining([11, 1202, 1500]));
		expect(await ids()).not.toContain(1201);
		expect(result).toMatchObject({status: 'done', deleted: rows.filter(isOld).length, retries: 0, vacuumed: true, analyzed: true, lastId: 2_000_600});
		// 13 windows for ids 1…1202, 3 for the 300 around 1,000,000, 1 for the old row at the top: the gaps cost nothing.
		expect(result.batches).toBe(17);
		expect(progress.map(entry => entry.phase)).toEqual([...Array<string>(17).fill('deleting'), 'vacuum', 'done']);
		expect(progress.at(-1)).toMatchObject({deleted: result.deleted, total: plan.rows, batches: 17});

		const after = await statsAfter(now => now.vacuums > stats.vacuums && now.analyzes > stats.analyzes);
		expect(after.vacuums).toBe(stats.vacuums + 1);
		expect(after.analyzes).toBe(stats.analyzes + 1);
		const {rows: [settings]} = await client.query<{st: string; lt: string}>("SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt");
		expect(settings).toEqual({st: '5s', lt: '200ms'});
	});

	it('VACUUM runs without the statement timeout: it may wait for its lock past it', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		// Another VACUUM or an index build holds this lock; the deletes do not need it, the VACUUM does.
		const holder = await connect();
		await holder.query('BEGIN');
		await holder.query('LOCK TABLE logs IN SHARE UPDATE EXCLUSIVE MODE');
		const client = await maintenance(5000, 1000);
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW});
		let release: NodeJS.Timeout | undefined;
		const result = await applyPostgresRetention(client, plan, {
			onProgress: ({phase}) => {
				if (phase === 'vacuum') release = setTimeout(() => void holder.query('ROLLBACK'), 1500);
			},
		});
		clearTimeout(release);
		expect(result).toMatchObject({status: 'done', vacuumed: true});
		expect(await ids()).toEqual(keptIds(rows));
		const {rows: [settings]} = await client.query<{st: string}>("SELECT current_setting('statement_timeout') AS st");
		expect(settings!.st).toBe('1s');
	});

	it('VACUUM outwaits a 1 s lock_timeout for its lock (an autovacuum gives way after deadlock_timeout), then both timeouts are back', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		// What a big delete sets off: another vacuum of the table, holding its lock for 2.5 s.
		const holder = await connect();
		await holder.query('BEGIN');
		await holder.query('LOCK TABLE logs IN SHARE UPDATE EXCLUSIVE MODE');
		const client = await maintenance(1000, 5000);
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW});
		let release: NodeJS.Timeout | undefined;
		const result = await applyPostgresRetention(client, plan, {
			lockRetries: 0,
			onProgress: ({phase}) => {
				if (phase === 'vacuum') release = setTimeout(() => void holder.query('ROLLBACK'), 2500);
			},
		});
		clearTimeout(release);
		expect(result).toMatchObject({status: 'done', vacuumed: true, retries: 0});
		const {rows: [settings]} = await client.query<{st: string; lt: string}>("SELECT current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt");
		expect(settings).toEqual({st: '5s', lt: '1s'});
	});

	it('interrupted after three batches, then resumed on a new connection with the reported cutoff, ends with exactly the rows to keep', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		const client = await maintenance();
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW});
		const controller = new AbortController();
		const stats = await tableStats();
		const first = await applyPostgresRetention(client, plan, {batchSize: 100, signal: controller.signal, onProgress: ({batches}) => batches === 3 && controller.abort()});
		expect(first).toMatchObject({status: 'interrupted', batches: 3, lastId: 300, vacuumed: false});
		expect(await ids()).toEqual(sortIds(rows.filter(row => !(isOld(row) && row.id <= 300)).map(row => row.id)));

		const again = await maintenance();
		const resumedPlan = await planPostgresRetention(again, {cutoff: first.cutoffIso, vacuum: false});
		expect(resumedPlan.cutoffValue).toBe(CUTOFF);
		const resumed = await applyPostgresRetention(again, resumedPlan, {batchSize: 100});
		expect(resumed).toMatchObject({status: 'done', vacuumed: false, analyzed: true});
		expect(first.deleted + resumed.deleted).toBe(plan.rows);
		expect(await ids()).toEqual(keptIds(rows));
		const after = await statsAfter(now => now.analyzes > stats.analyzes);
		expect(after).toEqual({vacuums: stats.vacuums, analyzes: stats.analyzes + 1});
	});

	it('a connection killed in the middle of a batch loses that batch whole; a rerun finishes', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		// The DELETE of ids 101–200 marks 101–149, then waits for 150: kill it there.
		const blocker = await lockRow(150);
		const client = await maintenance(30_000);
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW});
		const run = applyPostgresRetention(client, plan, {batchSize: 100}).catch((error: unknown) => error);
		for (let waited = 0; ; waited++) {
			const {rows: waiting} = await admin.query(
				"SELECT 1 FROM pg_stat_activity WHERE application_name = 'relaytop maintenance' AND datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'DELETE%'",
			);
			if (waiting.length > 0) break;
			expect(waited).toBeLessThan(200);
			await new Promise(resolve => setTimeout(resolve, 50));
		}
		await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relaytop maintenance' AND datname = current_database()");
		const error = await run;
		expect(error).toBeInstanceOf(RetentionStoppedError);
		expect((error as Error).message).toBe(
			`retention stopped: PostgreSQL went away during the batch of ids 101–200 (terminating connection due to administrator command); 99 rows deleted and committed (the batch in flight rolled back); run again with --cutoff ${plan.cutoffIso} to resume`,
		);
		expect((error as RetentionStoppedError).stop).toMatchObject({kind: 'lost', deleted: 99, inDoubt: 0, inFlight: {outcome: 'rolled back', confirmed: false}});
		await blocker.query('ROLLBACK');
		expect(await ids()).toEqual(sortIds(rows.filter(row => !(isOld(row) && row.id <= 100)).map(row => row.id)));

		const again = await maintenance();
		await applyPostgresRetention(again, await planPostgresRetention(again, {cutoff: (error as RetentionStoppedError).stop.cutoffIso, vacuum: false}), {batchSize: 100});
		expect(await ids()).toEqual(keptIds(rows));
	});

	it('an error on this side of a live connection stops the run as that error, rolls the batch back, and leaves the writer fit for the next job', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		const target = await openMaintenanceTarget(database.url);
		try {
			if (target.engine !== 'postgres') throw new Error(`a postgres:// URL opened as ${target.engine}`);
			const writer = await target.writer();
			const {rows: [backend]} = await writer.query<{pid: number}>('SELECT pg_backend_pid() AS pid');
			const plan = await planRetentionOn(target, {keep: '30d', nowMs: NOW});
			// The real connection, with a fault after the second batch's DELETE has run in its open
			// transaction: what a bug in handling an answer would throw. The connection stays up.
			const faulty = {
				async query(text: string, values?: unknown[]) {
					const result = await writer.query(text, values);
					if (/^DELETE\b/u.test(text) && values?.[0] === 101) throw new TypeError('the answer could not be handled');
					return result;
				},
			} as unknown as pg.Client;
			const error = await applyPostgresRetention(faulty, plan, {batchSize: 100, checkOn: target.observer}).catch((caught: unknown) => caught);
			expect(error).toBeInstanceOf(RetentionStoppedError);
			const firstBatch = rows.filter(row => isOld(row) && row.id <= 100).length;
			expect((error as RetentionStoppedError).stop).toMatchObject({kind: 'failed', deleted: firstBatch, inDoubt: 0, inFlight: null});
			expect((error as Error).message).toBe(
				`retention stopped: the batch of ids 101–200 failed: the answer could not be handled; ${firstBatch} rows deleted and committed; run again with --cutoff ${plan.cutoffIso} to resume`,
			);
			// Out of its transaction, the batch's row locks released.
			const {rows: [state]} = await admin.query<{state: string}>('SELECT state FROM pg_stat_activity WHERE pid = $1', [backend!.pid]);
			expect(state!.state).toBe('idle');
			expect(await ids()).toEqual(sortIds(rows.filter(row => !(isOld(row) && row.id <= 100)).map(row => row.id)));

			// The next jobs get the same connection: a VACUUM, which no transaction block may hold, then the rest of the run.
			expect(await target.writer()).toBe(writer);
			await vacuumTable(await target.writer(), 'logs');
			const resumed = await applyRetentionOn(target, await planRetentionOn(target, {cutoff: plan.cutoffIso, vacuum: false}), {batchSize: 100});
			expect(resumed.status).toBe('done');
			expect(await ids()).toEqual(keptIds(rows));
		} finally {
			await target.close();
		}
	});

	it('a batch blocked by a row lock fails at lock_timeout, is retried, and goes through once the lock is gone', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		const blocker = await lockRow(150);
		const client = await maintenance(200);
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW, vacuum: false});
		const release = setTimeout(() => void blocker.query('ROLLBACK'), 300);
		const result = await applyPostgresRetention(client, plan, {batchSize: 100, lockRetries: 5, retryBackoffMs: 100});
		clearTimeout(release);
		expect(result.status).toBe('done');
		expect(result.retries).toBeGreaterThan(0);
		expect(await ids()).toEqual(keptIds(rows));
	});

	it('stops with a clear error when the lock never comes; the blocked batch is untouched; a rerun finishes', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		const blocker = await lockRow(150);
		const client = await maintenance(200);
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW});
		const error = await applyPostgresRetention(client, plan, {batchSize: 100, lockRetries: 2, retryBackoffMs: 20}).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(RetentionStoppedError);
		const stopped = error as RetentionStoppedError;
		expect((stopped.cause as {code?: string}).code).toBe('55P03');
		expect(stopped.message).toBe(
			`retention stopped: the batch of ids 101–200 could not get its locks in 3 tries (canceling statement due to lock timeout); 99 rows deleted and committed; run again with --cutoff ${plan.cutoffIso} to resume`,
		);
		expect(stopped.stop.deleted).toBe(rows.filter(row => isOld(row) && row.id <= 100).length);
		await blocker.query('ROLLBACK');
		expect(await ids()).toEqual(sortIds(rows.filter(row => !(isOld(row) && row.id <= 100)).map(row => row.id)));

		await applyPostgresRetention(client, await planPostgresRetention(client, {cutoff: stopped.stop.cutoffIso}), {batchSize: 100});
		expect(await ids()).toEqual(keptIds(rows));
	});

	it('a concurrent writer keeps every row it writes at or after the cutoff; its old rows after the plan wait for the next run', async () => {
		const rows = layoutRows();
		await createLogs(rows);
		const client = await maintenance();
		const plan = await planPostgresRetention(client, {keep: '30d', nowMs: NOW});
		const writer = await connect();
		const written: Row[] = [];
		let writing = true;
		const times = [CUTOFF, CUTOFF + 1000, CUTOFF - 1001];
		const writes = (async () => {
			for (let n = 0; writing; n++) {
				const time = times[n % 3]!;
				const {rows: [inserted]} = await writer.query<{id: string}>("INSERT INTO logs (user_id, created_at, type, content) VALUES (7, $1, 2, 'writer') RETURNING id", [time]);
				written.push({id: Number(inserted!.id), time});
			}
		})();
		while (written.length < 10) {
			await new Promise(resolve => setTimeout(resolve, 5));
		}
		const before = written.length;
		const result = await applyPostgresRetention(client, plan, {batchSize: 20, pauseMs: 2});
		const during = written.length - before;
		writing = false;
		await writes;

		expect(result.status).toBe('done');
		expect(during).toBeGreaterThan(20);
		expect(written.every(row => row.id > plan.maxId!)).toBe(true);
		expect(await ids()).toEqual(sortIds([...rows.filter(row => !isOld(row)), ...written].map(row => row.id)));
		expect(written.filter(row => row.time === CUTOFF).length).toBeGreaterThan(0);

		const next = await applyPostgresRetention(client, await planPostgresRetention(client, {cutoff: result.cutoffIso, vacuum: false}), {});
		expect(next.deleted).toBe(written.filter(isOld).length);
		expect(await ids()).toEqual(sortIds([...rows, ...written].filter(row => !isOld(row)).map(row => row.id)));
	});
});
