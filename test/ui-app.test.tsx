import {mkdtempSync, rmSync} from 'node:fs';
import {createServer as createHttpServer} from 'node:http';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createDemoStore, type DemoStore} from '../source/demo/demo-store.js';
import {openSource, openTarget} from '../source/sources/open-target.js';
import {App} from '../source/ui/app.js';
import {initialState, type DashboardState} from '../source/ui/dashboard-state.js';
import {KEYMAP} from '../source/ui/keymap.js';
import type {UsageQuery, UsageSource} from '../source/usage/types.js';
import {RECORDED_ANSWERS} from './support/cpa-payloads.js';
import {refusedConnection, stablePort} from './support/net.js';
import {KEY, renderInk} from './support/render-ink.js';

// The dashboard on a real copy of the new-api fixture whose requests end now. Screens are read
// as text; every binding of the keymap is pressed at least once.

let store: DemoStore;
let source: UsageSource;

beforeAll(() => {
	store = createDemoStore();
	source = openTarget(store.path);
});

afterAll(async () => {
	await source.close();
	store.remove();
});

const SIZE = {columns: 120, rows: 30};

function start(state: Partial<DashboardState> = {}, size = SIZE, on: UsageSource = source) {
	const initial = {...initialState(on.capabilities.dimensions), ...state};
	return renderInk(<App source={on} initial={initial} />, size);
}

const headingOf = (frame: string) => frame.split('\n')[1] ?? '';

/** A request-log row: time (today's clock, or day and minute), status, recent outcomes. */
const LOG_ROW = /^(?:\d\d:\d\d:\d\d|\d\d-\d\d \d\d:\d\d) +(ok|FAIL) +([.x]*)/u;
const logRows = (frame: string) => frame.split('\n').filter(line => LOG_ROW.test(line));

/** What a view shows over figures kept after a failed refresh. */
const STALE_MARK = /stale · last updated \d\d:\d\d:\d\d/u;

/** The real source with another summary(): every other query still reaches the database. */
const withSummary = (summary: UsageSource['summary']): UsageSource => Object.assign(Object.create(source) as UsageSource, {summary});

describe('views', () => {
	it('opens on the overview: KPIs, sparklines of the last 30 minutes, the top models', async () => {
		const app = start();
		const frame = await app.until(screen => screen.includes('gpt-4o-mini') && /rpm [1-9]/u.test(screen));
		expect(frame).toMatch(/[\d,]+ requests · [\d.]+% ok · rpm \d+ · tpm [\d.]+k? · cost \$[\d.]+/u);
		expect(frame).toContain('tokens in');
		expect(frame).toMatch(/requests\/min [▁▂▃▄▅▆▇█]{30} last 30 min/u);
		expect(frame).toMatch(/tokens\/min +[▁▂▃▄▅▆▇█]{30}/u);
		expect(frame).toContain('● live · new-api (SQLite) · updated');
		app.unmount();
	});

	it('says where the data is when the range is empty', async () => {
		// A store whose last request was long ago: nothing in the range, the newest request named.
		const stopped = Object.assign(Object.create(source) as UsageSource, {newestRequestMs: async () => Date.UTC(2026, 0, 1, 12), models: async () => []});
		const app = start({range: '15m'}, SIZE, stopped);
		await app.until(screen => /no requests in this range; the newest is from 2026-01-01/u.test(screen));
		app.unmount();
	});

	it.each([
		['2', 'Accounts by user'],
		['3', 'API keys'],
		['4', 'Requests · newest first'],
		['5', 'PostgreSQL'],
		['6', 'The database checks need a SQLite file or a postgres:// target'],
		['1', 'requests/min'],
	])('key %s shows its view', async (key, text) => {
		const app = start({view: key === '1' ? 'postgres' : 'overview'});
		app.press(key);
		await app.until(screen => screen.includes(text));
		app.unmount();
	});

	it('cycles views with Tab and Shift-Tab', async () => {
		const app = start();
		app.press(KEY.tab);
		await app.until(screen => screen.includes('Accounts by user'));
		app.press(KEY.shiftTab, KEY.shiftTab);
		await app.until(screen => screen.includes('The database checks need a SQLite file or a postgres:// target'));
		app.press(KEY.shiftTab);
		await app.until(screen => screen.includes('relaytop can show PostgreSQL') || screen.includes('PostgreSQL'));
		app.unmount();
	});
});

