// Hostile input, property-based, against new-api's logs on a real PostgreSQL server: every read
// either answers or refuses with a one-line InputError (never the server's words: out of range,
// invalid byte sequence, invalid input syntax), a canary table and the logs rows survive every
// run, and valid reads agree with the oracle. Then the command line on the same database.

import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {FIXTURE_END_MS, writeNewApiFixture} from '../source/fixtures/newapi-fixture.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import {openSource} from '../source/sources/open-target.js';
import type {Dimension, UsageSource} from '../source/usage/types.js';
import {
	addNewApiRows,
	CANARY_ROWS,
	DAY,
	everyRead,
	expectAgreement,
	HOSTILE_NAMES,
	hostileDimension,
	hostileRead,
	hostileText,
	mustAnswer,
	newApiSubject,
	notForUsers,
	validRead,
	wrongRefusal,
	type OracleSubject,
	type ValidRead,
} from './support/hostile-arbitraries.js';
import {loadNewApi} from './support/newapi-oracle.js';
import {freshDatabase} from './support/postgres-server.js';
import {runCliSync, type CliResult} from './support/run-cli.js';

const PROPERTY_TIMEOUT_MS = 600_000;

let dir: string;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let admin: pg.Client;
let source: UsageSource;
let subject: OracleSubject;
/** The logs, tokens and channels rows, as text, and the canary's rows: what no read may change. */
let before: unknown;

async function contents(): Promise<unknown> {
	const digest = async (table: string) =>
		(await admin.query(`SELECT count(*)::int AS rows, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY id), '')) AS md5 FROM ${table} t`)).rows[0];
	return {
		logs: await digest('logs'),
		tokens: await digest('tokens'),
		channels: await digest('channels'),
		canary: (await admin.query('SELECT id, secret FROM canary ORDER BY id')).rows,
	};
}

async function expectIntact(): Promise<void> {
	expect(await contents()).toEqual(before);
}

beforeAll(async () => {
	// The fixture with hostile names every engine can store, then copied as it is into PostgreSQL.
	dir = mkdtempSync(join(tmpdir(), 'relaytop-hostile-postgres-'));
	const path = join(dir, 'newapi.sqlite');
	writeNewApiFixture(path, {requests: 3000, endMs: FIXTURE_END_MS});
	const db = new Database(path);
	addNewApiRows(db, HOSTILE_NAMES, FIXTURE_END_MS);
	db.close();
	database = await freshDatabase('relaytop_hostile');
	admin = new pg.Client({connectionString: database.url});
	await admin.connect();
	await loadNewApiIntoPostgres(admin, path);
	await admin.query('CREATE TABLE canary (id int PRIMARY KEY, secret text NOT NULL)');
	for (const row of CANARY_ROWS) {
		await admin.query('INSERT INTO canary (id, secret) VALUES ($1, $2)', [row.id, row.secret]);
	}
	before = await contents();
	expect((before as {canary: unknown[]}).canary).toEqual(CANARY_ROWS);
	subject = newApiSubject(loadNewApi(path));
	source = await openSource(database.url);
});

afterAll(async () => {
	await source?.close();
	await admin?.end();
	await database?.drop();
	rmSync(dir, {recursive: true, force: true});
});

/** Tried first on every run: --from a day after --to, an empty window, with a rate and a timeline up to its end. */
const EMPTY_WINDOW: ValidRead = {
	query: {range: {startMs: FIXTURE_END_MS + DAY, endMs: FIXTURE_END_MS}, filters: {}},
	dimension: 'user',
	page: {page: 1, pageSize: 500, sortKey: 'totalCalls', sortDirection: 'asc'},
	bucketMs: 60_000,
	buckets: 30,
};

