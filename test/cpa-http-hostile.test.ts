import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {createElement} from 'react';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {PollScheduler} from '../source/poll/poll-scheduler.js';
import {CpaHttpSource} from '../source/sources/cpa-http/cpa-http-source.js';
import {ManagementClient, type ManagementClientOptions, type ManagementError} from '../source/sources/cpa-http/management-client.js';
import {ManagementFetcher} from '../source/sources/cpa-http/management-fetcher.js';
import {openSource} from '../source/sources/open-target.js';
import {App} from '../source/ui/app.js';
import {planPanels} from '../source/ui/dashboard-panels.js';
import {initialState, type DashboardState} from '../source/ui/dashboard-state.js';
import type {UsageQuery} from '../source/usage/types.js';
import {RECORDED_ANSWERS, USAGE_PATH as USAGE} from './support/cpa-payloads.js';
import {managementFailure} from './support/management-failure.js';
import {renderInk} from './support/render-ink.js';

// The HTTP source against a real HTTP server started here that misbehaves on purpose: it answers
// late or never, breaks off, sends HTML or cut JSON, redirects elsewhere, or streams 100 MB. Each
// must end in one clear line naming the host and never the key, with nothing left running, and the
// next request after the server behaves again must succeed.

const KEY = 'mgmt-hostile-5c2e9a';
const REPLAYED: Record<string, string> = Object.fromEntries(Object.entries(RECORDED_ANSWERS).map(([path, body]) => [path, JSON.stringify(body)]));
const SUMMARY = REPLAYED[`${USAGE}/summary`]!;
/** The replayed summary's figures, whatever the window: what a healthy answer gives. */
const HEALTHY_RATE = {windowS: 60, rpm: 3, tpm: 4800};
const QUERY: UsageQuery = {range: {startMs: 1779840000000, endMs: 1779926399999}, filters: {}};
const MIB = 1024 * 1024;
/** The body limit of every answer but the legacy payload. */
const LIMIT = 16 * MIB;

/** A client that waits a minute for an answer: only an abort can end a held request before a wait here gives up. */
const PATIENT = {timeoutMs: 60_000};
/**
 * A client that gives up after 2 s: for a server that never answers, yet long enough for a healthy
 * answer from this host, even on a loaded machine, since the same source must recover.
 */
const HASTY = {timeoutMs: 2000};

/** Answers a request instead of the replay when it returns true. */
type Misbehaviour = (request: IncomingMessage, response: ServerResponse, path: string) => boolean;

let server: Server;
let base = '';
let who = '';
let misbehave: Misbehaviour = () => false;
/** Requests the server is still answering, by path: decremented as soon as it sees the connection end. */
const open = new Map<string, number>();
/** The most requests one path had open at once. */
const peak = new Map<string, number>();
/** Requests whose connection the client closed before the answer was complete, by path. */
const closedEarly = new Map<string, number>();
const received: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (error: unknown) => unhandled.push(error);

const openOn = (path: string): number => open.get(path) ?? 0;
const bump = (counts: Map<string, number>, path: string, by: number) => counts.set(path, (counts.get(path) ?? 0) + by);

beforeAll(async () => {
	process.on('unhandledRejection', onUnhandled);
	process.on('uncaughtExceptionMonitor', onUnhandled);
	server = createServer((request, response) => {
		const path = new URL(request.url ?? '/', 'http://replay').pathname;
		received.push(path);
		bump(open, path, 1);
		peak.set(path, Math.max(peak.get(path) ?? 0, openOn(path)));
		let done = false;
		const end = () => {
			if (done) return;
			done = true;
			bump(open, path, -1);
			if (!response.writableFinished) bump(closedEarly, path, 1);
			request.socket.off('end', end);
		};
		// 'end' comes with the client's FIN, before any request it sends next is read: a request the
		// client gave up on is never counted as overlapping the one that replaces it.
		request.socket.once('end', end);
		response.once('close', end);
		if (misbehave(request, response, path)) return;
		const body = REPLAYED[path];
		if (body === undefined || request.headers.authorization !== `Bearer ${KEY}`) {
			response.writeHead(body === undefined ? 404 : 401, {'content-type': 'application/json'});
			response.end('{"error":"no"}');
			return;
		}
		response.writeHead(200, {'content-type': 'application/json'});
		response.end(body);
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	const {port} = server.address() as AddressInfo;
	base = `http://127.0.0.1:${port}`;
	who = `CPA-Manager at 127.0.0.1:${port}`;
});

afterAll(async () => {
	process.off('unhandledRejection', onUnhandled);
	process.off('uncaughtExceptionMonitor', onUnhandled);
	server.closeAllConnections();
	await new Promise(resolve => server.close(resolve));
});

afterEach(async () => {
	misbehave = () => false;
	// Nothing outlives a case: every request it made is over on the server's side too.
	await until(() => [...open.values()].every(count => count === 0));
	expect(unhandled).toEqual([]);
	open.clear();
	peak.clear();
	closedEarly.clear();
	received.length = 0;
});

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('timed out waiting');
		await sleep(10);
	}
}

