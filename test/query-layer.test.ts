import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import {startCpaManagerReplica, type CpaManagerReplica} from '../bench/cpa-manager-replica.js';
import type {CpaHttpSource} from '../source/sources/cpa-http/cpa-http-source.js';
import {openSource, openTarget} from '../source/sources/open-target.js';
import {InputError} from '../source/usage/input-error.js';
import {SORT_DIRECTIONS, SORT_KEYS, type Dimension, type SortDirection, type SortKey, type Filters, type GroupUsage, type UsageQuery, type UsageSource} from '../source/usage/types.js';
import {cpaFacets, cpaFilter, loadCpa, type CpaFixture} from './support/cpa-oracle.js';
import {loadNewApi, newApiFacets, newApiFilter, type NewApiFixture} from './support/newapi-oracle.js';
import {
	bucketize,
	expectClose,
	groupBy,
	inRange,
	newestFirst,
	sortGroups,
	sum,
	summarize,
	type OracleFacets,
	type OracleGroup,
	type OracleRow,
} from './support/oracle.js';
import {freshDatabase, withClient} from './support/postgres-server.js';

interface Subject {
	readonly name: string;
	readonly source: UsageSource;
	readonly rows: OracleRow[];
	readonly endMs: number;
	readonly dimensions: Dimension[];
	filter(filters: Filters): (row: OracleRow) => boolean;
	facets(rows: readonly OracleRow[]): OracleFacets;
	groupLabel(dimension: Dimension, key: string): string;
	apiKeyLabel(key: string): string;
}

let newapi: NewApiFixture;
let cpa: CpaFixture;
const subjects: Subject[] = [];
/** new-api's fixture on both of its engines: the same rows, the same oracle. */
const NEWAPI = ['new-api', 'new-api on PostgreSQL'] as const;
let postgresDatabase: Awaited<ReturnType<typeof freshDatabase>> | undefined;

/** The new-api fixture copied into a new database on the test server. */
async function newApiOnPostgres(): Promise<string> {
	postgresDatabase = await freshDatabase('relaytop_query_layer');
	await withClient(postgresDatabase.url, client => loadNewApiIntoPostgres(client, fixturePath('newapi')));
	return postgresDatabase.url;
}

beforeAll(async () => {
	newapi = loadNewApi(fixturePath('newapi'));
	cpa = loadCpa(fixturePath('cpa'));
	const newest = (rows: OracleRow[]) => rows.reduce((latest, row) => Math.max(latest, row.tsMs), 0);
	const newApiSubject = (name: string, source: UsageSource): Subject => ({
		name,
		source,
		rows: newapi.rows,
		endMs: newest(newapi.rows),
		dimensions: ['user', 'channel', 'group'],
		filter: filters => newApiFilter(newapi, filters),
		facets: rows => newApiFacets(newapi, rows),
		groupLabel: (dimension, key) => (dimension === 'channel' ? (newapi.channels.get(key) ?? `#${key}`) : key),
		apiKeyLabel: key => newapi.tokens.get(key) ?? key,
	});
	subjects.push(
		newApiSubject('new-api', openTarget(fixturePath('newapi'))),
		newApiSubject('new-api on PostgreSQL', await openSource(await newApiOnPostgres())),
		{
			name: 'CPA-Manager',
			source: openTarget(fixturePath('cpa')),
			rows: cpa.rows,
			endMs: newest(cpa.rows),
			dimensions: ['account', 'provider', 'channel'],
			filter: filters => cpaFilter(cpa, filters),
			facets: rows => cpaFacets(cpa, rows),
			groupLabel: (_dimension, key) => key,
			apiKeyLabel: key => cpa.aliases.get(key) ?? key,
		},
	);
});

afterAll(async () => {
	for (const subject of subjects) {
		await subject.source.close();
	}
	await postgresDatabase?.drop();
});

const MINUTE = 60_000;
const DAY = 86_400_000;
const subjectNamed = (name: string) => subjects.find(subject => subject.name === name)!;
const expected = (subject: Subject, query: UsageQuery) =>
	inRange(subject.rows, query.range.startMs, query.range.endMs).filter(subject.filter(query.filters));

function expectGroup(actual: GroupUsage, oracle: OracleGroup, label: string): void {
	expect({...actual, costUsd: 0}).toEqual({...oracle, label, costUsd: 0});
	expectClose(actual.costUsd, oracle.costUsd, `cost of ${oracle.key}`);
}

