import {spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {createInterface} from 'node:readline';
import Database from 'better-sqlite3';
import {afterAll, afterEach, describe, expect, it} from 'vitest';
import {CPA_DDL} from '../source/fixtures/cpa-schema.js';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {LOGS_DDL} from '../source/fixtures/newapi-schema.js';
import {openSqliteWritable} from '../source/maintenance/open-sqlite-writable.js';
import {RetentionStoppedError} from '../source/maintenance/retention-batches.js';
import type {RetentionProgress} from '../source/maintenance/retention-plan.js';
import {applySqliteRetention, planSqliteRetention} from '../source/maintenance/retention-sqlite.js';
import {InputError} from '../source/usage/input-error.js';

// Retention on real SQLite files: new-api's logs (created_at in seconds, rollback journal) and a
// CPA-Manager store (timestamp_ms, WAL, full-text index with only an insert trigger). Every
// expectation is worked out here from the rows the test wrote, not by the code under test.

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-retention-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

const open: Database.Database[] = [];
afterEach(() => {
	for (const db of open.splice(0)) {
		db.close();
	}
});
const track = (db: Database.Database) => (open.push(db), db);

const NOW = Date.UTC(2026, 10, 1, 12, 0, 0, 789);
const KEEP_MS = 30 * 86_400_000;
/** The cutoffs as the column holds them: new-api floors to the second (a row in the cutoff second stays). */
const CUTOFF = {newapi: Math.floor((NOW - KEEP_MS) / 1000), cpa: NOW - KEEP_MS};

interface Row {
	readonly id: number;
	readonly time: number | null;
}

const isOld = (row: Row, cutoff: number) => row.time !== null && row.time < cutoff;
const sortIds = (ids: Iterable<number>) => [...ids].sort((a, b) => a - b);

/**
 * Ids and times shaped like a real table, with the awkward cases: one unit before the cutoff and
 * exactly at it, a new row among old ids and an old row above the new ones, a gap of a million ids,
 * a stretch where old and new alternate, and (new-api only) a row without a time.
 */
function layoutRows(cutoff: number, withNullTime: boolean): Row[] {
	const rows: Row[] = [];
	for (let id = 1; id <= 1200; id++) {
		rows.push({id, time: id === 11 ? cutoff + 100 : cutoff - 5000 + id});
	}
	rows.push({id: 1201, time: cutoff - 1}, {id: 1202, time: cutoff});
	if (withNullTime) {
		rows.push({id: 1500, time: null});
	}
	for (let n = 0; n < 300; n++) {
		rows.push({id: 1_000_000 + n, time: n % 3 === 0 ? cutoff + n : cutoff - 300 + n});
	}
	for (let n = 0; n < 500; n++) {
		rows.push({id: 2_000_000 + n, time: cutoff + 10 + n});
	}
	rows.push({id: 2_000_600, time: cutoff - 86_400});
	return rows;
}

function newApiStore(name: string, rows: readonly Row[]): string {
	const path = join(scratch, `${name}.db`);
	const db = new Database(path);
	for (const statement of LOGS_DDL) {
		db.exec(statement);
	}
	const insert = db.prepare("INSERT INTO logs (id, user_id, created_at, type, content, username, model_name, other) VALUES (?, 1, ?, 2, ?, 'alice', 'gpt-4o', '{}')");
	db.transaction(() => rows.forEach(row => insert.run(row.id, row.time, `request ${row.id} `.padEnd(200, 'x'))))();
	db.close();
	return path;
}

const CPA_INSERT = "INSERT INTO usage_events (id, event_hash, timestamp_ms, timestamp, model, provider, account_snapshot, created_at_ms) VALUES (?, ?, ?, '', 'gpt-5', 'codex', ?, 0)";

/** A CPA store; `orphans` are events then deleted behind the index's back, as a naive cleanup would. */
function cpaStore(name: string, rows: readonly Row[], orphans: readonly number[] = []): string {
	const path = join(scratch, `${name}.sqlite`);
	const db = new Database(path);
	db.pragma('journal_mode = WAL');
	for (const statement of CPA_DDL) {
		db.exec(statement);
	}
	const insert = db.prepare(CPA_INSERT);
	db.transaction(() => rows.forEach(row => insert.run(row.id, `hash-${row.id}`, row.time, `acct${row.id}`)))();
	const drop = db.prepare('DELETE FROM usage_events WHERE id = ?');
	orphans.forEach(id => drop.run(id));
	db.close();
	return path;
}

const ids = (db: Database.Database, table: string): number[] => db.prepare(`SELECT id FROM "${table}" ORDER BY id`).pluck().all() as number[];

/** The index holds exactly one row per event, and FTS5 agrees that its index matches its content. */
function expectFtsConsistent(db: Database.Database): void {
	const indexed = db.prepare('SELECT event_id FROM usage_events_fts').pluck().all() as number[];
	expect(sortIds(indexed)).toEqual(ids(db, 'usage_events'));
	db.exec("INSERT INTO usage_events_fts(usage_events_fts) VALUES ('integrity-check')");
}

const searchFinds = (db: Database.Database, account: string): number[] =>
	db.prepare('SELECT id FROM usage_events WHERE id IN (SELECT event_id FROM usage_events_fts WHERE usage_events_fts MATCH ?)').pluck().all(account) as number[];

const fileDigest = (path: string) => ['', '-wal'].map(suffix => (existsSync(path + suffix) ? createHash('sha256').update(readFileSync(path + suffix)).digest('hex') : null));

describe('the dry run', () => {
	it('counts the new-api rows before the cutoff, their ids and bytes, and changes nothing', () => {
		const rows = layoutRows(CUTOFF.newapi, true);
		const path = newApiStore('dry-newapi', rows);
		const db = track(openSqliteWritable(path, 1000));
		const before = fileDigest(path);
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW});
		expect(fileDigest(path)).toEqual(before);

		const old = rows.filter(row => isOld(row, CUTOFF.newapi));
		expect(plan).toMatchObject({
			engine: 'sqlite', store: 'newapi', table: 'logs', timeColumn: 'created_at', fts: null, vacuum: false,
			cutoffValue: CUTOFF.newapi, cutoffMs: CUTOFF.newapi * 1000, cutoffIso: new Date(CUTOFF.newapi * 1000).toISOString(),
			rows: old.length, minId: Math.min(...old.map(row => row.id)), maxId: Math.max(...old.map(row => row.id)),
		});
		const pragma = (name: string) => db.pragma(name, {simple: true}) as number;
		const used = (pragma('page_count') - pragma('freelist_count')) * pragma('page_size');
		expect(plan.approxBytes).toBe(Math.round((old.length * used) / rows.length));
		expect(plan.statements).toContain(`DELETE FROM "logs" WHERE id >= ? AND id < ? AND created_at < ${CUTOFF.newapi}`);
		expect(plan.statements).toEqual(expect.arrayContaining(['BEGIN IMMEDIATE', 'COMMIT', 'PRAGMA analysis_limit = 1000; ANALYZE "logs"']));
		expect(plan.statements).not.toContain('VACUUM');
	});

	it('on a CPA store also counts the index rows that go and the orphans, and changes nothing', () => {
		const rows = layoutRows(CUTOFF.cpa, false);
		const orphans = [5, 1_000_001, 2_000_100];
		const path = cpaStore('dry-cpa', [...rows, {id: 2_000_700, time: CUTOFF.cpa + 1}], [...orphans, 2_000_700]);
		const db = track(openSqliteWritable(path, 1000));
		const before = fileDigest(path);
		const plan = planSqliteRetention(db, {store: 'cpa', cutoff: new Date(CUTOFF.cpa).toISOString(), nowMs: NOW, vacuum: true});
		expect(fileDigest(path)).toEqual(before);

		const old = rows.filter(row => isOld(row, CUTOFF.cpa) && !orphans.includes(row.id));
		// 2_000_700 was the last event: max(id) no longer shows it, sqlite_sequence does.
		expect(plan).toMatchObject({store: 'cpa', table: 'usage_events', cutoffValue: CUTOFF.cpa, rows: old.length, fts: {rows: old.length, orphans: 4, idHorizon: 2_000_700}, vacuum: true});
		expect(plan.statements).toContain(`DELETE FROM "usage_events" WHERE id >= ? AND id < ? AND timestamp_ms < ${CUTOFF.cpa} AND id <= 2000600`);
		expect(plan.statements.at(-2)).toBe('VACUUM');
		expect(plan.statements.some(statement => /CREATE TRIGGER/iu.test(statement))).toBe(false);
	});

	it('says which store it expected when the table is not there', () => {
		const db = track(openSqliteWritable(cpaStore('wrong-store', []), 1000));
		expect(() => planSqliteRetention(db, {store: 'newapi', keep: '30d'})).toThrow(InputError);
		expect(() => planSqliteRetention(db, {store: 'newapi', keep: '30d'})).toThrow('no logs table: not a new-api store');
	});
});

