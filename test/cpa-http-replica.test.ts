import {copyFileSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startCpaManagerReplica, type CpaManagerReplica} from '../bench/cpa-manager-replica.js';
import {FIXTURE_MANAGEMENT_KEY} from '../source/fixtures/cpa-fixture.js';
import {ensureFixture} from '../source/fixtures/fixture-files.js';
import {FIXTURE_END_MS} from '../source/fixtures/newapi-fixture.js';
import type {CpaHttpSource} from '../source/sources/cpa-http/cpa-http-source.js';
import {openSource} from '../source/sources/open-target.js';
import type {SortedPageRequest, UsageQuery} from '../source/usage/types.js';
import {runCli as runBuiltCli, type CliResult} from './support/run-cli.js';

// The HTTP source end to end against the replica of CPA-Manager's API serving the 52,000-request
// fixture store: `--json` over HTTP equals `--json` read from the same store directly, and the
// tables derived from the legacy payload equal the paged endpoints' answers.
//
// The direct comparison runs on a copy of the fixture as the manager itself writes rows: names
// trimmed at ingest, and each request's cached input in one cache column. The fixture also holds
// padded names and rows with both columns, to test the SQLite source; over HTTP the manager shows
// a padded name as stored, and its paged API sums each cache column over a group before taking the
// larger, so a row carrying both cannot be recovered request by request.

const KEY = FIXTURE_MANAGEMENT_KEY;
const DAY_MS = 86_400_000;

// Go's unicode.IsSpace, which strings.TrimSpace strips at ingest.
const GO_SPACE = [9, 10, 11, 12, 13, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288];

/** The fixture as the manager writes it (see the top of this file). */
function asIngested(from: string, to: string): void {
	copyFileSync(from, to);
	const db = new Database(to);
	const trim = (column: string) => `${column} = trim(${column}, char(${GO_SPACE.join(', ')}))`;
	db.exec(`UPDATE usage_events SET ${['account_snapshot', 'auth_label_snapshot', 'source', 'auth_index', 'auth_provider_snapshot', 'provider'].map(trim).join(', ')},
		cached_tokens = max(cached_tokens, cache_tokens), cache_tokens = 0`);
	db.close();
}

let store = '';
let ingested = '';
let paged: CpaManagerReplica;
let prePaged: CpaManagerReplica;
let ingestedPaged: CpaManagerReplica;
let folder = '';

beforeAll(async () => {
	store = ensureFixture('cpa');
	folder = mkdtempSync(join(tmpdir(), 'relaytop-cpa-http-'));
	ingested = join(folder, 'ingested.sqlite');
	asIngested(store, ingested);
	paged = await startCpaManagerReplica({dbPath: store, managementKey: KEY});
	prePaged = await startCpaManagerReplica({dbPath: store, managementKey: KEY, flavour: 'pre-paged'});
	ingestedPaged = await startCpaManagerReplica({dbPath: ingested, managementKey: KEY});
});

afterAll(async () => {
	await paged?.close();
	await prePaged?.close();
	await ingestedPaged?.close();
	rmSync(folder, {recursive: true, force: true});
});

/** Asynchronous, as the replica answers from this process; no RELAYTOP_KEY from the shell: each run gives its own. */
const runCli = (args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> => runBuiltCli(args, {env: {RELAYTOP_KEY: '', ...env}});

/** Costs are sums of the same prices in another order: equal to 1e-9 USD, compared as such. */
const comparable = (json: string): unknown =>
	JSON.parse(json, (key, value: unknown) => (key === 'source' ? undefined : typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1e9) / 1e9 : value));

