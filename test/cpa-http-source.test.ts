import {getEventListeners} from 'node:events';
import {readFileSync} from 'node:fs';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import type {CpaHttpSource} from '../source/sources/cpa-http/cpa-http-source.js';
import {openSource} from '../source/sources/open-target.js';
import {PollScheduler} from '../source/poll/poll-scheduler.js';
import type {SortedPageRequest, UsageQuery} from '../source/usage/types.js';
import {managementFailure} from './support/management-failure.js';
import {freePort} from './support/net.js';

// The HTTP source against a real HTTP server started here, which replays the reference payloads
// (one consistent set of three requests, reference cpa-manager-usage-api.md §2 and §4) and records
// every request.

const KEY = 'mgmt-secret-7f3a';
const payload = (name: string): {_request?: string; response: unknown} => JSON.parse(readFileSync(join(packageRoot(), 'fixtures', 'cpa-payloads', name), 'utf8'));
const MISC = JSON.parse(readFileSync(join(packageRoot(), 'fixtures', 'cpa-payloads', 'misc-manager-endpoints.json'), 'utf8')) as Record<string, unknown>;
const USAGE = '/v0/management/usage';
const REPLAYED: Record<string, unknown> = {
	[`${USAGE}/summary`]: payload('usage-summary.json').response,
	[`${USAGE}/accounts`]: payload('usage-accounts.json').response,
	[`${USAGE}/api-keys`]: payload('usage-api-keys.json').response,
	[`${USAGE}/realtime`]: payload('usage-realtime.json').response,
	[`${USAGE}/models`]: payload('usage-models.json').response,
	[USAGE]: payload('usage-legacy-manager.json').response,
	'/v0/management/model-prices': MISC['GET /v0/management/model-prices'],
	'/v0/management/api-key-aliases': MISC['GET /v0/management/api-key-aliases'],
	'/usage-service/info': MISC['GET /usage-service/info'],
};
const PAGED = ['summary', 'accounts', 'api-keys', 'realtime', 'models'].map(name => `${USAGE}/${name}`);

interface Recorded {
	readonly path: string;
	readonly query: string;
	readonly authorization: string | undefined;
	readonly accept: string | undefined;
}

/** Answers a path instead of the replay: a status and body, or a delay, or a dropped connection. */
type Override = (request: IncomingMessage, response: ServerResponse) => boolean;

let server: Server;
let base = '';
let recorded: Recorded[] = [];
let override: Override = () => false;
let inFlight = 0;
let maxInFlight = 0;