describe('new-api logs', () => {
	it('deletes exactly the rows before the cutoff: one second before goes, at the cutoff stays; then ANALYZE', async () => {
		const rows = layoutRows(CUTOFF.newapi, true);
		const db = track(openSqliteWritable(newApiStore('cutoff-newapi', rows), 1000));
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW});
		const progress: RetentionProgress[] = [];
		const result = await applySqliteRetention(db, plan, {batchSize: 100, onProgress: entry => progress.push(entry)});

		const kept = rows.filter(row => !isOld(row, CUTOFF.newapi)).map(row => row.id);
		expect(ids(db, 'logs')).toEqual(sortIds(kept));
		expect(kept).toEqual(expect.arrayContaining([1202, 1500, 11]));
		expect(ids(db, 'logs')).not.toContain(1201);
		expect(result).toMatchObject({status: 'done', deleted: rows.length - kept.length, ftsDeleted: 0, retries: 0, vacuumed: false, analyzed: true, cutoffIso: plan.cutoffIso});
		// 13 windows for ids 1…1202, 3 for the 300 around 1,000,000, 1 for the old row at the top: the gaps cost nothing.
		expect(result.batches).toBe(17);
		expect(progress.map(entry => entry.phase)).toEqual([...Array<string>(17).fill('deleting'), 'analyze', 'done']);
		expect(progress.at(-1)).toMatchObject({deleted: result.deleted, total: plan.rows, batches: 17, lastId: 2_000_600});
		expect(progress.every(entry => entry.ratePerSecond >= 0 && entry.elapsedMs >= 0)).toBe(true);
		expect(db.prepare("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'logs'").pluck().get()).toBeGreaterThan(0);
	});

	it('interrupted after three batches, then resumed with the reported cutoff, ends with exactly the rows to keep', async () => {
		const rows = layoutRows(CUTOFF.newapi, true);
		const path = newApiStore('interrupt-newapi', rows);
		const db = track(openSqliteWritable(path, 1000));
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW});
		const controller = new AbortController();
		const first = await applySqliteRetention(db, plan, {
			batchSize: 100,
			signal: controller.signal,
			onProgress: ({batches}) => batches === 3 && controller.abort(),
		});
		expect(first).toMatchObject({status: 'interrupted', batches: 3, lastId: 300, analyzed: false});
		// Whole batches only: the old rows up to id 300 are gone, every other row is there.
		expect(ids(db, 'logs')).toEqual(sortIds(rows.filter(row => !(isOld(row, CUTOFF.newapi) && row.id <= 300)).map(row => row.id)));
		expect(first.deleted).toBe(rows.filter(row => isOld(row, CUTOFF.newapi) && row.id <= 300).length);

		// A rerun: another connection, a plan from what is left, the cutoff the first run reported.
		const again = track(openSqliteWritable(path, 1000));
		const resumedPlan = planSqliteRetention(again, {store: 'newapi', cutoff: first.cutoffIso, nowMs: Date.now()});
		expect(resumedPlan.cutoffValue).toBe(CUTOFF.newapi);
		const resumed = await applySqliteRetention(again, resumedPlan, {batchSize: 100});
		expect(resumed.status).toBe('done');
		expect(first.deleted + resumed.deleted).toBe(plan.rows);
		expect(ids(again, 'logs')).toEqual(sortIds(rows.filter(row => !isOld(row, CUTOFF.newapi)).map(row => row.id)));
	});

	it('yields to the event loop between batches, so an abort from a timer, a signal handler or a worker message stops it', async () => {
		const rows = layoutRows(CUTOFF.newapi, false);
		const db = track(openSqliteWritable(newApiStore('yield-newapi', rows), 1000));
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW});
		const controller = new AbortController();
		setImmediate(() => controller.abort());
		const result = await applySqliteRetention(db, plan, {batchSize: 10, signal: controller.signal});
		expect(result).toMatchObject({status: 'interrupted', batches: 1, lastId: 10});
		expect(ids(db, 'logs')).toHaveLength(rows.length - rows.filter(row => isOld(row, CUTOFF.newapi) && row.id <= 10).length);
	});

	it('an abort that is already signalled deletes nothing', async () => {
		const rows = layoutRows(CUTOFF.newapi, false);
		const db = track(openSqliteWritable(newApiStore('aborted-newapi', rows), 1000));
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW});
		const result = await applySqliteRetention(db, plan, {signal: AbortSignal.abort()});
		expect(result).toMatchObject({status: 'interrupted', deleted: 0, batches: 0});
		expect(ids(db, 'logs')).toHaveLength(rows.length);
	});

	it('VACUUM runs only when asked, and the file shrinks by about the bytes the dry run announced', async () => {
		const rows = layoutRows(CUTOFF.newapi, false);
		const pages = (db: Database.Database) => ({count: db.pragma('page_count', {simple: true}) as number, free: db.pragma('freelist_count', {simple: true}) as number, size: db.pragma('page_size', {simple: true}) as number});

		const plain = track(openSqliteWritable(newApiStore('no-vacuum', rows), 1000));
		await applySqliteRetention(plain, planSqliteRetention(plain, {store: 'newapi', keep: '30d', nowMs: NOW}), {});
		expect(pages(plain).free).toBeGreaterThan(0);

		const db = track(openSqliteWritable(newApiStore('vacuum', rows), 1000));
		const before = pages(db);
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW, vacuum: true});
		const progress: string[] = [];
		const result = await applySqliteRetention(db, plan, {onProgress: entry => progress.push(entry.phase)});
		expect(result).toMatchObject({vacuumed: true, analyzed: true});
		expect(progress.slice(-3)).toEqual(['vacuum', 'analyze', 'done']);
		const after = pages(db);
		expect(after.free).toBe(0);
		const freed = (before.count - after.count) * before.size;
		expect(plan.approxBytes!).toBeGreaterThan(freed * 0.6);
		expect(plan.approxBytes!).toBeLessThan(freed * 1.6);
	});

	it('waits out a writer holding the lock: the batch fails after the busy timeout, is retried, and goes through', async () => {
		const rows = layoutRows(CUTOFF.newapi, false);
		const path = newApiStore('busy-retry', rows);
		const blocker = track(new Database(path));
		blocker.exec('BEGIN IMMEDIATE');
		const db = track(openSqliteWritable(path, 50));
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW});
		const release = setTimeout(() => blocker.exec('COMMIT'), 200);
		const result = await applySqliteRetention(db, plan, {batchSize: 100, lockRetries: 5, retryBackoffMs: 100});
		clearTimeout(release);
		expect(result.status).toBe('done');
		expect(result.retries).toBeGreaterThan(0);
		expect(ids(db, 'logs')).toEqual(sortIds(rows.filter(row => !isOld(row, CUTOFF.newapi)).map(row => row.id)));
	});

	it('stops with a clear error when the lock never comes: the blocked batch is untouched, a rerun finishes', async () => {
		const rows = layoutRows(CUTOFF.newapi, false);
		const path = newApiStore('busy-stop', rows);
		const blocker = track(new Database(path));
		const db = track(openSqliteWritable(path, 50));
		const plan = planSqliteRetention(db, {store: 'newapi', keep: '30d', nowMs: NOW});
		const run = applySqliteRetention(db, plan, {
			batchSize: 100,
			lockRetries: 2,
			retryBackoffMs: 20,
			onProgress: ({batches}) => batches === 1 && blocker.exec('BEGIN IMMEDIATE'),
		});
		const error = await run.catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(RetentionStoppedError);
		const stopped = error as RetentionStoppedError;
		const firstBatch = rows.filter(row => isOld(row, CUTOFF.newapi) && row.id < 101);
		expect(stopped.message).toBe(
			`retention stopped: the batch of ids 101–200 could not get its locks in 3 tries (database is locked); ${firstBatch.length} rows deleted and committed; run again with --cutoff ${plan.cutoffIso} to resume`,
		);
		expect(stopped.stop.deleted).toBe(firstBatch.length);
		blocker.exec('ROLLBACK');
		expect(ids(db, 'logs')).toEqual(sortIds(rows.filter(row => !firstBatch.includes(row)).map(row => row.id)));

		const resumed = await applySqliteRetention(db, planSqliteRetention(db, {store: 'newapi', cutoff: stopped.stop.cutoffIso}), {batchSize: 100});
		expect(resumed.deleted + stopped.stop.deleted).toBe(plan.rows);
		expect(ids(db, 'logs')).toEqual(sortIds(rows.filter(row => !isOld(row, CUTOFF.newapi)).map(row => row.id)));
	});
});

