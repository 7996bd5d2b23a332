import {copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {createHash} from 'node:crypto';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import type {MaintenanceService} from '../source/maintenance/maintenance-service.js';
import {openMaintenanceService} from '../source/maintenance/open-maintenance-service.js';
import {workerMaintenance} from '../source/maintenance/worker-maintenance.js';
import {openSource} from '../source/sources/open-target.js';
import {openTargetInWorker} from '../source/sources/worker/worker-source.js';
import {App} from '../source/ui/app.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {freshDatabase} from './support/postgres-server.js';
import {KEY, renderInk} from './support/render-ink.js';

// The dashboard's maintenance panel (key m) in the real App, on a real one-api-era SQLite copy of
// the new-api fixture through the real maintenance worker (dist/…/maintenance-worker.js: build
// first), and on a real PostgreSQL server. Screens are read as text; every write is checked in the
// store's own catalog or by counting rows here.

const SIZE = {columns: 160, rows: 50};

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

let workDir: string;
let path: string;
let source: UsageSource;
let maintenance: MaintenanceService;
const apps: Array<{unmount: () => void}> = [];

function withDb<T>(file: string, work: (db: Database.Database) => T, readonly = true): T {
	const db = new Database(file, {readonly, fileMustExist: true});
	try {
		return work(db);
	} finally {
		db.close();
	}
}

/** pragma index_list of logs, each index with its key columns (pragma index_info), on a connection of our own. */
const indexList = (file: string): Record<string, string[]> =>
	withDb(file, db => {
		const names = db.prepare('SELECT name FROM pragma_index_list(?) ORDER BY name').pluck().all('logs') as string[];
		return Object.fromEntries(names.map(name => [name, db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(name) as string[]]));
	});

const count = (file: string, sql: string, ...params: unknown[]): number => withDb(file, db => db.prepare(sql).pluck().get(...params) as number);

const lines = (frame: string): string[] => frame.split('\n').map(line => line.trimEnd());
const hasLine = (frame: string, wanted: string): boolean => lines(frame).includes(wanted);

const RATE_NEED = 'requests by time and type (rates, time ranges)';
const PAGE_NEED = 'user log pages (user_id, newest first)';
const CREATE_TYPE = 'CREATE INDEX IF NOT EXISTS "idx_created_at_type" ON "logs" ("created_at", "type")';
const CREATE_USER = 'CREATE INDEX IF NOT EXISTS "idx_user_id_id" ON "logs" ("user_id", "id")';
const READ_ONLY_KEYS = 'read-only: dry runs only · j/k select · < > keep · r reload · Esc close';
const WRITABLE_KEYS = 'j/k select · A apply selected · D delete old rows · < > keep · x stop job · r reload · Esc close';

function start(on: UsageSource, service: MaintenanceService, writable: boolean) {
	const app = renderInk(<App source={on} maintenance={service} initial={initialState(on.capabilities.dimensions)} writable={writable} />, SIZE);
	apps.push(app);
	return app;
}

beforeAll(async () => {
	workDir = mkdtempSync(join(tmpdir(), 'relaytop-ui-maintenance-'));
	path = join(workDir, 'one-api.sqlite');
	copyFileSync(fixturePath('newapi'), path);
	withDb(
		path,
		db => {
			// An old one-api store: no index leads with created_at or user_id; (id, created_at) under upstream's name.
			for (const name of ['idx_created_at_id', 'idx_user_id_id', 'idx_logs_user_id', 'idx_created_at_type']) db.exec(`DROP INDEX ${name}`);
			db.exec('CREATE INDEX `idx_created_at_id` ON `logs`(`id`,`created_at`)');
			// Its requests end five days ago, whatever the clock: a 30-day window then leaves some out.
			const newest = db.prepare('SELECT max(created_at) FROM logs').pluck().get() as number;
			db.prepare('UPDATE logs SET created_at = created_at + ?').run(Math.floor(Date.now() / 1000) - 5 * 86_400 - newest);
		},
		false,
	);
	source = await openTargetInWorker(path);
	maintenance = workerMaintenance(path);
});

afterAll(async () => {
	for (const app of apps.splice(0)) app.unmount();
	await maintenance?.close();
	await source?.close();
	rmSync(workDir, {recursive: true, force: true});
});

describe('the maintenance panel on a one-api-era SQLite store', () => {
	it('takes keys typed ahead of the data as what they are: A before the dry runs are read asks to wait, then works on the data drawn', async () => {
		const app = start(source, maintenance, true);
		app.press('mA');
		await app.until(frame => frame.includes('still reading the dry runs') || frame.includes('Run it?'));
		expect(app.lastFrame()).not.toContain('nothing to apply');
		await app.until(frame => frame.includes('create idx_') && !frame.includes('reading…'));
		app.press('jA');
		const asked = await app.until(frame => frame.includes('Run it?'));
		expect(asked).toContain('CREATE INDEX IF NOT EXISTS');
		app.press('n');
		await app.until(frame => !frame.includes('Run it?'));
		app.unmount();
	});

	it('read-only: the dry runs show, A and D ask nothing, and the keys line says read-only', async () => {
		const before = sha256(path);
		const indexes = indexList(path);
		const app = start(source, maintenance, false);
		app.press('m');
		const panel = await app.until(frame => frame.includes('create idx_user_id_id') && / rows before \d{4}-/u.test(frame) && !frame.includes('reading…'));
		expect(hasLine(panel, READ_ONLY_KEYS)).toBe(true);
		expect(panel).not.toContain('A apply selected');
		// Each write key is followed by a key that shows on screen: once it has, the write key was handled.
		app.press('A', '>');
		const afterA = await app.until(frame => frame.includes('Retention · keep 60d'));
		expect(afterA).not.toContain('Run it?');
		app.press('D', '<');
		const afterD = await app.until(frame => frame.includes('Retention · keep 30d'));
		expect(afterD).not.toContain('Run it?');
		expect(afterD).not.toContain('Job ·');
		expect(hasLine(afterD, READ_ONLY_KEYS)).toBe(true);
		app.unmount();
		expect(indexList(path)).toEqual(indexes);
		expect(sha256(path)).toBe(before);
	});

	it('lists both missing needs and the proposals with their SQL; A asks with the exact SQL, n cancels, y builds the index', async () => {
		const before = sha256(path);
		const indexes = indexList(path);
		expect(indexes).not.toHaveProperty('idx_created_at_type');
		const app = start(source, maintenance, true);
		app.press('m');
		const panel = await app.until(frame => frame.includes('create idx_user_id_id') && / rows before \d{4}-/u.test(frame) && !frame.includes('reading…'));
		expect(hasLine(panel, `  ${RATE_NEED}: missing`)).toBe(true);
		expect(hasLine(panel, `  ${PAGE_NEED}: missing`)).toBe(true);
		expect(lines(panel)).toContainEqual(expect.stringMatching(new RegExp(`^› create idx_created_at_type \\(${RATE_NEED.replace(/[()]/gu, '\\$&')}\\) · about \\d+ s$`, 'u')));
		expect(lines(panel)).toContainEqual(expect.stringMatching(/^ {2}create idx_user_id_id \(user log pages \(user_id, newest first\)\) · about \d+ s$/u));
		// The selected proposal's SQL, under it.
		expect(hasLine(panel, `    ${CREATE_TYPE}`)).toBe(true);
		expect(hasLine(panel, WRITABLE_KEYS)).toBe(true);
		// j selects the other one and shows its SQL instead; k goes back.
		app.press('j');
		const second = await app.until(frame => hasLine(frame, `    ${CREATE_USER}`));
		expect(hasLine(second, `    ${CREATE_TYPE}`)).toBe(false);
		app.press('k');
		await app.until(frame => hasLine(frame, `    ${CREATE_TYPE}`));

		app.press('A');
		const confirm = await app.until(frame => frame.includes('Run it?'));
		expect(lines(confirm)).toContainEqual(expect.stringMatching(/^create idx_created_at_type \(requests by time and type \(rates, time ranges\)\) · about \d+ s\?$/u));
		expect(hasLine(confirm, `  ${CREATE_TYPE}`)).toBe(true);
		expect(confirm).not.toContain(CREATE_USER);

		app.press('n');
		const cancelled = await app.until(frame => frame.includes('Indexes for the hot queries') && !frame.includes('Run it?'));
		expect(cancelled).not.toContain('Job ·');
		expect(indexList(path)).toEqual(indexes);
		expect(sha256(path)).toBe(before);

		app.press('A');
		await app.until(frame => frame.includes('Run it?') && hasLine(frame, `  ${CREATE_TYPE}`));
		app.press('y');
		const done = await app.until(frame => /idx_created_at_type: (done|failed|aborted)/u.test(frame), 30_000);
		expect(lines(done)).toContainEqual(expect.stringMatching(/^ {2}idx_created_at_type: done, valid in /u));
		expect(done).toContain('Job · create idx_created_at_type');
		// Independently: the file's catalog has it, on the proposed columns, and nothing else changed.
		expect(indexList(path)).toEqual({...indexes, idx_created_at_type: ['created_at', 'type']});
		// The panel reads the store again: the need is served now, one proposal is left.
		const reloaded = await app.until(frame => hasLine(frame, `  ${RATE_NEED}: served by idx_created_at_type`) && !frame.includes('reading…'));
		expect(lines(reloaded).filter(line => /^[› ] create idx_created_at_type/u.test(line))).toEqual([]);
		expect(lines(reloaded)).toContainEqual(expect.stringMatching(/^› create idx_user_id_id /u));

		// The second one the same way; then there is nothing left to do.
		app.press('A');
		await app.until(frame => frame.includes('Run it?') && hasLine(frame, `  ${CREATE_USER}`));
		app.press('y');
		await app.until(frame => /idx_user_id_id: done, valid in /u.test(frame), 30_000);
		await app.until(frame => frame.includes('nothing to build or repair') && hasLine(frame, `  ${PAGE_NEED}: served by idx_user_id_id`));
		expect(indexList(path)).toEqual({...indexes, idx_created_at_type: ['created_at', 'type'], idx_user_id_id: ['user_id', 'id']});
		app.unmount();
	});

	it('D with keep 30d asks with the statements, then deletes exactly the rows before the cutoff it showed', async () => {
		const app = start(source, maintenance, true);
		app.press('m');
		await app.until(frame => frame.includes('Retention · keep 30d') && / rows before \d{4}-/u.test(frame) && !frame.includes('reading…'));
		app.press('D');
		const confirm = await app.until(frame => frame.includes('Run it?'));
		const title = /^Delete ([\d,]+) rows before (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) from logs\?$/mu.exec(lines(confirm).join('\n'));
		expect(title, confirm).not.toBeNull();
		const shown = Number(title![1]!.replaceAll(',', ''));
		const cutoffMs = Date.parse(title![2]!);
		// new-api's created_at is whole seconds; the cutoff shown is the one the statements use, to the second.
		expect(cutoffMs % 1000).toBe(0);
		const cutoff = cutoffMs / 1000;
		// keep 30d: about 30 days back from now (the panel read it moments ago).
		expect(Math.abs(Date.now() - 30 * 86_400_000 - cutoffMs)).toBeLessThan(10 * 60_000);
		expect(hasLine(confirm, `  DELETE FROM "logs" WHERE id >= ? AND id < ? AND created_at < ${cutoff}`)).toBe(true);
		expect(hasLine(confirm, '  BEGIN IMMEDIATE')).toBe(true);

		const old = count(path, 'SELECT count(*) FROM logs WHERE created_at < ?', cutoff);
		const keptIds = withDb(path, db => db.prepare('SELECT id FROM logs WHERE NOT (created_at < ?) OR created_at IS NULL ORDER BY id').pluck().all(cutoff) as number[]);
		expect(shown).toBe(old);
		expect(old).toBeGreaterThan(0);
		expect(keptIds.length).toBeGreaterThan(0);

		app.press('y');
		const done = await app.until(frame => /^ {2}(done|interrupted): deleted /mu.test(frame) || /^ {2}stopped: /mu.test(frame), 60_000);
		expect(lines(done)).toContainEqual(expect.stringMatching(new RegExp(`^ {2}done: deleted ${old.toLocaleString('en-US')} rows in [\\d,]+ batches, .*; analyzed$`, 'u')));
		// Independently: nothing before the cutoff is left; every row at or after it is.
		expect(count(path, 'SELECT count(*) FROM logs WHERE created_at < ?', cutoff)).toBe(0);
		expect(withDb(path, db => db.prepare('SELECT id FROM logs ORDER BY id').pluck().all() as number[])).toEqual(keptIds);
		expect(withDb(path, db => db.pragma('integrity_check', {simple: true}))).toBe('ok');
		app.unmount();
	});
});

describe('the maintenance panel on PostgreSQL', () => {
	let database: Awaited<ReturnType<typeof freshDatabase>>;
	let admin: pg.Client;
	let pgSource: UsageSource | undefined;
	let pgMaintenance: MaintenanceService | undefined;

	beforeAll(async () => {
		database = await freshDatabase('relaytop_ui_maint');
		admin = new pg.Client({connectionString: database.url});
		admin.on('error', () => undefined);
		await admin.connect();
		await loadNewApiIntoPostgres(admin, fixturePath('newapi'));
		await admin.query('DROP INDEX idx_created_at_id, idx_user_id_id, idx_logs_user_id, idx_created_at_type');
		await admin.query('CREATE INDEX "idx_created_at_id" ON "logs" ("id","created_at")');
		await admin.query('ANALYZE logs');
		pgSource = await openSource(database.url);
		pgMaintenance = await openMaintenanceService(database.url);
	});

	afterAll(async () => {
		for (const app of apps.splice(0)) app.unmount();
		await pgMaintenance?.close();
		await pgSource?.close();
		await admin?.end().catch(() => undefined);
		await database?.drop();
	});

	const pgIndex = async (name: string) =>
		(
			await admin.query<{valid: boolean; ready: boolean; definition: string}>(
				'SELECT i.indisvalid AS valid, i.indisready AS ready, pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1',
				[name],
			)
		).rows;

	it('m, A, y builds the proposed index with CREATE INDEX CONCURRENTLY: valid and ready in pg_index', async () => {
		const create = 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type" ON "public"."logs" ("created_at", "type")';
		expect(await pgIndex('idx_created_at_type')).toEqual([]);
		const app = start(pgSource!, pgMaintenance!, true);
		app.press('m');
		const panel = await app.until(frame => frame.includes('create idx_user_id_id') && / rows before \d{4}-/u.test(frame) && !frame.includes('reading…'), 30_000);
		expect(hasLine(panel, `  ${RATE_NEED}: missing`)).toBe(true);
		expect(hasLine(panel, `  ${PAGE_NEED}: missing`)).toBe(true);
		expect(hasLine(panel, `    ${create}`)).toBe(true);
		app.press('A');
		const confirm = await app.until(frame => frame.includes('Run it?'));
		expect(hasLine(confirm, `  ${create}`)).toBe(true);
		expect(confirm).toContain('Built concurrently: writes go on; x stops it and drops what it left.');
		expect(await pgIndex('idx_created_at_type')).toEqual([]);
		app.press('y');
		const done = await app.until(frame => /idx_created_at_type: (done|failed|aborted)/u.test(frame), 60_000);
		expect(lines(done)).toContainEqual(expect.stringMatching(/^ {2}idx_created_at_type: done, valid in /u));
		expect(await pgIndex('idx_created_at_type')).toEqual([{valid: true, ready: true, definition: 'CREATE INDEX idx_created_at_type ON public.logs USING btree (created_at, type)'}]);
		await app.until(frame => hasLine(frame, `  ${RATE_NEED}: served by idx_created_at_type`), 30_000);
		app.press(KEY.escape);
		await app.until(frame => !frame.includes('Indexes for the hot queries'));
		app.unmount();
	});
});