/** The source as openSource makes it, but with a client whose options a case sets (a short timeout). */
const sourceWith = (options: Partial<ManagementClientOptions> = {}): CpaHttpSource =>
	new CpaHttpSource(new ManagementFetcher(new ManagementClient({baseUrl: base, key: KEY, ...options})), base, 'paged');

/** Misbehaves on `path` only; everything else is replayed. */
const on =
	(path: string, act: (request: IncomingMessage, response: ServerResponse) => void): Misbehaviour =>
	(request, response, requested) => {
		if (requested !== path) return false;
		act(request, response);
		return true;
	};

/** The call fails with exactly `line`: one line, without the key. */
async function failsWith(call: Promise<unknown>, line: string): Promise<ManagementError> {
	const error = await managementFailure(call, KEY);
	expect(error.message).toBe(line);
	expect(error.message).not.toMatch(/[\r\n]/u);
	return error;
}

/** The server behaves again: the next request succeeds. */
async function recovers(source: CpaHttpSource): Promise<void> {
	misbehave = () => false;
	expect(await source.rate(QUERY)).toEqual(HEALTHY_RATE);
}

describe('a CPA-Manager that misbehaves', () => {
	it('does not answer in time: a timeout, and the request is closed', async () => {
		const source = sourceWith(HASTY);
		misbehave = on(`${USAGE}/summary`, () => undefined); // never answers
		const error = await failsWith(source.rate(QUERY), `${who} did not answer within 2 s`);
		expect(error.kind).toBe('timeout');
		await until(() => openOn(`${USAGE}/summary`) === 0);
		expect(closedEarly.get(`${USAGE}/summary`)).toBe(1);
		await recovers(source);
	});

	it('starts an answer and never finishes it: a timeout that says how much came', async () => {
		const source = sourceWith(HASTY);
		misbehave = on(`${USAGE}/summary`, (_request, response) => {
			response.writeHead(200, {'content-type': 'application/json'});
			response.write(SUMMARY.slice(0, 100));
		});
		expect((await failsWith(source.rate(QUERY), `${who} did not finish its answer within 2 s (100 B received)`)).kind).toBe('timeout');
		await recovers(source);
	});

	it('drops the connection in the middle of the body', async () => {
		const source = sourceWith();
		const dropAfter = (declared: number | undefined) =>
			on(`${USAGE}/summary`, (request, response) => {
				response.writeHead(200, {'content-type': 'application/json', ...(declared === undefined ? {} : {'content-length': declared})});
				response.write(`{"apis":{},"pad":"${'x'.repeat(4990)}`); // 5,000 bytes
				setTimeout(() => request.socket.destroy(), 100);
			});
		misbehave = dropAfter(200_000);
		const error = await failsWith(source.rate(QUERY), `${who} closed the connection after 4.9 kB of a 195 kB answer`);
		expect(error).toMatchObject({kind: 'network', code: 'UND_ERR_SOCKET'});
		misbehave = dropAfter(undefined); // chunked: no length to compare with
		await failsWith(source.rate({...QUERY, range: {...QUERY.range, endMs: QUERY.range.endMs - 1}}), `${who} closed the connection after 4.9 kB of an answer`);
		await recovers(source);
	});

	it('sends truncated JSON', async () => {
		const source = sourceWith();
		const cut = SUMMARY.slice(0, 40);
		misbehave = on(`${USAGE}/summary`, (_request, response) => {
			response.writeHead(200, {'content-type': 'application/json', 'content-length': cut.length});
			response.end(cut);
		});
		expect((await failsWith(source.rate(QUERY), `${who} sent JSON cut off after 40 B (status 200): check its log, or a proxy in between`)).kind).toBe('malformed');
		await recovers(source);
	});

	it('sends an HTML error page with status 200', async () => {
		const source = sourceWith();
		misbehave = on(`${USAGE}/summary`, (_request, response) => {
			response.writeHead(200, {'content-type': 'text/html; charset=utf-8'});
			response.end('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n');
		});
		expect((await failsWith(source.rate(QUERY), `${who} sent HTML, not JSON (status 200): is the URL the management API's base?`)).kind).toBe('malformed');
		await recovers(source);
	});

	it('redirects to another host: not followed, so the key never goes there', async () => {
		const elsewhere = createServer((_request, response) => response.end('{}'));
		await new Promise<void>(resolve => elsewhere.listen(0, '127.0.0.1', resolve));
		let reached = 0;
		elsewhere.on('request', () => (reached += 1));
		try {
			const port = (elsewhere.address() as AddressInfo).port;
			const source = sourceWith();
			const redirectTo = (location: string) =>
				on(`${USAGE}/summary`, (_request, response) => {
					response.writeHead(302, {location});
					response.end();
				});
			misbehave = redirectTo(`http://127.0.0.1:${port}${USAGE}/summary?key=${KEY}`);
			const error = await failsWith(source.rate(QUERY), `${who} answered with a redirect to http://127.0.0.1:${port}; relaytop does not follow redirects to another host: use that URL`);
			expect(error.kind).toBe('redirect');
			expect(reached).toBe(0);
			// A host made of the key: named, but not the key.
			misbehave = redirectTo(`https://${KEY}.example.net/login`);
			await failsWith(source.rate({...QUERY, range: {...QUERY.range, endMs: QUERY.range.endMs - 1}}), `${who} answered with a redirect to https://***.example.net:443; relaytop does not follow redirects to another host: use that URL`);
			// The same server under another path: not followed either (the manager itself never redirects).
			misbehave = redirectTo('/login?next=%2Fv0');
			await failsWith(
				source.rate({...QUERY, range: {...QUERY.range, endMs: QUERY.range.endMs - 2}}),
				`${who} answered ${USAGE}/summary with a redirect to /login; relaytop does not follow redirects: is the URL the management API's base?`,
			);
			await recovers(source);
		} finally {
			await new Promise(resolve => elsewhere.close(resolve));
		}
	});

	it('fails a call of many requests at its first bad answer, and closes the others', async () => {
		const source = sourceWith(PATIENT);
		const held: ServerResponse[] = [];
		misbehave = on(`${USAGE}/summary`, (_request, response) => {
			held.push(response);
			// Once four are in flight, the first answers badly; the rest are held until the client gives up.
			if (held.length !== 4) return;
			held[0]!.writeHead(200, {'content-type': 'text/html'});
			held[0]!.end('<html><body>Sign in</body></html>');
		});
		// Thirty buckets, one summary each, a few at a time.
		await failsWith(source.timeline(QUERY, 60_000, 30), `${who} sent HTML, not JSON (status 200): is the URL the management API's base?`);
		await until(() => openOn(`${USAGE}/summary`) === 0);
		const sent = received.filter(path => path === `${USAGE}/summary`).length;
		expect(sent).toBeGreaterThanOrEqual(4);
		expect(sent).toBeLessThan(30);
		expect(closedEarly.get(`${USAGE}/summary`)).toBe(sent - 1);
		await recovers(source);
	});

	describe('sends 100 MB', () => {
		const HUNDRED_MB = 100_000_000;
		/** What the kernel's socket buffers (both ends) and the client's stream may hold past what the client read. */
		const MARGIN = 12 * MIB;
		const item = JSON.stringify((RECORDED_ANSWERS[`${USAGE}/realtime`] as {items: unknown[]}).items[0]);
		const chunk = Buffer.from(`${item},`.repeat(Math.ceil(65_536 / (item.length + 1))));
		const head = Buffer.from('{"page":1,"page_size":500,"total_items":1000000,"items":[');

		/** Streams valid-looking JSON, never faster than the client reads it; resolves with what was sent when the client closed. */
		function stream(response: ServerResponse, declare: boolean): Promise<number> {
			return new Promise(resolve => {
				let sent = 0;
				response.once('close', () => resolve(sent));
				response.writeHead(200, {'content-type': 'application/json', ...(declare ? {'content-length': HUNDRED_MB} : {})});
				const pump = () => {
					while (!response.destroyed && sent < HUNDRED_MB) {
						const part = sent === 0 ? head : chunk.subarray(0, Math.min(chunk.length, HUNDRED_MB - sent));
						sent += part.length;
						if (!response.write(part)) {
							response.once('drain', pump);
							return;
						}
					}
					if (!response.destroyed) response.end();
				};
				pump();
			});
		}

		it('streamed: aborted once past the limit, the connection closed, the memory bounded', async () => {
			const source = await openSource(base, {managementKey: KEY}); // the limits every user gets
			let sentAtClose: Promise<number> | undefined;
			misbehave = on(`${USAGE}/realtime`, (_request, response) => {
				sentAtClose = stream(response, false);
			});
			const error = await failsWith(source.realtime(QUERY, {page: 1, pageSize: 500}), `${who} sent more than 16.0 MB for ${USAGE}/realtime; aborted`);
			expect(error.kind).toBe('too-large');
			// Sent no faster than read: the client never held more than the limit and the buffers in between.
			const sent = await sentAtClose!;
			expect(sent).toBeGreaterThan(LIMIT);
			expect(sent).toBeLessThanOrEqual(LIMIT + MARGIN);
			misbehave = () => false;
			expect((await source.realtime(QUERY, {page: 1, pageSize: 500})).totalItems).toBe(3);
		});

		it('declared: refused from its length, without reading the body', async () => {
			const source = await openSource(base, {managementKey: KEY});
			let sentAtClose: Promise<number> | undefined;
			misbehave = on(`${USAGE}/realtime`, (_request, response) => {
				sentAtClose = stream(response, true);
			});
			const error = await failsWith(source.realtime(QUERY, {page: 1, pageSize: 500}), `${who} announced a 95.4 MB answer for ${USAGE}/realtime, past the 16.0 MB limit; not read`);
			expect(error.kind).toBe('too-large');
			expect(await sentAtClose!).toBeLessThanOrEqual(MARGIN);
			misbehave = () => false;
			expect((await source.realtime(QUERY, {page: 1, pageSize: 500})).totalItems).toBe(3);
		});
	});
});