describe('CPA store and its full-text index', () => {
	it('deletes the old events and their index rows, cleans the orphans, and search agrees; the insert trigger still works', async () => {
		const rows = layoutRows(CUTOFF.cpa, false);
		const orphans = [5, 1_000_001, 2_000_100, 2_000_700];
		const all = [...rows, {id: 2_000_700, time: CUTOFF.cpa + 1}];
		const path = cpaStore('fts', all, orphans);
		const db = track(openSqliteWritable(path, 1000));
		const plan = planSqliteRetention(db, {store: 'cpa', keep: '30d', nowMs: NOW});
		const result = await applySqliteRetention(db, plan, {batchSize: 100});

		const kept = all.filter(row => !isOld(row, CUTOFF.cpa) && !orphans.includes(row.id));
		expect(ids(db, 'usage_events')).toEqual(sortIds(kept.map(row => row.id)));
		expect(kept.map(row => row.id)).toEqual(expect.arrayContaining([1202, 11]));
		expect(ids(db, 'usage_events')).not.toContain(1201);
		expect(result).toMatchObject({status: 'done', deleted: plan.rows, ftsDeleted: plan.rows + 4});
		expectFtsConsistent(db);
		for (const row of all) {
			expect(searchFinds(db, `acct${row.id}`)).toEqual(kept.includes(row) ? [row.id] : []);
		}
		// No trigger, no table of the store changed: only the events and their index rows went.
		const schema = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'trigger', 'index') AND name NOT LIKE 'sqlite_stat%' ORDER BY name").all();
		expect(schema).toEqual(track(new Database(cpaStore('fts-pristine', []))).prepare("SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'trigger', 'index') AND name NOT LIKE 'sqlite_stat%' ORDER BY name").all());

		const {lastInsertRowid} = db.prepare(CPA_INSERT).run(null, 'hash-after', NOW, 'acctafter');
		expect(searchFinds(db, 'acctafter')).toEqual([Number(lastInsertRowid)]);
		expect(Number(lastInsertRowid)).toBe(2_000_701);
		expectFtsConsistent(db);
	});

	it('keeps the index consistent at every commit: interrupted, the deleted events are gone from search; resumed, it ends exact', async () => {
		const rows = layoutRows(CUTOFF.cpa, false);
		const orphans = [5, 1_000_001];
		const path = cpaStore('fts-interrupt', rows, orphans);
		const db = track(openSqliteWritable(path, 1000));
		const plan = planSqliteRetention(db, {store: 'cpa', keep: '30d', nowMs: NOW});
		const controller = new AbortController();
		const first = await applySqliteRetention(db, plan, {batchSize: 100, signal: controller.signal, onProgress: ({batches}) => batches === 4 && controller.abort()});
		expect(first).toMatchObject({status: 'interrupted', lastId: 400});

		const gone = (row: Row) => orphans.includes(row.id) || (isOld(row, CUTOFF.cpa) && row.id <= 400);
		expect(ids(db, 'usage_events')).toEqual(sortIds(rows.filter(row => !gone(row)).map(row => row.id)));
		// The index: every event left, plus the orphan the run has not reached yet; nothing else.
		const indexed = db.prepare('SELECT event_id FROM usage_events_fts').pluck().all() as number[];
		expect(sortIds(indexed)).toEqual(sortIds([...ids(db, 'usage_events'), 1_000_001]));
		expect(searchFinds(db, 'acct200')).toEqual([]);
		expect(searchFinds(db, 'acct500')).toEqual([500]);

		const again = track(openSqliteWritable(path, 1000));
		const resumed = await applySqliteRetention(again, planSqliteRetention(again, {store: 'cpa', cutoff: first.cutoffIso}), {batchSize: 100});
		expect(resumed.status).toBe('done');
		expect(ids(again, 'usage_events')).toEqual(sortIds(rows.filter(row => !isOld(row, CUTOFF.cpa) && !orphans.includes(row.id)).map(row => row.id)));
		expectFtsConsistent(again);
	});

	it('a store from before the full-text index (no usage_events_fts) is handled without one', async () => {
		const path = join(scratch, 'old-cpa.sqlite');
		const setup = new Database(path);
		setup.exec(CPA_DDL[0]!);
		const rows = layoutRows(CUTOFF.cpa, false);
		const insert = setup.prepare(CPA_INSERT);
		setup.transaction(() => rows.forEach(row => insert.run(row.id, `hash-${row.id}`, row.time, `acct${row.id}`)))();
		setup.close();
		const db = track(openSqliteWritable(path, 1000));
		const plan = planSqliteRetention(db, {store: 'cpa', keep: '30d', nowMs: NOW});
		expect(plan.fts).toBeNull();
		await applySqliteRetention(db, plan, {batchSize: 500});
		expect(ids(db, 'usage_events')).toEqual(sortIds(rows.filter(row => !isOld(row, CUTOFF.cpa)).map(row => row.id)));
	});
});

