// Hostile input, property-based, against the real SQLite sources (new-api logs and a CPA-Manager
// store, copies in a temporary folder holding hostile names): every read either answers or
// refuses with a one-line InputError, a canary table and every byte of the store survive, and
// valid reads agree with the oracles. Then the command line, as a user runs it.

import {createHash} from 'node:crypto';
import {copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import stringWidth from 'string-width';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {FIXTURE_END_MS, writeNewApiFixture} from '../source/fixtures/newapi-fixture.js';
import {openTarget} from '../source/sources/open-target.js';
import type {Dimension, UsageSource} from '../source/usage/types.js';
import {loadCpa} from './support/cpa-oracle.js';
import {
	addCanary,
	addCpaRows,
	addNewApiRows,
	CANARY_ROWS,
	cpaSubject,
	DAY,
	everyRead,
	expectAgreement,
	HOSTILE_NAMES,
	hostileDimension,
	hostileRead,
	hostileText,
	INVALID_UTF8,
	mustAnswer,
	newApiSubject,
	notForUsers,
	SQLITE_ONLY_NAMES,
	validRead,
	wrongRefusal,
	type OracleSubject,
	type ValidRead,
} from './support/hostile-arbitraries.js';
import {loadNewApi} from './support/newapi-oracle.js';
import {CLI, runCliSync, type CliResult} from './support/run-cli.js';

const REQUESTS = 3000;
const PROPERTY_TIMEOUT_MS = 600_000;

interface Store {
	readonly name: string;
	readonly path: string;
	readonly source: UsageSource;
	readonly subject: OracleSubject;
	readonly hash: string;
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

let dir: string;
const stores: Store[] = [];
/** The stores again, with names that are not UTF-8 at all: for what is printed. */
const renderStores: Array<{name: string; path: string}> = [];

function makeStore(path: string, write: (path: string) => void, addRows: (db: Database.Database) => void): void {
	write(path);
	const db = new Database(path);
	try {
		addRows(db);
		addCanary(db);
	} finally {
		db.close();
	}
}

beforeAll(() => {
	dir = mkdtempSync(join(tmpdir(), 'relaytop-hostile-sqlite-'));
	const names = [...HOSTILE_NAMES, ...SQLITE_ONLY_NAMES];
	const newapi = join(dir, 'newapi.sqlite');
	const cpa = join(dir, 'cpa.sqlite');
	makeStore(newapi, path => writeNewApiFixture(path, {requests: REQUESTS, endMs: FIXTURE_END_MS}), db => addNewApiRows(db, names, FIXTURE_END_MS));
	makeStore(cpa, path => writeCpaFixture(path, {requests: REQUESTS, endMs: FIXTURE_END_MS}), db => addCpaRows(db, names, FIXTURE_END_MS));
	stores.push(
		{name: 'new-api', path: newapi, source: openTarget(newapi), subject: newApiSubject(loadNewApi(newapi)), hash: sha256(newapi)},
		{name: 'CPA-Manager', path: cpa, source: openTarget(cpa), subject: cpaSubject(loadCpa(cpa)), hash: sha256(cpa)},
	);
	for (const [name, path, add] of [
		['new-api', newapi, addNewApiRows],
		['CPA-Manager', cpa, addCpaRows],
	] as const) {
		const copy = join(dir, `render-${name}.sqlite`);
		copyFileSync(path, copy);
		const db = new Database(copy);
		add(db, INVALID_UTF8, FIXTURE_END_MS - 3_600_000);
		db.close();
		renderStores.push({name, path: copy});
	}
});

afterAll(async () => {
	for (const store of stores) {
		await store.source.close();
	}
	rmSync(dir, {recursive: true, force: true});
});

/** The canary's rows and every byte of the store are what they were. */
function expectIntact(store: Store): void {
	const db = new Database(store.path, {readonly: true, fileMustExist: true});
	try {
		expect(db.prepare('SELECT id, secret FROM canary ORDER BY id').all(), `canary of ${store.name}`).toEqual(CANARY_ROWS);
	} finally {
		db.close();
	}
	expect(sha256(store.path), `bytes of ${store.name}`).toBe(store.hash);
}

const storeNamed = (name: string): Store => stores.find(store => store.name === name)!;

/** Valid reads tried first on every run: each once disagreed, or was refused. */
const KNOWN_READS: Record<string, ValidRead[]> = Object.fromEntries(
	['new-api', 'CPA-Manager'].map(name => {
		const read = (query: ValidRead['query']): ValidRead => ({query, dimension: name === 'new-api' ? 'user' : 'account', page: {page: 1, pageSize: 500, sortKey: 'totalCalls', sortDirection: 'asc'}, bucketMs: 60_000, buckets: 30});
		return [
			name,
			[
				// --from a day after --to: an empty window, with a rate and a timeline up to its end.
				read({range: {startMs: FIXTURE_END_MS + DAY, endMs: FIXTURE_END_MS}, filters: {}}),
				// unicode61 (Unicode 6.1) keeps U+2066 inside a word: "l" starts no word of "iso\u2066late".
				read({range: {startMs: null, endMs: FIXTURE_END_MS}, filters: {search: 'l'}}),
			],
		];
	}),
);

describe.each(['new-api', 'CPA-Manager'])('%s on SQLite, fuzzed', name => {
	it(
		'answers every hostile read it must, refuses the others with a one-line InputError, and the canary and the store survive each',
		async () => {
			const store = storeNamed(name);
			await fc.assert(
				fc.asyncProperty(hostileRead(FIXTURE_END_MS), async read => {
					const answered = mustAnswer(read, store.source.capabilities.dimensions);
					for (const {read: which, error} of await everyRead(store.source, read)) {
						const problem = wrongRefusal(which, error, answered);
						expect(problem, `${which}: ${problem}`).toBeNull();
					}
					expectIntact(store);
				}),
				{numRuns: 200},
			);
		},
		PROPERTY_TIMEOUT_MS,
	);

	it(
		'agrees with the oracle on every valid read: totals, facets, rate, timeline, models and a page of each table',
		async () => {
			const store = storeNamed(name);
			await fc.assert(
				fc.asyncProperty(validRead(store.subject, FIXTURE_END_MS), read => expectAgreement(store.source, store.subject, read)),
				{numRuns: 100, examples: KNOWN_READS[name]!.map(read => [read])},
			);
			expectIntact(store);
		},
		PROPERTY_TIMEOUT_MS,
	);
});

describe.each(['new-api', 'CPA-Manager'])('%s on SQLite, asked for groups by any name', name => {
	it('refuses a dimension that is not its own with a one-line InputError, whatever the name', async () => {
		const store = storeNamed(name);
		const query = {range: {startMs: null, endMs: FIXTURE_END_MS}, filters: {}};
		await fc.assert(
			fc.asyncProperty(hostileDimension, async dimension => {
				const outcome = await store.source.groups(query, dimension as Dimension, {page: 1, pageSize: 5, sortKey: 'totalCalls', sortDirection: 'desc'}).then(
					page => ({page}),
					(error: unknown) => ({error}),
				);
				if ('page' in outcome) {
					expect(store.source.capabilities.dimensions, `answered for ${JSON.stringify(dimension)}`).toContain(dimension);
				} else {
					expect(notForUsers(outcome.error)).toBeNull();
				}
			}),
			{numRuns: 200},
		);
		expectIntact(store);
	});
});

// ---------------------------------------------------------------------------------------------
// The command line: a child process on the built CLI, a few runs (each starts Node).

const STACK_FRAME = /^\s+at .+(?::\d+:\d+\)?|\(native\))$/mu;
const RAW_ENGINE = /SQLITE_|SQLSTATE|SqliteError|syntax error|no such column|LIKE or GLOB|out of range|invalid input syntax/iu;
/** What a terminal would obey: C0 controls but the newline, DEL, C1, bidi controls, line separators, lone surrogates. */
const UNSAFE_OUTPUT = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|\p{Surrogate}/u;
/** In text drawn as a table, also what a terminal may draw otherwise than it was counted: invisible characters but joiners and selectors. */
const UNSAFE_IN_TABLES = /(?![\u034f\u180b-\u180d\u180f\u200c\u200d\ufe00-\ufe0f\u{e0020}-\u{e007f}\u{e0100}-\u{e01ef}])[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;

/** Either a JSON snapshot and nothing on stderr, or one line on stderr with exit 2; never a raw error. */
function expectAnsweredOrRefused(result: CliResult, what: string): void {
	expect(result.stderr, what).not.toMatch(STACK_FRAME);
	expect(result.stderr, what).not.toMatch(RAW_ENGINE);
	expect(result.stderr, what).not.toMatch(UNSAFE_OUTPUT);
	if (result.code === 0) {
		expect(result.stderr, what).toBe('');
		expect(() => JSON.parse(result.stdout), what).not.toThrow();
	} else {
		expect(result.code, `${what}: ${result.stderr}`).toBe(2);
		expect(result.stderr, what).toMatch(/^relaytop: [^\n]+\n$/u);
		expect(result.stdout, what).toBe('');
	}
}

/** Flag values a shell can pass (no NUL), given as --flag=value so that a leading dash stays a value. */
const cliText = hostileText.filter(text => !text.includes('\u0000') && text.length < 20_000);
const cliFlags = fc.record(
	{
		search: cliText,
		model: cliText,
		account: cliText,
		'api-key': cliText,
		channel: fc.oneof(cliText, fc.bigInt({min: 0n, max: 10n ** 30n}).map(String)),
		status: fc.oneof(fc.constantFrom('success', 'failed'), cliText),
		sort: fc.oneof(fc.constantFrom('totalCalls', 'totalCost', 'lastSeenAt'), cliText),
		direction: fc.oneof(fc.constantFrom('asc', 'desc'), cliText),
		page: fc.oneof(fc.integer({min: -2, max: 5}).map(String), fc.constantFrom('999999999', '1000000000', '1e3', '0x10', '2.5', ''), cliText),
		'page-size': fc.oneof(fc.integer({min: -2, max: 600}).map(String), cliText),
		dimension: fc.oneof(fc.constantFrom('user', 'channel', 'group', 'account', 'provider'), cliText),
		range: fc.oneof(fc.constantFrom('15m', '1h', '24h', 'today', '7d', '30d', 'all'), cliText),
		from: fc.oneof(fc.constantFrom('2026-10-30', '2026-10-31T12:00:00Z', '1793500000000', '0000-01-01', '9999-12-31T23:59:59Z', '2026-02-31', '-5', '99999999999999999999'), cliText),
		to: fc.oneof(fc.constantFrom('2026-11-01T12:00:00Z', '1793534400000', '8640000000000001', 'NaN'), cliText),
	},
	{requiredKeys: []},
);

const argsOf = (flags: Record<string, string>): string[] => Object.entries(flags).map(([flag, value]) => `--${flag}=${value}`);

describe('the command line with hostile flags', () => {
	beforeAll(() => {
		if (!existsSync(CLI)) {
			throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
		}
	});

	it.each(['new-api', 'CPA-Manager'])(
		'%s: a JSON snapshot, or one line on stderr and exit 2; the store untouched',
		name => {
			const store = storeNamed(name);
			fc.assert(
				fc.property(cliFlags, flags => {
					const args = [store.path, '--json', ...argsOf(flags)];
					expectAnsweredOrRefused(runCliSync(args), JSON.stringify(args));
				}),
				{numRuns: 10},
			);
			expectIntact(store);
		},
		PROPERTY_TIMEOUT_MS,
	);

	const SUSPECTS: Array<[string, string[]]> = [
		['a 20-digit channel', ['--channel=99999999999999999999']],
		['a 20-digit key id', ['--api-key=99999999999999999999']],
		['a 60,000-character search', [`--search=${'a'.repeat(60_000)}`]],
		['LIKE wildcards and backslashes', ['--search=\\%_ \\ %']],
		['a lone surrogate', ['--account=\ud800', '--search=\udc00']],
		['page × page size far past the end', ['--page=999999999', '--page-size=500']],
		['a page past the limit', ['--page=1000000000']],
		['--from later than --to', ['--from=2026-11-01', '--to=2026-10-01']],
		['--to past any date', ['--to=9007199254740991']],
		['a year 0 date', ['--from=0000-01-01']],
	];

	it.each(SUSPECTS)('%s: answered or refused in one line, on both stores', (_what, flags) => {
		for (const store of stores) {
			expectAnsweredOrRefused(runCliSync([store.path, '--json', ...flags]), `${store.name} ${flags.join(' ').slice(0, 80)}`);
		}
	});

	it('--from later than now without --to: an empty snapshot, the window to come, exit 0', () => {
		const from = Date.now() + 3_600_000;
		for (const store of stores) {
			const result = runCliSync([store.path, '--json', `--from=${from}`]);
			expect([result.code, result.stderr], store.name).toEqual([0, '']);
			const snapshot = JSON.parse(result.stdout) as {range: {start_ms: number; end_ms: number}; summary: {total_requests: number}; accounts: {total_items: number}; realtime: {total_items: number}};
			expect(snapshot.range.start_ms, store.name).toBe(from);
			expect(snapshot.range.end_ms, store.name).toBeLessThan(from);
			expect([snapshot.summary.total_requests, snapshot.accounts.total_items, snapshot.realtime.total_items], store.name).toEqual([0, 0, 0]);
		}
	});

	it('--from after --to, both given: one line naming both flags at their moments, exit 2', () => {
		for (const store of stores) {
			const result = runCliSync([store.path, '--json', '--from=2099-01-01T00:00:00Z', '--to=2026-11-23T06:00:00Z']);
			expect([result.code, result.stdout, result.stderr], store.name).toEqual([2, '', 'relaytop: --from 2099-01-01T00:00:00.000Z is after --to 2026-11-23T06:00:00.000Z\n']);
		}
	});

	it('says what is wrong with a search too long to run, instead of the engine\'s words', () => {
		const result = runCliSync([storeNamed('new-api').path, '--json', `--search=${'a'.repeat(60_000)}`]);
		expect(result.code).toBe(2);
		expect(result.stderr).toBe('relaytop: search is 60000 characters long; at most 1000 are allowed\n');
	});
});

// ---------------------------------------------------------------------------------------------
// What reaches the terminal from hostile rows: names with escapes, controls, bidi overrides,
// invisible and double-width characters, 10,000 characters, and bytes that are not UTF-8.

describe('hostile names on the way out', () => {
	const columns = 120;

	it.each([0, 1])('--once: every line fits the terminal, and nothing in it is a control character (store %i)', index => {
		const {name, path} = renderStores[index]!;
		const result = runCliSync([path, '--once', '--range', 'all', '--page-size', '100', '--sort', 'lastSeenAt']);
		expect(result.stderr, name).toBe('');
		expect(result.code, name).toBe(0);
		const lines = result.stdout.split('\n');
		expect(lines.length).toBeGreaterThan(20);
		for (const line of lines) {
			expect(stringWidth(line), `${name}: ${JSON.stringify(line.slice(0, 80))}`).toBeLessThanOrEqual(columns);
			expect(line, name).not.toMatch(UNSAFE_OUTPUT);
			expect(line, name).not.toMatch(UNSAFE_IN_TABLES);
		}
		// The hostile rows are there, shown by their visible stand-ins.
		expect(result.stdout).toContain('ESC␛]0;pwned␇');
		expect(result.stdout).toContain('\ufffd');
	});

	it.each([0, 1])('--json: valid JSON whose text is escaped, and every name survives it intact (store %i)', index => {
		const {name, path} = renderStores[index]!;
		const result = runCliSync([path, '--json', '--range', 'all', '--page-size', '500', '--sort', 'lastSeenAt']);
		expect(result.stderr, name).toBe('');
		expect(result.code, name).toBe(0);
		expect(result.stdout, name).not.toMatch(UNSAFE_OUTPUT);
		const snapshot = JSON.parse(result.stdout) as {realtime: {items: Array<{account: string; model: string}>}};
		const shown = new Set(snapshot.realtime.items.map(item => item.model));
		// Each hostile name, as the driver reads it from the store (bytes that are not UTF-8 as U+FFFD).
		const db = new Database(path, {readonly: true});
		const stored = db.prepare(name === 'new-api' ? "SELECT model_name AS name FROM logs WHERE request_id LIKE 'hostile-%'" : "SELECT model AS name FROM usage_events WHERE request_id LIKE 'hostile-%'").all() as Array<{name: string}>;
		db.close();
		expect(stored.length).toBe(HOSTILE_NAMES.length + SQLITE_ONLY_NAMES.length + INVALID_UTF8.length);
		for (const {name: hostile} of stored) {
			expect(shown.has(hostile), `${name}: ${JSON.stringify(hostile.slice(0, 40))}`).toBe(true);
		}
		expect([...shown].some(text => text.startsWith('bad\ufffd'))).toBe(true);
	});
});