async function allGroups(
	subject: Subject,
	query: UsageQuery,
	dimension: Dimension | 'apiKeys',
	pageSize: number,
	sortKey: SortKey = 'totalCalls',
	sortDirection: SortDirection = 'desc',
) {
	const items: GroupUsage[] = [];
	for (let page = 1; ; page++) {
		const request = {page, pageSize, sortKey, sortDirection};
		const result = dimension === 'apiKeys' ? await subject.source.apiKeys(query, request) : await subject.source.groups(query, dimension, request);
		items.push(...result.items);
		if (result.items.length < pageSize) {
			return {items, totalItems: result.totalItems};
		}
	}
}

describe.each([...NEWAPI, 'CPA-Manager'])('%s query layer against raw rows', name => {
	const queries = (subject: Subject): Array<[string, UsageQuery]> => [
		['all time', {range: {startMs: null, endMs: subject.endMs}, filters: {}}],
		['last 24 h', {range: {startMs: subject.endMs - DAY, endMs: subject.endMs}, filters: {}}],
		['a 7-day window ending a week ago', {range: {startMs: subject.endMs - 14 * DAY, endMs: subject.endMs - 7 * DAY}, filters: {}}],
		['failures only', {range: {startMs: null, endMs: subject.endMs}, filters: {status: 'failed'}}],
	];

	it('sums requests, tokens, latency, cost and unpriced requests like the raw rows do', async () => {
		const subject = subjectNamed(name);
		for (const [label, query] of queries(subject)) {
			const actual = await subject.source.summary(query);
			const oracle = summarize(expected(subject, query));
			expect(oracle.totalRequests, label).toBeGreaterThan(0);
			expect({...actual, costUsd: 0, latencyMsAvg: 0}, label).toEqual({...oracle, costUsd: 0, latencyMsAvg: 0});
			expectClose(actual.costUsd, oracle.costUsd, `${label} cost`);
			expect(actual.latencyMsAvg, label).toBeCloseTo(oracle.latencyMsAvg!, 1);
		}
	});

	it('lists facets that honour time and search but no other filter', async () => {
		const subject = subjectNamed(name);
		const range = {startMs: subject.endMs - 7 * DAY, endMs: subject.endMs};
		const narrowed = {...(name.startsWith('new-api') ? {group: 'vip'} : {provider: 'codex'}), status: 'failed' as const};
		const actual = await subject.source.facets({range, filters: narrowed});
		const oracle = subject.facets(inRange(subject.rows, range.startMs, range.endMs));
		expect(actual).toEqual(oracle);
		expect(actual.models.length).toBeGreaterThan(5);
		const searched = await subject.source.facets({range, filters: {search: 'gem', status: 'success'}});
		expect(searched).toEqual(subject.facets(inRange(subject.rows, range.startMs, range.endMs).filter(subject.filter({search: 'gem'}))));
	});

	it('counts rpm and tpm over the 60 s up to the end of the range, inclusive', async () => {
		const subject = subjectNamed(name);
		for (const endMs of [subject.endMs, subject.endMs - 3 * DAY + 12_345]) {
			const rate = await subject.source.rate({range: {startMs: endMs - DAY, endMs}, filters: {}});
			const window = inRange(subject.rows, endMs - 60_000, endMs);
			expect(rate).toEqual({windowS: 60, rpm: window.length, tpm: window.reduce((t, r) => t + r.total, 0)});
		}
		const rate = await subject.source.rate({range: {startMs: null, endMs: subject.endMs}, filters: {}});
		expect(rate.rpm).toBeGreaterThanOrEqual(20); // the fixture's last-minute burst
	});

	const timelineOracle = (subject: Subject, endMs: number, filters: Filters, bucketMs: number, buckets: number) =>
		bucketize(subject.rows.filter(subject.filter(filters)), endMs, bucketMs, buckets);
	// Not on a minute (nor, for new-api, on a second), in a quieter hour than the final burst.
	const offMinute = (subject: Subject) => Math.floor(subject.endMs / MINUTE) * MINUTE - 3 * DAY + 12_345;

	it('counts requests and tokens per minute over the last 30 minutes, at the newest request and off the minute', async () => {
		const subject = subjectNamed(name);
		for (const endMs of [subject.endMs, offMinute(subject)]) {
			// A one-second range: startMs must not narrow the 30 minutes.
			const actual = await subject.source.timeline({range: {startMs: endMs - 1000, endMs}, filters: {}}, MINUTE, 30);
			const oracle = timelineOracle(subject, endMs, {}, MINUTE, 30);
			expect(actual, `end ${endMs}`).toEqual(oracle);
			expect(oracle.filter(bucket => bucket.requests > 0).length, `busy buckets to ${endMs}`).toBeGreaterThan(3);
			expect(oracle.some(bucket => bucket.requests === 0), `an empty bucket to ${endMs}`).toBe(true);
		}
		const last = (await subject.source.timeline({range: {startMs: null, endMs: subject.endMs}, filters: {}}, MINUTE, 30)).at(-1);
		expect(last!.startMs).toBe(subject.endMs - MINUTE);
		expect(last!.requests).toBeGreaterThanOrEqual(20); // the fixture's last-minute burst
		const beforeAnyRequest = subject.rows.reduce((first, row) => Math.min(first, row.tsMs), Infinity) - DAY;
		expect(await subject.source.timeline({range: {startMs: null, endMs: beforeAnyRequest}, filters: {}}, MINUTE, 3)).toEqual(
			[3, 2, 1].map(back => ({startMs: beforeAnyRequest - back * MINUTE, requests: 0, tokens: 0})),
		);
	});

	it('applies filters and search to the timeline', async () => {
		const subject = subjectNamed(name);
		const search = name.startsWith('new-api') ? 'gpt' : 'gem';
		for (const endMs of [subject.endMs, offMinute(subject)]) {
			const everything = sum(timelineOracle(subject, endMs, {}, MINUTE, 30), bucket => bucket.requests);
			for (const filters of [{status: 'success'}, {search}, {search, status: 'success'}] satisfies Filters[]) {
				const what = `${JSON.stringify(filters)} to ${endMs}`;
				const actual = await subject.source.timeline({range: {startMs: null, endMs}, filters}, MINUTE, 30);
				const oracle = timelineOracle(subject, endMs, filters, MINUTE, 30);
				expect(actual, what).toEqual(oracle);
				const selected = sum(oracle, bucket => bucket.requests);
				expect(selected, what).toBeGreaterThan(0);
				expect(selected, what).toBeLessThan(everything);
			}
		}
	});

	it('puts a request on a bucket boundary in exactly one bucket, the older one', async () => {
		const subject = subjectNamed(name);
		const t = newestFirst(subject.rows)[10]!.tsMs; // inside the final burst
		const cases: Array<[bucketMs: number, buckets: number, endMs: number]> = [
			[MINUTE, 10, t + 5 * MINUTE], // t ends bucket 4
			[MINUTE, 10, t + 5 * MINUTE - 1],
			[MINUTE, 10, t + 5 * MINUTE + 1],
			[MINUTE, 10, t + 10 * MINUTE], // t is the window's open start: outside
			[MINUTE, 10, t + 10 * MINUTE - 1], // t is the first millisecond of bucket 0
			[1000, 120, t + 30_500],
			[1, 1440, t + 700],
		];
		for (const [bucketMs, buckets, endMs] of cases) {
			const what = `${buckets} × ${bucketMs} ms to t + ${endMs - t}`;
			const actual = await subject.source.timeline({range: {startMs: null, endMs}, filters: {}}, bucketMs, buckets);
			expect(actual, what).toEqual(timelineOracle(subject, endMs, {}, bucketMs, buckets));
			const inWindow = inRange(subject.rows, endMs - buckets * bucketMs + 1, endMs);
			expect(sum(actual, bucket => bucket.requests), what).toBe(inWindow.length);
			expect(inWindow.length, what).toBeGreaterThan(0);
		}
		// Directly, without the oracle helper: (t − 1 min, t] and (t, t + 1 min].
		const pair = await subject.source.timeline({range: {startMs: null, endMs: t + MINUTE}, filters: {}}, MINUTE, 2);
		expect(pair.map(bucket => bucket.requests)).toEqual([inRange(subject.rows, t - MINUTE + 1, t).length, inRange(subject.rows, t + 1, t + MINUTE).length]);
	});

	it('rejects bucket lengths that are not whole milliseconds from 1, and bucket counts outside 1 to 1440', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: null, endMs: subject.endMs}, filters: {}};
		const invalid: Array<[bucketMs: number, buckets: number]> = [
			[0, 30],
			[-MINUTE, 30],
			[1.5, 30],
			[Number.NaN, 30],
			[Number.POSITIVE_INFINITY, 30],
			[MINUTE, 0],
			[MINUTE, 1441],
			[MINUTE, 2.5],
			[MINUTE, Number.NaN],
			[Number.MAX_SAFE_INTEGER, 1440], // reaches past the safe integers
		];
		for (const [bucketMs, buckets] of invalid) {
			await expect(subject.source.timeline(query, bucketMs, buckets), `${buckets} × ${bucketMs} ms`).rejects.toThrow(InputError);
		}
		await expect(subject.source.timeline({...query, range: {startMs: null, endMs: subject.endMs + 0.5}}, MINUTE, 30)).rejects.toThrow(InputError);
		expect(await subject.source.timeline(query, MINUTE, 1)).toHaveLength(1);
		expect(await subject.source.timeline(query, 1, 1440)).toHaveLength(1440);
	});

	it('refuses a status, sort or time range outside what it knows, instead of guessing or passing it to the engine', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: null, endMs: subject.endMs}, filters: {}};
		const page = {page: 1, pageSize: 5, sortKey: 'totalCalls', sortDirection: 'desc'} as const;
		await expect(subject.source.summary({...query, filters: {status: 'maybe' as 'failed'}})).rejects.toThrow(/unknown status "maybe"/u);
		await expect(subject.source.apiKeys(query, {...page, sortKey: 'id; drop table logs' as 'totalCalls'})).rejects.toThrow(/unknown sort key/u);
		await expect(subject.source.apiKeys(query, {...page, sortDirection: 'sideways' as 'asc'})).rejects.toThrow(/unknown sort direction/u);
		await expect(subject.source.realtime(query, {page: 1_000_000_000, pageSize: 5})).rejects.toThrow(InputError);
		for (const range of [{startMs: Number.NaN, endMs: subject.endMs}, {startMs: null, endMs: Number.POSITIVE_INFINITY}, {startMs: 0.5, endMs: subject.endMs}]) {
			await expect(subject.source.summary({range, filters: {}}), JSON.stringify(range)).rejects.toThrow(InputError);
		}
	});

	it('matches nothing for an id or key past any 64-bit integer, and reads leading zeros as the number', async () => {
		const subject = subjectNamed(name);
		const range = {startMs: null, endMs: subject.endMs};
		for (const filters of [{channel: '99999999999999999999'}, {apiKey: '9223372036854775808'}, {account: '1'.repeat(40)}]) {
			expect((await subject.source.summary({range, filters})).totalRequests, JSON.stringify(filters)).toBe(0);
		}
		if (name.startsWith('new-api')) {
			const channelOne = inRange(subject.rows, null, subject.endMs).filter(row => row.dims.channel === '1').length;
			expect(channelOne).toBeGreaterThan(0);
			expect((await subject.source.summary({range, filters: {channel: '0001'}})).totalRequests).toBe(channelOne);
		}
	});

	it('aggregates models, most requested first', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: subject.endMs - 7 * DAY, endMs: subject.endMs}, filters: {}};
		const actual = await subject.source.models(query);
		const oracle = groupBy(expected(subject, query), row => row.model).sort((a, b) => b.totalRequests - a.totalRequests || Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
		expect(actual.map(m => m.model)).toEqual(oracle.map(g => g.key));
		for (const [index, model] of actual.entries()) {
			const group = oracle[index]!;
			expect([model.totalRequests, model.successCount, model.failureCount, model.totalTokens, model.unpricedRequests]).toEqual([
				group.totalRequests, group.successCount, group.failureCount, group.totalTokens, group.unpricedRequests,
			]);
			expectClose(model.costUsd, group.costUsd, `cost of ${model.model}`);
		}
	});

	it('aggregates every group of every dimension, with its label and last request time', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: null, endMs: subject.endMs}, filters: {}};
		for (const dimension of subject.dimensions) {
			const {items, totalItems} = await allGroups(subject, query, dimension, 500);
			const oracle = new Map(groupBy(expected(subject, query), row => row.dims[dimension]!).map(g => [g.key, g]));
			expect(totalItems, dimension).toBe(oracle.size);
			expect(items.length, dimension).toBe(oracle.size);
			for (const item of items) {
				expectGroup(item, oracle.get(item.key)!, subject.groupLabel(dimension, item.key));
			}
		}
	});

	it('aggregates API keys with their labels', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: subject.endMs - 30 * DAY, endMs: subject.endMs}, filters: {}};
		const {items, totalItems} = await allGroups(subject, query, 'apiKeys', 500);
		const oracle = new Map(groupBy(expected(subject, query), row => row.apiKey).map(g => [g.key, g]));
		expect(totalItems).toBe(oracle.size);
		for (const item of items) {
			expectGroup(item, oracle.get(item.key)!, subject.apiKeyLabel(item.key));
		}
		expect(items.some(item => item.label !== item.key)).toBe(true);
	});

	it.each(SORT_KEYS.flatMap(key => SORT_DIRECTIONS.map(direction => [key, direction] as const)))(
		'orders groups by %s %s across pages, ties by last seen then key',
		async (sortKey, sortDirection) => {
			const subject = subjectNamed(name);
			const query: UsageQuery = {range: {startMs: subject.endMs - 7 * DAY, endMs: subject.endMs}, filters: {}};
			for (const dimension of [subject.dimensions[0]!, 'apiKeys'] as const) {
				const {items} = await allGroups(subject, query, dimension, 7, sortKey, sortDirection);
				const keyOf = dimension === 'apiKeys' ? (row: OracleRow) => row.apiKey : (row: OracleRow) => row.dims[dimension]!;
				const oracle = sortGroups(groupBy(expected(subject, query), keyOf), sortKey, sortDirection);
				expect(items.map(item => item.key)).toEqual(oracle.map(group => group.key));
			}
		},
	);

	it('pages to the last partial page and returns nothing past the end', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: null, endMs: subject.endMs}, filters: {}};
		const dimension = subject.dimensions[0]!;
		const total = groupBy(expected(subject, query), row => row.dims[dimension]!).length;
		const pageSize = 7;
		const lastPage = Math.ceil(total / pageSize);
		const last = await subject.source.groups(query, dimension, {page: lastPage, pageSize, sortKey: 'lastSeenAt', sortDirection: 'desc'});
		expect(last.items.length).toBe(total - (lastPage - 1) * pageSize);
		expect(last.totalItems).toBe(total);
		const beyond = await subject.source.groups(query, dimension, {page: lastPage + 1, pageSize, sortKey: 'lastSeenAt', sortDirection: 'desc'});
		expect(beyond).toMatchObject({items: [], totalItems: total, page: lastPage + 1});
		const requestsBeyond = await subject.source.realtime(query, {page: 10_000, pageSize: 500});
		expect(requestsBeyond.items).toEqual([]);
		expect(requestsBeyond.totalItems).toBe(expected(subject, query).length);
	});

	it('lists requests newest first with their cost, page by page', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: subject.endMs - DAY, endMs: subject.endMs}, filters: {status: 'failed'}};
		const oracle = newestFirst(expected(subject, query));
		const pageSize = 50;
		for (const page of [1, 2]) {
			const actual = await subject.source.realtime(query, {page, pageSize});
			expect(actual.totalItems).toBe(oracle.length);
			const slice = oracle.slice((page - 1) * pageSize, page * pageSize);
			expect(actual.items.map(item => [item.timestampMs, item.model, item.account, item.apiKey, item.status, item.inputTokens, item.totalTokens, item.latencyMs])).toEqual(
				slice.map(row => [row.tsMs, row.model, row.account, row.apiKey, row.ok ? 'success' : 'failed', row.input, row.total, row.latency]),
			);
			for (const [index, item] of actual.items.entries()) {
				const cost = slice[index]!.cost;
				if (cost === null) {
					expect(item.costUsd).toBeNull();
				} else {
					expectClose(item.costUsd!, cost, 'request cost');
				}
			}
		}
	});

	it('selects exactly a row\'s requests when filtering by its key: every group of every dimension', async () => {
		const subject = subjectNamed(name);
		const query: UsageQuery = {range: {startMs: subject.endMs - 7 * DAY, endMs: subject.endMs}, filters: {}};
		const filterOf: Record<string, keyof Filters> = {account: 'account', user: 'account', provider: 'provider', channel: 'channel', group: 'group', apiKeys: 'apiKey'};
		for (const dimension of [...subject.dimensions, 'apiKeys'] as const) {
			const {items} = await allGroups(subject, query, dimension, 500);
			expect(items.length, dimension).toBeGreaterThan(1);
			for (const item of items) {
				const filters = {[filterOf[dimension]!]: item.key} as Filters;
				const drilled = await subject.source.summary({...query, filters});
				const what = `${dimension} ${JSON.stringify(item.key)}`;
				expect([drilled.totalRequests, drilled.failureCount, drilled.totalTokens, drilled.unpricedRequests], what).toEqual([
					item.totalRequests, item.failureCount, item.totalTokens, item.unpricedRequests,
				]);
				expectClose(drilled.costUsd, item.costUsd, what);
			}
		}
	});

	it('applies filters and search to the rate, the group pages and the request log too', async () => {
		const subject = subjectNamed(name);
		const filters: Filters = {status: 'success', search: name.startsWith('new-api') ? 'gpt' : 'gem'};
		const query: UsageQuery = {range: {startMs: subject.endMs - DAY, endMs: subject.endMs}, filters};
		const rows = expected(subject, query);
		expect(rows.length).toBeGreaterThan(0);
		const window = inRange(subject.rows, subject.endMs - 60_000, subject.endMs).filter(subject.filter(filters));
		expect(await subject.source.rate(query)).toEqual({windowS: 60, rpm: window.length, tpm: window.reduce((t, r) => t + r.total, 0)});
		const dimension = subject.dimensions[0]!;
		const {items, totalItems} = await allGroups(subject, query, dimension, 500);
		const oracle = new Map(groupBy(rows, row => row.dims[dimension]!).map(g => [g.key, g]));
		expect(totalItems).toBe(oracle.size);
		for (const item of items) {
			expectGroup(item, oracle.get(item.key)!, subject.groupLabel(dimension, item.key));
		}
		const log = await subject.source.realtime(query, {page: 1, pageSize: 500});
		expect(log.totalItems).toBe(rows.length);
		expect(log.items.map(item => item.timestampMs)).toEqual(newestFirst(rows).slice(0, 500).map(row => row.tsMs));
	});

	it('knows when the newest request happened, whatever the range', async () => {
		const subject = subjectNamed(name);
		expect(await subject.source.newestRequestMs()).toBe(subject.endMs);
	});

	it('applies each filter like the raw rows say', async () => {
		const subject = subjectNamed(name);
		const range = {startMs: subject.endMs - 7 * DAY, endMs: subject.endMs};
		const facets = await subject.source.facets({range, filters: {}});
		const pick = (list: ReadonlyArray<{value: string}>, index: number) => list[Math.min(index, list.length - 1)]!.value;
		const cases: Filters[] = [
			{account: pick(facets.accounts, 2)},
			{channel: pick(facets.channels, 1)},
			{model: pick(facets.models, 3)},
			{apiKey: pick(facets.apiKeys, 0)},
			{status: 'success'},
			{status: 'failed', model: pick(facets.models, 0)},
			name.startsWith('new-api') ? {group: 'svip'} : {provider: pick(facets.providers, 0)},
			name.startsWith('new-api') ? {channel: 'openai-main'} : {account: ` ${pick(facets.accounts, 0)}\t`},
		];
		for (const filters of cases) {
			const actual = await subject.source.summary({range, filters});
			const oracle = summarize(inRange(subject.rows, range.startMs, range.endMs).filter(subject.filter(filters)));
			expect(oracle.totalRequests, JSON.stringify(filters)).toBeGreaterThan(0);
			expect([actual.totalRequests, actual.failureCount, actual.totalTokens], JSON.stringify(filters)).toEqual([oracle.totalRequests, oracle.failureCount, oracle.totalTokens]);
			expectClose(actual.costUsd, oracle.costUsd, JSON.stringify(filters));
		}
	});
});