/**
 * Another process writing while retention runs, as the gateway does: one row every couple of
 * milliseconds, cycling through a time exactly at the cutoff, a new time, and an old one. It prints
 * "id time" once each insert is committed, and stops when its stdin closes.
 */
const WRITER = `
const Database = require('better-sqlite3');
const [path, store, cutoff] = process.argv.slice(1);
const db = new Database(path, {timeout: 5000});
const insert = store === 'cpa'
	? db.prepare("INSERT INTO usage_events (event_hash, timestamp_ms, timestamp, model, account_snapshot, created_at_ms) VALUES (?, ?, '', 'gpt-5', ?, 0)")
	: db.prepare("INSERT INTO logs (created_at, type, content) VALUES (?, 2, 'writer')");
let n = 0, stop = false;
process.stdin.on('data', () => {}).on('end', () => { stop = true; });
const times = [Number(cutoff), Number(cutoff) + 1000, Number(cutoff) - 1 - 1000];
function tick() {
	if (stop) { db.close(); return; }
	const time = times[n % 3];
	const {lastInsertRowid} = store === 'cpa' ? insert.run('writer-' + n, time, 'writer' + n) : insert.run(time);
	process.stdout.write(lastInsertRowid + ' ' + time + '\\n');
	n++;
	setTimeout(tick, 2);
}
tick();
`;