beforeAll(async () => {
	server = createServer((request, response) => {
		const url = new URL(request.url ?? '/', 'http://replay');
		recorded.push({path: url.pathname, query: url.search.slice(1), authorization: request.headers.authorization, accept: request.headers.accept});
		inFlight += 1;
		maxInFlight = Math.max(maxInFlight, inFlight);
		response.on('close', () => (inFlight -= 1));
		if (override(request, response)) return;
		const body = REPLAYED[url.pathname];
		if (body === undefined || (url.pathname !== '/usage-service/info' && request.headers.authorization !== `Bearer ${KEY}`)) {
			const status = body === undefined ? 404 : 401;
			response.writeHead(status, {'content-type': 'application/json'});
			response.end(JSON.stringify(status === 404 ? {error: 'not found'} : {error: 'invalid management key', code: 'invalid_management_key'}));
			return;
		}
		response.writeHead(200, {'content-type': 'application/json'});
		response.end(JSON.stringify(body));
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
	server.closeAllConnections();
	await new Promise(resolve => server.close(resolve));
});

afterEach(() => {
	recorded = [];
	override = () => false;
	maxInFlight = 0;
});

const answer =
	(paths: readonly string[], status: number, body: string, type = 'application/json'): Override =>
	(request, response) => {
		if (!paths.includes(new URL(request.url ?? '/', 'http://replay').pathname)) return false;
		response.writeHead(status, {'content-type': type});
		response.end(body);
		return true;
	};

const open = async (key = KEY): Promise<CpaHttpSource> => (await openSource(base, {managementKey: key})) as CpaHttpSource;

// The constructed requests' window (reference payloads' `_request`): 2026-05-27 UTC.
const QUERY: UsageQuery = {range: {startMs: 1779840000000, endMs: 1779926399999}, filters: {}};
const ACCOUNTS_PAGE: SortedPageRequest = {page: 1, pageSize: 12, sortKey: 'lastSeenAt', sortDirection: 'desc'};
const KEYS_PAGE: SortedPageRequest = {page: 1, pageSize: 12, sortKey: 'totalCalls', sortDirection: 'desc'};

/** Every view the dashboard shows, for the constructed window. */
async function views(source: CpaHttpSource) {
	return {
		summary: await source.summary(QUERY),
		models: await source.models(QUERY),
		accounts: await source.groups(QUERY, 'account', ACCOUNTS_PAGE),
		apiKeys: await source.apiKeys(QUERY, KEYS_PAGE),
		realtime: await source.realtime(QUERY, {page: 1, pageSize: 10}),
		facets: await source.facets(QUERY),
	};
}

const failure = (promise: Promise<unknown>) => managementFailure(promise, KEY);

describe('the paged endpoints', () => {
	it('sends exactly the reference paths, query strings and headers, never with a trailing slash', async () => {
		const source = await open();
		await views(source);
		for (const request of recorded) {
			expect(request.path.endsWith('/')).toBe(false);
			expect(request.accept).toBe('application/json');
			expect(request.authorization).toBe(`Bearer ${KEY}`);
		}
		const queries = (path: string) => recorded.filter(request => request.path === path).map(request => request.query);
		const window = 'start_ms=1779840000000&end_ms=1779926399999';
		// The reference's own request strings (the constructed payloads' _request).
		expect(queries(`${USAGE}/accounts`)).toEqual([`${window}&page=1&page_size=12&sort_key=lastSeenAt&sort_direction=desc`]);
		expect(queries(`${USAGE}/api-keys`)).toEqual([`${window}&page=1&page_size=12&sort_key=totalCalls&sort_direction=desc`]);
		expect(queries(`${USAGE}/realtime`)).toEqual([`${window}&page=1&page_size=10`]);
		// The model traversal starts from page 1 at the largest page size (shared by summary, models and facets).
		expect(new Set(queries(`${USAGE}/models`))).toEqual(new Set([`${window}&page=1&page_size=500`]));
		expect(queries(`${USAGE}/summary`)).toEqual([window]);
		expect(recorded.some(request => request.path === USAGE)).toBe(false);
		expect(source.mode).toBe('paged');
	});

	it('passes filters and search as the manager takes them, a pasted key by its hash', async () => {
		const source = await open();
		const search = 'sk-team-alpha';
		await source.realtime({range: {startMs: null, endMs: 2000}, filters: {account: 'alice@example.com', status: 'failed', model: 'gpt-5', search}}, {page: 3, pageSize: 50});
		const hash = '4e9f7b2de42cf35abb0b00d0092d54818f2056256033cf5bc44a536034aff788';
		expect(recorded.map(request => `${request.path}?${request.query}`)).toContain(
			`${USAGE}/realtime?end_ms=2000&account=alice%40example.com&model=gpt-5&status=failed&search=sk-team-alpha&search_api_key_hash=${hash}&page=3&page_size=50`,
		);
	});

	it('asks for rpm and tpm with a summary over the last 60 s', async () => {
		const source = await open();
		const rate = await source.rate({range: {startMs: null, endMs: 1779868920000}, filters: {}});
		expect(recorded.filter(request => request.path === `${USAGE}/summary`).map(request => request.query)).toEqual(['start_ms=1779868860000&end_ms=1779868920000']);
		expect(rate).toEqual({windowS: 60, rpm: 3, tpm: 4800}); // the replayed summary, whatever the window
	});

	it('fetches the model pages after the first with bounded parallelism', async () => {
		const models = payload('usage-models.json').response as {total_items: number};
		override = (request, response) => {
			const url = new URL(request.url ?? '/', 'http://replay');
			if (url.pathname !== `${USAGE}/models`) return false;
			// 2,600 groups: six pages of 500, each answered after a pause so requests overlap.
			setTimeout(() => {
				response.writeHead(200, {'content-type': 'application/json'});
				response.end(JSON.stringify({...models, total_items: 2600, page: Number(url.searchParams.get('page'))}));
			}, 40);
			return true;
		};
		const source = await open();
		const summary = await source.summary(QUERY);
		const pages = recorded.filter(request => request.path === `${USAGE}/models`).map(request => new URLSearchParams(request.query));
		expect(pages.map(page => page.get('page'))).toEqual(['1', '2', '3', '4', '5', '6']);
		expect(pages.every(page => page.get('page_size') === '500')).toBe(true);
		expect(maxInFlight).toBeGreaterThan(1);
		expect(maxInFlight).toBeLessThanOrEqual(3);
		expect(summary.totalRequests).toBe(18); // every page's details merged: 6 × the replayed 3
	});

	it('reads at most 100 model pages, and stops at an empty one, whatever total_items claims', async () => {
		const models = payload('usage-models.json').response as Record<string, unknown>;
		override = (request, response) => {
			const url = new URL(request.url ?? '/', 'http://replay');
			if (url.pathname !== `${USAGE}/models`) return false;
			const first = url.searchParams.get('page') === '1';
			response.writeHead(200, {'content-type': 'application/json'});
			response.end(JSON.stringify(first ? {...models, total_items: 1e12} : {page: 2, page_size: 500, total_items: 3, usage: {apis: {}}}));
			return true;
		};
		const source = await open();
		expect((await source.summary(QUERY)).totalRequests).toBe(3);
		expect(recorded.filter(request => request.path === `${USAGE}/models`).length).toBeLessThanOrEqual(4);
	});
});

describe('cost (reference §4 worked example)', () => {
	it('is 0.011875 USD for the three requests, by the paged endpoints and by the legacy payload', async () => {
		const paged = await open();
		const fromPages = await paged.summary(QUERY);
		expect(fromPages.costUsd).toBeCloseTo(0.011875, 12);
		expect(fromPages.unpricedRequests).toBe(0);
		override = answer(PAGED, 404, '{"error":"not found"}');
		const legacy = await open();
		const fromLegacy = await legacy.summary(QUERY);
		expect(legacy.mode).toBe('legacy');
		expect(fromLegacy.costUsd).toBeCloseTo(0.011875, 12);
		// Per request: E1 0.003375, E2 0.001, E3 0.0075 (newest first in the log).
		const costs = (await legacy.realtime(QUERY, {page: 1, pageSize: 10})).items.map(item => item.costUsd);
		expect(costs.map(cost => Number(cost!.toFixed(9)))).toEqual([0.0075, 0.001, 0.003375]);
	});
});

describe('the legacy fallback', () => {
	for (const status of [404, 405]) {
		it(`follows a ${status} to GET /v0/management/usage, without query, and derives the same tables`, async () => {
			const paged = await views(await open());
			recorded = [];
			override = answer(PAGED, status, status === 405 ? '{"error":"method not allowed","code":"method_not_allowed"}' : '{"error":"not found"}');
			const source = await open();
			const derived = await views(source);
			expect(source.mode).toBe('legacy');
			const legacyCalls = recorded.filter(request => request.path === USAGE);
			expect(legacyCalls.length).toBeGreaterThan(0);
			expect(legacyCalls.every(request => request.query === '' && request.authorization === `Bearer ${KEY}`)).toBe(true);
			expect(derived).toEqual(paged);
		});
	}

	it("reads CLIProxyAPI's {usage, failed_requests} shape, keeping only the hash of each raw key", async () => {
		const cliProxy = payload('usage-legacy-cliproxyapi.json').response;
		override = (request, response) => {
			const path = new URL(request.url ?? '/', 'http://replay').pathname;
			if (path === USAGE) {
				response.writeHead(200, {'content-type': 'application/json'});
				response.end(JSON.stringify(cliProxy));
				return true;
			}
			return answer([...PAGED, '/usage-service/info', '/v0/management/model-prices', '/v0/management/api-key-aliases'], 404, '{"error":"not found"}')(request, response);
		};
		const source = await open();
		const {summary, apiKeys, accounts, realtime, models} = await views(source);
		expect(summary).toMatchObject({totalRequests: 3, successCount: 2, failureCount: 1, totalTokens: 4800, tokens: {input: 4000, output: 800, reasoning: 128, cached: 1000}});
		// No price list on CLIProxyAPI: every request is unpriced, none is given a made-up cost.
		expect(summary).toMatchObject({costUsd: 0, unpricedRequests: 3});
		expect(apiKeys.items.map(item => [item.key, item.totalRequests])).toEqual([
			['4e9f7b2de42cf35abb0b00d0092d54818f2056256033cf5bc44a536034aff788', 2],
			['b554c6a3f8bd802912701d29b5806f13ba7fb3cba70c0edd93e8364ddeb38aa8', 1],
		]);
		// CLIProxyAPI's source is the raw account: masked as the manager masks it at ingest.
		expect(accounts.items.map(item => [item.key, item.totalRequests])).toEqual([
			['bob***@example.com', 1],
			['ali***@example.com', 2],
		]);
		expect(models.map(model => [model.model, model.totalRequests])).toEqual([
			['gpt-5', 2],
			['gemini-2.5-pro', 1],
		]);
		expect(realtime.items.map(item => item.timestampMs)).toEqual([1779868920000, 1779868860000, 1779868800000]);
		expect(JSON.stringify({summary, apiKeys, accounts, realtime, models, facets: await source.facets(QUERY)})).not.toMatch(/sk-team|alice@|bob@/u);
	});

	it('reads a legacy payload larger than any page may be: it is the whole store', async () => {
		const legacy = payload('usage-legacy-manager.json').response as {apis: Record<string, {models: Record<string, {details: unknown[]}>}>};
		const detail = JSON.stringify(legacy.apis['POST /v1/chat/completions']!.models['gemini-2.5-pro']!.details[0]);
		// Some 30,000 requests: past the 16 MiB of a page, as a busy manager's 50,000 are.
		const count = Math.ceil((17 * 1024 * 1024) / (detail.length + 1));
		const body = `{"apis":{"POST /v1/chat/completions":{"models":{"gemini-2.5-pro":{"details":[${Array.from({length: count}, () => detail).join(',')}]}}}}}`;
		override = (request, response) => {
			const path = new URL(request.url ?? '/', 'http://replay').pathname;
			if (PAGED.includes(path)) return answer([path], 404, '{"error":"not found"}')(request, response);
			if (path !== USAGE) return false;
			response.writeHead(200, {'content-type': 'application/json'});
			response.end(body);
			return true;
		};
		const source = await open();
		expect((await source.summary(QUERY)).totalRequests).toBe(count);
		expect(source.mode).toBe('legacy');
	});

	it('detects CPA-Manager-Plus by /usage-service/info and never asks it for a paged endpoint', async () => {
		override = (request, response) => {
			const path = new URL(request.url ?? '/', 'http://replay').pathname;
			if (path !== '/usage-service/info') return false;
			response.writeHead(200, {'content-type': 'application/json'});
			response.end(JSON.stringify({service: 'cpa-manager-plus', mode: 'embedded', configured: true}));
			return true;
		};
		const source = await open();
		expect(source.mode).toBe('legacy');
		const {summary} = await views(source);
		expect(summary.totalRequests).toBe(3);
		expect(recorded.filter(request => PAGED.includes(request.path))).toEqual([]);
	});

	it("switches to the legacy payload when a summary answers 200 with a legacy body (Plus without its info endpoint)", async () => {
		const legacy = payload('usage-legacy-manager.json').response as Record<string, unknown>;
		const plusBody = JSON.stringify({total_requests: legacy.total_requests, success_count: legacy.success_count, failure_count: legacy.failure_count, total_tokens: legacy.total_tokens, apis: legacy.apis});
		override = (request, response) => {
			const path = new URL(request.url ?? '/', 'http://replay').pathname;
			if (path === '/usage-service/info') return answer([path], 404, '{}')(request, response);
			if (!path.startsWith(USAGE)) return false;
			response.writeHead(200, {'content-type': 'application/json'});
			response.end(plusBody);
			return true;
		};
		const source = await open();
		const rate = await source.rate({range: {startMs: null, endMs: 1779868920000}, filters: {}});
		expect(source.mode).toBe('legacy');
		expect(rate).toEqual({windowS: 60, rpm: 2, tpm: 3300}); // 08:01 and 08:02 are within 60 s of 08:02
	});

	it('switches on the first page that answers with a legacy body, whichever panel asks first', async () => {
		const legacyBody = JSON.stringify(payload('usage-legacy-manager.json').response);
		override = (request, response) => {
			const path = new URL(request.url ?? '/', 'http://replay').pathname;
			if (!path.startsWith(USAGE)) return false;
			response.writeHead(200, {'content-type': 'application/json'});
			response.end(legacyBody); // a manager from before the paged API answers every /usage path so
			return true;
		};
		const source = await open();
		const {summary, models, accounts, apiKeys, realtime} = await views(source);
		expect(source.mode).toBe('legacy');
		expect(summary.totalRequests).toBe(3);
		expect(models.map(model => model.totalRequests)).toEqual([2, 1]);
		expect(accounts.totalItems).toBe(2);
		expect(apiKeys.totalItems).toBe(2);
		expect(realtime.totalItems).toBe(3);
	});

	for (const [what, status] of [
		['a server error', 500],
		['a rejected key', 401],
		['a forbidden key', 403],
	] as const) {
		it(`never falls back on ${what} (${status})`, async () => {
			override = answer(PAGED, status, '{"error":"boom"}');
			const source = await open();
			const error = await failure(source.summary(QUERY));
			expect(error.status).toBe(status);
			if (status !== 500) expect(error.message).toContain('management key rejected');
			expect(source.mode).toBe('paged');
			expect(recorded.some(request => request.path === USAGE)).toBe(false);
		});
	}

	it('never falls back on a timeout', async () => {
		// Never answers: only the client's timeout ends the request.
		override = request => PAGED.includes(new URL(request.url ?? '/', 'http://replay').pathname);
		const {CpaHttpSource} = await import('../source/sources/cpa-http/cpa-http-source.js');
		const {ManagementClient} = await import('../source/sources/cpa-http/management-client.js');
		const {ManagementFetcher} = await import('../source/sources/cpa-http/management-fetcher.js');
		const source = new CpaHttpSource(new ManagementFetcher(new ManagementClient({baseUrl: base, key: KEY, timeoutMs: 200})), base, 'paged');
		const error = await failure(source.rate(QUERY));
		expect(error.kind).toBe('timeout');
		expect(source.mode).toBe('paged');
		expect(recorded.some(request => request.path === USAGE)).toBe(false);
	});

	it('never falls back when nothing listens (ECONNREFUSED)', async () => {
		const {CpaHttpSource} = await import('../source/sources/cpa-http/cpa-http-source.js');
		const {ManagementClient} = await import('../source/sources/cpa-http/management-client.js');
		const {ManagementFetcher} = await import('../source/sources/cpa-http/management-fetcher.js');
		const port = await freePort();
		const source = new CpaHttpSource(new ManagementFetcher(new ManagementClient({baseUrl: `http://127.0.0.1:${port}`, key: KEY})), 'closed', 'paged');
		const error = await failure(source.summary(QUERY));
		expect(error.kind).toBe('network');
		expect(error.message).toContain('ECONNREFUSED');
		expect(source.mode).toBe('paged');
	});
});

describe('errors', () => {
	it('stops asking after a rejected key instead of retrying into a ban', async () => {
		const source = await open('not-the-key');
		await failure(source.rate(QUERY));
		const sent = recorded.length;
		for (let attempt = 0; attempt < 5; attempt++) {
			const error = await failure(source.rate(QUERY));
			expect(error.kind).toBe('rejected-key');
			expect(error.message).not.toContain('not-the-key');
		}
		expect(recorded.length).toBe(sent);
	});

	it('says so clearly when the address serves HTML or broken JSON', async () => {
		override = answer(PAGED, 200, '<!doctype html><title>Login</title>', 'text/html');
		const html = await failure((await open()).rate(QUERY));
		expect(html.kind).toBe('malformed');
		expect(html.message).toBe(`CPA-Manager at ${new URL(base).host} sent HTML, not JSON (status 200): is the URL the management API's base?`);
		override = answer(PAGED, 200, '{"total_requests": "many", "tokens": {}}');
		const wrong = await failure((await open()).rate({...QUERY, range: {startMs: null, endMs: 1}}));
		expect(wrong.kind).toBe('malformed');
		expect(wrong.message).toContain('total_requests');
	});
});

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) throw new Error('timed out waiting');
		await sleep(10);
	}
}