describe('a window that starts after it ends, as --from later than now gives', () => {
	const KEY = 'query-layer-key';
	const replicas: CpaManagerReplica[] = [];
	/** The CPA-Manager fixture over HTTP: its paged API, and a manager without one (the legacy payload, read on the client). */
	const overHttp: Array<[string, CpaHttpSource, CpaManagerReplica]> = [];

	beforeAll(async () => {
		for (const [name, flavour] of [['paged API', 'cpa-manager'], ['legacy payload', 'pre-paged']] as const) {
			const replica = await startCpaManagerReplica({dbPath: fixturePath('cpa'), managementKey: KEY, flavour});
			replicas.push(replica);
			overHttp.push([name, (await openSource(replica.url, {managementKey: KEY})) as CpaHttpSource, replica]);
		}
	});

	afterAll(async () => {
		for (const [, source] of overHttp) await source.close();
		for (const replica of replicas) await replica.close();
	});

	/** Nothing in the window; the rate and the timeline, which count back from its end alone, as for any window with that end. */
	async function expectNothingIn(source: UsageSource, dimension: Dimension, facets: OracleFacets, endMs: number): Promise<void> {
		const query: UsageQuery = {range: {startMs: endMs + DAY, endMs}, filters: {}};
		const upToEnd: UsageQuery = {range: {startMs: null, endMs}, filters: {}};
		const page = {page: 1, pageSize: 10, sortKey: 'totalCalls', sortDirection: 'desc'} as const;
		const summary = await source.summary(query);
		expect([summary.totalRequests, summary.totalTokens, summary.costUsd, summary.unpricedRequests]).toEqual([0, 0, 0, 0]);
		expect(await source.facets(query)).toEqual(facets);
		expect(await source.models(query)).toEqual([]);
		for (const result of [await source.groups(query, dimension, page), await source.apiKeys(query, page), await source.realtime(query, page)]) {
			expect([result.totalItems, result.items]).toEqual([0, []]);
		}
		const rate = await source.rate(upToEnd);
		expect(rate.rpm).toBeGreaterThan(0);
		expect(await source.rate(query)).toEqual(rate);
		expect(await source.timeline(query, MINUTE, 30)).toEqual(await source.timeline(upToEnd, MINUTE, 30));
	}

	it.each([...NEWAPI, 'CPA-Manager'])('%s answers it as empty, not as an error', async name => {
		const subject = subjectNamed(name);
		await expectNothingIn(subject.source, subject.dimensions[0]!, subject.facets([]), subject.endMs);
	});

	it('CPA-Manager over HTTP answers it alike, paged or from the legacy payload, without asking the manager, which refuses such a window', async () => {
		const endMs = subjectNamed('CPA-Manager').endMs;
		for (const [name, source, replica] of overHttp) {
			// A read that needs the manager first: a manager without the paged API turns the source to the legacy payload.
			expect((await source.summary({range: {startMs: endMs - DAY, endMs}, filters: {}})).totalRequests, name).toBeGreaterThan(0);
			expect(source.mode, name).toBe(name === 'paged API' ? 'paged' : 'legacy');
			await expectNothingIn(source, 'account', cpaFacets(cpa, []), endMs);
			const reversed = replica.requests.filter(request => {
				const params = new URLSearchParams(request.query);
				return params.has('start_ms') && params.has('end_ms') && Number(params.get('start_ms')) > Number(params.get('end_ms'));
			});
			expect(reversed, name).toEqual([]);
			expect(replica.requests.filter(request => request.status === 400), name).toEqual([]);
			for (const range of [{startMs: Number.NaN, endMs}, {startMs: null, endMs: Number.POSITIVE_INFINITY}, {startMs: 0.5, endMs}]) {
				await expect(source.summary({range, filters: {}}), `${name}: ${JSON.stringify(range)}`).rejects.toThrow(InputError);
			}
		}
	});
});