async function withWriter<T>(path: string, store: 'newapi' | 'cpa', cutoff: number, during: (written: () => Row[]) => Promise<T>): Promise<{value: T; rows: Row[]; duringCount: number}> {
	const child = spawn(process.execPath, ['-e', WRITER, path, store, String(cutoff)], {cwd: packageRoot(), stdio: ['pipe', 'pipe', 'inherit']});
	const rows: Row[] = [];
	createInterface({input: child.stdout}).on('line', line => {
		const [id, time] = line.split(' ').map(Number);
		rows.push({id: id!, time: time!});
	});
	const exited = new Promise<number | null>(resolve => child.on('exit', resolve));
	try {
		while (rows.length < 10) {
			await new Promise(resolve => setTimeout(resolve, 5));
		}
		const before = rows.length;
		const value = await during(() => rows);
		const duringCount = rows.length - before;
		return {value, rows, duringCount};
	} finally {
		child.stdin.end();
		expect(await exited).toBe(0);
	}
}

describe('a concurrent writer', () => {
	it.each(['newapi', 'cpa'] as const)('on %s: every row it writes at or after the cutoff is still there, and only the planned old rows are gone', async store => {
		const cutoff = CUTOFF[store];
		const rows = layoutRows(cutoff, false);
		const path = store === 'cpa' ? cpaStore('writer-cpa', rows) : newApiStore('writer-newapi', rows);
		const db = track(openSqliteWritable(path, 5000));
		const plan = planSqliteRetention(db, {store, keep: '30d', nowMs: NOW});
		const table = store === 'cpa' ? 'usage_events' : 'logs';

		const {value: result, rows: written, duringCount} = await withWriter(path, store, cutoff, () => applySqliteRetention(db, plan, {batchSize: 20, pauseMs: 3}));
		expect(result.status).toBe('done');
		expect(duringCount).toBeGreaterThan(20);
		expect(written.every(row => row.id > plan.maxId!)).toBe(true);
		// The writer's old rows came after the plan, above its id range: they wait for the next run.
		const expected = [...rows.filter(row => !isOld(row, cutoff)), ...written].map(row => row.id);
		expect(ids(db, table)).toEqual(sortIds(expected));
		expect(written.filter(row => row.time === cutoff).length).toBeGreaterThan(0);
		if (store === 'cpa') {
			expectFtsConsistent(db);
			const next = await applySqliteRetention(db, planSqliteRetention(db, {store, cutoff: result.cutoffIso}), {});
			expect(next.deleted).toBe(written.filter(row => isOld(row, cutoff)).length);
			expectFtsConsistent(db);
		}
	});
});

