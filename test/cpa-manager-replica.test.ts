import {createHash} from 'node:crypto';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ftsQuery, goJson, rfc3339Nano} from '../bench/cpa-manager-replica-queries.js';
import {startCpaManagerReplica, type CpaManagerReplica, type ReplicaOptions} from '../bench/cpa-manager-replica.js';
import {writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {CPA_DDL} from '../source/fixtures/cpa-schema.js';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {lookupPrice} from './support/cpa-oracle.js';
import type {CpaRaw} from './support/cpa-oracle.js';
import {compareBytes} from './support/oracle.js';

// The CPA-Manager replica against the reference: the constructed payloads (copied into
// fixtures/cpa-payloads/) must come back exactly, key order included; the expectations of the
// manager's own store tests (reference cpa/fixture.*) must hold; and on a generated store every
// filter, page and stream counter must agree with a brute-force recomputation from the raw rows.

const KEY = 'mgmt-replica-key-51c0e7';
const dir = mkdtempSync(join(tmpdir(), 'relaytop-replica-'));

interface Constructed {
	readonly _request: string;
	readonly response: Record<string, unknown>;
}
const payload = <T = Constructed>(name: string): T => JSON.parse(readFileSync(join(packageRoot(), 'fixtures', 'cpa-payloads', `${name}.json`), 'utf8')) as T;
/** The path and query of a constructed `_request` ("GET /v0/…?…  (a note)"). */
const target = (request: string): string => request.split(/\s+/u)[1]!;

type Row = Record<string, unknown>;

const EVENT_COLUMNS = [
	'request_id', 'event_hash', 'timestamp_ms', 'timestamp', 'provider', 'model', 'requested_model', 'resolved_model', 'endpoint', 'method',
	'path', 'auth_type', 'auth_index', 'source', 'source_hash', 'api_key_hash', 'account_snapshot', 'auth_label_snapshot', 'auth_file_snapshot',
	'auth_provider_snapshot', 'auth_project_id_snapshot', 'auth_snapshot_at_ms', 'input_tokens', 'output_tokens', 'reasoning_tokens',
	'cached_tokens', 'cache_tokens', 'total_tokens', 'latency_ms', 'failed', 'raw_json', 'created_at_ms',
];

/** A CPA_DDL store holding `events` (missing columns NULL or 0), with aliases and prices. */
function buildStore(name: string, events: readonly Row[], extra: {aliases?: Array<[string, string]>; prices?: Row[]} = {}): string {
	const path = join(dir, `${name}.sqlite`);
	const db = new Database(path);
	for (const statement of CPA_DDL) {
		db.exec(statement);
	}
	const insert = db.prepare(`insert into usage_events (${EVENT_COLUMNS.join(', ')}) values (${EVENT_COLUMNS.map(() => '?').join(', ')})`);
	const numeric = new Set(['input_tokens', 'output_tokens', 'reasoning_tokens', 'cached_tokens', 'cache_tokens', 'total_tokens']);
	for (const event of events) {
		const row: Row = {...event, failed: event.failed === true || event.failed === 1 ? 1 : 0};
		row.timestamp ??= new Date(Number(row.timestamp_ms)).toISOString();
		row.created_at_ms ??= row.timestamp_ms!;
		insert.run(...EVENT_COLUMNS.map(column => row[column] ?? (numeric.has(column) ? 0 : null)));
	}
	for (const [hash, alias] of extra.aliases ?? []) {
		db.prepare('insert into api_key_aliases (api_key_hash, alias, updated_at_ms) values (?, ?, ?)').run(hash, alias, 1_779_860_000_000);
	}
	for (const price of extra.prices ?? []) {
		db.prepare(
			`insert into model_prices (model, prompt_per_1m, completion_per_1m, cache_per_1m, source, source_model_id, raw_json, updated_at_ms, synced_at_ms)
			values (@model, @prompt, @completion, @cache, @source, @sourceModelId, @rawJson, @updatedAtMs, @syncedAtMs)`,
		).run({source: null, sourceModelId: null, rawJson: null, syncedAtMs: null, updatedAtMs: 1_779_860_000_000, completion: 0, cache: 0, ...price});
	}
	db.close();
	return path;
}

interface Reply {
	readonly status: number;
	readonly text: string;
	readonly body: any;
	readonly type: string | null;
}

async function get(base: string, pathAndQuery: string, init: {key?: string | null; method?: string; headers?: Record<string, string>} = {}): Promise<Reply> {
	const key = init.key === undefined ? KEY : init.key;
	const response = await fetch(`${base}${pathAndQuery}`, {
		method: init.method ?? 'GET',
		headers: {...(key === null ? {} : {authorization: `Bearer ${key}`}), ...init.headers},
	});
	const text = await response.text();
	let body: unknown = null;
	try {
		body = JSON.parse(text);
	} catch {
		body = null;
	}
	return {status: response.status, text, body, type: response.headers.get('content-type')};
}

const replicas: CpaManagerReplica[] = [];
afterAll(async () => {
	await Promise.all(replicas.map(replica => replica.close()));
	rmSync(dir, {recursive: true, force: true});
});
async function start(options: ReplicaOptions): Promise<CpaManagerReplica> {
	const replica = await startCpaManagerReplica(options);
	replicas.push(replica);
	return replica;
}

// ---- the constructed dataset: three requests, an alias, two prices (reference §4's worked example) ----

const REALTIME = payload('usage-realtime');
const MISC = payload<Record<string, any>>('misc-manager-endpoints');
const SAMPLE_EVENTS = [...(REALTIME.response.items as Row[])].reverse(); // inserted oldest first, as collected
const TEAM_ALPHA = '4e9f7b2de42cf35abb0b00d0092d54818f2056256033cf5bc44a536034aff788';
const samplePrices = (): Row[] =>
	Object.entries(MISC['GET /v0/management/model-prices'].prices as Record<string, Row>).map(([model, price]) => ({model, ...price}));

let sampleStore = '';
let sample: CpaManagerReplica;

beforeAll(async () => {
	sampleStore = buildStore('sample', SAMPLE_EVENTS, {aliases: [[TEAM_ALPHA, 'Team Alpha']], prices: samplePrices()});
	sample = await start({dbPath: sampleStore, managementKey: KEY});
});

describe('the replica answers the constructed requests exactly', () => {
	const names = ['usage-summary', 'usage-accounts', 'usage-api-keys', 'usage-realtime', 'usage-models', 'usage-legacy-manager'];

	it.each(names)('%s: same values, same key order, as encoding/json writes it', async name => {
		const {_request, response} = payload(name);
		const reply = await get(sample.url, target(_request));
		expect(reply.status).toBe(200);
		expect(reply.type).toBe('application/json');
		expect(reply.body).toEqual(response);
		// Nothing in this dataset needs HTML escaping, so Go's bytes are JSON.stringify's plus Encode's newline.
		expect(reply.text).toBe(`${JSON.stringify(response)}\n`);
		const recorded = sample.requests.at(-1)!;
		expect(recorded).toMatchObject({method: 'GET', status: 200, bytes: Buffer.byteLength(reply.text), auth: 'valid'});
		expect(`${recorded.path}${recorded.query === '' ? '' : `?${recorded.query}`}`).toBe(target(_request));
	});

	it('serves the saved prices and aliases, /health and /usage-service/info (the last two without a key)', async () => {
		expect((await get(sample.url, '/v0/management/model-prices')).body).toEqual(MISC['GET /v0/management/model-prices']);
		expect((await get(sample.url, '/v0/management/api-key-aliases')).body).toEqual(MISC['GET /v0/management/api-key-aliases']);
		expect((await get(sample.url, '/health', {key: null})).body).toEqual(MISC['GET /health']);
		const info = await get(sample.url, '/usage-service/info', {key: null});
		expect(info.body).toEqual({...MISC['GET /usage-service/info'], startedAt: expect.any(Number)});
		// A Go map: encoding/json sorts its keys (the constructed file lists them in another order).
		expect(Object.keys(info.body)).toEqual(['configured', 'mode', 'service', 'startedAt']);
	});

	it('answers a trailing slash or an unknown sub-path with the legacy payload (HasSuffix routing)', async () => {
		const legacy = payload('usage-legacy-manager').response;
		for (const path of ['/v0/management/usage/summary/', '/v0/management/usage/accounts/?page=1', '/v0/management/usage/anything', '/v0/management/usage?start_ms=1']) {
			const reply = await get(sample.url, path);
			expect([path, reply.status, reply.body]).toEqual([path, 200, legacy]);
		}
	});

	it('keeps the newest legacyLimit events in the legacy payload', async () => {
		const limited = await start({dbPath: sampleStore, managementKey: KEY, legacyLimit: 2});
		const {body} = await get(limited.url, '/v0/management/usage');
		expect(body.total_requests).toBe(2);
		expect(Object.keys(body.apis)).toEqual(['POST /v1/chat/completions', 'POST /v1/responses']);
		expect(body.apis['POST /v1/responses'].models['gpt-5'].details.map((d: {timestamp: string}) => d.timestamp)).toEqual(['2026-05-27T08:01:00Z']);
	});
});

it('encodes as encoding/json: map keys in byte order, HTML escaped, omitempty, int64, RFC3339Nano', () => {
	const map = new Map<string, unknown>([['b', 1], ['\u{1f600}', 2], ['\uff01', 3], ['10', [true, null]], ['a<b', '&\u2028']]);
	expect(goJson({page: 2n ** 63n - 1n, skipped: undefined, map})).toBe(
		'{"page":9223372036854775807,"map":{"10":[true,null],"a\\u003cb":"\\u0026\\u2028","b":1,"\uff01":3,"\u{1f600}":2}}',
	);
	expect(goJson({text: '<x>', map: new Map([['z', 1], ['a', 2]])})).toBe('{"text":"\\u003cx\\u003e","map":{"a":2,"z":1}}');
	expect([1_779_868_800_512, 1_779_868_800_500, 1_779_868_800_000].map(rfc3339Nano)).toEqual(['2026-05-27T08:00:00.512Z', '2026-05-27T08:00:00.5Z', '2026-05-27T08:00:00Z']);
});

describe('errors', () => {
	const summary = '/v0/management/usage/summary';

	it('refuses a wrong, missing or non-Bearer key with 401, and accepts any case of the prefix and a padded token', async () => {
		const refused = {code: 'invalid_management_key', error: 'invalid management key'};
		const attempts: Array<{key: string | null; headers?: Record<string, string>}> = [
			{key: 'wrong'},
			{key: null},
			{key: null, headers: {'x-management-key': KEY}},
			{key: null, headers: {authorization: KEY}},
		];
		for (const init of attempts) {
			const reply = await get(sample.url, summary, init);
			expect([reply.status, reply.body]).toEqual([401, refused]);
		}
		expect((await get(sample.url, summary, {key: null, headers: {authorization: `bEaReR    ${KEY}  `}})).status).toBe(200);
		expect((await get(sample.url, '/v0/management/model-prices', {key: 'wrong'})).status).toBe(401);
	});

	it.each([
		['/v0/management/usage/accounts?page_size=501', 'page_size must be less than or equal to 500'],
		['/v0/management/usage/realtime?page_size=0', 'invalid page_size'],
		['/v0/management/usage/models?page=x', 'invalid page'],
		['/v0/management/usage/api-keys?page=-1', 'invalid page'],
		['/v0/management/usage/accounts?page=1&page_size=1&sort_key=timestamp_ms%20desc', 'invalid sort_key'],
		['/v0/management/usage/realtime?sort_key=cost', 'invalid sort_key'],
		['/v0/management/usage/accounts?sort_direction=DESC', 'invalid sort_direction'],
		['/v0/management/usage/summary?status=failure', 'invalid status'],
		['/v0/management/usage/summary?start_ms=2000&end_ms=1000', 'start_ms must be less than or equal to end_ms'],
		['/v0/management/usage/summary?start_ms=1.5', 'invalid start_ms'],
		['/v0/management/usage/realtime?end_ms=9223372036854775808', 'invalid end_ms'],
	])('%s → 400 %s', async (path, message) => {
		const reply = await get(sample.url, path);
		expect([reply.status, reply.body]).toEqual([400, {error: message, code: 'request_failed'}]);
	});

	it('accepts the largest page size and page numbers past the end', async () => {
		const reply = await get(sample.url, '/v0/management/usage/realtime?page=9223372036854775807&page_size=500');
		expect(reply.status).toBe(200);
		expect(reply.text).toContain('"page":9223372036854775807,');
		expect(reply.body).toMatchObject({page_size: 500, total_items: 3, items: []});
	});

	it('answers other methods with 405 and unknown paths with 404', async () => {
		for (const method of ['POST', 'PUT', 'DELETE']) {
			const reply = await get(sample.url, '/v0/management/usage/summary', {method});
			expect([reply.status, reply.body]).toEqual([405, {error: 'method not allowed', code: 'method_not_allowed'}]);
		}
		expect((await get(sample.url, '/health', {method: 'POST'})).status).toBe(405);
		expect((await get(sample.url, '/v0/management/auth-files')).status).toBe(404);
		expect((await get(sample.url, '/nope')).status).toBe(404);
		expect((await get(sample.url, '/v0/management/usage/summary', {method: 'OPTIONS', key: null})).status).toBe(204);
	});
});

// ---- the manager's own store tests (reference cpa/fixture.store-*.json) ----

describe('the expectations of the manager store tests', () => {
	const hashA = 'a'.repeat(64);
	const hashB = 'b'.repeat(64);
	const stream = (hash: string, ms: number, fields: Row): Row => ({
		event_hash: hash,
		timestamp_ms: ms,
		provider: 'codex',
		endpoint: 'POST /v1/chat/completions',
		auth_provider_snapshot: 'codex',
		...fields,
	});

	it('summary: totals, filters and facets', async () => {
		const path = buildStore(
			'summary',
			[
				{event_hash: 'summary-success', timestamp_ms: 1_778_000_003_000, model: 'gpt-test', endpoint: 'POST /v1/chat/completions', auth_index: 'auth-1', api_key_hash: hashA, account_snapshot: 'alice@example.com', auth_provider_snapshot: 'codex', input_tokens: 10, output_tokens: 20, total_tokens: 30, latency_ms: 123, raw_json: '{"large":"detail"}', failed: 0},
				{event_hash: 'summary-failure', timestamp_ms: 1_778_000_004_000, model: 'gpt-test', endpoint: 'POST /v1/chat/completions', auth_index: 'auth-2', api_key_hash: hashB, account_snapshot: 'bob@example.com', auth_provider_snapshot: 'gemini', input_tokens: 5, reasoning_tokens: 7, total_tokens: 12, failed: 1},
			],
			{aliases: [[hashA, 'Team Alpha']]},
		);
		const replica = await start({dbPath: path, managementKey: KEY});
		const all = (await get(replica.url, '/v0/management/usage/summary')).body;
		expect(all).toMatchObject({
			total_requests: 2, success_count: 1, failure_count: 1, total_tokens: 42, latency_sum_ms: 123, latency_count: 1, latency_ms: 123,
			tokens: {input_tokens: 15, output_tokens: 20, reasoning_tokens: 7, total_tokens: 42},
			apis: {},
		});
		expect(all.facets).toMatchObject({providers: ['codex', 'gemini'], models: ['gpt-test'], channels: ['codex', 'gemini']});
		expect(all.facets.accounts).toEqual([{value: 'alice@example.com', label: 'alice@example.com'}, {value: 'bob@example.com', label: 'bob@example.com'}]);
		// The upstream test checks membership; by lower(label) the unaliased hash ("bbb…") sorts before "team alpha".
		expect(all.facets.api_keys).toEqual([{value: hashB, label: hashB}, {value: hashA, label: 'Team Alpha'}]);
		expect((await get(replica.url, '/v0/management/usage/summary?start_ms=1778000004000')).body).toMatchObject({total_requests: 1, success_count: 0, failure_count: 1, total_tokens: 12});
		expect((await get(replica.url, `/v0/management/usage/summary?api_key_hash=${hashA.toUpperCase()}&status=success&search=alice`)).body).toMatchObject({
			total_requests: 1, success_count: 1, failure_count: 0, total_tokens: 30,
		});
		expect(ftsQuery('co code "codex"')).toBe('"co"* AND "code"* AND "codex"*');
	});

	it('totalCost: the saved prices order the accounts', async () => {
		const path = buildStore(
			'cost-sort',
			[
				{event_hash: 'cost-sort-expensive', timestamp_ms: 1_778_000_001_000, model: 'expensive-model', endpoint: 'POST /v1/chat/completions', account_snapshot: 'high-cost@example.com', input_tokens: 10, total_tokens: 10},
				{event_hash: 'cost-sort-cheap', timestamp_ms: 1_778_000_002_000, model: 'cheap-model', endpoint: 'POST /v1/chat/completions', account_snapshot: 'high-token@example.com', input_tokens: 100, total_tokens: 100},
			],
			{prices: [{model: 'expensive-model', prompt: 100}, {model: 'cheap-model', prompt: 1}]},
		);
		const replica = await start({dbPath: path, managementKey: KEY});
		const {body} = await get(replica.url, '/v0/management/usage/accounts?page=1&page_size=1&sort_key=totalCost&sort_direction=desc');
		expect(body.items[0].account).toBe('high-cost@example.com');
		expect(body.usage.apis).toEqual({});
		expect(body.total_items).toBe(2);
		// Without prices every cost is 0 and lastSeenAt decides.
		const tokens = (await get(replica.url, '/v0/management/usage/accounts?page=1&page_size=1&sort_key=totalTokens&sort_direction=desc')).body;
		expect(tokens.items[0].account).toBe('high-token@example.com');
	});

	it('ties: lastSeenAt, then the group key in UTF-8 byte order, all in the requested direction', async () => {
		// U+FF01 sorts after a surrogate pair in UTF-16 but before U+1F600 in UTF-8, as Go compares.
		const accounts = ['b-acct', 'a-acct', '\uff01acct', '\u{1f600}acct', 'c-acct'];
		const path = buildStore(
			'ties',
			accounts.map((account, n) => ({event_hash: `tie-${n}`, timestamp_ms: account === 'c-acct' ? 2000 : 1000, model: 'm', account_snapshot: account, failed: n % 2})),
		);
		const replica = await start({dbPath: path, managementKey: KEY});
		const keys = async (query: string) => (await get(replica.url, `/v0/management/usage/accounts?${query}`)).body.items.map((item: {key: string}) => item.key);
		const descending = ['c-acct', '\u{1f600}acct', '\uff01acct', 'b-acct', 'a-acct'];
		expect(await keys('sort_key=totalCalls')).toEqual(descending);
		expect(await keys('sort_key=totalCalls&sort_direction=asc')).toEqual([...descending].reverse());
		// successRate: 1 for the even ones, 0 for a-acct and the emoji; ties fall through the same way.
		expect(await keys('sort_key=successRate&sort_direction=desc')).toEqual(['c-acct', '\uff01acct', 'b-acct', '\u{1f600}acct', 'a-acct']);
	});

	it('realtime: pages newest first, with whole-stream and up-to-the-event counters', async () => {
		const path = buildStore('streams', [
			stream('realtime-page-old', 1_778_000_001_000, {model: 'gpt-test', account_snapshot: 'alice@example.com', total_tokens: 10, failed: 0}),
			stream('realtime-page-new', 1_778_000_002_000, {model: 'gpt-test', account_snapshot: 'alice@example.com', total_tokens: 20, failed: 1}),
			stream('realtime-page-other-stream', 1_778_000_003_000, {model: 'gpt-other', account_snapshot: 'bob@example.com', total_tokens: 30, failed: 0}),
			stream('stream-auth-a', 1_778_000_001_000, {model: 'gpt-split', account_snapshot: 'carol@example.com', auth_index: 'auth-a', failed: 0}),
			stream('stream-auth-b', 1_778_000_002_000, {model: 'gpt-split', account_snapshot: 'carol@example.com', auth_index: 'auth-b', failed: 1}),
		]);
		const replica = await start({dbPath: path, managementKey: KEY});
		const page2 = (await get(replica.url, '/v0/management/usage/realtime?model=gpt-test&page=2&page_size=1')).body;
		expect(page2).toMatchObject({page: 2, total_items: 2, usage: {total_requests: 2, success_count: 1, failure_count: 1, total_tokens: 30, apis: {}}});
		expect(page2.items[0]).toMatchObject({
			event_hash: 'realtime-page-old', stream_total_requests: 2, stream_success_count: 1, stream_failure_count: 1, stream_recent_pattern: [true, false],
			stream_request_count: 1, stream_success_count_to_event: 1, stream_failure_count_to_event: 0, stream_recent_pattern_to_event: [true],
		});
		const page1 = (await get(replica.url, '/v0/management/usage/realtime?model=gpt-test&page=1&page_size=2')).body;
		expect(page1.items).toMatchObject([
			{event_hash: 'realtime-page-new', stream_total_requests: 2, stream_request_count: 2, stream_success_count_to_event: 1, stream_failure_count_to_event: 1, stream_recent_pattern_to_event: [true, false]},
			{event_hash: 'realtime-page-old', stream_request_count: 1},
		]);
		const split = (await get(replica.url, '/v0/management/usage/realtime?model=gpt-split')).body.items;
		expect(new Set(split.map((item: {stream_key: string}) => item.stream_key)).size).toBe(2);
		expect(split).toMatchObject([
			{stream_total_requests: 1, stream_request_count: 1},
			{stream_total_requests: 1, stream_request_count: 1},
		]);
	});
});

// ---- brute force on a generated store ----

interface Raw extends CpaRaw {
	event_hash: string;
}

const first = (...values: Array<string | null>): string => values.find(value => value !== null && value !== '') ?? '';
const asciiLower = (text: string): string => text.replace(/[A-Z]/gu, c => c.toLowerCase());
// unicode61: runs of letters, digits, marks and private-use characters, folded to lower case.
const words = (text: string | null): string[] => (text ?? '').toLowerCase().match(/[\p{L}\p{N}\p{M}\p{Co}]+/gu) ?? [];

interface Query {
	readonly startMs?: number;
	readonly endMs?: number;
	readonly account?: string;
	readonly provider?: string;
	readonly channel?: string;
	readonly model?: string;
	readonly apiKeyHash?: string;
	readonly status?: 'success' | 'failed';
	readonly search?: string;
	readonly searchApiKeyHash?: string;
}

const queryString = (query: Query): string =>
	new URLSearchParams(
		Object.entries({
			start_ms: query.startMs, end_ms: query.endMs, account: query.account, provider: query.provider, channel: query.channel, model: query.model,
			api_key_hash: query.apiKeyHash, status: query.status, search: query.search, search_api_key_hash: query.searchApiKeyHash,
		}).flatMap(([name, value]): Array<[string, string]> => (value === undefined ? [] : [[name, String(value)]])),
	).toString();

const FTS_COLUMNS = [
	'account_snapshot', 'auth_label_snapshot', 'auth_file_snapshot', 'auth_provider_snapshot', 'auth_project_id_snapshot', 'auth_index', 'source',
	'api_key_hash', 'provider', 'model', 'requested_model', 'resolved_model', 'endpoint', 'method', 'path',
] as const;

/** A prefix phrase: its words in a row inside one column, the last one as a prefix. */
function phraseIn(column: string[], phrase: string[]): boolean {
	for (let i = 0; i + phrase.length <= column.length; i++) {
		if (phrase.every((word, j) => (j === phrase.length - 1 ? column[i + j]!.startsWith(word) : column[i + j] === word))) {
			return true;
		}
	}
	return false;
}

function matches(raw: Raw, query: Query, aliases: Map<string, string>): boolean {
	const anyColumn = (wanted: string | undefined, columns: Array<string | null>) =>
		wanted === undefined || columns.some(column => asciiLower(column ?? '') === wanted.trim().toLowerCase());
	if ((query.startMs !== undefined && raw.timestamp_ms < query.startMs) || (query.endMs !== undefined && raw.timestamp_ms > query.endMs)) {
		return false;
	}
	if (query.model !== undefined && raw.model !== query.model) {
		return false;
	}
	if (query.apiKeyHash !== undefined && asciiLower(raw.api_key_hash ?? '') !== query.apiKeyHash.toLowerCase()) {
		return false;
	}
	if (query.status !== undefined && (raw.failed === 0) !== (query.status === 'success')) {
		return false;
	}
	if (
		!anyColumn(query.account, [raw.account_snapshot, raw.auth_label_snapshot, raw.source, raw.auth_index]) ||
		!anyColumn(query.provider, [raw.provider, raw.auth_provider_snapshot]) ||
		!anyColumn(query.channel, [raw.auth_provider_snapshot, raw.provider, raw.source])
	) {
		return false;
	}
	const phrases = (query.search ?? '').trim().split(/\s+/u).map(term => term.replace(/^["*]+|["*]+$/gu, '')).filter(term => term !== '').map(words);
	if (phrases.length === 0 && query.searchApiKeyHash === undefined) {
		return true;
	}
	const all = (columns: string[][]) => phrases.length > 0 && phrases.every(phrase => columns.some(column => phraseIn(column, phrase)));
	const alias = raw.api_key_hash === null ? undefined : aliases.get(raw.api_key_hash);
	return (
		all(FTS_COLUMNS.map(column => words(raw[column]))) ||
		(alias !== undefined && all([words(alias)])) ||
		(query.searchApiKeyHash !== undefined && asciiLower(raw.api_key_hash ?? '') === query.searchApiKeyHash.toLowerCase())
	);
}

describe('against a brute-force recomputation on a generated store', () => {
	let replica: CpaManagerReplica;
	let raws: Raw[] = [];
	let aliases = new Map<string, string>();
	let prices = new Map<string, number[]>();
	let endMs = 0;

	beforeAll(async () => {
		const path = join(dir, 'generated.sqlite');
		writeCpaFixture(path, {requests: 3000});
		const db = new Database(path, {readonly: true});
		raws = db.prepare('select * from usage_events').all() as Raw[];
		aliases = new Map((db.prepare('select api_key_hash, alias from api_key_aliases').all() as Array<{api_key_hash: string; alias: string}>).map(a => [a.api_key_hash, a.alias]));
		prices = new Map(
			(db.prepare('select model, prompt_per_1m, completion_per_1m, cache_per_1m from model_prices').all() as Array<Record<string, number> & {model: string}>).map(p => [
				p.model,
				[p.prompt_per_1m!, p.completion_per_1m!, p.cache_per_1m!],
			]),
		);
		db.close();
		endMs = Math.max(...raws.map(raw => raw.timestamp_ms));
		replica = await start({dbPath: path, managementKey: KEY});
	});

	const queries = (): Array<[string, Query]> => [
		['no filter', {}],
		['failed only', {status: 'failed'}],
		['an account in another case', {account: 'ALICE@Example.COM'}],
		['an auth index, padded', {account: `  ${raws.find(raw => raw.auth_index !== null)!.auth_index!.toUpperCase()} `}],
		['a provider and a window', {provider: 'Codex', startMs: endMs - 7 * 86_400_000, endMs: endMs - 86_400_000}],
		['a channel and success', {channel: 'GEMINI-CLI', status: 'success'}],
		['an exact model', {model: 'fast'}],
		['a key hash in upper case', {apiKeyHash: raws.find(raw => raw.api_key_hash !== null)!.api_key_hash!.toUpperCase()}],
		['a search prefix', {search: 'gem'}],
		['a two-word phrase prefix', {search: 'v1/chat'}],
		['terms that must all match', {search: 'cod RESP', status: 'failed'}],
		['an alias word', {search: 'team'}],
		['quotes and stars trimmed', {search: '"alpha"*'}],
		['a pasted key hash', {search: 'sk-unknown', searchApiKeyHash: raws.find(raw => raw.api_key_hash !== null)!.api_key_hash!}],
	];

	it('summary and realtime select exactly the matching requests', async () => {
		for (const [label, query] of queries()) {
			const expected = raws.filter(raw => matches(raw, query, aliases));
			expect([label, expected.length > 0]).toEqual([label, true]);
			const newest = [...expected].sort((a, b) => b.timestamp_ms - a.timestamp_ms || b.id - a.id);
			const summary = (await get(replica.url, `/v0/management/usage/summary?${queryString(query)}`)).body;
			expect([label, summary.total_requests, summary.failure_count, summary.total_tokens]).toEqual([
				label,
				expected.length,
				expected.filter(raw => raw.failed !== 0).length,
				expected.reduce((sum, raw) => sum + raw.total_tokens, 0),
			]);
			const realtime = (await get(replica.url, `/v0/management/usage/realtime?${queryString(query)}&page=2&page_size=25`)).body;
			expect([label, realtime.total_items]).toEqual([label, expected.length]);
			expect([label, realtime.items.map((item: {event_hash: string}) => item.event_hash)]).toEqual([label, newest.slice(25, 50).map(raw => raw.event_hash)]);
			expect(realtime.usage).toEqual(summary);
		}
	});

	it('facets see only the time range and the search', async () => {
		const window = {startMs: endMs - 3 * 86_400_000, search: 'cod'};
		const plain = (await get(replica.url, `/v0/management/usage/summary?${queryString(window)}`)).body;
		const filtered = (await get(replica.url, `/v0/management/usage/summary?${queryString({...window, status: 'failed', account: 'alice@example.com', model: 'gpt-5'})}`)).body;
		expect(filtered.total_requests).toBeLessThan(plain.total_requests);
		expect(filtered.facets).toEqual(plain.facets);
		const rows = raws.filter(raw => matches(raw, window, aliases));
		const distinct = (values: string[]) => [...new Set(values.filter(value => value.trim() !== ''))].sort((a, b) => compareBytes(asciiLower(a), asciiLower(b)));
		expect(plain.facets.providers).toEqual(distinct(rows.map(raw => first(raw.auth_provider_snapshot, raw.provider))));
		expect(plain.facets.models).toEqual(distinct(rows.map(raw => first(raw.resolved_model, raw.model))));
		expect(plain.facets.channels).toEqual(distinct(rows.map(raw => first(raw.auth_provider_snapshot, raw.provider, raw.source))));
		const accounts = new Set(rows.map(raw => first(raw.account_snapshot, raw.auth_label_snapshot, raw.source, raw.auth_index).toLowerCase()).filter(value => value.trim() !== ''));
		expect(plain.facets.accounts).toHaveLength(accounts.size);
		const keys = new Set(rows.flatMap(raw => (raw.api_key_hash === null ? [] : [raw.api_key_hash.toLowerCase()])));
		expect(plain.facets.api_keys.map((option: {value: string}) => option.value).sort()).toEqual([...keys].sort());
		for (const option of plain.facets.api_keys as Array<{value: string; label: string}>) {
			expect(option.label).toBe(aliases.get(option.value) ?? option.value);
		}
	});

	it('realtime stream counters match the streams recounted from the rows', async () => {
		const query: Query = {status: 'failed'};
		const rows = raws.filter(raw => matches(raw, query, aliases)).sort((a, b) => a.timestamp_ms - b.timestamp_ms || a.id - b.id);
		const streamOf = (raw: Raw) =>
			[
				first(raw.account_snapshot, raw.auth_label_snapshot, raw.source, raw.auth_index, '-'),
				first(raw.auth_provider_snapshot, raw.provider, '-'),
				first(raw.model, '-'),
				first(raw.auth_index, raw.source, raw.auth_provider_snapshot, raw.provider, '-'),
			].join('\u0000');
		const streams = new Map<string, Raw[]>();
		for (const raw of rows) {
			streams.set(streamOf(raw), [...(streams.get(streamOf(raw)) ?? []), raw]);
		}
		const {body} = await get(replica.url, `/v0/management/usage/realtime?${queryString(query)}&page=1&page_size=100`);
		expect(body.items.length).toBeGreaterThan(50);
		for (const item of body.items) {
			const members = streams.get(item.stream_key)!;
			const position = members.findIndex(raw => raw.event_hash === item.event_hash);
			const upTo = members.slice(0, position + 1);
			const ok = (list: Raw[]) => list.map(raw => raw.failed === 0);
			expect(item).toMatchObject({
				stream_total_requests: members.length,
				stream_success_count: members.filter(raw => raw.failed === 0).length,
				stream_failure_count: members.filter(raw => raw.failed !== 0).length,
				stream_recent_pattern: ok(members.slice(-10)),
				stream_request_count: position + 1,
				stream_success_count_to_event: upTo.filter(raw => raw.failed === 0).length,
				stream_failure_count_to_event: upTo.filter(raw => raw.failed !== 0).length,
				stream_recent_pattern_to_event: ok(upTo.slice(-10)),
			});
		}
	});

	it('accounts and api-keys group, count and sort as the rules say', async () => {
		const query: Query = {startMs: endMs - 10 * 86_400_000};
		const rows = raws.filter(raw => matches(raw, query, aliases));
		const keyOf = {
			accounts: (raw: Raw) => first(raw.account_snapshot, raw.auth_label_snapshot, raw.source, raw.auth_index, '-'),
			'api-keys': (raw: Raw) => (first(raw.api_key_hash) === '' ? `unknown:${raw.source ?? ''}:${raw.auth_index ?? ''}:${raw.auth_provider_snapshot ?? ''}` : raw.api_key_hash!.toLowerCase()),
		};
		for (const kind of ['accounts', 'api-keys'] as const) {
			const groups = new Map<string, {calls: number; failures: number; tokens: number; last: number}>();
			for (const raw of rows) {
				const group = groups.get(keyOf[kind](raw)) ?? {calls: 0, failures: 0, tokens: 0, last: 0};
				group.calls += 1;
				group.failures += raw.failed === 0 ? 0 : 1;
				group.tokens += raw.total_tokens;
				group.last = Math.max(group.last, raw.timestamp_ms);
				groups.set(keyOf[kind](raw), group);
			}
			// totalCalls descending; ties by lastSeenAt, then the key as a string, all descending.
			const expected = [...groups.entries()].sort(([ka, a], [kb, b]) => b.calls - a.calls || b.last - a.last || compareBytes(kb, ka));
			const {body} = await get(replica.url, `/v0/management/usage/${kind}?${queryString(query)}&page=1&page_size=500&sort_key=totalCalls&sort_direction=desc`);
			expect(body.total_items).toBe(groups.size);
			expect(body.items.map((item: any) => [item.key, item.total_requests, item.failure_count, item.total_tokens, item.last_seen_at_ms])).toEqual(
				expected.map(([key, group]) => [key, group.calls, group.failures, group.tokens, group.last]),
			);
			expect(body.usage).toMatchObject({total_requests: rows.length, apis: {}, facets: {}});
			for (const item of body.items) {
				expect(item.models.reduce((sum: number, model: {total_requests: number}) => sum + model.total_requests, 0)).toBe(item.total_requests);
				expect(item.recent_pattern.length).toBeLessThanOrEqual(10);
			}
			// Ascending is the exact reverse: the direction turns the tie-breakers too.
			const ascending = (await get(replica.url, `/v0/management/usage/${kind}?${queryString(query)}&page_size=500&sort_key=totalCalls&sort_direction=asc`)).body;
			expect(ascending.items.map((item: {key: string}) => item.key)).toEqual(expected.map(([key]) => key).reverse());
		}
	});

	it('totalCost sorts the accounts by the saved prices, priced per detail row', async () => {
		const detailKey = (raw: Raw) =>
			[first(raw.endpoint, '-'), first(raw.model, '-'), raw.source, raw.auth_index, raw.api_key_hash, raw.account_snapshot, raw.auth_label_snapshot, raw.auth_file_snapshot,
				raw.auth_provider_snapshot, raw.auth_project_id_snapshot, raw.resolved_model, raw.failed].map(value => value ?? '').join('\u0000');
		const details = new Map<string, Raw[]>();
		for (const raw of raws) {
			details.set(detailKey(raw), [...(details.get(detailKey(raw)) ?? []), raw]);
		}
		const cost = new Map<string, number>();
		for (const members of details.values()) {
			const sum = (column: 'input_tokens' | 'output_tokens' | 'cached_tokens' | 'cache_tokens') => members.reduce((total, raw) => total + raw[column], 0);
			const head = members[0]!;
			const price = lookupPrice(prices, head.resolved_model) ?? lookupPrice(prices, first(head.model, '-'));
			const cached = Math.max(sum('cached_tokens'), sum('cache_tokens'), 0);
			const value = price === null ? 0 : (Math.max(sum('input_tokens') - cached, 0) / 1e6) * price[0]! + (cached / 1e6) * price[2]! + (sum('output_tokens') / 1e6) * price[1]!;
			const account = first(head.account_snapshot, head.auth_label_snapshot, head.source, head.auth_index, '-');
			cost.set(account, (cost.get(account) ?? 0) + value);
		}
		const {body} = await get(replica.url, '/v0/management/usage/accounts?page_size=500&sort_key=totalCost&sort_direction=desc');
		const costs = body.items.map((item: {key: string}) => cost.get(item.key)!);
		expect(costs).toHaveLength(cost.size);
		for (let i = 1; i < costs.length; i++) {
			expect(costs[i]).toBeLessThanOrEqual(costs[i - 1] * (1 + 1e-12));
		}
		expect(costs[0]).toBeGreaterThan(costs.at(-1)!);
	});

	it('models groups by endpoint, model, resolved model and outcome, newest first, paged in SQL', async () => {
		const groups = new Map<string, number>();
		for (const raw of raws) {
			const key = [first(raw.endpoint, '-'), first(raw.model, '-'), raw.resolved_model ?? '', raw.failed].join('\u0000');
			groups.set(key, Math.max(groups.get(key) ?? 0, raw.timestamp_ms));
		}
		const page1 = (await get(replica.url, '/v0/management/usage/models?page=1&page_size=7&sort_key=totalCost&sort_direction=asc')).body;
		const page2 = (await get(replica.url, '/v0/management/usage/models?page=2&page_size=7')).body;
		expect(page1.total_items).toBe(groups.size);
		expect(page1).not.toHaveProperty('items');
		const details = [page1, page2].flatMap(page =>
			Object.values(page.usage.apis as Record<string, {models: Record<string, {details: Array<{timestamp: string; request_count: number}>}>}>).flatMap(api =>
				Object.values(api.models).flatMap(model => model.details),
			),
		);
		expect(details.map(detail => Date.parse(detail.timestamp)).sort((a, b) => b - a)).toEqual([...groups.values()].sort((a, b) => b - a).slice(0, 14));
		// `usage` totals the page's details only.
		expect(page1.usage.total_requests).toBe(details.slice(0, 7).reduce((sum, detail) => sum + detail.request_count, 0));
	});

	it('caps a page at 500 rows', async () => {
		const full = (await get(replica.url, '/v0/management/usage/realtime?page=2&page_size=500')).body;
		expect(full.items).toHaveLength(500);
		expect(full.total_items).toBe(3000);
		expect((await get(replica.url, '/v0/management/usage/realtime?page=7&page_size=500')).body.items).toEqual([]);
		expect((await get(replica.url, '/v0/management/usage/realtime?page_size=501')).status).toBe(400);
		const legacy = (await get(replica.url, '/v0/management/usage')).body;
		expect(legacy.total_requests).toBe(3000);
	});
});

// ---- flavours ----

describe('flavours', () => {
	it('pre-paged: the five paged paths answer 404; legacy, prices and aliases work', async () => {
		const old = await start({dbPath: sampleStore, managementKey: KEY, flavour: 'pre-paged'});
		for (const name of ['summary', 'accounts', 'api-keys', 'realtime', 'models']) {
			const reply = await get(old.url, `/v0/management/usage/${name}?page=1&page_size=500`);
			expect([name, reply.status, reply.body]).toEqual([name, 404, {error: 'not found'}]);
		}
		expect((await get(old.url, '/v0/management/usage')).body).toEqual(payload('usage-legacy-manager').response);
		expect((await get(old.url, '/v0/management/model-prices')).body).toEqual(MISC['GET /v0/management/model-prices']);
		expect((await get(old.url, '/v0/management/api-key-aliases')).status).toBe(200);
		expect((await get(old.url, '/usage-service/info', {key: null})).body.service).toBe('cpa-manager');
	});

	it('cpa-manager-plus: says so, and answers every usage path but /export with the legacy-compatible body', async () => {
		const plus = await start({dbPath: sampleStore, managementKey: KEY, flavour: 'cpa-manager-plus'});
		expect((await get(plus.url, '/usage-service/info', {key: null})).body).toMatchObject({service: 'cpa-manager-plus', mode: 'embedded', configured: true});
		for (const path of ['/v0/management/usage/summary?start_ms=1779840000000', '/v0/management/usage/realtime?page_size=5000', '/v0/management/usage']) {
			const reply = await get(plus.url, path);
			expect(reply.status).toBe(200);
			expect(reply.text.startsWith('{"total_requests":3,"success_count":2,"failure_count":1,"total_tokens":4800,"apis":{')).toBe(true);
			expect(Object.keys(reply.body)).toEqual(['total_requests', 'success_count', 'failure_count', 'total_tokens', 'apis']);
			expect(Object.keys(reply.body.apis)).toEqual(['POST /v1/chat/completions', 'POST /v1/responses']);
			expect(reply.body.apis['POST /v1/responses'].models['gpt-5'].details.map((d: {timestamp: string}) => d.timestamp)).toEqual(['2026-05-27T08:01:00Z', '2026-05-27T08:00:00Z']);
		}
		const exported = await get(plus.url, '/v0/management/usage/export');
		expect(exported.type).toBe('application/x-ndjson');
		expect(exported.text.trim().split('\n').map(line => (JSON.parse(line) as {request_id: string}).request_id)).toEqual(['req-0001', 'req-0002', 'req-0003']);
		expect((await get(plus.url, '/v0/management/usage', {key: 'wrong'})).status).toBe(401);
	});

	it('before setup (no key) lets every request through and says it is not configured', async () => {
		const fresh = await start({dbPath: sampleStore, managementKey: ''});
		expect((await get(fresh.url, '/v0/management/usage/summary', {key: null})).status).toBe(200);
		expect((await get(fresh.url, '/usage-service/info', {key: null})).body.configured).toBe(false);
	});
});

describe('recording, fault injection and closing', () => {
	it('records every request with its status and body bytes, and never the key', async () => {
		const replica = await start({dbPath: sampleStore, managementKey: KEY});
		await get(replica.url, '/usage-service/info', {key: null});
		await get(replica.url, '/v0/management/usage/summary?search=alice', {key: 'wrong'});
		const summary = await get(replica.url, '/v0/management/usage/summary?search=alice');
		expect(replica.requests.map(({method, path, query, auth, status}) => ({method, path, query, auth, status}))).toEqual([
			{method: 'GET', path: '/usage-service/info', query: '', auth: 'missing', status: 200},
			{method: 'GET', path: '/v0/management/usage/summary', query: 'search=alice', auth: 'invalid', status: 401},
			{method: 'GET', path: '/v0/management/usage/summary', query: 'search=alice', auth: 'valid', status: 200},
		]);
		expect(replica.requests[2]!.bytes).toBe(Buffer.byteLength(summary.text));
		expect(replica.requests[2]!.headers.authorization).toBe('[redacted]');
		expect(JSON.stringify(replica.requests)).not.toContain(KEY);
	});

	it('lets an intercept delay, replace or cut off an answer', async () => {
		const replica = await start({
			dbPath: sampleStore,
			managementKey: KEY,
			intercept: request => {
				if (request.path.endsWith('/accounts')) {
					return {delayMs: 50, status: 500, body: '{"error":"database is locked","code":"request_failed"}'};
				}
				if (request.path.endsWith('/models')) {
					return {hangUp: true};
				}
				return request.path.endsWith('/summary') ? {delayMs: 30} : undefined;
			},
		});
		const started = performance.now();
		const failed = await get(replica.url, '/v0/management/usage/accounts');
		expect(performance.now() - started).toBeGreaterThanOrEqual(45);
		expect([failed.status, failed.body]).toEqual([500, {error: 'database is locked', code: 'request_failed'}]);
		await expect(get(replica.url, '/v0/management/usage/models')).rejects.toThrow();
		expect((await get(replica.url, '/v0/management/usage/summary')).body).toMatchObject({total_requests: 3});
		expect(replica.requests.map(request => request.status)).toEqual([500, 0, 200]);
	});

	it('closes promptly with keep-alive connections open and a delayed answer pending', async () => {
		const replica = await startCpaManagerReplica({dbPath: sampleStore, managementKey: KEY, intercept: request => (request.path === '/slow' ? {delayMs: 60_000} : undefined)});
		await get(replica.url, '/health', {key: null}); // leaves an idle keep-alive connection
		const pending = get(replica.url, '/slow').catch((error: unknown) => error);
		await new Promise(resolve => setTimeout(resolve, 20));
		const started = performance.now();
		await replica.close();
		expect(performance.now() - started).toBeLessThan(1000);
		expect(await pending).toBeInstanceOf(Error);
		await expect(fetch(`${replica.url}/health`)).rejects.toThrow();
	});
});

// The pasted-key search needs sha256 of what was typed, as the web client sends it.
it('finds a pasted raw key through search_api_key_hash', async () => {
	const hash = createHash('sha256').update('sk-team-alpha').digest('hex');
	expect(hash).toBe(TEAM_ALPHA);
	const {body} = await get(sample.url, `/v0/management/usage/summary?search=sk-team-alpha&search_api_key_hash=${hash}`);
	expect(body.total_requests).toBe(2);
	expect((await get(sample.url, '/v0/management/usage/summary?search=sk-team-alpha')).body.total_requests).toBe(0);
});
