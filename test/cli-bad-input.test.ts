// The CLI against hostile and mistaken input, as a real process on real files: every bad input is
// one line on stderr and exit 2, nothing raw from SQLite ever leaks, untrusted names never reach
// the terminal as escape sequences, and the database file is never written or joined by siblings.

import {createHash, randomBytes} from 'node:crypto';
import {closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, dirname, join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {FLAGS} from '../source/cli/flags.js';
import {FIXTURE_MANAGEMENT_KEY, writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {writeNewApiFixture} from '../source/fixtures/newapi-fixture.js';
import {cpaFilter, loadCpa, type CpaFixture} from './support/cpa-oracle.js';
import {loadNewApi, newApiFilter, type NewApiFixture} from './support/newapi-oracle.js';
import {inRange, newestFirst, type OracleRow} from './support/oracle.js';
import {CLI, runCliSync, type CliResult} from './support/run-cli.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const NEWAPI = fixturePath('newapi');
const CPA = fixturePath('cpa');

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Files SQLite would put next to a database: `-wal`, `-shm`, `-journal`, `-mj…`. */
const siblingsOf = (path: string): string[] =>
	existsSync(dirname(path))
		? readdirSync(dirname(path))
				.filter(name => name.startsWith(`${basename(path)}-`))
				.sort()
		: [];

interface Baseline {
	readonly hash: string | null;
	readonly siblings: string[];
}

const baselines = new Map<string, Baseline>();

function recordBaseline(path: string): void {
	baselines.set(path, {hash: existsSync(path) && !isDirectory(path) ? sha256(path) : null, siblings: siblingsOf(path)});
}

const isDirectory = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();

/** The file's bytes are what they were before any run, and no sibling file has appeared. */
function expectUntouched(path: string): void {
	const baseline = baselines.get(path);
	if (baseline === undefined) {
		throw new Error(`no baseline recorded for ${path}`);
	}
	expect(existsSync(path) && !isDirectory(path) ? sha256(path) : null, `bytes of ${path}`).toBe(baseline.hash);
	expect(siblingsOf(path), `files next to ${path}`).toEqual(baseline.siblings);
}

const STACK_FRAME = /^\s+at .+(?::\d+:\d+\)?|\(native\))$/mu;
const RAW_ENGINE_ERROR = /SQLITE|fts5|syntax error|near "/iu;

function expectNoStack(result: CliResult): void {
	expect(result.stderr).not.toMatch(STACK_FRAME);
	expect(result.stdout).not.toMatch(STACK_FRAME);
	expect(result.stderr).not.toMatch(/^\s*(?:Type|Range|Reference|Syntax)?Error: /mu);
}

/** Bad input: exactly one `relaytop: ` line on stderr, nothing on stdout, the given exit code. */
function expectOneLineError(result: CliResult, code = 2): void {
	expectNoStack(result);
	expect(result.stderr).toMatch(/^relaytop: [^\n]+\n$/u);
	expect(result.stdout).toBe('');
	expect(result.code).toBe(code);
}

/** ASCII-only case folding, as SQLite's LIKE does it. */

let workDir: string;

beforeAll(() => {
	if (!existsSync(CLI)) {
		throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
	}
	workDir = mkdtempSync(join(tmpdir(), 'relaytop-bad-input-'));
	recordBaseline(NEWAPI);
	recordBaseline(CPA);
});

afterAll(() => {
	rmSync(workDir, {recursive: true, force: true});
});

// ---------------------------------------------------------------------------------------------
// 1. Files that are not gateway stores

describe('targets that are not gateway stores', () => {
	const cases: Array<[string, (dir: string) => string]> = [
		['a missing file', dir => join(dir, 'missing.sqlite')],
		[
			'a directory',
			dir => {
				const path = join(dir, 'a-directory.sqlite');
				mkdirSync(path);
				return path;
			},
		],
		[
			'an empty file',
			dir => {
				const path = join(dir, 'empty.sqlite');
				writeFileSync(path, '');
				return path;
			},
		],
		[
			'a text file',
			dir => {
				const path = join(dir, 'notes.txt');
				const lines = Array.from({length: 64}, () => randomBytes(48).toString('base64'));
				writeFileSync(path, `${lines.join('\n')}\n`);
				return path;
			},
		],
		[
			'a SQLite file of another application',
			dir => {
				const path = join(dir, 'notes.sqlite');
				const db = new Database(path);
				db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT)');
				db.prepare('INSERT INTO notes (title, body) VALUES (?, ?)').run('groceries', 'milk, eggs');
				db.close();
				return path;
			},
		],
		[
			'a SQLite file whose logs table lacks required columns',
			dir => {
				const path = join(dir, 'short-logs.sqlite');
				const db = new Database(path);
				db.exec('CREATE TABLE logs (id INTEGER PRIMARY KEY, created_at INTEGER, type INTEGER, content TEXT)');
				db.prepare('INSERT INTO logs (created_at, type, content) VALUES (?, 2, ?)').run(1_790_000_000, 'hello');
				db.close();
				return path;
			},
		],
		[
			'a SQLite file whose usage_events table lacks required columns',
			dir => {
				const path = join(dir, 'short-events.sqlite');
				const db = new Database(path);
				db.exec('CREATE TABLE usage_events (id INTEGER PRIMARY KEY, timestamp_ms INTEGER NOT NULL, model TEXT)');
				db.prepare('INSERT INTO usage_events (timestamp_ms, model) VALUES (?, ?)').run(1_790_000_000_000, 'gpt-5');
				db.close();
				return path;
			},
		],
		[
			'a truncated copy of a new-api store',
			dir => {
				const path = join(dir, 'truncated.sqlite');
				const buffer = Buffer.alloc(64 * 1024);
				const fd = openSync(NEWAPI, 'r');
				try {
					readSync(fd, buffer, 0, buffer.length, 0);
				} finally {
					closeSync(fd);
				}
				writeFileSync(path, buffer);
				return path;
			},
		],
	];

	it.each(cases)('%s → one line naming the file, exit 2, nothing written', (_name, make) => {
		const dir = mkdtempSync(join(workDir, 'file-'));
		const path = make(dir);
		recordBaseline(path);
		const entriesBefore = readdirSync(dir).sort();

		const result = runCliSync([path, '--json']);

		expectOneLineError(result, 2);
		expect(result.stderr).toContain(path);
		expectUntouched(path);
		expect(readdirSync(dir).sort()).toEqual(entriesBefore);
		if (isDirectory(path)) {
			expect(readdirSync(path)).toEqual([]);
		}
	});

	it('a missing file whose name holds escape sequences is named without them', () => {
		const dir = mkdtempSync(join(workDir, 'escape-name-'));
		const path = join(dir, 'evil\u001b]0;pwned\u0007\u001b[2J.sqlite');
		const result = runCliSync([path, '--json']);
		expectOneLineError(result, 2);
		expect(result.stderr).not.toMatch(/[\u001b\u0007]/u);
		expect(result.stderr).toContain('evil␛]0;pwned␇␛[2J.sqlite');
		expect(readdirSync(dir)).toEqual([]);
	});
});