/**
 * A retention run in a process of its own, held inside a batch's transaction: a TEMP trigger on its
 * connection (the file's schema is left alone) calls a function that says "held", then blocks, once
 * the row is deleted: the batch has begun changing the file even when the row opens its window. Its
 * page cache is tiny, as a batch bigger than the cache would find it: the batch's changes reach the
 * file (rollback journal) or the WAL before its COMMIT, which is the state a crash leaves.
 */
const HELD_RUN = `
const [path, store, cutoff, holdId, dist] = process.argv.slice(1);
const {openSqliteWritable} = await import(dist + '/maintenance/open-sqlite-writable.js');
const {applySqliteRetention, planSqliteRetention} = await import(dist + '/maintenance/retention-sqlite.js');
const db = openSqliteWritable(path, 1000);
db.pragma('cache_size = 2');
db.function('relaytop_test_hold', () => {
	process.stdout.write('held\\n');
	Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
	return 0;
});
db.exec('CREATE TEMP TRIGGER relaytop_test_hold AFTER DELETE ON ' + (store === 'cpa' ? 'usage_events' : 'logs') + ' WHEN OLD.id = ' + Number(holdId) + ' BEGIN SELECT relaytop_test_hold(); END');
await applySqliteRetention(db, planSqliteRetention(db, {store, cutoff}), {batchSize: 50});
process.stdout.write('finished\\n');
`;