describe('tables', () => {
	it('sorts by the next key with s and reverses with r, from the first page', async () => {
		const app = start({view: 'accounts'});
		await app.until(screen => headingOf(screen).includes('sorted by totalCalls ▼'));
		app.press('s');
		await app.until(screen => headingOf(screen).includes('sorted by successCalls ▼'));
		app.press('r');
		const frame = await app.until(screen => headingOf(screen).includes('sorted by successCalls ▲'));
		expect(headingOf(frame)).toContain('page 1/');
		app.unmount();
	});

	it('pages with PgDn, PgUp, End and Home, and says where it is', async () => {
		const app = start({view: 'apiKeys'});
		const first = await app.until(screen => /page 1\/\d+ · [1-9]/u.test(headingOf(screen)));
		const pages = Number(/page 1\/(\d+)/u.exec(headingOf(first))![1]);
		expect(pages).toBeGreaterThan(2);
		app.press(KEY.pageDown);
		await app.until(screen => headingOf(screen).includes(`page 2/${pages}`));
		app.press(KEY.end);
		await app.until(screen => headingOf(screen).includes(`page ${pages}/${pages}`));
		app.press(KEY.pageDown); // past the end stays on the last page
		await app.until(screen => headingOf(screen).includes(`page ${pages}/${pages}`));
		app.press(KEY.pageUp);
		await app.until(screen => headingOf(screen).includes(`page ${pages - 1}/${pages}`));
		app.press(KEY.home);
		await app.until(screen => headingOf(screen).includes(`page 1/${pages}`));
		app.press('G', 'g');
		await app.until(screen => headingOf(screen).includes(`page 1/${pages}`));
		app.unmount();
	});

	it('moves the cursor with j, k and the arrows, and Enter drills into the selected row by model; Esc goes back', async () => {
		const app = start({view: 'accounts'});
		const frame = await app.until(screen => screen.includes('alice'));
		const rows = frame.split('\n').slice(3, 6).map(line => line.trim().split(/\s{2,}/u)[0]!);
		app.press('j', 'j', 'k', KEY.down, KEY.up, 'j'); // 1, 2, 1, 2, 1, 2: the third row
		app.press(KEY.enter);
		await app.until(screen => headingOf(screen).startsWith(`${rows[2]} by model`));
		app.press(KEY.escape);
		await app.until(screen => headingOf(screen).includes('Accounts by user'));
		app.unmount();
	});

	it('groups accounts by the next dimension with d', async () => {
		const app = start({view: 'accounts'});
		await app.until(screen => screen.includes('Accounts by user'));
		app.press('d');
		await app.until(screen => screen.includes('Accounts by channel') && screen.includes('openai-main'));
		app.press('d');
		await app.until(screen => screen.includes('Accounts by group') && screen.includes('svip'));
		app.unmount();
	});

	it('shows each stream\'s recent outcomes, ending with the newest request\'s own', async () => {
		const app = start({view: 'realtime'});
		const frame = await app.until(screen => screen.includes('recent') && logRows(screen).length > 0);
		const [newest] = logRows(frame).map(line => LOG_ROW.exec(line)!);
		expect(newest![2]!.at(-1)).toBe(newest![1] === 'ok' ? '.' : 'x');
		expect(logRows(frame).every(line => /[.x]{1,10}$/u.test(LOG_ROW.exec(line)![2]!))).toBe(true);
		app.unmount();
	});

	it('shows failed requests only with x, and all again', async () => {
		const app = start({view: 'realtime'});
		await app.until(screen => logRows(screen).some(line => LOG_ROW.exec(line)![1] === 'ok'));
		app.press('x');
		const onlyFailures = (screen: string) => logRows(screen).length > 3 && logRows(screen).every(line => LOG_ROW.exec(line)![1] === 'FAIL');
		const failed = await app.until(screen => headingOf(screen).includes('failed only') && onlyFailures(screen));
		expect(onlyFailures(failed)).toBe(true);
		app.press('x');
		await app.until(screen => !headingOf(screen).includes('failed only'));
		app.unmount();
	});
});