// ---------------------------------------------------------------------------------------------
// 2. Flags

describe('flags', () => {
	const cases: Array<[string, string[]]> = [
		['unknown sort key', [NEWAPI, '--json', '--sort', 'timestamp_ms']],
		['sort key carrying SQL', [NEWAPI, '--json', '--sort', 'totalCost; drop table logs']],
		['sort key carrying SQL (CPA)', [CPA, '--json', '--sort', 'totalCost; drop table usage_events']],
		['unknown direction', [NEWAPI, '--json', '--direction', 'sideways']],
		['page 0', [NEWAPI, '--json', '--page', '0']],
		['page -1', [NEWAPI, '--json', '--page', '-1']],
		['page abc', [NEWAPI, '--json', '--page', 'abc']],
		['page size 10000', [NEWAPI, '--json', '--page-size', '10000']],
		['page size 501', [NEWAPI, '--json', '--page-size', '501']],
		['--from not-a-date', [NEWAPI, '--json', '--from', 'not-a-date']],
		['--from 2026-02-31', [NEWAPI, '--json', '--from', '2026-02-31']],
		['--to in epoch seconds', [NEWAPI, '--json', '--to', '1700000000']],
		['unknown range 2w', [NEWAPI, '--json', '--range', '2w']],
		['unknown status', [NEWAPI, '--json', '--status', 'ok']],
		['--dimension user on CPA', [CPA, '--json', '--dimension', 'user']],
		['--dimension account on new-api', [NEWAPI, '--json', '--dimension', 'account']],
		['--group on CPA', [CPA, '--json', '--group', 'x']],
		['--quota-per-unit 0', [NEWAPI, '--json', '--quota-per-unit', '0']],
		['--quota-per-unit -5', [NEWAPI, '--json', '--quota-per-unit', '-5']],
		['--json with --once', [NEWAPI, '--json', '--once']],
		['two targets', [NEWAPI, CPA, '--json']],
		['--from later than --to', [NEWAPI, '--json', '--from', '2026-03-01', '--to', '2026-02-01']],
		['--range with --from', [NEWAPI, '--json', '--range', '1h', '--from', '2026-01-01']],
		['a flag given twice (--page)', [NEWAPI, '--json', '--page', '1', '--page', '2']],
		['a flag given twice (--range)', [NEWAPI, '--json', '--range', '1h', '--range', '24h']],
	];

	it.each(cases)('%s → one line, exit 2', (_name, args) => {
		const result = runCliSync(args);
		expectOneLineError(result, 2);
		for (const store of [NEWAPI, CPA].filter(path => args.includes(path))) {
			expectUntouched(store);
		}
	});

	it('--page-size 500 is accepted where 501 is not', () => {
		const result = runCliSync([NEWAPI, '--json', '--range', 'all', '--page-size', '500']);
		expect(result.stderr).toBe('');
		expect(result.code).toBe(0);
		const snapshot = JSON.parse(result.stdout) as {accounts: {page_size: number}; realtime: {items: unknown[]}};
		expect(snapshot.accounts.page_size).toBe(500);
		expect(snapshot.realtime.items).toHaveLength(500);
		expectUntouched(NEWAPI);
	});

	it('--help exits 0 and lists every flag', () => {
		const result = runCliSync(['--help']);
		expect(result.code).toBe(0);
		expectNoStack(result);
		for (const [name, spec] of Object.entries(FLAGS)) {
			// A boolean that is on by default is only ever given negated: --no-color.
			const negated = spec.type === 'boolean' && 'default' in spec && spec.default === true;
			const flag = `--${negated ? 'no-' : ''}${name.replace(/[A-Z]/gu, upper => `-${upper.toLowerCase()}`)}`;
			expect(result.stdout, flag).toContain(flag);
		}
	});

	it('without a terminal and without --json or --once, prints the text frame instead of failing in raw mode', () => {
		const result = runCliSync([NEWAPI, '--range', 'all', '--page-size', '3']);
		expect(result.code).toBe(0);
		expect(result.stderr).toBe('');
		expect(result.stdout).toMatch(/^relaytop · new-api logs \(SQLite\)/u);
		expect(result.stdout).toContain('MODELS');
		expect(result.stdout).toContain('REQUESTS · newest first');
	});

	it('an unknown flag exits non-zero without a stack trace', () => {
		const result = runCliSync([NEWAPI, '--json', '--bogus']);
		expect(result.code).not.toBe(0);
		expect(result.code).not.toBeNull();
		expectNoStack(result);
		expect(result.stdout).toBe('');
		expect(result.stderr).toContain('bogus');
		expectUntouched(NEWAPI);
	});
});