describe('search', () => {
	async function expectSearch(subjectName: string, search: string, atLeast: number) {
		const subject = subjectNamed(subjectName);
		const query: UsageQuery = {range: {startMs: null, endMs: subject.endMs}, filters: {search}};
		const oracle = expected(subject, query);
		const actual = await subject.source.summary(query);
		expect(actual.totalRequests, `${subjectName} search ${JSON.stringify(search)}`).toBe(oracle.length);
		expect(oracle.length, `${subjectName} search ${JSON.stringify(search)} finds something`).toBeGreaterThanOrEqual(atLeast);
		const page = await subject.source.realtime(query, {page: 1, pageSize: 100});
		expect(page.items.map(item => item.timestampMs)).toEqual(newestFirst(oracle).slice(0, 100).map(row => row.tsMs));
		return oracle;
	}

	it('finds CPA-Manager tokens by prefix: co and cod find codex', async () => {
		const co = await expectSearch('CPA-Manager', 'co', 1);
		const cod = await expectSearch('CPA-Manager', 'cod', 1);
		const codex = await expectSearch('CPA-Manager', 'codex', 1);
		expect(co.length).toBeGreaterThanOrEqual(cod.length);
		expect(cod.length).toBeGreaterThanOrEqual(codex.length);
		const mentionsCodex = (row: OracleRow) => /codex/i.test(JSON.stringify(cpa.raws.get(row.id))) || /codex/i.test(cpa.aliases.get(row.apiKey) ?? '');
		expect(codex.every(mentionsCodex)).toBe(true);
		expect(codex.some(row => !/codex/i.test(JSON.stringify(cpa.raws.get(row.id))))).toBe(true); // found through the codex-bot alias
	});

	it('AND-s several CPA-Manager terms, each a prefix', async () => {
		const both = await expectSearch('CPA-Manager', 'codex ali', 1);
		const codex = await expectSearch('CPA-Manager', 'codex', 1);
		expect(both.length).toBeLessThan(codex.length);
		await expectSearch('CPA-Manager', 'gemini pro', 1);
		await expectSearch('CPA-Manager', 'v1/resp', 1);
	});

	it('matches CPA-Manager key aliases, including CJK ones, and pasted raw keys', async () => {
		const alpha = await expectSearch('CPA-Manager', 'team alp', 1);
		const hash = [...cpa.aliases].find(([, alias]) => alias === 'Team Alpha')![0];
		expect(alpha.every(row => row.apiKey === hash)).toBe(true);
		const research = await expectSearch('CPA-Manager', '研发', 1);
		expect(research.every(row => cpa.aliases.get(row.apiKey) === '研发团队' || /研发/.test(JSON.stringify(cpa.raws.get(row.id))))).toBe(true);
		await expectSearch('CPA-Manager', '李雷', 1);
	});

	it('treats FTS syntax in CPA-Manager input as text', async () => {
		for (const search of ['"codex"', 'codex*', 'a OR', 'NEAR(co', '%_', '*', '"', 'co) OR (x']) {
			await expectSearch('CPA-Manager', search, 0);
		}
	});

	it.each(NEWAPI)('finds %s users, tokens and models by prefix, AND-ing terms', async name => {
		const al = await expectSearch(name, 'al', 1);
		expect(al.every(row => /^al/i.test(newapi.raws.get(row.id)!.username) || /^al/i.test(newapi.raws.get(row.id)!.token_name))).toBe(true);
		const both = await expectSearch(name, 'alice gpt-4o', 1);
		expect(both.every(row => newapi.raws.get(row.id)!.username === 'alice' && row.model.startsWith('gpt-4o'))).toBe(true);
		await expectSearch(name, '张', 1);
		await expectSearch(name, 'GPT-5', 1);
	});

	it.each(NEWAPI)('treats LIKE wildcards in %s input literally', async name => {
		const literal = await expectSearch(name, 'user_%', 1);
		expect(literal.every(row => newapi.raws.get(row.id)!.username === 'user_%_test')).toBe(true);
		const none = await expectSearch(name, '%', 0);
		expect(none).toEqual([]);
		await expectSearch(name, "'; drop table logs; --", 0);
		await expectSearch(name, 'what?', 0); // a placeholder mark in the input is text, too
	});
});