describe('search, filters and time', () => {
	it('searches with /: Enter applies, Esc clears, backspace erases', async () => {
		const app = start({view: 'accounts'});
		await app.until(screen => screen.includes('bob'));
		app.press('/', 'a', 'l', 'x', KEY.backspace, 'i');
		await app.until(screen => screen.includes('/ ali'));
		app.press(KEY.enter);
		const found = await app.until(screen => screen.includes('search "ali"') && screen.includes('alice') && !screen.includes('bob'));
		expect(found).not.toContain('/ ali');
		app.press('/', KEY.escape);
		await app.until(screen => !screen.includes('search "ali"') && screen.includes('bob'));
		app.unmount();
	});

	it('filters by a value from the data with f; c clears every filter', async () => {
		const app = start({view: 'accounts'});
		await app.until(screen => screen.includes('bob'));
		app.press('f');
		await app.until(screen => screen.includes('Filter by'));
		app.press(KEY.enter); // account
		await app.until(screen => screen.includes('account · Enter choose') && screen.includes('alice'));
		app.press('j', KEY.enter); // the first account after "any"
		const filtered = await app.until(screen => /account=\S+/u.test(screen.split('\n')[0]!));
		const chosen = /account=(\S+)/u.exec(filtered.split('\n')[0]!)![1]!;
		await app.until(screen => screen.includes('1 items') && screen.includes(chosen));
		app.press('f', 'c');
		await app.until(screen => !screen.split('\n')[0]!.includes('account=') && screen.includes('40 items'));
		app.unmount();
	});

	it('cycles the time range with t', async () => {
		const app = start();
		await app.until(screen => screen.includes('range 24h'));
		app.press('t');
		await app.until(screen => screen.includes('range today'));
		app.press('t', 't', 't');
		await app.until(screen => screen.includes('range all'));
		app.press('t');
		await app.until(screen => screen.includes('range 15m'));
		app.unmount();
	});
});

