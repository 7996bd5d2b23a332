import pg from 'pg';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import type {ActivitySession, ActivitySnapshot} from '../source/postgres/monitor/activity-summary.js';
import {PostgresMonitor} from '../source/postgres/monitor/postgres-monitor.js';
import {openSource, openTarget} from '../source/sources/open-target.js';
import {PgSession} from '../source/sources/postgres/pg-session.js';
import {App} from '../source/ui/app.js';
import {initialState, type DashboardState} from '../source/ui/dashboard-state.js';
import {bindingsFor} from '../source/ui/keymap.js';
import {activityRows, rowNote, treePid} from '../source/ui/views/postgres/activity-rows.js';
import {bytes} from '../source/output/format.js';
import {age, fitParts, wrapText} from '../source/ui/views/postgres/pg-format.js';
import {allocateRows, windowAround} from '../source/ui/views/postgres/section-layout.js';
import type {UsageSource} from '../source/usage/types.js';
import {freePort} from './support/net.js';
import {freshDatabase} from './support/postgres-server.js';
import {KEY, renderInk} from './support/render-ink.js';

// The PostgreSQL view of the real dashboard on a real server holding the new-api fixture: sessions
// blocked behind a row lock, a snapshot held idle in a transaction, an idle pool, a statement run
// many times, the logs table and its indexes, read as text off the screen.

let database: Awaited<ReturnType<typeof freshDatabase>>;
let source: UsageSource;
let admin: pg.Client;
let statementsReady = false;
const opened: pg.Client[] = [];
const apps: Array<{unmount: () => void}> = [];

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/** A session of some workload on the test database; ended in afterAll. */
async function connect(applicationName: string): Promise<pg.Client> {
	const client = new pg.Client({connectionString: database.url, application_name: applicationName});
	client.on('error', () => {}); // sessions cancelled on purpose
	await client.connect();
	opened.push(client);
	return client;
}