// ---------------------------------------------------------------------------------------------
// 3. Search strings

interface JsonSnapshot {
	range: {start_ms: number | null; end_ms: number};
	summary: {total_requests: number};
	accounts: {items: Array<{key: string; label: string}>};
	realtime: {
		total_items: number;
		items: Array<{timestamp_ms: number; model: string; account: string; api_key: string; api_key_label: string}>;
	};
}

const SEARCHES: Array<[string, string]> = [
	['a lone double quote', '"'],
	['a lone asterisk', '*'],
	['a dangling OR', 'a OR'],
	['an open NEAR(', 'NEAR('],
	['SQL injection', "'; drop table logs; --"],
	['LIKE wildcards %_', '%_'],
	['a trailing *"', 'co*"'],
	['CJK 日本', '日本'],
	['CJK 张', '张'],
	['an ANSI escape', '\u001b[31m'],
	['a name with an ANSI escape', 'evil\u001b[31m'],
	['a literal user_%', 'user_%'],
	['2,000 characters, one word', 'a'.repeat(2000)],
	['2,000 characters, 667 terms', `${'co '.repeat(666)}co`],
	['17 different terms', Array.from({length: 17}, (_, n) => `t${n}`).join(' ')],
];

const STORES: Array<['newapi' | 'cpa', string]> = [
	['newapi', NEWAPI],
	['cpa', CPA],
];