describe('a call of many requests', () => {
	it('puts one abort listener on its signal, however many requests it sends, and takes it off when it ends', async () => {
		const source = await open();
		const warnings: Error[] = [];
		const onWarning = (warning: Error) => warnings.push(warning);
		// Kept across calls, as a caller may: nothing may pile up on it.
		const refreshes = new AbortController();
		const listeners = () => getEventListeners(refreshes.signal, 'abort').length;
		let most = 0;
		override = () => {
			most = Math.max(most, listeners());
			return false;
		};
		process.on('warning', onWarning);
		try {
			for (let refresh = 0; refresh < 3; refresh++) {
				// Thirty minutes on each time: thirty new buckets, none answered from the last call's requests.
				const query: UsageQuery = {range: {startMs: null, endMs: QUERY.range.endMs + refresh * 30 * 60_000}, filters: {}};
				expect(await source.withSignal(refreshes.signal).timeline(query, 60_000, 30)).toHaveLength(30);
				expect(listeners()).toBe(0);
			}
			// A call given up on takes its listener off too.
			const held = new AbortController();
			override = request => {
				most = Math.max(most, getEventListeners(held.signal, 'abort').length);
				// Held: only the abort ends them.
				return new URL(request.url ?? '/', 'http://replay').pathname === `${USAGE}/summary`;
			};
			const call = source.withSignal(held.signal).timeline({range: {startMs: null, endMs: QUERY.range.endMs + 100 * 60_000}, filters: {}}, 60_000, 30);
			await until(() => inFlight === 4);
			held.abort();
			await expect(call).rejects.toMatchObject({name: 'AbortError'});
			expect(getEventListeners(held.signal, 'abort')).toHaveLength(0);
			await until(() => inFlight === 0);
			// Warnings are emitted on the next tick.
			await new Promise(resolve => setImmediate(resolve));
		} finally {
			process.off('warning', onWarning);
		}
		expect(warnings.map(warning => `${warning.name}: ${warning.message}`)).toEqual([]);
		expect(most).toBe(1);
		// Thirty buckets a call, and the four in flight when the last one was given up.
		expect(recorded.filter(request => request.path === `${USAGE}/summary`)).toHaveLength(3 * 30 + 4);
	});
});