describe('refreshing', () => {
	it('pauses and resumes with p, and changes the interval with + and -', async () => {
		const app = start();
		await app.until(screen => screen.includes('● live'));
		app.press('p');
		await app.until(screen => screen.includes('PAUSED'));
		app.press('p', '+');
		await app.until(screen => screen.includes('live') && screen.includes('every 5 s'));
		app.press('-', '-');
		await app.until(screen => screen.includes('every 1 s'));
		app.unmount();
	});

	it('keeps the last good figures on screen, marked stale with the error and the next try, when the source starts failing', async () => {
		let failing = false;
		const flaky = withSummary(query => (failing ? Promise.reject(new Error('database is locked\nsecond line')) : source.summary(query)));
		const app = start({intervalMs: 1000}, SIZE, flaky);
		const good = await app.until(screen => /^[1-9][\d,]* requests/mu.test(screen));
		const requests = /^([1-9][\d,]*) requests/mu.exec(good)![1];
		failing = true;
		app.press('R');
		const stale = await app.until(screen => /stale: database is locked · retry in \d+ s/u.test(screen) && STALE_MARK.test(screen));
		expect(stale).toContain(`${requests} requests`);
		expect(stale).not.toContain('second line');
		failing = false;
		app.press('R');
		const live = await app.until(screen => !screen.includes('stale') && screen.includes('● live'));
		expect(live).not.toMatch(STALE_MARK);
		app.unmount();
	});

	describe('while the server cannot be reached', () => {
		/** What every query of a PostgreSQL source throws while its server is down. */
		let refused: Error;
		beforeAll(async () => {
			refused = await refusedConnection();
		});

		/** The fixture as a PostgreSQL source whose server goes away while `down` says so. */
		function flakyServer(): {source: UsageSource; down: (value: boolean) => void} {
			let down = false;
			const guard =
				<A extends unknown[], R>(read: (...args: A) => Promise<R>) =>
				(...args: A): Promise<R> =>
					down ? Promise.reject(refused) : read(...args);
			const flaky = Object.assign(Object.create(source) as UsageSource, {
				kind: 'newapi-postgres' as const,
				summary: guard(source.summary.bind(source)),
				rate: guard(source.rate.bind(source)),
				timeline: guard(source.timeline.bind(source)),
				models: guard(source.models.bind(source)),
				groups: guard(source.groups.bind(source)),
				apiKeys: guard(source.apiKeys.bind(source)),
				realtime: guard(source.realtime.bind(source)),
				newestRequestMs: guard(source.newestRequestMs.bind(source)),
			});
			return {source: flaky, down: value => (down = value)};
		}

		it('over HTTP, names CPA-Manager, and reads it again once it listens again', async () => {

			const manager = createHttpServer((request, response) => {
				const body = RECORDED_ANSWERS[new URL(request.url ?? '/', 'http://replay').pathname];
				response.writeHead(body === undefined ? 404 : 200, {'content-type': 'application/json'});
				response.end(JSON.stringify(body ?? {error: 'not found'}));
			});
			// A port no other test's listen(0) can take while the manager is away: it listens there again.
			const port = await stablePort();
			await new Promise<void>(resolve => manager.listen(port, '127.0.0.1', resolve));
			const http = await openSource(`http://127.0.0.1:${port}`, {managementKey: 'key-for-the-replay'});
			const app = start({view: 'accounts', range: 'all', intervalMs: 1000}, SIZE, http);
			try {
				const live = await app.until(screen => / · [1-9][\d,]* items$/mu.test(screen) && screen.includes('● live · CPA-Manager (HTTP)'));
				const heading = headingOf(live);
				manager.closeAllConnections();
				await new Promise(resolve => manager.close(resolve));
				app.press('R');
				const down = await app.until(screen => /^● live · CPA-Manager unreachable \(connection refused\) · retry in \d+ s/mu.test(screen) && STALE_MARK.test(screen));
				expect(headingOf(down).replace(/ · stale · last updated \S+/u, '')).toBe(heading);
				await new Promise<void>(resolve => manager.listen(port, '127.0.0.1', resolve));
				const back = await app.until(screen => !STALE_MARK.test(screen) && screen.includes('● live · CPA-Manager (HTTP)'), 30_000);
				expect(headingOf(back)).toBe(heading);
			} finally {
				app.unmount();
				manager.closeAllConnections();
				manager.close();
				await http.close();
			}
		});

		it('marks a table stale as soon as the server is found out of reach, though the table\'s own refresh has not failed', async () => {
			let down = false;
			let serverBack = Promise.resolve();
			let comeBack = (): void => undefined;
			const flaky = Object.assign(Object.create(source) as UsageSource, {
				kind: 'newapi-postgres' as const,
				rate: (query: UsageQuery) => (down ? Promise.reject(refused) : source.rate(query)),
				// A page read while the server is away hangs until it is back (a connect waiting out its
				// timeout): the table's own panel never fails, so only the rates can tell it is out of reach.
				groups: (...args: Parameters<UsageSource['groups']>) => (down ? serverBack.then(() => source.groups(...args)) : source.groups(...args)),
			});
			const app = start({view: 'accounts', intervalMs: 2000}, SIZE, flaky);
			try {
				await app.until(screen => screen.includes('alice') && screen.includes('● live'));
				serverBack = new Promise<void>(resolve => (comeBack = resolve));
				down = true;
				const marked = await app.until(screen => STALE_MARK.test(headingOf(screen)) && /PostgreSQL unreachable/u.test(screen));
				expect(marked).toMatch(/^alice +[\d,]+ /mu);
				down = false;
				comeBack();
				await app.until(screen => !STALE_MARK.test(screen) && screen.includes('● live · new-api (PostgreSQL)'), 30_000);
			} finally {
				comeBack();
				app.unmount();
			}
		});

		it.each([
			['overview', (screen: string) => /^[1-9][\d,]* requests · /mu.exec(screen)?.[0]],
			['accounts', (screen: string) => /^alice +[\d,]+ .*$/mu.exec(screen)?.[0]],
			['apiKeys', (screen: string) => / · [1-9][\d,]* items$/mu.exec(screen)?.[0]],
			['realtime', (screen: string) => logRows(screen)[0]],
			['health', (screen: string) => /^.*\bload +requests and token counting: \d+ rpm, \d+ tpm.*$/mu.exec(screen)?.[0]],
		] as const)('the %s view keeps its figures, marked stale with when they were read, and is live again by itself', async (view, figures) => {
			const server = flakyServer();
			const app = start({view, intervalMs: 1000}, SIZE, server.source);
			try {
				const live = await app.until(screen => figures(screen) !== undefined && screen.includes('● live · new-api (PostgreSQL)'));
				const shown = figures(live)!;
				expect(live).not.toMatch(STALE_MARK);
				server.down(true);
				app.press('R');
				const down = await app.until(screen => /PostgreSQL unreachable \(connection refused\) · retry in \d+ s/u.test(screen) && STALE_MARK.test(screen));
				expect(figures(down)).toBe(shown);
				expect(down).not.toContain('stale:');
				server.down(false);
				// No key: the next try, at most 10 s away, finds the server back.
				const back = await app.until(screen => !STALE_MARK.test(screen) && screen.includes('● live · new-api (PostgreSQL)'), 30_000);
				expect(figures(back)).toBeDefined();
				expect(back).not.toContain('unreachable');
			} finally {
				app.unmount();
			}
		});
	});

	it('refreshes now with R', async () => {
		let calls = 0;
		const counting = withSummary(query => (calls++, source.summary(query)));
		const app = start({intervalMs: 60_000}, SIZE, counting);
		await app.until(() => calls === 1);
		app.press('R');
		await app.until(() => calls === 2);
		app.unmount();
	});
});