describe('new-api on PostgreSQL, fuzzed', () => {
	it(
		'answers every hostile read it must, refuses the others with a one-line InputError, and the canary and the logs survive each',
		async () => {
			await fc.assert(
				fc.asyncProperty(hostileRead(FIXTURE_END_MS), async read => {
					const answered = mustAnswer(read, source.capabilities.dimensions);
					for (const {read: which, error} of await everyRead(source, read)) {
						const problem = wrongRefusal(which, error, answered);
						expect(problem, `${which}: ${problem}`).toBeNull();
					}
					await expectIntact();
				}),
				{numRuns: 200},
			);
		},
		PROPERTY_TIMEOUT_MS,
	);

	it('refuses a dimension that is not its own with a one-line InputError, whatever the name', async () => {
		const query = {range: {startMs: null, endMs: FIXTURE_END_MS}, filters: {}};
		await fc.assert(
			fc.asyncProperty(hostileDimension, async dimension => {
				const outcome = await source.groups(query, dimension as Dimension, {page: 1, pageSize: 5, sortKey: 'totalCalls', sortDirection: 'desc'}).then(
					page => ({page}),
					(error: unknown) => ({error}),
				);
				if ('page' in outcome) {
					expect(source.capabilities.dimensions, `answered for ${JSON.stringify(dimension)}`).toContain(dimension);
				} else {
					expect(notForUsers(outcome.error)).toBeNull();
				}
			}),
			{numRuns: 100},
		);
	});

	it(
		'agrees with the oracle on every valid read: totals, facets, rate, timeline, models and a page of each table',
		async () => {
			await fc.assert(
				fc.asyncProperty(validRead(subject, FIXTURE_END_MS), read => expectAgreement(source, subject, read)),
				{numRuns: 100, examples: [[EMPTY_WINDOW]]},
			);
			await expectIntact();
		},
		PROPERTY_TIMEOUT_MS,
	);

	it('matches nothing, without an error, for ids past any integer and for text PostgreSQL cannot hold', async () => {
		const range = {startMs: null, endMs: FIXTURE_END_MS};
		for (const filters of [{channel: '99999999999999999999'}, {apiKey: '9223372036854775808'}, {channel: ` ${'9'.repeat(400)} `}, {account: 'alice\u0000'}, {model: '\u0000'}, {group: 'vip\u0000'}, {apiKey: 'x\u0000'}]) {
			const summary = await source.summary({range, filters});
			expect(summary.totalRequests, JSON.stringify(filters)).toBe(0);
		}
		// The largest id PostgreSQL's bigint holds is an id like any other.
		expect((await source.summary({range, filters: {channel: '9223372036854775807'}})).totalRequests).toBe(0);
		expect((await source.summary({range, filters: {channel: '0001'}})).totalRequests).toBe(subject.rows.filter(row => row.dims.channel === '1').length);
	});
});

// ---------------------------------------------------------------------------------------------
// The command line on the same database.

const RAW_SERVER = /SQLSTATE|out of range|invalid byte sequence|invalid input syntax|syntax error|statement timeout/u;

function expectAnsweredOrRefused(result: CliResult, what: string): void {
	expect(result.stderr, what).not.toMatch(/^\s+at /mu);
	expect(result.stderr, what).not.toMatch(RAW_SERVER);
	if (result.code === 0) {
		expect(result.stderr, what).toBe('');
		expect(() => JSON.parse(result.stdout), what).not.toThrow();
	} else {
		expect(result.code, `${what}: ${result.stderr}`).toBe(2);
		expect(result.stderr, what).toMatch(/^relaytop: [^\n]+\n$/u);
	}
}

describe('the command line on PostgreSQL with hostile flags', () => {
	const SUSPECTS: Array<[string, string[]]> = [
		['a 20-digit channel', ['--channel=99999999999999999999']],
		['a 20-digit key id', ['--api-key=99999999999999999999']],
		['a 60,000-character search', [`--search=${'a'.repeat(60_000)}`]],
		['LIKE wildcards and backslashes', ['--search=\\%_ \\ %']],
		['a lone surrogate', ['--account=\ud800', '--search=\udc00']],
		['page × page size far past the end', ['--page=999999999', '--page-size=500']],
	];

	it.each(SUSPECTS)('%s: answered or refused in one line', (_what, flags) => {
		expectAnsweredOrRefused(runCliSync([database.url, '--json', ...flags]), flags.join(' ').slice(0, 80));
	});

	it(
		'any search, account or key: a JSON snapshot or one line and exit 2, the logs untouched',
		async () => {
			const text = hostileText.filter(value => !value.includes('\u0000') && value.length < 20_000);
			fc.assert(
				fc.property(fc.record({search: text, account: text, 'api-key': fc.oneof(text, fc.bigInt({min: 0n, max: 10n ** 30n}).map(String))}, {requiredKeys: []}), flags => {
					const args = [database.url, '--json', ...Object.entries(flags).map(([flag, value]) => `--${flag}=${value}`)];
					expectAnsweredOrRefused(runCliSync(args), JSON.stringify(args).slice(0, 200));
				}),
				{numRuns: 5},
			);
			await expectIntact();
		},
		PROPERTY_TIMEOUT_MS,
	);
});
