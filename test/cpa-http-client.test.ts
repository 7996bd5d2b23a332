import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {fallsBackToLegacy, ManagementClient, ManagementError} from '../source/sources/cpa-http/management-client.js';
import {managementKey} from '../source/sources/cpa-http/management-key.js';
import {InputError} from '../source/usage/input-error.js';
import {managementFailure} from './support/management-failure.js';
import {freePort} from './support/net.js';

// The management API client against a real HTTP server started here, which replays the reference
// payloads, answers as told, and records every request.

const KEY = 'mgmt-secret-7f3a';
const SUMMARY = readFileSync(join(packageRoot(), 'fixtures', 'cpa-payloads', 'usage-summary.json'), 'utf8');

interface Recorded {
	readonly method: string;
	readonly url: string;
	readonly authorization: string | undefined;
	readonly accept: string | undefined;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

let server: Server;
let base = '';
/** How every message names the server. */
let who = '';
const recorded: Recorded[] = [];
let handler: Handler = (_request, response) => response.end('{}');

beforeAll(async () => {
	server = createServer((request, response) => {
		recorded.push({method: request.method ?? '', url: request.url ?? '', authorization: request.headers.authorization, accept: request.headers.accept});
		handler(request, response);
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	who = `CPA-Manager at 127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
	server.closeAllConnections();
	await new Promise(resolve => server.close(resolve));
});

const answer = (status: number, body: string, type = 'application/json'): Handler => (_request, response) => {
	response.writeHead(status, {'content-type': type});
	response.end(body);
};

const failure = (promise: Promise<unknown>) => managementFailure(promise, KEY);

describe('ManagementClient', () => {
	it('sends GET with the bearer key to the exact path and query, never with a trailing slash', async () => {
		handler = answer(200, SUMMARY);
		recorded.length = 0;
		const client = new ManagementClient({baseUrl: `${base}/`, key: KEY});
		const {body, bytes} = await client.get<{totals?: unknown}>('/v0/management/usage/summary', {start_ms: 1000, end_ms: 61_000, model: 'gpt 5', search: undefined});
		expect(body).toEqual(JSON.parse(SUMMARY));
		expect(bytes).toBe(Buffer.byteLength(SUMMARY));
		expect(recorded).toEqual([{method: 'GET', url: '/v0/management/usage/summary?start_ms=1000&end_ms=61000&model=gpt+5', authorization: `Bearer ${KEY}`, accept: 'application/json'}]);
		expect(() => client.url('/v0/management/usage/summary/')).toThrow(/never ends with one/u);
	});

	it('keeps a path prefix of the base address', async () => {
		handler = answer(200, '{}');
		recorded.length = 0;
		await new ManagementClient({baseUrl: `${base}/manager//`, key: KEY}).get('/v0/management/usage/models', {page: 1, page_size: 500});
		expect(recorded[0]!.url).toBe('/manager/v0/management/usage/models?page=1&page_size=500');
	});

	it('marks 404 and 405 as the only answers that fall back to the legacy payload', async () => {
		const client = new ManagementClient({baseUrl: base, key: KEY});
		for (const status of [404, 405]) {
			handler = answer(status, '{"error":"method not allowed","code":"method_not_allowed"}');
			const error = await failure(client.get('/v0/management/usage/realtime'));
			expect(error).toMatchObject({kind: 'missing-endpoint', status});
			expect(fallsBackToLegacy(error)).toBe(true);
		}
	});

	it('does not fall back on 500, 401, 403, another 4xx, a timeout or a refused connection', async () => {
		const client = new ManagementClient({baseUrl: base, key: KEY});
		const cases: Array<[Handler, string]> = [
			[answer(500, '{"error":"database is locked","code":"request_failed"}'), 'server'],
			[answer(401, '{"error":"invalid management key","code":"invalid_management_key"}'), 'rejected-key'],
			[answer(403, 'forbidden', 'text/plain'), 'rejected-key'],
			[answer(400, '{"error":"invalid page_size","code":"request_failed"}'), 'request'],
		];
		for (const [reply, kind] of cases) {
			handler = reply;
			const error = await failure(client.get('/v0/management/usage/accounts'));
			expect(error.kind).toBe(kind);
			expect(fallsBackToLegacy(error)).toBe(false);
		}
		handler = () => undefined; // never answers
		const late = await failure(new ManagementClient({baseUrl: base, key: KEY, timeoutMs: 2000}).get('/v0/management/usage/accounts'));
		expect(late).toMatchObject({kind: 'timeout', message: `${who} did not answer within 2 s`});
		expect(fallsBackToLegacy(late)).toBe(false);
		handler = answer(401, '{}');
		expect((await failure(client.get('/v0/management/usage/accounts'))).message).toBe('management key rejected (GET /v0/management/usage/accounts: 401)');
		handler = answer(400, '{"error":"invalid page_size","code":"request_failed"}');
		expect((await failure(client.get('/v0/management/usage/accounts'))).message).toBe(`${who} refused /v0/management/usage/accounts with 400: invalid page_size`);
		handler = answer(503, JSON.stringify({error: 'database is locked\nat store.go:12', code: 'request_failed'}));
		expect((await failure(client.get('/v0/management/usage/accounts'))).message).toBe(`${who} failed with 503: database is locked`);
		// A server that quotes the key back: the message never shows it.
		handler = answer(500, JSON.stringify({error: `bad key ${KEY.toUpperCase()}`}));
		expect((await failure(client.get('/v0/management/usage/accounts'))).message).toBe(`${who} failed with 500: bad key ***`);

		const port = await freePort();
		const refused = await failure(new ManagementClient({baseUrl: `http://127.0.0.1:${port}`, key: KEY}).get('/v0/management/usage/summary'));
		expect(refused).toMatchObject({kind: 'network', code: 'ECONNREFUSED', message: `CPA-Manager at 127.0.0.1:${port} refused the connection (ECONNREFUSED): is it running, on that port?`});
		expect(fallsBackToLegacy(refused)).toBe(false);
	});

	it('sends a GET again, once, when its connection is closed before any answer (a stale kept-alive socket)', async () => {
		const client = new ManagementClient({baseUrl: base, key: KEY});
		let requests = 0;
		handler = (request, response) => {
			requests += 1;
			if (requests === 1) request.socket.destroy();
			else answer(200, SUMMARY)(request, response);
		};
		expect((await client.get('/v0/management/usage/summary')).body).toEqual(JSON.parse(SUMMARY));
		expect(requests).toBe(2);

		// A server that always drops it: one retry, then a network error naming what happened.
		requests = 0;
		handler = request => {
			requests += 1;
			request.socket.destroy();
		};
		expect(await failure(client.get('/v0/management/usage/summary'))).toMatchObject({kind: 'network', message: `${who} closed the connection before answering`});
		expect(requests).toBe(2);
	});

	it('says an HTML page or a cut body is not JSON', async () => {
		const client = new ManagementClient({baseUrl: base, key: KEY});
		handler = answer(200, '<!doctype html><title>Login</title>', 'text/html');
		expect(await failure(client.get('/v0/management/usage/summary'))).toMatchObject({kind: 'malformed', message: `${who} sent HTML, not JSON (status 200): is the URL the management API's base?`});
		handler = answer(200, SUMMARY.slice(0, 40));
		expect(await failure(client.get('/v0/management/usage/summary'))).toMatchObject({kind: 'malformed', message: `${who} sent JSON cut off after 40 B (status 200): check its log, or a proxy in between`});
		handler = answer(200, 'OK', 'text/plain');
		expect(await failure(client.get('/v0/management/usage/summary'))).toMatchObject({kind: 'malformed', message: `${who} sent something other than JSON (status 200): is the URL the management API's base?`});
		handler = answer(200, '');
		expect(await failure(client.get('/v0/management/usage/summary'))).toMatchObject({kind: 'malformed', message: `${who} sent an empty answer (status 200): is the URL the management API's base?`});
	});

	it('refuses a body over the size limit, declared or streamed, without reading it all', async () => {
		const client = new ManagementClient({baseUrl: base, key: KEY, maxBytes: 1000});
		const big = JSON.stringify({events: 'x'.repeat(5000)});
		handler = (_request, response) => {
			response.writeHead(200, {'content-type': 'application/json', 'content-length': Buffer.byteLength(big)});
			response.end(big);
		};
		expect(await failure(client.get('/v0/management/usage'))).toMatchObject({kind: 'too-large', message: `${who} announced a 4.9 kB answer for /v0/management/usage, past the 1000 B limit; not read`});
		let written = 0;
		handler = (_request, response) => {
			response.writeHead(200, {'content-type': 'application/json'}); // chunked: no length declared
			const timer = setInterval(() => {
				if (response.destroyed || written > 10_000_000) {
					clearInterval(timer);
					response.end();
					return;
				}
				written += 4096;
				response.write('x'.repeat(4096));
			}, 1);
		};
		expect(await failure(client.get('/v0/management/usage'))).toMatchObject({kind: 'too-large', message: `${who} sent more than 1000 B for /v0/management/usage; aborted`});
		expect(written).toBeLessThan(10_000_000);
		// A call may allow more than the client's limit (the legacy payload does).
		handler = answer(200, big);
		expect((await client.get('/v0/management/usage', {}, {maxBytes: 10_000})).bytes).toBe(Buffer.byteLength(big));
	});

	it('refuses a base address that carries credentials or a query', () => {
		expect(() => new ManagementClient({baseUrl: 'http://admin:pw@127.0.0.1:8317', key: KEY})).toThrow(/without credentials/u);
		expect(() => new ManagementClient({baseUrl: 'ftp://127.0.0.1', key: KEY})).toThrow(ManagementError);
	});

	it('refuses a key that a header cannot carry, without quoting it', () => {
		for (const key of [`${KEY}\nX-Injected: 1`, `${KEY}\u0000`, `${KEY}€`]) {
			let thrown: unknown;
			try {
				new ManagementClient({baseUrl: base, key});
			} catch (error) {
				thrown = error;
			}
			expect(thrown).toMatchObject({kind: 'request', message: 'the management key holds a character an HTTP header cannot carry'});
		}
	});
});

describe('managementKey', () => {
	const dir = mkdtempSync(join(tmpdir(), 'relaytop-key-'));
	afterAll(() => rmSync(dir, {recursive: true, force: true}));

	it('reads RELAYTOP_KEY or --key-file quietly, and --key with a warning', () => {
		const file = join(dir, 'key');
		writeFileSync(file, `  ${KEY}\n`);
		expect(managementKey({keyFile: file, env: {}})).toEqual({key: KEY, warning: null});
		expect(managementKey({env: {RELAYTOP_KEY: KEY}})).toEqual({key: KEY, warning: null});
		const flagged = managementKey({keyFlag: KEY, env: {}});
		expect(flagged.key).toBe(KEY);
		expect(flagged.warning).toMatch(/RELAYTOP_KEY or --key-file/u);
		expect(flagged.warning).not.toContain(KEY);
	});

	it('refuses no key, two keys, an empty or unreadable file, in one line without the key', () => {
		const empty = join(dir, 'empty');
		writeFileSync(empty, '\n');
		const attempts = [
			() => managementKey({env: {}}),
			() => managementKey({keyFlag: KEY, env: {RELAYTOP_KEY: KEY}}),
			() => managementKey({keyFile: empty, env: {}}),
			() => managementKey({keyFile: join(dir, 'missing'), env: {}}),
		];
		for (const attempt of attempts) {
			let thrown: unknown;
			try {
				attempt();
			} catch (error) {
				thrown = error;
			}
			expect(thrown).toBeInstanceOf(InputError);
			expect((thrown as Error).message).not.toContain(KEY);
			expect((thrown as Error).message).not.toContain('\n');
		}
	});
});