describe('help', () => {
	it('lists every binding of the view from the keymap with ?, and hides it again', async () => {
		const app = start({view: 'accounts'});
		app.press('?');
		const help = await app.until(screen => screen.includes('Keys'));
		for (const binding of KEYMAP.filter(b => b.views === undefined || b.views.includes('accounts')).slice(0, SIZE.rows - 8)) {
			expect(help).toContain(binding.help);
		}
		app.press('?');
		await app.until(screen => screen.includes('Accounts by user'));
		app.unmount();
	});

	it.each([['q', 'q'], ['Ctrl-C', KEY.ctrlC]])('quits with %s', async (_name, key) => {
		const app = start();
		const exited = app.waitUntilExit();
		app.press(key);
		await expect(exited).resolves.toBeUndefined();
	});

	it('quits with Ctrl-C even while typing a search', async () => {
		const app = start();
		const exited = app.waitUntilExit();
		app.press('/', 'a', KEY.ctrlC);
		await expect(exited).resolves.toBeUndefined();
	});
});

describe('the terminal', () => {
	it('fits 80×24 and is one row shorter than the terminal', async () => {
		const app = start({view: 'apiKeys'}, {columns: 80, rows: 24});
		const frame = await app.until(screen => screen.includes('items'));
		const lines = frame.split('\n');
		expect(lines.length).toBeLessThanOrEqual(23);
		expect(lines.every(line => [...line].length <= 80)).toBe(true);
		app.unmount();
	});

	it('lays out again on resize', async () => {
		const app = start({view: 'accounts'}, {columns: 80, rows: 24});
		await app.until(screen => screen.includes('alice') && !screen.includes('output'));
		app.stdout.resize(160, 40);
		const wide = await app.until(screen => screen.includes('output') && screen.includes('cached'));
		expect(wide.split('\n').length).toBeLessThanOrEqual(39);
		app.unmount();
	});

	it('shows escape sequences from the database as visible text and sends none to the terminal', async () => {
		const folder = mkdtempSync(join(tmpdir(), 'relaytop-hostile-'));
		const path = join(folder, 'logs.sqlite');
		const db = new Database(path);
		db.exec("CREATE TABLE logs (id integer PRIMARY KEY, created_at integer, type integer, username text DEFAULT '', token_name text DEFAULT '', model_name text DEFAULT '', quota integer DEFAULT 0, prompt_tokens integer DEFAULT 0, completion_tokens integer DEFAULT 0, channel_id integer)");
		const now = Math.floor(Date.now() / 1000);
		db.prepare('INSERT INTO logs (created_at, type, username, token_name, model_name, quota, prompt_tokens, completion_tokens, channel_id) VALUES (?, 2, ?, ?, ?, 100, 10, 5, 1)').run(now - 5, 'wipe\u001b[2Jscreen', 'blink\u001b[5mkey', 'model\u001b]0;title\u0007');
		db.close();
		const hostile = openTarget(path);
		const app = start({view: 'accounts'}, SIZE, hostile);
		const accounts = await app.until(screen => screen.includes('wipe␛[2Jscreen'));
		app.press('3');
		const keys = await app.until(screen => screen.includes('blink␛[5mkey'));
		app.press('1');
		const overview = await app.until(screen => screen.includes('model␛]0;title␇'));
		for (const frame of [accounts, keys, overview]) {
			expect(frame).not.toContain('\u001b[2J');
			expect(frame).not.toContain('\u001b[5m');
			expect(frame).not.toContain('\u0007');
		}
		app.unmount();
		await hostile.close();
		rmSync(folder, {recursive: true, force: true});
	});
});