const searchRuns = new Map<string, CliResult>();

/** One run per store and search text, shared by every assertion about it. */
function searchRun(path: string, search: string | undefined): CliResult {
	const key = `${path}\u0000${search ?? '\u0000none'}`;
	let result = searchRuns.get(key);
	if (result === undefined) {
		result = runCliSync([path, '--json', '--range', 'all', '--page-size', '500', ...(search === undefined ? [] : ['--search', search])]);
		searchRuns.set(key, result);
	}
	return result;
}

let newapiRows: NewApiFixture;
let cpaRows: CpaFixture;
let rowCountsBefore: {logs: number; usageEvents: number};

function countRows(path: string, table: string): number {
	const db = new Database(path, {readonly: true, fileMustExist: true});
	try {
		return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as {n: number}).n;
	} finally {
		db.close();
	}
}

describe('search strings', () => {
	beforeAll(() => {
		rowCountsBefore = {logs: countRows(NEWAPI, 'logs'), usageEvents: countRows(CPA, 'usage_events')};
		newapiRows = loadNewApi(NEWAPI);
		cpaRows = loadCpa(CPA);
	});

	// Independent oracles (test/support), computed in JavaScript from the raw rows.
	const expectedNewApi = (search: string, endMs: number): OracleRow[] => inRange(newapiRows.rows, null, endMs).filter(newApiFilter(newapiRows, {search}));
	const expectedCpa = (search: string, endMs: number): OracleRow[] => inRange(cpaRows.rows, null, endMs).filter(cpaFilter(cpaRows, {search}));

	const table = STORES.flatMap(([kind, path]) => SEARCHES.map(([name, search]) => [kind, name, path, search] as const));

	it.each(table)('%s: %s → a snapshot that satisfies it, or one line with exit 2', (kind, _name, path, search) => {
		const result = searchRun(path, search);
		expectNoStack(result);
		expect(result.stderr).not.toMatch(RAW_ENGINE_ERROR);
		expect(result.code === 0 || result.code === 2, `exit code ${result.code}, stderr ${result.stderr}`).toBe(true);
		if (result.code === 2) {
			expectOneLineError(result, 2);
		} else {
			expect(result.stderr).toBe('');
			const snapshot = JSON.parse(result.stdout) as JsonSnapshot;
			const total = snapshot.summary.total_requests;
			expect(typeof total).toBe('number');
			expect(total).toBeGreaterThanOrEqual(0);
			expect(snapshot.realtime.total_items).toBe(total);
			const matching = (kind === 'newapi' ? expectedNewApi : expectedCpa)(search, snapshot.range.end_ms);
			expect(total).toBe(matching.length);
			expect(snapshot.realtime.items.map(item => item.timestamp_ms)).toEqual(newestFirst(matching).slice(0, 500).map(row => row.tsMs));
		}
		expectUntouched(path);
	});

	it('new-api: %_ matches only names that literally start with %_ (none)', () => {
		const result = searchRun(NEWAPI, '%_');
		expect(result.code).toBe(0);
		expect((JSON.parse(result.stdout) as JsonSnapshot).summary.total_requests).toBe(0);
	});

	it('new-api: user_% matches the user literally named user_%_test', () => {
		const result = searchRun(NEWAPI, 'user_%');
		expect(result.code).toBe(0);
		const snapshot = JSON.parse(result.stdout) as JsonSnapshot;
		expect(snapshot.summary.total_requests).toBeGreaterThan(0);
		expect(snapshot.realtime.items.length).toBeGreaterThan(0);
		for (const item of snapshot.realtime.items) {
			expect(item.account === 'user_%_test' || item.api_key_label.startsWith('user_%') || item.model.startsWith('user_%'), item.account).toBe(true);
		}
	});

	it('CPA: * alone is no search', () => {
		const all = searchRun(CPA, undefined);
		const star = searchRun(CPA, '*');
		expect(all.code).toBe(0);
		expect(star.code).toBe(0);
		const total = (JSON.parse(all.stdout) as JsonSnapshot).summary.total_requests;
		expect(total).toBeGreaterThan(0);
		expect((JSON.parse(star.stdout) as JsonSnapshot).summary.total_requests).toBe(total);
	});

	it('CPA: every event is a request (the oracle agrees with no search)', () => {
		const all = searchRun(CPA, undefined);
		const snapshot = JSON.parse(all.stdout) as JsonSnapshot;
		expect(snapshot.summary.total_requests).toBe(inRange(cpaRows.rows, null, snapshot.range.end_ms).length);
	});

	it('CPA: %_ finds nothing', () => {
		const result = searchRun(CPA, '%_');
		expect(result.code).toBe(0);
		expect((JSON.parse(result.stdout) as JsonSnapshot).summary.total_requests).toBe(0);
	});

	it('after every search both stores are byte-identical, with their tables and row counts', () => {
		expect(searchRuns.size).toBeGreaterThanOrEqual(SEARCHES.length * 2);
		expectUntouched(NEWAPI);
		expectUntouched(CPA);
		expect(countRows(NEWAPI, 'logs')).toBe(rowCountsBefore.logs);
		expect(countRows(CPA, 'usage_events')).toBe(rowCountsBefore.usageEvents);
		expect(rowCountsBefore.logs).toBeGreaterThan(0);
		expect(rowCountsBefore.usageEvents).toBeGreaterThan(0);
		expectUntouched(NEWAPI);
		expectUntouched(CPA);
	});
});

