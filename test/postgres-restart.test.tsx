import {chmodSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {MAIN_TABLES_DDL, NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {thousands} from '../source/output/format.js';
import {isAlive} from '../source/postgres/embedded/data-dir.js';
import {type EmbeddedPostgres, startEmbeddedPostgres} from '../source/postgres/embedded/embedded-server.js';
import {openSource} from '../source/sources/open-target.js';
import {App} from '../source/ui/app.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {stablePort} from './support/net.js';
import {withDatabase} from './support/postgres-server.js';
import {renderInk} from './support/render-ink.js';

// The real dashboard on new-api's logs in a PostgreSQL server of its own, which the test stops (a
// fast shutdown) and kills (SIGKILL to the postmaster), then starts again on the same port and data
// folder, so the dashboard's URL is the same. While the server is gone, the screen keeps the last
// figures, marked stale, and the status bar says the server is unreachable and when the next try
// is; once it is back, the figures are live again and count the rows written meanwhile.

const WAIT_MS = 60_000;
/** A few waits of WAIT_MS at most, and a server start. */
const TEST_MS = 300_000;
const SIZE = {columns: 160, rows: 40};
const DAY_S = 86_400;

let base: string;
let port: number;
let server: EmbeddedPostgres;
let url: string;
let source: UsageSource;
/** A test took the server down and has not started it again yet: the tests after it need it up. */
let serverDown = false;

const options = () => ({dataDir: join(base, 'pg'), port, persistent: true});

async function withClient<T>(work: (client: pg.Client) => Promise<T>, database = 'newapi'): Promise<T> {
	const client = new pg.Client({connectionString: withDatabase(server.url, database)});
	await client.connect();
	try {
		return await work(client);
	} finally {
		await client.end();
	}
}

/** Requests as new-api logs them: type 2 a success, 5 a failure (type 1, a top-up, is not a request). */
async function insertLogs(rows: ReadonlyArray<{readonly ageS: number; readonly type: number; readonly user: string}>): Promise<void> {
	const now = Math.floor(Date.now() / 1000);
	await withClient(async client => {
		for (const row of rows) {
			await client.query(
				`INSERT INTO logs (user_id, created_at, type, username, token_name, model_name, quota, prompt_tokens, completion_tokens, use_time, channel_id, token_id, "group", other)
				VALUES (1, $1, $2, $3, 'key-a', 'gpt-4o-mini', 1000, 100, 50, 2, 1, 1, 'default', '{}')`,
				[now - row.ageS, row.type, row.user],
			);
		}
	});
}

/** The overview's request count, recomputed from the raw rows: requests of the last 24 hours. */
async function requestsInLastDay(): Promise<number> {
	const rows = await withClient(async client => (await client.query<{type: string; created_at: string}>('SELECT type, created_at FROM logs')).rows);
	const since = Date.now() / 1000 - DAY_S;
	return rows.filter(row => (Number(row.type) === 2 || Number(row.type) === 5) && Number(row.created_at) >= since).length;
}

/** The postmaster's children: they must be gone before a server starts on the same data folder. */
function childrenOf(pid: number): number[] {
	try {
		const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
		return text === '' ? [] : text.split(/\s+/u).map(Number);
	} catch {
		return []; // not Linux: only the postmaster is waited for
	}
}

/** A fast shutdown, or the postmaster killed outright (a crash: the server recovers at its next start). */
async function takeDown(round: 'stopped' | 'killed'): Promise<void> {
	serverDown = true;
	if (round === 'stopped') {
		await server.stop();
		return;
	}
	const children = childrenOf(server.pid);
	process.kill(server.pid, 'SIGKILL');
	for (let i = 0; i < 400 && [server.pid, ...children].some(isAlive); i++) await delay(25);
	await server.stop(); // releases the data folder: the postmaster is gone already
}

async function startAgain(): Promise<void> {
	const before = server.url;
	server = await startEmbeddedPostgres(options());
	serverDown = false;
	expect(server.url).toBe(before);
}

/** After each test: the dashboard gone, and the server up again whatever step the test failed at. */
async function cleanUp(app: {unmount: () => void}): Promise<void> {
	app.unmount();
	if (serverDown) await startAgain();
}

beforeAll(async () => {
	base = mkdtempSync(join(tmpdir(), 'relaytop-restart-'));
	chmodSync(base, 0o755); // the server's OS user (postgres, when we are root) enters it
	// The server listens on it again after each stop: a port the OS never hands out to another test meanwhile.
	port = await stablePort();
	server = await startEmbeddedPostgres(options());
	await withClient(client => client.query('CREATE DATABASE newapi'), 'postgres');
	await withClient(client => client.query(`${MAIN_TABLES_DDL}\n${NEWAPI_LOGS_POSTGRES_DDL}`));
	// A hundred requests over the last two hours (every tenth failed), none in the last two minutes;
	// top-ups, and requests older than the range, which the count leaves out.
	await insertLogs([
		...Array.from({length: 100}, (_, i) => ({ageS: 120 + i * 60, type: i % 10 === 0 ? 5 : 2, user: ['alice', 'bob', 'carol'][i % 3]!})),
		...Array.from({length: 4}, (_, i) => ({ageS: 600 + i, type: 1, user: 'alice'})),
		...Array.from({length: 3}, (_, i) => ({ageS: 2 * DAY_S + i, type: 2, user: 'bob'})),
	]);
	url = withDatabase(server.url, 'newapi');
	source = await openSource(url);
}, 120_000);

afterAll(async () => {
	await source?.close();
	await server?.stop();
	if (base !== undefined) rmSync(base, {recursive: true, force: true});
});

const lines = (frame: string): string[] => frame.split('\n');
/** The overview's first line: requests, success rate, rpm, tpm, cost, latency. */
const kpis = (frame: string): string => lines(frame)[1] ?? '';
const statusBar = (frame: string): string => lines(frame).find(line => /^[●‖] /u.test(line)) ?? '';

const STALE = /stale · last updated \d\d:\d\d:\d\d/u;
const UNREACHABLE = /^● live · PostgreSQL unreachable \([a-z ]+\) · (?:retry in (\d+) s|retrying…)/u;

function start() {
	const initial = {...initialState(source.capabilities.dimensions), intervalMs: 500, range: '24h' as const};
	return renderInk(<App source={source} initial={initial} />, SIZE);
}

/** Waits until the bar counts down: a number, then another (or a try under way). */
async function expectCountdown(app: ReturnType<typeof start>): Promise<string> {
	const first = await app.until(screen => /retry in \d+ s/u.test(statusBar(screen)), WAIT_MS);
	const seconds = UNREACHABLE.exec(statusBar(first))?.[1];
	expect(seconds).toBeDefined();
	await app.until(screen => {
		const match = UNREACHABLE.exec(statusBar(screen));
		return match !== null && match[1] !== seconds;
	}, WAIT_MS);
	return first;
}

describe('the overview while its PostgreSQL server restarts', () => {
	for (const round of ['stopped', 'killed'] as const) {
		it(`keeps the last figures, marked stale, while the server is ${round}, and is live again with the new rows once it is back`, async () => {
			const app = start();
			try {
				const expected = await requestsInLastDay();
				const live = await app.until(screen => kpis(screen).startsWith(`${thousands(expected)} requests · `) && statusBar(screen).startsWith('● live · new-api (PostgreSQL)'), WAIT_MS);
				expect(live).not.toMatch(STALE);

				await takeDown(round);
				const down = await app.until(screen => UNREACHABLE.test(statusBar(screen)) && STALE.test(screen), WAIT_MS);
				expect(kpis(down)).toBe(kpis(live));
				expect(lines(down)[3]).toMatch(new RegExp(`^${STALE.source}$`, 'u'));
				expect(down).not.toContain('stale:');
				await expectCountdown(app);
				// Still the same figures, still marked.
				expect(kpis(app.lastFrame())).toBe(kpis(live));
				expect(app.lastFrame()).toMatch(STALE);

				await startAgain();
				// Written while the dashboard was cut off: five requests and two failures, just now.
				await insertLogs(Array.from({length: 7}, (_, i) => ({ageS: 5 + i, type: i < 5 ? 2 : 5, user: 'dave'})));
				const now = await requestsInLastDay();
				expect(now).toBe(expected + 7);
				const back = await app.until(screen => kpis(screen).startsWith(`${thousands(now)} requests · `), WAIT_MS);
				await app.until(screen => !STALE.test(screen) && statusBar(screen).startsWith('● live · new-api (PostgreSQL)'), WAIT_MS);
				expect(kpis(back)).toMatch(/ · rpm [1-9]/u);
				expect(app.lastFrame()).not.toContain('unreachable');
			} finally {
				await cleanUp(app);
			}
		}, TEST_MS);
	}
});

describe('the PostgreSQL view while its server restarts', () => {
	for (const round of ['stopped', 'killed'] as const) {
		it(`keeps the last sample, marked stale, while the server is ${round}, and samples it again once it is back`, async () => {
			const app = start();
			try {
				app.press('5');
				const logsLine = (frame: string) => lines(frame).find(line => line.startsWith('logs · ')) ?? '';
				const live = await app.until(screen => /^PostgreSQL \d+\.\d+ · db newapi · connections \d+\/\d+/u.test(lines(screen)[1] ?? '') && logsLine(screen) !== '' && statusBar(screen).startsWith('● live'), WAIT_MS);
				expect(live).not.toMatch(STALE);
				const version = /^PostgreSQL (\S+)/u.exec(lines(live)[1]!)![1]!;

				await takeDown(round);
				const down = await app.until(screen => UNREACHABLE.test(statusBar(screen)) && STALE.test(lines(screen)[1] ?? ''), WAIT_MS);
				// The same server line, the mark after the server's name (a part of least weight may give way to it).
				expect(lines(down)[1]).toMatch(new RegExp(`^PostgreSQL ${version.replaceAll('.', '\\.')} · ${STALE.source} · `, 'u'));
				const connections = (frame: string) => /connections \d+\/\d+ \d+%/u.exec(lines(frame)[1] ?? '')?.[0];
				expect(connections(down)).toBe(connections(live));
				expect(logsLine(down)).toBe(logsLine(live));
				await expectCountdown(app);

				await startAgain();
				const back = await app.until(screen => !STALE.test(screen) && /^PostgreSQL \S+ · db newapi · connections \d+\/\d+/u.test(lines(screen)[1] ?? '') && statusBar(screen).startsWith('● live'), WAIT_MS);
				expect(logsLine(back)).toMatch(/^logs · /u);
				expect(back).not.toContain('unreachable');
				expect(back).not.toMatch(/unavailable|cannot read/u);
			} finally {
				await cleanUp(app);
			}
		}, TEST_MS);
	}
});