describe('what counts as a request', () => {
	it.each(NEWAPI)('leaves %s bookkeeping rows (top-ups, manage, system, refunds, logins) out of every figure', async name => {
		const source = subjectNamed(name).source;
		const types = new Set(newapi.allTypes.map(raw => raw.type));
		expect([...types].sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
		const summary = await source.summary({range: {startMs: null, endMs: Date.UTC(2030, 0, 1)}, filters: {}});
		expect(summary.totalRequests).toBe(newapi.allTypes.filter(raw => raw.type === 2 || raw.type === 5).length);
		expect(summary.totalRequests).toBeLessThan(newapi.allTypes.length);
		const refunds = newapi.allTypes.filter(raw => raw.type === 6).reduce((total, raw) => total + raw.quota, 0);
		expect(refunds).toBeGreaterThan(0);
		expectClose(summary.costUsd, newapi.rows.reduce((total, row) => total + row.cost!, 0), 'billed USD without refunds');
	});

	it('bills new-api requests at quota / quota_per_unit, and takes another divisor when told', async () => {
		const custom = openTarget(fixturePath('newapi'), {quotaPerUnit: 1_000_000});
		const query: UsageQuery = {range: {startMs: null, endMs: subjectNamed('new-api').endMs}, filters: {}};
		const halved = await custom.summary(query);
		await custom.close();
		const normal = await subjectNamed('new-api').source.summary(query);
		expectClose(halved.costUsd * 2, normal.costUsd, 'cost at 1,000,000 quota per USD');
		expect(normal.unpricedRequests).toBe(0);
	});

	it('counts CPA-Manager requests without a price as unpriced, never as $0', async () => {
		const source = subjectNamed('CPA-Manager').source;
		const query: UsageQuery = {range: {startMs: null, endMs: subjectNamed('CPA-Manager').endMs}, filters: {model: 'qwen3-coder-plus'}};
		const summary = await source.summary(query);
		expect(summary.totalRequests).toBeGreaterThan(0);
		expect(summary.unpricedRequests).toBe(summary.totalRequests);
		expect(summary.costUsd).toBe(0);
		const [model] = await source.models(query);
		expect(model).toMatchObject({model: 'qwen3-coder-plus', unpricedRequests: summary.totalRequests});
		const page = await source.realtime(query, {page: 1, pageSize: 5});
		expect(page.items.every(item => item.costUsd === null)).toBe(true);
	});
});