// ---------------------------------------------------------------------------------------------
// 4. Secrets

describe('the CPA management key never reaches any output', () => {
	it('is really in the fixture (so the checks below can fail)', () => {
		const db = new Database(CPA, {readonly: true, fileMustExist: true});
		try {
			const values = (db.prepare('SELECT value FROM settings').all() as Array<{value: string}>).map(row => row.value);
			expect(values.some(value => value.includes(FIXTURE_MANAGEMENT_KEY))).toBe(true);
		} finally {
			db.close();
		}
		expectUntouched(CPA);
	});

	it.each([
		['--json', [CPA, '--json', '--range', 'all', '--page-size', '500'], 0],
		['--once', [CPA, '--once', '--range', 'all', '--page-size', '500'], 0],
		['an error', [CPA, '--json', '--dimension', 'user'], 2],
		['an error about --quota-per-unit', [CPA, '--json', '--quota-per-unit', '5'], 2],
	] as const)('%s', (_name, args, code) => {
		const result = runCliSync(args);
		expect(result.code).toBe(code);
		expect(result.stdout).not.toContain(FIXTURE_MANAGEMENT_KEY);
		expect(result.stderr).not.toContain(FIXTURE_MANAGEMENT_KEY);
		expect(result.stdout).not.toContain('mgmt-fixture-key');
		expect(result.stderr).not.toContain('mgmt-fixture-key');
		expectUntouched(CPA);
	});
});