describe('polling a slow manager', () => {
	/** The endpoints of the accounts view, one per panel: rate (summary), summary (models), accounts. */
	const PANEL_PATHS = {rate: `${USAGE}/summary`, summary: `${USAGE}/models`, accounts: `${USAGE}/accounts`} as const;
	const SLOW = new Set<string>(Object.values(PANEL_PATHS));
	const ACCOUNTS: DashboardState = {...initialState(['account']), view: 'accounts', intervalMs: 100};
	/** Holds every panel's answer until the client gives up (a minute is far longer than any wait below). */
	const holdPanels: Misbehaviour = (_request, response, path) => {
		if (!SLOW.has(path)) return false;
		const timer = setTimeout(() => response.end(REPLAYED[path]), 60_000);
		response.once('close', () => clearTimeout(timer));
		return true;
	};
	const requestsTo = (path: string) => received.filter(requested => requested === path).length;
	const allOpen = () => [...SLOW].every(path => openOn(path) === 1);

	/** The view's panels in the scheduler, registered as the dashboard registers them. */
	function schedule(source: CpaHttpSource, state: DashboardState): PollScheduler {
		const scheduler = new PollScheduler({baseIntervalMs: state.intervalMs});
		const plans = planPanels(source, state, 12, Date.now);
		expect(Object.keys(plans).sort()).toEqual(Object.keys(PANEL_PATHS).sort());
		for (const [id, plan] of Object.entries(plans)) scheduler.add({id, every: plan.every, load: signal => plan.load(signal)});
		return scheduler;
	}

	it('never runs two requests of a panel at once; invalidating or stopping closes the running ones', async () => {
		const source = sourceWith(PATIENT);
		misbehave = holdPanels;
		const scheduler = schedule(source, ACCOUNTS);
		scheduler.start();
		try {
			await until(allOpen);
			for (let round = 1; round <= 5; round++) {
				for (const id of Object.keys(PANEL_PATHS)) scheduler.invalidate(id);
				// Each panel's request is closed on the server's side, and its next one sent.
				await until(() => [...SLOW].every(path => closedEarly.get(path) === round && requestsTo(path) === round + 1 && openOn(path) === 1));
			}
			scheduler.stop();
			await until(() => [...SLOW].every(path => openOn(path) === 0));
			for (const path of SLOW) {
				expect(peak.get(path), path).toBe(1);
				expect(closedEarly.get(path), path).toBe(6);
			}
		} finally {
			scheduler.stop();
		}
	});

	it('cancels a request two panels share only when both have given up on it', async () => {
		const source = sourceWith(PATIENT);
		const held: ServerResponse[] = [];
		misbehave = on(`${USAGE}/summary`, (_request, response) => held.push(response));
		const [first, second] = [new AbortController(), new AbortController()];
		const kept = source.rate(QUERY, second.signal);
		const dropped = source.rate(QUERY, first.signal); // the same window: one request answers both
		await until(() => held.length === 1);
		first.abort();
		await expect(dropped).rejects.toMatchObject({name: 'AbortError'});
		held[0]!.end(SUMMARY);
		expect(await kept).toEqual(HEALTHY_RATE);
		expect(closedEarly.get(`${USAGE}/summary`)).toBeUndefined();

		// Another window, or the answer just given would be reused.
		const later = {...QUERY, range: {...QUERY.range, endMs: QUERY.range.endMs + 60_000}};
		const [third, fourth] = [new AbortController(), new AbortController()];
		const calls = [source.rate(later, third.signal), source.rate(later, fourth.signal)].map(call => call.catch((error: unknown) => error));
		await until(() => held.length === 2);
		third.abort();
		fourth.abort();
		expect(await Promise.all(calls)).toMatchObject([{name: 'AbortError'}, {name: 'AbortError'}]);
		await until(() => closedEarly.get(`${USAGE}/summary`) === 1);
		expect(received.filter(path => path === `${USAGE}/summary`)).toHaveLength(2);
	});

	it('shows a slow answer as the panel\'s error line, keeps the data, and recovers on the next poll', async () => {
		const source = sourceWith(HASTY);
		const scheduler = schedule(source, ACCOUNTS);
		scheduler.start();
		try {
			await until(() => scheduler.state('rate').data !== undefined);
			const good = scheduler.state('rate').data;
			misbehave = on(`${USAGE}/summary`, () => undefined);
			await until(() => scheduler.state('rate').error !== undefined);
			expect(scheduler.state('rate')).toMatchObject({error: `${who} did not answer within 2 s`, data: good, stale: true});
			expect(peak.get(`${USAGE}/summary`)).toBe(1);
			misbehave = () => false;
			await until(() => scheduler.state('rate').error === undefined);
			expect(scheduler.state('rate')).toMatchObject({data: HEALTHY_RATE, stale: false, failures: 0});
		} finally {
			scheduler.stop();
		}
	});

	it('the dashboard itself closes the requests of a changed or closed screen', async () => {
		const source = sourceWith(PATIENT);
		misbehave = holdPanels;
		const app = renderInk(createElement(App, {source, initial: {...ACCOUNTS, intervalMs: 1000}}), {columns: 120, rows: 30});
		try {
			await until(allOpen);
			app.press('t'); // another time range: every panel's query changes
			await until(() => [...SLOW].every(path => closedEarly.get(path) === 1 && requestsTo(path) === 2 && openOn(path) === 1));
		} finally {
			app.unmount();
		}
		await until(() => [...SLOW].every(path => openOn(path) === 0));
		for (const path of SLOW) expect(peak.get(path), path).toBe(1);
	});
});