describe('polling through the dashboard scheduler', () => {
	it('keeps the last data, shows the error and backs off while the manager fails', async () => {
		const source = await open();
		const scheduler = new PollScheduler({baseIntervalMs: 100, maxBackoffMs: 5000});
		scheduler.add({id: 'rate', every: 1, load: () => source.rate({range: {startMs: null, endMs: Date.now()}, filters: {}})});
		scheduler.start();
		try {
			await until(() => scheduler.state('rate').data !== undefined);
			const good = scheduler.state('rate').data;
			override = answer(PAGED, 503, '{"error":"database is locked"}');
			const failingFrom = recorded.length;
			await sleep(2000);
			const state = scheduler.state('rate');
			expect(state.data).toEqual(good);
			expect(state.stale).toBe(true);
			expect(state.error).toContain('503');
			expect(state.failures).toBeGreaterThanOrEqual(2);
			// Every 100 ms would be some 20 requests; doubling waits (100, 200, 400, 800 ms …) keep it to a handful.
			const attempts = recorded.slice(failingFrom).filter(request => request.path === `${USAGE}/summary`).length;
			expect(attempts).toBeGreaterThanOrEqual(2);
			expect(attempts).toBeLessThanOrEqual(6);
		} finally {
			scheduler.stop();
		}
	});

	it('never overlaps polls of a slow manager', async () => {
		override = (request, response) => {
			if (new URL(request.url ?? '/', 'http://replay').pathname !== `${USAGE}/summary`) return false;
			setTimeout(() => {
				response.writeHead(200, {'content-type': 'application/json'});
				response.end(JSON.stringify(REPLAYED[`${USAGE}/summary`]));
			}, 600);
			return true;
		};
		const source = await open();
		const scheduler = new PollScheduler({baseIntervalMs: 50});
		// Each load asks for a new window (the clock moves), so no answer is shared between loads.
		scheduler.add({id: 'rate', every: 1, load: () => source.rate({range: {startMs: null, endMs: Date.now()}, filters: {}})});
		scheduler.start();
		try {
			// A load slower than the interval also stretches the wait before the next one.
			await until(() => recorded.filter(request => request.path === `${USAGE}/summary`).length >= 3, 20_000);
			expect(maxInFlight).toBe(1);
		} finally {
			scheduler.stop();
		}
	});
});