const DIST = join(packageRoot(), 'dist', 'source');

/** Starts the held run and SIGKILLs it once it is inside the batch that reaches `holdId`. */
async function killInsideBatch(path: string, store: 'newapi' | 'cpa', cutoffIso: string, holdId: number): Promise<void> {
	const child = spawn(process.execPath, ['--input-type=module', '-e', HELD_RUN, path, store, cutoffIso, String(holdId), pathToFileURL(DIST).href], {cwd: packageRoot(), stdio: ['ignore', 'pipe', 'inherit']});
	const exited = new Promise<NodeJS.Signals | null>(resolve => child.on('exit', (_code, signal) => resolve(signal)));
	try {
		const said = await new Promise<string>(resolve => createInterface({input: child.stdout}).once('line', resolve).once('close', () => resolve('(no line)')));
		expect(said).toBe('held');
	} finally {
		child.kill('SIGKILL');
	}
	expect(await exited).toBe('SIGKILL');
}

/** `relaytop maintain retention` as the user reruns it: the built CLI, in a process of its own. */
function rerunCli(path: string, cutoffIso: string): Promise<{code: number | null; stdout: string; stderr: string}> {
	return new Promise(resolve => {
		const child = spawn(process.execPath, [join(DIST, 'cli.js'), 'maintain', 'retention', path, '--cutoff', cutoffIso, '--apply'], {cwd: packageRoot(), stdio: ['ignore', 'pipe', 'pipe']});
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
		child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
		child.on('close', code => resolve({code, stdout, stderr}));
	});
}

/** Every row at or after the cutoff, whole, and on a CPA store its full-text row too. */
function keptDigest(db: Database.Database, store: 'newapi' | 'cpa', cutoff: number): string {
	const rows = store === 'cpa'
		? db.prepare(`SELECT e.*, f.rowid AS fts_rowid, f.account_snapshot AS fts_account FROM usage_events e LEFT JOIN usage_events_fts f ON f.event_id = e.id WHERE e.timestamp_ms >= ? ORDER BY e.id`).all(cutoff)
		: db.prepare('SELECT * FROM logs WHERE (created_at < ?) IS NOT 1 ORDER BY id').all(cutoff);
	return createHash('sha256').update(JSON.stringify(rows)).digest('hex');
}