describe('a database password in a URL that does not parse never reaches the error', () => {
	// A `/`, `#` or `?` in an unencoded password breaks the URL (or makes the parser read the rest as
	// a path): the error must name the target with the whole password masked, not cut at that character.
	it.each(['postgres://relay:se/cr3t-pw@127.0.0.1:1/newapi', 'postgres://relay:se#cr3t-pw@127.0.0.1:1/newapi', 'postgres://:p@se/cr3t-pw@127.0.0.1:1/newapi'])(
		'%s',
		target => {
			const result = runCliSync([target, '--json']);
			expect(result.code).toBe(2);
			expect(result.stderr).toBe('relaytop: not a valid PostgreSQL URL: postgres://relay:***@127.0.0.1:1/newapi; percent-encode / # ? @ in the password (%2F %23 %3F %40)\n'.replace('relay:', target.includes('//:') ? ':' : 'relay:'));
			for (const piece of ['cr3t-pw', 'se/cr3t', 'se#cr3t']) {
				expect(result.stdout).not.toContain(piece);
				expect(result.stderr).not.toContain(piece);
			}
		},
	);
});

// ---------------------------------------------------------------------------------------------
// 5. Escape sequences in names from the database

describe('names holding escape sequences', () => {
	const ENTITIES: Array<[string, string, string, string]> = [
		['new-api user', NEWAPI, 'evil\u001b[31mred\u001b[0m', 'evil␛'],
		['CPA account', CPA, 'mallory\u001b]0;pwned\u0007\u001b[2J@evil.test', 'mallory␛'],
	];

	it.each(ENTITIES)('--once, %s: no ESC or BEL reaches the terminal, a visible stand-in does', (_name, path, _raw, visible) => {
		const result = runCliSync([path, '--once', '--range', 'all', '--page-size', '500']);
		expect(result.code).toBe(0);
		expect(result.stderr).toBe('');
		expect(result.stdout).not.toContain('\u001b');
		expect(result.stdout).not.toContain('\u0007');
		expect(result.stdout).toContain('␛');
		expect(result.stdout).toContain(visible);
		expectUntouched(path);
	});

	it.each(ENTITIES)('--json, %s: the escape appears only JSON-escaped', (_name, path, raw) => {
		const result = runCliSync([path, '--json', '--range', 'all', '--page-size', '500']);
		expect(result.code).toBe(0);
		expect(result.stderr).toBe('');
		expect(result.stdout).not.toContain('\u001b');
		expect(result.stdout).not.toContain('\u0007');
		expect(result.stdout).toContain('\\u001b');
		// The name itself survives intact for scripts.
		const snapshot = JSON.parse(result.stdout) as JsonSnapshot;
		const names = [...snapshot.accounts.items.flatMap(item => [item.key, item.label]), ...snapshot.realtime.items.map(item => item.account)];
		expect(names).toContain(raw);
		expectUntouched(path);
	});
});

// ---------------------------------------------------------------------------------------------
// The read-only guarantee on a store left in WAL mode (CPA-Manager and new-api both may use it):
// its bytes never change and nothing is written to its log. A WAL reader needs the shared-memory
// index (-shm) beside the file, as every SQLite reader does; an empty -wal may come with it.

describe('a store in WAL mode', () => {
	const makers: Array<[string, (path: string) => void]> = [
		['new-api', path => writeNewApiFixture(path, {requests: 300})],
		['CPA', path => writeCpaFixture(path, {requests: 300})],
	];

	it.each(makers)('%s: --json reads it without writing to it or to its log', (_name, write) => {
		const dir = mkdtempSync(join(workDir, 'wal-'));
		const path = join(dir, 'store.sqlite');
		write(path);
		const db = new Database(path);
		expect(db.pragma('journal_mode = WAL', {simple: true})).toBe('wal');
		db.close();
		expect(readdirSync(dir)).toEqual(['store.sqlite']);
		recordBaseline(path);

		const result = runCliSync([path, '--json', '--range', 'all']);

		expect(result.stderr).toBe('');
		expect(result.code).toBe(0);
		expect((JSON.parse(result.stdout) as JsonSnapshot).summary.total_requests).toBeGreaterThan(0);
		expect(sha256(path)).toBe(baselines.get(path)!.hash);
		expect(readdirSync(dir).filter(name => name !== 'store.sqlite').every(name => ['store.sqlite-shm', 'store.sqlite-wal'].includes(name))).toBe(true);
		const log = join(dir, 'store.sqlite-wal');
		expect(existsSync(log) ? statSync(log).size : 0).toBe(0);
	});
});
