import {copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {createHash} from 'node:crypto';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {startCpaManagerReplica, type CpaManagerReplica} from '../bench/cpa-manager-replica.js';
import {FIXTURE_MANAGEMENT_KEY} from '../source/fixtures/cpa-fixture.js';
import {ensureFixture, fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import type {HealthCheck} from '../source/health/health-check.js';
import type {HealthOptions} from '../source/health/postgres-health.js';
import {actionStatements, type MaintenanceService} from '../source/maintenance/maintenance-service.js';
import {openMaintenanceService} from '../source/maintenance/open-maintenance-service.js';
import {workerMaintenance} from '../source/maintenance/worker-maintenance.js';
import {terminalSafe} from '../source/output/terminal-safe.js';
import {openSource} from '../source/sources/open-target.js';
import {openTargetInWorker} from '../source/sources/worker/worker-source.js';
import {App} from '../source/ui/app.js';
import {initialState} from '../source/ui/dashboard-state.js';
import {HealthView} from '../source/ui/views/health-view.js';
import {splitRows, windowStart, wrapText} from '../source/ui/views/health/health-lines.js';
import type {UsageSource} from '../source/usage/types.js';
import {freshDatabase} from './support/postgres-server.js';
import {KEY, renderInk} from './support/render-ink.js';

// The Health view (key 6) in the real App: on SQLite copies of the new-api fixture through the
// real maintenance worker (dist/…/maintenance-worker.js: build first), on a real PostgreSQL server,
// and over CPA-Manager's HTTP API (a replica serving the CPA fixture), which has no database to
// check. Screens are read as text; every write is checked in the store's own catalog.

const SIZE = {columns: 160, rows: 50};
const RATE_CHECK = 'logs: requests by time and type (rates, time ranges)';
const CREATE_TYPE = 'CREATE INDEX IF NOT EXISTS "idx_created_at_type" ON "logs" ("created_at", "type")';
const APPLY = 'fix · F applies it: y/N first, with the exact SQL';
const UNCHECKABLE = 'The database checks need a SQLite file or a postgres:// target; here only the gateway’s load is judged.';

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const lines = (frame: string): string[] => frame.split('\n').map(line => line.trimEnd());
const hasLine = (frame: string, wanted: string): boolean => lines(frame).includes(wanted);
const footer = (frame: string): string => lines(frame).filter(line => line !== '').at(-1) ?? '';
/** The severity heading a list line is under: the nearest heading line above it. */
const headingAbove = (frame: string, line: string): string | undefined => {
	const all = lines(frame);
	return all.slice(0, all.indexOf(line)).reverse().find(candidate => /^(Critical|Warnings|OK) · \d+$/u.test(candidate));
};
/** The SQL of a confirm dialog: the indented lines under its title (line 1, under the app's header). */
const confirmSql = (frame: string): string[] => {
	const all = lines(frame);
	const sql: string[] = [];
	for (const line of all.slice(2)) {
		if (!line.startsWith('  ')) break;
		sql.push(line);
	}
	return sql;
};
const position = (frame: string): string | undefined => /^Health · (\d+)\//mu.exec(frame)?.[1];

function withDb<T>(file: string, work: (db: Database.Database) => T, readonly = true): T {
	const db = new Database(file, {readonly, fileMustExist: true});
	try {
		return work(db);
	} finally {
		db.close();
	}
}

/** A copy of the new-api fixture with no index leading with created_at: the rate queries scan the table. */
function storeWithoutTimeIndex(folder: string, name: string, extra = ''): string {
	const path = join(folder, name);
	copyFileSync(fixturePath('newapi'), path);
	withDb(
		path,
		db => {
			db.exec('DROP INDEX idx_created_at_id; DROP INDEX idx_created_at_type');
			if (extra !== '') db.exec(extra);
		},
		false,
	);
	return path;
}

const logsIndexes = (file: string): Record<string, string[]> =>
	withDb(file, db => {
		const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'logs' ORDER BY name").pluck().all() as string[];
		return Object.fromEntries(names.map(name => [name, db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(name) as string[]]));
	});

type Rendered = ReturnType<typeof renderInk>;
const apps: Rendered[] = [];

afterEach(() => {
	for (const app of apps.splice(0)) app.unmount();
});

function start(source: UsageSource, service: MaintenanceService | undefined, writable: boolean, healthOptions?: HealthOptions, size = SIZE): Rendered {
	const app = renderInk(<App source={source} maintenance={service} initial={initialState(source.capabilities.dimensions)} writable={writable} healthOptions={healthOptions} />, size);
	apps.push(app);
	return app;
}

/** Moves the cursor down until the selected line satisfies `wanted`. */
async function select(app: Rendered, wanted: (line: string) => boolean): Promise<string> {
	for (let step = 0; step < 60; step++) {
		const frame = app.lastFrame();
		if (lines(frame).some(line => line.startsWith('› ') && wanted(line))) return frame;
		const before = position(frame);
		app.press('j');
		await app.until(screen => position(screen) !== before);
	}
	throw new Error(`no such check; last screen:\n${app.lastFrame()}`);
}

describe('the Health view on a SQLite store without its time index', () => {
	let folder: string;
	let path: string;
	let source: UsageSource;
	let maintenance: MaintenanceService;

	beforeAll(async () => {
		folder = mkdtempSync(join(tmpdir(), 'relaytop-ui-health-'));
		path = storeWithoutTimeIndex(folder, 'newapi.sqlite');
		source = await openTargetInWorker(path);
		maintenance = workerMaintenance(path);
	});

	afterAll(async () => {
		for (const app of apps.splice(0)) app.unmount();
		await maintenance?.close();
		await source?.close();
		rmSync(folder, {recursive: true, force: true});
	});

	/** The rate check's line in the list, warning or ok, selected or not. */
	const missingLine = (selected: boolean) => new RegExp(`^${selected ? '›' : ' '} ! indexes {5}${RATE_CHECK.replace(/[()]/gu, '\\$&')}: no index serves it: each such query reads all [1-9]\\d* rows$`, 'u');

	it('lists the missing index as a warning with its CREATE INDEX; F shows exactly the statements the action runs; n changes nothing', async () => {
		const [check] = (await maintenance.health({})).checks.filter(candidate => candidate.title === RATE_CHECK);
		const action = check?.fix?.action ?? null;
		expect(action).not.toBeNull();
		const statements = actionStatements(action!);
		// Independently: the one statement a CREATE INDEX on this store needs.
		expect(statements).toEqual([CREATE_TYPE]);
		const before = sha256(path);
		const indexes = logsIndexes(path);
		expect(indexes).not.toHaveProperty('idx_created_at_type');

		const app = start(source, maintenance, true);
		app.press('6');
		const view = await app.until(frame => lines(frame).some(line => missingLine(true).test(line)) && hasLine(frame, `  ${CREATE_TYPE};`), 30_000);
		const listed = lines(view).find(line => missingLine(true).test(line))!;
		expect(headingAbove(view, listed)).toMatch(/^Warnings · \d+$/u);
		expect(hasLine(view, APPLY)).toBe(true);
		// SQLite: no server settings, so no machine to judge them against.
		expect(view).toMatch(/^Health · 1\/\d+ · SQLite file: no server settings to judge · checked /mu);
		expect(footer(view)).toContain('F fix');

		// j and k move the cursor; a fix relaytop does not run says where to apply it instead of asking.
		app.press('j');
		const journal = await app.until(frame => lines(frame).some(line => /^› ! sqlite {6}journal mode: /u.test(line)));
		expect(hasLine(journal, '  PRAGMA journal_mode = WAL;')).toBe(true);
		expect(hasLine(journal, 'fix · by hand: relaytop does not run this one')).toBe(true);
		expect(lines(journal).some(line => missingLine(false).test(line))).toBe(true);
		app.press('F');
		const notice = await app.until(frame => frame.includes('apply this fix by hand: relaytop does not run it'));
		expect(notice).not.toContain('Run it?');
		app.press('k');
		await app.until(frame => lines(frame).some(line => missingLine(true).test(line)));

		app.press('F');
		const confirm = await app.until(frame => frame.includes('Run it?'));
		expect(lines(confirm)[1]).toBe(`create idx_created_at_type? (${RATE_CHECK})`);
		expect(confirmSql(confirm)).toEqual(statements.map(statement => `  ${statement}`));
		// The fix's lines end in a semicolon for pasting; the confirm shows what runs.
		expect(confirm).not.toContain(`${CREATE_TYPE};`);

		app.press('n');
		const cancelled = await app.until(frame => !frame.includes('Run it?') && lines(frame).some(line => missingLine(true).test(line)));
		expect(cancelled).not.toContain('Job ·');
		expect(logsIndexes(path)).toEqual(indexes);
		expect(sha256(path)).toBe(before);
	});

	it('--read-only: no F in the footer or the help, and F does nothing', async () => {
		const before = sha256(path);
		const app = start(source, maintenance, false);
		app.press('6');
		const view = await app.until(frame => lines(frame).some(line => missingLine(true).test(line)) && hasLine(frame, `  ${CREATE_TYPE};`), 30_000);
		expect(footer(view)).not.toContain('F fix');
		expect(view).not.toContain(APPLY);
		expect(hasLine(view, 'fix · by hand (writes are off: --read-only, or a target that takes none)')).toBe(true);
		app.press('?');
		const help = await app.until(frame => frame.includes('Keys'));
		expect(help).toContain('6             Health view');
		expect(help).toContain('stop the fix that is running');
		expect(lines(help).filter(line => line.startsWith('F '))).toEqual([]);
		expect(help).not.toContain('apply the selected check’s fix');
		app.press(KEY.escape);
		await app.until(frame => !frame.includes('Keys'));
		// F, then a key that shows: once j has moved the cursor, F was handled.
		app.press('F', 'j');
		const after = await app.until(frame => position(frame) === '2');
		expect(after).not.toContain('Run it?');
		expect(after).not.toContain('Job ·');
		expect(sha256(path)).toBe(before);
	});

	it('F, y builds the index through the maintenance job; the check reads ok after the reload', async () => {
		const indexes = logsIndexes(path);
		const app = start(source, maintenance, true);
		app.press('6');
		await app.until(frame => lines(frame).some(line => missingLine(true).test(line)), 30_000);
		app.press('F');
		await app.until(frame => frame.includes('Run it?') && hasLine(frame, `  ${CREATE_TYPE}`));
		app.press('y');
		const done = await app.until(frame => /idx_created_at_type: (done|failed|aborted)/u.test(frame), 30_000);
		expect(hasLine(done, 'Job · create idx_created_at_type')).toBe(true);
		expect(lines(done)).toContainEqual(expect.stringMatching(/^ {2}idx_created_at_type: done, valid in /u));
		// Independently: the file's catalog has it, on the proposed columns, and nothing else changed.
		expect(logsIndexes(path)).toEqual({...indexes, idx_created_at_type: ['created_at', 'type']});
		const served = `  ✓ indexes     ${RATE_CHECK}: served by idx_created_at_type`;
		const reloaded = await app.until(frame => hasLine(frame, served), 30_000);
		expect(headingAbove(reloaded, served)).toMatch(/^OK · \d+$/u);
		expect(lines(reloaded).some(line => missingLine(false).test(line) || missingLine(true).test(line))).toBe(false);
	});
});

describe('escape sequences from the database', () => {
	let folder: string;
	let path: string;
	let source: UsageSource;
	let maintenance: MaintenanceService;
	const NAME = 'idx_\u001b[31mred';

	beforeAll(async () => {
		folder = mkdtempSync(join(tmpdir(), 'relaytop-ui-health-hostile-'));
		path = storeWithoutTimeIndex(folder, 'hostile.sqlite', `CREATE INDEX "${NAME}" ON logs (created_at, type)`);
		source = await openTargetInWorker(path);
		maintenance = workerMaintenance(path);
	});

	afterAll(async () => {
		for (const app of apps.splice(0)) app.unmount();
		await maintenance?.close();
		await source?.close();
		rmSync(folder, {recursive: true, force: true});
	});

	it('an index name with an escape shows as visible text in the list and the detail, never raw', async () => {
		const app = start(source, maintenance, true);
		app.press('6');
		await app.until(frame => frame.includes(`${RATE_CHECK}: served by idx_␛[31mred`), 30_000);
		const selected = await select(app, line => line.includes(RATE_CHECK));
		expect(hasLine(selected, `› ✓ indexes     ${RATE_CHECK}: served by idx_␛[31mred`)).toBe(true);
		expect(selected).toMatch(/^ {2}served by idx_␛\[31mred · rows \(estimate\) \d+$/mu);
		for (const frame of app.stdout.frames) expect(frame).not.toContain('\u001b[31mred');
	});

	it('in every field of a check: title, summary, evidence, fix lines and note', async () => {
		const hostile = (text: string) => `${text}\u001b]0;owned\u0007\u001b[2J`;
		const check: HealthCheck = {
			id: 'test.hostile',
			group: 'statements',
			title: hostile('title'),
			status: 'critical',
			summary: hostile('summary'),
			evidence: [{label: hostile('label'), value: hostile('value')}],
			fix: {kind: 'advice', lines: [hostile('EXPLAIN SELECT')], note: hostile('note'), action: null},
		};
		const app = renderInk(<HealthView checks={[check]} panel={undefined} checkable={false} loadPending={false} selected={0} writable job={{label: hostile('job'), line: null, outcome: {ok: false, text: hostile('outcome')}}} running={false} width={120} height={20} />, {columns: 120, rows: 22});
		apps.push(app);
		const frame = await app.until(screen => screen.includes('outcome'));
		for (const word of ['title', 'summary', 'label', 'value', 'EXPLAIN SELECT', 'note', 'job', 'outcome']) expect(frame).toContain(`${word}␛]0;owned␇␛[2J`);
		expect(frame).not.toContain('\u001b');
		expect(frame).not.toContain('\u0007');
	});
});

describe('the Health view on PostgreSQL', () => {
	const TABLE = 'evil\u001b[31mtable';
	let database: Awaited<ReturnType<typeof freshDatabase>>;
	let admin: pg.Client;
	let source: UsageSource | undefined;
	let maintenance: MaintenanceService | undefined;

	const deadRows = async (): Promise<number> => Number((await admin.query<{dead: string}>('SELECT coalesce(sum(n_dead_tup), 0) AS dead FROM pg_stat_user_tables WHERE relname = $1', [TABLE])).rows[0]!.dead);

	beforeAll(async () => {
		database = await freshDatabase('relaytop_ui_health');
		admin = new pg.Client({connectionString: database.url});
		admin.on('error', () => undefined);
		await admin.connect();
		await loadNewApiIntoPostgres(admin, fixturePath('newapi'));
		// A table whose name is an escape sequence, four fifths dead rows, and no autovacuum to clean them.
		await admin.query(`CREATE TABLE "${TABLE}" (id integer, pad text) WITH (autovacuum_enabled = false)`);
		await admin.query(`INSERT INTO "${TABLE}" SELECT g, repeat('x', 400) FROM generate_series(1, 5000) AS g`);
		await admin.query(`DELETE FROM "${TABLE}" WHERE id > 1000`);
		// The statistics arrive when this session next reports them.
		for (let waited = 0; (await deadRows()) < 4000; waited += 200) {
			if (waited > 15_000) throw new Error('the dead rows never reached the statistics');
			await new Promise(resolve => setTimeout(resolve, 200));
		}
		source = await openSource(database.url);
		maintenance = await openMaintenanceService(database.url);
	});

	afterAll(async () => {
		for (const app of apps.splice(0)) app.unmount();
		await maintenance?.close();
		await source?.close();
		await admin?.end().catch(() => undefined);
		await database?.drop();
	});

	it('judges against --ram/--cores, names the table safely, and F, y vacuums it: the check is gone after the reload', async () => {
		const app = start(source!, maintenance!, true, {machine: {ram: '2GB', cores: '1'}});
		app.press('6');
		const view = await app.until(frame => frame.includes('"evil␛[31mtable" dead rows') && !frame.includes('reading the checks'), 30_000);
		expect(view).toMatch(/^Health · 1\/\d+ · judged for 2\.0 GB RAM, 1 core \(given\) · checked /mu);
		const listed = lines(view).find(line => line.includes('"evil␛[31mtable" dead rows:'))!;
		// Not the gateway's table: a warning at most, however many of its rows are dead.
		expect(listed).toMatch(/^[› ] ! tables {6}"evil␛\[31mtable" dead rows: 4000 dead of 5000 rows \(80%\), /u);
		expect(headingAbove(view, listed)).toMatch(/^Warnings · \d+$/u);

		const [check] = (await maintenance!.health({})).checks.filter(candidate => candidate.id.endsWith('.dead_tuples') && candidate.title.includes('evil'));
		expect(check?.fix?.action?.kind).toBe('vacuum');
		const statements = actionStatements(check!.fix!.action!);
		expect(statements).toHaveLength(1);
		expect(statements[0]).toMatch(/^VACUUM \(ANALYZE\) "evil\u001b\[31mtable"$/u);

		const selected = await select(app, line => line.includes('"evil␛[31mtable" dead rows'));
		expect(hasLine(selected, APPLY)).toBe(true);
		app.press('F');
		const confirm = await app.until(frame => frame.includes('Run it?'));
		expect(confirmSql(confirm)).toEqual(statements.map(statement => `  ${terminalSafe(statement)}`));
		app.press('y');
		const done = await app.until(frame => /^ {2}VACUUM \(ANALYZE\) \S+: /mu.test(frame), 30_000);
		expect(lines(done)).toContainEqual(expect.stringMatching(/^ {2}VACUUM \(ANALYZE\) "evil␛\[31mtable": done in [\d.]+ s$/u));
		// Independently: the server's statistics say it was vacuumed and its dead rows are gone.
		const [stats] = (await admin.query<{vacuumed: boolean}>('SELECT last_vacuum IS NOT NULL AS vacuumed FROM pg_stat_user_tables WHERE relname = $1', [TABLE])).rows;
		expect(stats?.vacuumed).toBe(true);
		expect(await deadRows()).toBe(0);
		await app.until(frame => !frame.includes('"evil␛[31mtable" dead rows:') && frame.includes('Job · vacuum "evil␛[31mtable"'), 30_000);
		for (const frame of app.stdout.frames) expect(frame).not.toContain('\u001b[31mtable');
	});
});

describe('the Health view over CPA-Manager’s HTTP API', () => {
	let replica: CpaManagerReplica;
	let source: UsageSource;

	beforeAll(async () => {
		replica = await startCpaManagerReplica({dbPath: ensureFixture('cpa'), managementKey: FIXTURE_MANAGEMENT_KEY});
		source = await openSource(replica.url, {managementKey: FIXTURE_MANAGEMENT_KEY});
	});

	afterAll(async () => {
		for (const app of apps.splice(0)) app.unmount();
		await source?.close();
		await replica?.close();
	});

	it('has no database to check: only the load check, and a line saying what the others need', async () => {
		const app = start(source, undefined, true);
		app.press('6');
		const view = await app.until(frame => hasLine(frame, UNCHECKABLE) && /load {8}requests: /u.test(frame), 30_000);
		const listed = lines(view).filter(line => /^[› ] [✗!✓] /u.test(line));
		expect(listed).toHaveLength(1);
		// Token counting is new-api's (CountToken): over CPA-Manager the check is the rate alone.
		expect(listed[0]).toMatch(/^› ✓ load {8}requests: \d+ rpm, \d+ tpm$/u);
		expect(lines(view).filter(line => /^(Critical|Warnings|OK) · \d+$/u.test(line))).toHaveLength(1);
		expect(view).toMatch(/^Health · 1\/1$/mu);
		// No store to write to: no F.
		expect(footer(view)).not.toContain('F fix');
		app.press('F', 'x');
		await app.until(frame => frame.includes('no job is running'));
		expect(app.lastFrame()).not.toContain('Run it?');
	});
});

describe('layout', () => {
	it('keeps the selected row on screen and gives the detail what the list leaves', () => {
		expect(windowStart(10, 20, 9)).toBe(0);
		expect(windowStart(30, 10, 0)).toBe(0);
		expect(windowStart(30, 10, 15)).toBe(11);
		expect(windowStart(30, 10, 29)).toBe(20);
		expect(splitRows(20, 8, 6)).toEqual({list: 8, detail: 6});
		expect(splitRows(20, 30, 8)).toEqual({list: 12, detail: 8});
		expect(splitRows(20, 30, 30)).toEqual({list: 10, detail: 10});
		// A detail with no room for more than a line or two is left out.
		expect(splitRows(6, 30, 8)).toEqual({list: 6, detail: 0});
		expect(wrapText('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
		expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
	});

	it('fits a short terminal: the frame is one row shorter, the cursor visible, the detail cut with a note', async () => {
		const checks: HealthCheck[] = Array.from({length: 30}, (_, index) => ({
			id: `test.${index}`,
			group: 'settings',
			title: `setting ${index}`,
			status: index < 5 ? 'warning' : 'ok',
			summary: `summary ${index} ${'long '.repeat(30)}`,
			evidence: [],
			fix: {kind: 'settings', lines: Array.from({length: 12}, (_, line) => `ALTER SYSTEM line ${line};`), note: null, action: null},
		}));
		const app = renderInk(<HealthView checks={checks} panel={undefined} checkable={false} loadPending={false} selected={20} writable={false} job={null} running={false} width={80} height={18} />, {columns: 80, rows: 24});
		apps.push(app);
		const frame = await app.until(screen => screen.includes('more lines'));
		expect(lines(frame).length).toBeLessThanOrEqual(18);
		expect(lines(frame).every(line => [...line].length <= 80)).toBe(true);
		expect(lines(frame)).toContainEqual(expect.stringMatching(/^› ✓ settings {4}setting 20: summary 20 long/u));
		expect(lines(frame)).toContainEqual(expect.stringMatching(/^… \d+ more lines: a taller terminal shows them$/u));
	});
});