/** The file as the next opener finds it, without opening it: a copy with its journal or WAL, opened (and so recovered) for writing. */
function recoveredCopy(path: string, name: string): Database.Database {
	const copy = join(scratch, name);
	for (const suffix of ['', '-journal', '-wal']) {
		if (existsSync(path + suffix)) copyFileSync(path + suffix, copy + suffix);
	}
	return track(new Database(copy));
}

describe('a process killed (SIGKILL) inside a batch', () => {
	it.each([
		{store: 'cpa', journal: 'WAL, with its full-text index'},
		{store: 'newapi', journal: 'rollback journal'},
	] as const)('$store ($journal): the batch in flight is lost whole, the index stays consistent, and the rerun deletes exactly the rest', {timeout: 120_000}, async ({store}) => {
		const cutoff = CUTOFF[store];
		const cutoffIso = new Date(store === 'cpa' ? cutoff : cutoff * 1000).toISOString();
		const rows = layoutRows(cutoff, store === 'newapi');
		const orphans = store === 'cpa' ? [5, 1_000_001] : [];
		const path = store === 'cpa' ? cpaStore('killed-cpa', rows, orphans) : newApiStore('killed-newapi', rows);
		const table = store === 'cpa' ? 'usage_events' : 'logs';
		const oldIdsOf = (db: Database.Database): number[] => db.prepare(`SELECT id FROM "${table}" WHERE ${store === 'cpa' ? 'timestamp_ms' : 'created_at'} < ? ORDER BY id`).pluck().all(cutoff) as number[];
		const oldIds = sortIds(rows.filter(row => isOld(row, cutoff) && !orphans.includes(row.id)).map(row => row.id));
		const keptIds = sortIds(rows.filter(row => !isOld(row, cutoff) && !orphans.includes(row.id)).map(row => row.id));
		const keptBefore = keptDigest(track(new Database(path, {readonly: true})), store, cutoff);

		// Windows are at most 50 ids: a dozen batches have committed when the one reaching id 601 is held.
		await killInsideBatch(path, store, cutoffIso, 601);
		if (store === 'newapi') expect(existsSync(`${path}-journal`), 'a hot journal, as a crash mid-batch leaves').toBe(true);

		const killed = recoveredCopy(path, `killed-${store}-copy.db`);
		expect(killed.pragma('integrity_check', {simple: true})).toBe('ok');
		expect(killed.prepare("SELECT name FROM sqlite_master WHERE name LIKE '%relaytop%'").all()).toEqual([]);
		expect(keptDigest(killed, store, cutoff)).toBe(keptBefore);
		// What is left of the old rows is the end of them, from a batch boundary on, the held row included.
		const left = oldIdsOf(killed);
		expect(left).toContain(601);
		expect(left.length).toBeLessThan(oldIds.length);
		expect(left).toEqual(oldIds.filter(id => id >= left[0]!));
		if (store === 'cpa') {
			// Every event keeps its index row; the orphan the run had not reached yet is still there, nothing else.
			const indexed = killed.prepare('SELECT event_id FROM usage_events_fts').pluck().all() as number[];
			expect(sortIds(indexed)).toEqual(sortIds([...ids(killed, 'usage_events'), 1_000_001]));
			killed.exec("INSERT INTO usage_events_fts(usage_events_fts) VALUES ('integrity-check')");
		}

		// The rerun, as the user starts it: nothing else has opened the file since the kill.
		const rerun = await rerunCli(path, cutoffIso);
		expect(rerun.code, rerun.stderr).toBe(0);
		expect(rerun.stdout).toMatch(new RegExp(`^done: deleted ${left.length.toLocaleString('en-US')} rows in `, 'mu'));
		const db = track(openSqliteWritable(path, 1000));
		expect(ids(db, table)).toEqual(keptIds);
		expect(keptDigest(db, store, cutoff)).toBe(keptBefore);
		if (store === 'cpa') {
			expectFtsConsistent(db);
			expect(searchFinds(db, 'acct601')).toEqual([]);
			expect(searchFinds(db, 'acct1202')).toEqual([1202]);
		}
	});
});