describe('--json over HTTP', () => {
	const window = ['--from', String(FIXTURE_END_MS - 7 * DAY_MS), '--to', String(FIXTURE_END_MS)];
	const cases: ReadonlyArray<readonly string[]> = [
		window,
		[...window, '--sort', 'totalCost', '--page', '2', '--page-size', '5'],
		[...window, '--sort', 'lastSeenAt', '--direction', 'asc', '--status', 'failed'],
		['--range', 'all', '--to', String(FIXTURE_END_MS), '--search', 'gem', '--page-size', '50'],
	];
	for (const args of cases) {
		it(`matches --json read from the store directly: ${args.join(' ')}`, async () => {
			const [direct, overHttp] = await Promise.all([runCli([ingested, '--json', ...args]), runCli([ingestedPaged.url, '--json', ...args], {RELAYTOP_KEY: KEY})]);
			expect(direct.stderr).toBe('');
			expect(overHttp.stderr).toBe('');
			expect(overHttp.code).toBe(0);
			const json = JSON.parse(overHttp.stdout) as {source: {kind: string; target: string}; summary: {total_requests: number}};
			expect(json.source).toEqual({kind: 'cpa-http', target: `${ingestedPaged.url}/`});
			expect(json.summary.total_requests).toBeGreaterThan(0);
			expect(comparable(overHttp.stdout)).toEqual(comparable(direct.stdout));
			expect(overHttp.stdout).not.toContain(KEY);
		});
	}

	it('takes the key from --key-file, and from --key with a warning, never printing it', async () => {
		const keyFile = join(folder, 'key');
		writeFileSync(keyFile, `${KEY}\n`, {mode: 0o600});
		const fromFile = await runCli([paged.url, '--json', ...window, '--key-file', keyFile]);
		expect(fromFile.code).toBe(0);
		expect(fromFile.stderr).toBe('');
		const fromFlag = await runCli([paged.url, '--json', ...window, '--key', KEY]);
		expect(fromFlag.code).toBe(0);
		expect(fromFlag.stderr).toMatch(/^relaytop: warning: a key given with --key shows in ps and shell history/u);
		expect(fromFlag.stdout).toBe(fromFile.stdout);
		expect(`${fromFlag.stdout}${fromFlag.stderr}${fromFile.stdout}`).not.toContain(KEY);
	});

	it('fails in one line, without the key, when the key is wrong or missing', async () => {
		const wrong = await runCli([paged.url, '--json'], {RELAYTOP_KEY: 'wrong-key-5d1e'});
		expect(wrong.code).toBe(1);
		expect(wrong.stderr).toMatch(/^relaytop: management key rejected \(GET \/v0\/management\/usage\/[a-z-]+: 401\)/u);
		expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
		expect(wrong.stderr).not.toContain('wrong-key-5d1e');
		const missing = await runCli([paged.url, '--json']);
		expect(missing.code).toBe(2);
		expect(missing.stderr).toBe('relaytop: a CPA-Manager address needs its management key: set RELAYTOP_KEY, or give --key-file\n');
		const misplaced = await runCli([store, '--json', '--key', KEY]);
		expect(misplaced.code).toBe(2);
		expect(misplaced.stderr).toBe('relaytop: --key goes with an http(s):// CPA-Manager address\n');
	});
});

describe('tables from the legacy payload', () => {
	const end = FIXTURE_END_MS;
	// The legacy payload holds the newest 50,000 requests: these windows lie inside them.
	const queries: Record<string, UsageQuery> = {
		'the last 7 days': {range: {startMs: end - 7 * DAY_MS, endMs: end}, filters: {}},
		'failures of the last day': {range: {startMs: end - DAY_MS, endMs: end}, filters: {status: 'failed'}},
		'a search': {range: {startMs: end - 7 * DAY_MS, endMs: end}, filters: {search: 'gem pro'}},
		'one model': {range: {startMs: end - 3 * DAY_MS, endMs: end}, filters: {model: 'gpt-5'}},
		'an account, in another case, and a key': {range: {startMs: end - 7 * DAY_MS, endMs: end}, filters: {account: 'ALICE@example.com', apiKey: 'FD99B75A35A66AE46DE0E863776DF7618DC722406FDD14E32CE5FEE4B2E64E98'}},
	};
	const pages: SortedPageRequest[] = [
		{page: 1, pageSize: 20, sortKey: 'totalCalls', sortDirection: 'desc'},
		{page: 2, pageSize: 7, sortKey: 'totalCost', sortDirection: 'asc'},
		{page: 1, pageSize: 50, sortKey: 'successRate', sortDirection: 'desc'},
	];

	async function views(source: CpaHttpSource, query: UsageQuery) {
		return {
			summary: await source.summary(query),
			models: await source.models(query),
			rate: await source.rate(query),
			timeline: await source.timeline(query, 60_000, 30).then(buckets => buckets.reduce((total, bucket) => total + bucket.requests, 0)),
			accounts: await Promise.all(pages.map(page => source.groups(query, 'account', page))),
			apiKeys: await Promise.all(pages.map(page => source.apiKeys(query, page))),
			realtime: await source.realtime(query, {page: 2, pageSize: 25}),
		};
	}

	for (const [name, query] of Object.entries(queries)) {
		it(`equal the paged endpoints' for ${name}`, async () => {
			const fromPages = (await openSource(paged.url, {managementKey: KEY})) as CpaHttpSource;
			const fromLegacy = (await openSource(prePaged.url, {managementKey: KEY})) as CpaHttpSource;
			const expected = await views(fromPages, query);
			const derived = await views(fromLegacy, query);
			expect(fromPages.mode).toBe('paged');
			expect(fromLegacy.mode).toBe('legacy');
			expect(expected.summary.totalRequests).toBeGreaterThan(0);
			expect(comparable(JSON.stringify(derived))).toEqual(comparable(JSON.stringify(expected)));
		});
	}
});