const pidOf = async (client: pg.Client): Promise<number> => (await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

/** Sends a statement that blocks or runs long; its outcome is awaited (or ignored) later. */
const send = async (client: pg.Client, text: string): Promise<unknown> => client.query(text).catch((error: unknown) => error);

const BIG = {columns: 160, rows: 50};
/** BIG plus room for the db column, which shows when another database on the server is busy (a parallel test file). */
const WIDE = {columns: 180, rows: 50};
const SMALL = {columns: 100, rows: 30};

function start(size: {columns: number; rows: number}, state: Partial<DashboardState> = {}, on: UsageSource = source, writable = false) {
	const initial = {...initialState(on.capabilities.dimensions), view: 'postgres' as const, intervalMs: 1000, ...state};
	const app = renderInk(<App source={on} initial={initial} writable={writable} />, size);
	apps.push(app);
	return app;
}

const lines = (frame: string): string[] => frame.split('\n');
const STALE = /stale · last updated \d\d:\d\d:\d\d/u;
const UNREACHABLE = /^● live · PostgreSQL unreachable \(connection refused\) · (?:retry in \d+ s|retrying…)/mu;
const lineWith = (frame: string, pattern: RegExp): string | undefined => lines(frame).find(line => pattern.test(line));

/** The pids of the sessions table, top to bottom, as drawn (tree indents included). */
function sessionRows(frame: string): Array<{pid: number; line: string}> {
	const all = lines(frame);
	const header = all.findIndex(line => /^pid +.*\bstate\b.*\bquery$/u.test(line));
	if (header === -1) return [];
	const rows: Array<{pid: number; line: string}> = [];
	for (const line of all.slice(header + 1)) {
		const match = /^ *(?:└ )?(\d+) /u.exec(line);
		if (match === null) break;
		rows.push({pid: Number(match[1]), line});
	}
	return rows;
}

/** Every line fits the terminal, and the frame is one row shorter than it. */
function expectFits(frame: string, size: {columns: number; rows: number}): void {
	expect(lines(frame).length).toBeLessThanOrEqual(size.rows - 1);
	for (const line of lines(frame)) expect([...line].length, line).toBeLessThanOrEqual(size.columns);
}

beforeAll(async () => {
	database = await freshDatabase('relaytop_uipg');
	admin = await connect('uipg-admin');
	await loadNewApiIntoPostgres(admin, fixturePath('newapi'));
	const preload = await admin.query<{loaded: boolean}>("SELECT current_setting('shared_preload_libraries') ~ 'pg_stat_statements' AS loaded");
	const installed = await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(
		() => true,
		() => false,
	);
	statementsReady = installed && preload.rows[0]!.loaded;
	source = await openSource(database.url);
});

// The apps share one source, and with it one statements sampler: an app a failed test left mounted
// would keep sampling beside the next test's, and halve the intervals its rates are taken over.
afterEach(() => {
	for (const app of apps.splice(0)) app.unmount();
});

afterAll(async () => {
	await source?.close();
	await Promise.all(opened.map(async client => client.end().catch(() => {})));
	await database?.drop();
});

describe('the server at a glance', () => {
	it('shows the version, connections against max_connections, TPS, cache hit, temp files and deadlocks per interval, and the logs table with its indexes', async () => {
		const {version, max} = (await admin.query<{version: string; max: string}>("SELECT current_setting('server_version') AS version, current_setting('max_connections') AS max")).rows[0]!;
		const app = start(BIG);
		const frame = await app.until(screen => /TPS \d/u.test(screen) && /temp files \d+ in [\d.]+s/u.test(screen) && screen.includes('served'));
		const header = lines(frame)[1]!;
		expect(header).toMatch(new RegExp(`^PostgreSQL ${version.split(' ')[0]!.replaceAll('.', '\\.')} · `, 'u'));
		expect(header).toMatch(new RegExp(`connections \\d+/${max} \\d+%`, 'u'));
		expect(header).toMatch(/cache hit [\d.]+%/u);
		expect(header).toMatch(/deadlocks 0 in [\d.]+s/u);
		expect(lines(frame)[2]).toMatch(/^sessions \d+ · active \d+ · idle \d+ · idle in xact \d+ · waiting on lock \d+/u);
		// The fixture's logs: its size and rows, when autovacuum came by, how it is scanned.
		expect(lineWith(frame, /^logs · /u)).toMatch(/^logs · [\d.]+ MB \(heap [\d.]+ MB\) · [\d,]+ live · [\d,]+ dead [\d.]+% · .*autovacuum (never|\S+ ago) · autoanalyze (never|\S+ ago)/u);
		expect(lineWith(frame, /^logs · /u)).toMatch(/scans seq [\d,]+ \/ index [\d,]+/u);
		// new-api's upstream indexes serve both hot queries.
		expect(lineWith(frame, /requests by time and type/u)).toMatch(/^served +requests by time and type \(rates, time ranges\): by idx_created_at_type, idx_created_at_id$/u);
		expect(lineWith(frame, /user log pages/u)).toMatch(/^served +user log pages \(user_id, newest first\): by idx_user_id_id$/u);
		expect(frame).toContain('largest tables: logs');
		expect(frame).toContain('● live · new-api (PostgreSQL)');
		expect(frame).not.toContain('range 24h'); // the usage range does not apply here
		expectFits(frame, BIG);
		app.unmount();
	});
});

describe('sessions', () => {
	it('draws a session blocked behind a row lock under its blocker, and marks the idle-in-transaction session holding the xmin horizon', async () => {
		const snapshotHolder = await connect('uipg-report');
		const holder = await connect('uipg-settle');
		const waiter = await connect('uipg-writer');
		const [snapshotPid, holderPid, waiterPid] = [await pidOf(snapshotHolder), await pidOf(holder), await pidOf(waiter)];
		let waiting: Promise<unknown> = Promise.resolve();
		try {
			await snapshotHolder.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
			await snapshotHolder.query('SELECT count(*) FROM users');
			for (let i = 0; i < 3; i += 1) await admin.query('SELECT txid_current()'); // xids after its snapshot
			await holder.query('BEGIN');
			await holder.query('UPDATE users SET quota = quota + 1 WHERE id = 1');
			waiting = send(waiter, 'UPDATE users SET quota = quota - 1 WHERE id = 1');

			for (const size of [WIDE, SMALL]) {
				const app = start(size);
				const frame = await app.until(screen => {
					const rows = sessionRows(screen);
					const at = rows.findIndex(row => row.pid === holderPid);
					return at !== -1 && rows[at + 1]?.pid === waiterPid && rows.some(row => row.pid === snapshotPid);
				});
				const rows = sessionRows(frame);
				const at = rows.findIndex(row => row.pid === holderPid);
				// The blocker at the root, the waiter indented under it; both say so in words too.
				expect(rows[at]!.line).toMatch(new RegExp(`^${holderPid} +.*idle in xact .*blocks 1`, 'u'));
				// From 100 columns the query keeps at least 24 cells, its head whatever the pids' widths.
				expect(rows[at + 1]!.line).toMatch(new RegExp(`^└ ${waiterPid} +.*waiting .*waits ${holderPid} +UPDATE users SET quota\\b`, 'u'));
				// Wide enough for the wait event and the whole statement.
				if (size === WIDE) expect(rows[at + 1]!.line).toMatch(/waiting +Lock:\w+ .*UPDATE users SET quota = quota - 1 WHERE id = 1$/u);
				expect(rows.find(row => row.pid === snapshotPid)!.line).toMatch(/idle in xact .*xmin horizon/u);
				expect(frame).toMatch(new RegExp(`xmin horizon: pid ${snapshotPid} \\(idle in xact`, 'u'));
				expect(lines(frame)[2]).toMatch(/idle in xact (?:[2-9]|\d{2,}) · waiting on lock [1-9]/u);
				expect(frame).toMatch(/^Sessions · (?:\d+ active, waiting or in a transaction · )?[1-9]\d* blocked/mu);
				expectFits(frame, size);
				app.unmount();
			}
		} finally {
			await holder.query('ROLLBACK');
			await waiting;
			await snapshotHolder.query('COMMIT');
		}
	});

	it('counts a pool of idle gateway connections as one group, with its states', async () => {
		const pool = await Promise.all(Array.from({length: 6}, async () => connect('fake-gateway-ui')));
		const app = start(SMALL);
		const frame = await app.until(screen => /^fake-gateway-ui +\S+ +\S+ +6 +· +6 +· +·$/mu.test(screen));
		expect(lines(frame)[2]).toMatch(/idle ([6-9]|\d\d+)/u);
		expectFits(frame, SMALL);
		app.unmount();
		await Promise.all(pool.map(async client => client.end()));
	});

	it('opens the selected session with Enter: its whole query, however long, and Esc goes back', async () => {
		const long = await connect('uipg-long');
		const longPid = await pidOf(long);
		const comment = `${'a report that explains itself at length '.repeat(12)}tail-marker-7`;
		const running = send(long, `SELECT pg_sleep(60) /* ${comment} */`);
		const app = start(BIG);
		await app.until(screen => sessionRows(screen).some(row => row.pid === longPid));
		// Paused, the list holds still while the cursor moves.
		app.press('p');
		await app.until(screen => screen.includes('PAUSED'));
		await sleep(500); // a sample already under way lands
		const table = app.lastFrame();
		const index = sessionRows(table).findIndex(row => row.pid === longPid);
		expect(index).toBeGreaterThanOrEqual(0);
		expect(table).not.toContain('tail-marker-7'); // cut to the column
		app.press(...Array.from({length: index}, () => 'j'), ...(index > 0 ? ['k', KEY.down] : ['j', 'k']));
		app.press(KEY.enter);
		const detail = await app.until(screen => screen.includes(`Session ${longPid} · full query · Esc back`) && screen.includes('tail-marker-7'));
		expect(detail).toMatch(/state active · wait Timeout:PgSleep/u);
		expect(detail).toMatch(/user \S+ · app uipg-long · client/u);
		expect(detail).toContain('SELECT pg_sleep(60) /* a report that explains itself at length');
		expectFits(detail, BIG);
		app.press(KEY.escape);
		await app.until(screen => screen.includes('Sessions · ') && !screen.includes('tail-marker-7'));
		app.press('p');
		await app.until(screen => screen.includes('● live'));
		app.unmount();
		await admin.query('SELECT pg_cancel_backend($1)', [longPid]);
		await running;
	});
});

describe('cancel and terminate', () => {
	/** Paused with the cursor on `pid`: the list holds still while keys move it. */
	async function selectSession(app: ReturnType<typeof start>, pid: number): Promise<void> {
		await app.until(screen => sessionRows(screen).some(row => row.pid === pid));
		app.press('p');
		await app.until(screen => screen.includes('PAUSED'));
		await sleep(500); // a sample already under way lands
		const index = sessionRows(app.lastFrame()).findIndex(row => row.pid === pid);
		expect(index).toBeGreaterThanOrEqual(0);
		app.press(...Array.from({length: index}, () => 'j'));
		await sleep(100);
	}

	it('cancels the selected query with C after y, showing the guarded SQL first; any other key sends nothing', async () => {
		const worker = await connect('uipg-cancel');
		const pid = await pidOf(worker);
		const running = worker.query('SELECT pg_sleep(60)').then(() => 'finished', (error: {code?: string}) => error.code);
		const app = start(BIG, {}, source, true);
		await selectSession(app, pid);
		app.press('C');
		const asked = await app.until(screen => screen.includes('Run it?'));
		expect(asked).toContain(`Cancel the query of pid ${pid}`);
		expect(asked).toContain('pg_cancel_backend(a.pid)');
		expect(asked).toContain(`a.pid = ${pid}`);
		app.press('n');
		await app.until(screen => !screen.includes('Run it?'));
		await sleep(300);
		expect((await admin.query<{state: string}>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0]?.state).toBe('active');
		app.press('C');
		await app.until(screen => screen.includes('Run it?'));
		app.press('y');
		await app.until(screen => screen.includes(`pid ${pid}: query cancelled`));
		expect(await running).toBe('57014');
		app.unmount();
	});

	it('terminates an idle-in-transaction session with K, and says cancel would not free its locks', async () => {
		const holder = await connect('uipg-terminate');
		const pid = await pidOf(holder);
		await holder.query('BEGIN');
		await holder.query('SELECT count(*) FROM logs');
		const app = start(BIG, {}, source, true);
		await selectSession(app, pid);
		app.press('C');
		const cancelAsked = await app.until(screen => screen.includes('Run it?'));
		expect(cancelAsked).toContain('cancel does not end the transaction or free its locks');
		app.press(KEY.escape);
		await app.until(screen => !screen.includes('Run it?'));
		app.press('K');
		const asked = await app.until(screen => screen.includes('Run it?'));
		expect(asked).toContain(`Terminate pid ${pid}`);
		expect(asked).toContain('pg_terminate_backend(a.pid)');
		app.press('y');
		await app.until(screen => screen.includes(`pid ${pid}: session terminated`));
		for (let attempt = 0; attempt < 100; attempt++) {
			if ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows.length === 0) break;
			await sleep(50);
		}
		expect((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows).toHaveLength(0);
		app.unmount();
	});

	it('offers no write keys when read-only: C and K do nothing and are not in the help', async () => {
		const worker = await connect('uipg-readonly');
		const pid = await pidOf(worker);
		const running = worker.query('SELECT pg_sleep(1.5)').then(() => 'finished', (error: {code?: string}) => error.code);
		const app = start(BIG);
		await selectSession(app, pid);
		app.press('C', 'K');
		await sleep(300);
		expect(app.lastFrame()).not.toContain('Run it?');
		app.press('?');
		const help = await app.until(screen => screen.includes('Keys'));
		expect(help).not.toMatch(/cancel the selected|terminate the selected/u);
		expect(await running).toBe('finished');
		app.unmount();
	});
});

describe('statements and indexes', () => {
	it('lists a statement run many times in the top statements, with its calls and rates, and leaves relaytop\'s own out', async ({skip}) => {
		if (!statementsReady) skip();
		const work = await connect('uipg-work');
		const app = start(BIG);
		await app.until(screen => /Top statements · by ms\/s over/u.test(screen));
		for (let i = 0; i < 40; i += 1) await work.query('SELECT pg_sleep(0.002), $1::int AS relaytop_ui_probe', [i]);
		const frame = await app.until(screen => /^ +[\d.]+ +[\d.]+ +[\d.]+ +40 +SELECT pg_sleep\(\$\d\), \$\d::int AS relaytop_ui_probe$/mu.test(screen));
		const row = lineWith(frame, /relaytop_ui_probe/u)!;
		const [callsPerS, msPerS, meanMs] = row.trim().split(/ +/u).map(Number);
		expect(callsPerS).toBeGreaterThan(0);
		expect(msPerS).toBeGreaterThan(0);
		expect(meanMs).toBeGreaterThanOrEqual(2);
		expect(frame).toMatch(/Top statements · by ms\/s over [\d.]+s · all: [\d.]+k? calls\/s, [\d.]+k? ms\/s · \d+ of relaytop's own not listed/u);
		expect(frame).not.toContain('/* relaytop */');
		app.unmount();
	});

	it('reports the rates index need missing once the created_at indexes are dropped', async () => {
		const app = start(SMALL);
		await app.until(screen => /^served +requests by time and type/mu.test(screen));
		await admin.query('DROP INDEX idx_created_at_type');
		await admin.query('DROP INDEX idx_created_at_id');
		const frame = await app.until(screen => /^MISSING +requests by time and type \(rates, time ranges\): no index serves it/mu.test(screen));
		expect(frame).toMatch(/^served +user log pages/mu);
		expectFits(frame, SMALL);
		app.unmount();
	});

	it('says what to install in place of a panel the server cannot give, and the other sections keep working', async () => {
		await admin.query('DROP EXTENSION IF EXISTS pg_stat_statements');
		const app = start(SMALL);
		const frame = await app.until(screen => screen.includes(`top statements: pg_stat_statements is not installed in database ${database.name}`) && /^logs · /mu.test(screen));
		expect(frame).toMatch(/^→ CREATE EXTENSION pg_stat_statements; \(as a superuser, in database/mu);
		expect(frame).toMatch(/^PostgreSQL \S+ · connections/mu);
		expect(frame).toMatch(/^Sessions\b/mu);
		expect(frame).not.toContain('stale');
		expectFits(frame, SMALL);
		app.unmount();
	});
});

describe('keys and sources', () => {
	it('lists the view\'s keys with ?, from the keymap: the session cursor and Enter, not the usage search', async () => {
		const app = start(SMALL);
		const footer = await app.until(screen => screen.includes('Enter query'));
		expect(lines(footer).at(-1)).not.toMatch(/search|filter|range/u);
		app.press('?');
		const help = await app.until(screen => screen.includes('Keys'));
		for (const binding of bindingsFor('postgres')) expect(help).toContain(binding.help);
		expect(help).toContain('the selected session: its whole query');
		expect(help).toMatch(/↓ j +move down/u);
		expect(help).not.toContain('search (Enter applies');
		app.press('?');
		await app.until(screen => /^Sessions\b/mu.test(screen));
		app.unmount();
	});

	it('says how to attach a server when the source is a SQLite file', async () => {
		const sqlite = openTarget(fixturePath('newapi'));
		try {
			const app = start(SMALL, {}, sqlite);
			const frame = await app.until(screen => screen.includes('relaytop postgres://'));
			expect(frame).toContain('This source is a SQLite file: there is no server to watch.');
			app.unmount();
		} finally {
			await sqlite.close();
		}
	});
});

describe('while the server cannot be reached', () => {
	it('keeps the last sample and an open session on screen, marked stale, and samples again once it can', async () => {
		const port = await freePort();
		// While down, the view's samples go to a port nothing listens on, through the monitor as always.
		const nowhere = new PgSession({host: '127.0.0.1', port, user: 'postgres', application_name: 'relaytop'});
		const monitor = new PostgresMonitor();
		let down = false;
		const observer = source.postgres!;
		const flaky = Object.assign(Object.create(source) as UsageSource, {
			postgres: {snapshot: (panels?: Parameters<typeof observer.snapshot>[0]) => (down ? monitor.snapshot(nowhere, panels) : observer.snapshot(panels)), signal: observer.signal},
		});
		const report = await connect('uipg-report-open');
		const reportPid = await pidOf(report);
		let app: ReturnType<typeof start> | undefined;
		try {
			await report.query('BEGIN');
			await report.query('SELECT count(*) AS relaytop_down_probe FROM users');
			app = start(BIG, {}, flaky);
			const live = await app.until(screen => sessionRows(screen).some(row => row.pid === reportPid) && screen.includes('● live'));
			const header = lines(live)[1]!;
			expect(header).not.toMatch(STALE);
			const index = sessionRows(live).findIndex(row => row.pid === reportPid);
			app.press(...Array.from({length: index}, () => 'j'), KEY.enter);
			await app.until(screen => screen.includes(`Session ${reportPid} · full query · Esc back`));

			down = true;
			const detail = await app.until(screen => screen.includes(`Session ${reportPid} · stale · last updated`) && UNREACHABLE.test(screen));
			expect(detail).toContain('relaytop_down_probe');
			expect(detail).not.toMatch(/cannot read|unavailable/u);
			app.press(KEY.escape);
			const kept = await app.until(screen => STALE.test(lines(screen)[1] ?? '') && sessionRows(screen).some(row => row.pid === reportPid));
			expect(lines(kept)[1]).toMatch(new RegExp(`^PostgreSQL \\S+ · ${STALE.source} · `, 'u'));
			expect(kept).toMatch(UNREACHABLE);

			down = false;
			const back = await app.until(screen => !STALE.test(screen) && screen.includes('● live · new-api (PostgreSQL)') && sessionRows(screen).some(row => row.pid === reportPid), 30_000);
			expect(back).not.toContain('unreachable');
		} finally {
			// Before its session closes: a mounted view would go on sampling through it.
			app?.unmount();
			await report.query('ROLLBACK');
			await nowhere.close();
		}
	});
});

describe('layout and formats, without a server', () => {
	const session = (pid: number, extra: Partial<ActivitySession> = {}): ActivitySession => ({
		pid,
		leaderPid: null,
		database: 'newapi',
		inCurrentDatabase: true,
		usename: 'newapi',
		applicationName: 'new-api',
		clientAddr: '10.0.0.5',
		backendType: 'client backend',
		state: 'active',
		waitEventType: null,
		waitEvent: null,
		backendAgeS: 100,
		backendStart: '2023-11-14 22:13:20.123456+00',
		queryStart: '2023-11-14 22:14:10.654321+00',
		xactAgeS: 1,
		queryAgeS: 1,
		stateAgeS: 1,
		xminAgeXids: null,
		xidAgeXids: null,
		query: 'SELECT 1',
		visible: true,
		blockedBy: [],
		holdsXminHorizon: false,
		...extra,
	});

	it('orders sessions as trees: each blocker, then its waiters indented; the rest oldest first', () => {
		const activity: ActivitySnapshot = {
			sampledAtMs: 0,
			sessions: [session(7, {xactAgeS: 99, state: 'idle in transaction', holdsXminHorizon: true}), session(10), session(11, {waitEventType: 'Lock', blockedBy: [10]}), session(12, {waitEventType: 'Lock', blockedBy: [10, 11]})],
			blockingTree: [{pid: 10, known: true, blockedTotal: 2, blocks: [{pid: 11, known: true, blockedTotal: 1, blocks: [{pid: 12, known: true, blockedTotal: 0, blocks: []}]}, {pid: 12, known: true, blockedTotal: 0, blocks: []}]}],
			xminHorizon: null,
			hiddenSessions: 0,
			hint: null,
		};
		const rows = activityRows(activity);
		expect(rows.map(treePid)).toEqual(['10', '└ 11', '  └ 12', '7']);
		expect(rows.map(rowNote)).toEqual(['blocks 2', 'blocks 1 waits 10', 'waits 10,11', 'xmin horizon']);
	});

	it('gives rows by priority: minimums first, then comfortable, then all; drops what cannot fit', () => {
		const needs = [
			{id: 'header', priority: 0, min: 2, comfortable: 2, max: 2},
			{id: 'groups', priority: 5, min: 2, comfortable: 4, max: 10},
			{id: 'activity', priority: 1, min: 5, comfortable: 12, max: 40},
			{id: 'statements', priority: 3, min: 5, comfortable: 8, max: 22},
		];
		// Comfortable for all takes 26 rows; three blank lines between sections come before more rows.
		expect(Object.fromEntries(allocateRows(needs, 32).rows)).toEqual({header: 2, activity: 15, statements: 8, groups: 4});
		expect(allocateRows(needs, 32).gaps).toBe(true);
		expect(Object.fromEntries(allocateRows(needs, 28).rows)).toEqual({header: 2, activity: 14, statements: 8, groups: 4});
		expect(allocateRows(needs, 28).gaps).toBe(false);
		// Statements no longer fit; the groups' two rows still do.
		expect(Object.fromEntries(allocateRows(needs, 10).rows)).toEqual({header: 2, activity: 6, groups: 2});
		expect(allocateRows(needs, 10).dropped).toEqual(['statements']);
		expect(allocateRows(needs, 100).gaps).toBe(true);
		expect(windowAround(40, 0, 10)).toEqual({start: 0, end: 10});
		expect(windowAround(40, 39, 10)).toEqual({start: 30, end: 40});
		expect(windowAround(3, 2, 10)).toEqual({start: 0, end: 3});
	});

	it('wraps text from the server at spaces, keeps its line breaks, and shows its controls as symbols', () => {
		expect(wrapText('SELECT a, b\nFROM logs WHERE id = 1', 10)).toEqual(['SELECT a,', 'b', 'FROM logs', 'WHERE id =', '1']);
		expect(wrapText('x'.repeat(12), 5)).toEqual(['xxxxx', 'xxxxx', 'xx']);
		expect(wrapText('a\u001b[2Jb', 20)).toEqual(['a␛[2Jb']);
		expect(fitParts([{text: 'aaaa', priority: 0}, {text: 'bbbb', priority: 2}, {text: 'cccc', priority: 1}, {text: 'dddd', priority: 2}], 15).map(part => part.text)).toEqual(['aaaa', 'cccc']);
		expect([bytes(812), bytes(15.3 * 1024 * 1024), bytes(null)]).toEqual(['812 B', '15.3 MB', '-']);
		expect([age(0.42), age(42.7), age(252), age(3 * 3600 + 240), age(2 * 86_400 + 3 * 3600)]).toEqual(['0.4s', '42s', '4m12s', '3h04m', '2d03h']);
	});
});
