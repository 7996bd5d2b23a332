// `relaytop maintain indexes|retention` as a real process (dist/source/cli.js) on real SQLite copies of
// the fixtures and on a real PostgreSQL server. Every outcome is checked independently: the file's
// bytes, its own catalog (pragma index_list, sqlite_master), pg_index, and counts the test runs
// itself, never the advisor's or the retention code's own report of what it did.

import {createHash} from 'node:crypto';
import {copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, dirname, join} from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres, NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {freePort} from './support/net.js';
import {freshDatabase, testPostgres} from './support/postgres-server.js';
import {CLI, runCli as runBuiltCli, type AsyncRunOptions, type CliResult} from './support/run-cli.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** No DATABASE_URL from the shell; the guard allows for the longest tests (180 s). */
const runCli = (args: readonly string[], options: AsyncRunOptions = {}): Promise<CliResult> => runBuiltCli(args, {guardMs: 180_000, ...options, env: {DATABASE_URL: undefined, ...options.env}});

const STACK_FRAME = /^\s+at .+(?::\d+:\d+\)?|\(native\))$/mu;

function expectNoStack(result: CliResult): void {
	expect(result.stderr).not.toMatch(STACK_FRAME);
	expect(result.stdout).not.toMatch(STACK_FRAME);
	expect(result.stderr).not.toMatch(/^\s*(?:Type|Range|Reference|Syntax)?Error: /mu);
}

/** A mistake: exactly one `relaytop: ` line on stderr, nothing on stdout, the given exit code. */
function expectOneLineError(result: CliResult, code: number, pattern?: RegExp): void {
	expectNoStack(result);
	expect(result.stderr).toMatch(/^relaytop: [^\n]+\n$/u);
	if (pattern !== undefined) expect(result.stderr).toMatch(pattern);
	expect(result.stdout).toBe('');
	expect(result.code).toBe(code);
}

/** A clean run: exit 0, no stack, nothing that looks like an error. */
function expectOk(result: CliResult): void {
	expectNoStack(result);
	expect(result.stderr, result.stderr).not.toMatch(/^relaytop: /mu);
	expect(result.code, `exit code; stderr:\n${result.stderr}\nstdout:\n${result.stdout}`).toBe(0);
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Files SQLite would put next to a database: `-wal`, `-shm`, `-journal`. */
const siblingsOf = (path: string): string[] =>
	readdirSync(dirname(path))
		.filter(name => name.startsWith(`${basename(path)}-`))
		.sort();

/** en-US thousands separators, as the CLI prints counts. */
const thousands = (value: number): string => value.toLocaleString('en-US');

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');

let workDir: string;
let files = 0;

/** A private copy of a fixture: the fixtures themselves are never written. */
function copyOf(kind: 'newapi' | 'cpa'): string {
	const path = join(workDir, `${kind}-${++files}.sqlite`);
	copyFileSync(fixturePath(kind), path);
	return path;
}

function withDb<T>(path: string, work: (db: Database.Database) => T, readonly = false): T {
	const db = new Database(path, {readonly, fileMustExist: true});
	try {
		return work(db);
	} finally {
		db.close();
	}
}

/** The indexes upstream new-api has that an old one-api store lacks, and one-api's swapped (id, created_at). */
const ONE_API_DROPPED = ['idx_created_at_id', 'idx_user_id_id', 'idx_logs_user_id', 'idx_created_at_type'];

/**
 * `path` as a writer killed inside a transaction leaves it: `interrupt` runs in an open transaction
 * whose changes spill from a tiny page cache into the file, with the original pages in the rollback
 * journal; the file and its journal are copied to `copy` at that moment (nothing holds the copy's
 * lock: a hot journal), then the transaction rolls back.
 */
function hotJournalCopy(path: string, copy: string, interrupt: string): void {
	withDb(path, db => {
		db.pragma('journal_mode = DELETE');
		db.pragma('cache_size = 2');
		db.exec('BEGIN');
		db.exec(interrupt);
		copyFileSync(path, copy);
		copyFileSync(`${path}-journal`, `${copy}-journal`);
		db.exec('ROLLBACK');
	});
	let refused: unknown;
	try {
		withDb(copy, db => db.prepare('SELECT count(*) FROM sqlite_master').get(), true);
	} catch (error) {
		refused = error;
	}
	expect(refused, 'SQLite itself refuses to read the copy until its journal is played back').toMatchObject({code: 'SQLITE_READONLY_ROLLBACK'});
}

/** An old one-api store: no index leads with created_at, none with user_id. */
function makeOneApiEra(path: string): void {
	withDb(path, db => {
		for (const name of ONE_API_DROPPED) db.exec(`DROP INDEX ${name}`);
		db.exec('CREATE INDEX `idx_created_at_id` ON `logs`(`id`,`created_at`)');
	});
}

/** The table's indexes from pragma index_list, each with its key columns (pragma index_info), read on a connection of our own. */
function sqliteIndexes(path: string, table = 'logs'): Record<string, string[]> {
	return withDb(
		path,
		db => {
			const names = db.prepare('SELECT name FROM pragma_index_list(?) ORDER BY name').pluck().all(table) as string[];
			return Object.fromEntries(names.map(name => [name, db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(name) as string[]]));
		},
		true,
	);
}

const sqliteCount = (path: string, sql: string, ...params: unknown[]): number => withDb(path, db => db.prepare(sql).pluck().get(...params) as number, true);

const SQLITE_PROPOSALS = [
	'CREATE INDEX IF NOT EXISTS "idx_created_at_type" ON "logs" ("created_at", "type")',
	'CREATE INDEX IF NOT EXISTS "idx_user_id_id" ON "logs" ("user_id", "id")',
];
const POSTGRES_PROPOSALS = [
	'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type" ON "public"."logs" ("created_at", "type")',
	'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_user_id_id" ON "public"."logs" ("user_id", "id")',
];

/** The lines of the output that are SQL, as printed (two spaces in front of a proposal's statement). */
const proposalLines = (stdout: string): string[] =>
	stdout
		.split('\n')
		.filter(line => /^ {2}CREATE INDEX/u.test(line))
		.map(line => line.trim());

/** A cutoff `share` of the way into a table's times, a whole second, checked to be in the past (a future cutoff is refused). */
function secondAt(times: number[], share: number): number {
	const sorted = [...times].sort((a, b) => a - b);
	const second = sorted[Math.floor(sorted.length * share)]!;
	expect(second * 1000, 'the fixture must lie in the past for --cutoff').toBeLessThan(Date.now());
	return second;
}

const isoOfSecond = (second: number): string => new Date(second * 1000).toISOString();

// ---------------------------------------------------------------------------------------------
// PostgreSQL

type TestDatabase = Awaited<ReturnType<typeof freshDatabase>>;
const databases: TestDatabase[] = [];
const clients: pg.Client[] = [];

async function connect(url: string): Promise<pg.Client> {
	const client = new pg.Client({connectionString: url});
	client.on('error', () => undefined);
	await client.connect();
	clients.push(client);
	return client;
}

async function database(prefix: string): Promise<{db: TestDatabase; client: pg.Client}> {
	const db = await freshDatabase(prefix);
	databases.push(db);
	return {db, client: await connect(db.url)};
}

/** NEWAPI_LOGS_POSTGRES_DDL without upstream's hot-query indexes, with one-api's swapped (id, created_at). */
const ONE_API_POSTGRES_DDL = [
	...NEWAPI_LOGS_POSTGRES_DDL.split('\n').filter(statement => !ONE_API_DROPPED.some(name => statement.includes(`"${name}"`))),
	'CREATE INDEX "idx_created_at_id" ON "logs" ("id","created_at");',
].join('\n');

interface PgIndex {
	name: string;
	valid: boolean;
	ready: boolean;
	columns: string[];
}

/** The table's indexes from pg_index, with their key columns in order. */
async function pgIndexes(client: pg.Client, table = 'logs'): Promise<PgIndex[]> {
	const {rows} = await client.query<PgIndex>(
		`SELECT c.relname AS name, i.indisvalid AS valid, i.indisready AS ready,
	ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass ORDER BY c.relname`,
		[table],
	);
	return rows;
}

const pgCount = async (client: pg.Client, sql: string, params: unknown[] = []): Promise<number> => Number((await client.query<{n: string}>(sql, params)).rows[0]!.n);

beforeAll(() => {
	if (!existsSync(CLI)) {
		throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
	}
	workDir = mkdtempSync(join(tmpdir(), 'relaytop-cli-maintain-'));
});

afterAll(async () => {
	for (const client of clients.splice(0)) await client.end().catch(() => undefined);
	for (const db of databases.splice(0)) await db.drop();
	rmSync(workDir, {recursive: true, force: true});
});

// ---------------------------------------------------------------------------------------------
// maintain indexes, SQLite

describe('maintain indexes on a SQLite file', () => {
	it('says there is nothing to do on an upstream new-api file, and leaves its bytes alone', async () => {
		const path = copyOf('newapi');
		const before = sha256(path);
		const result = await runCli(['maintain', 'indexes', path]);
		expectOk(result);
		expect(result.stdout).toContain('nothing to do: every hot query has an index that serves it');
		expect(result.stdout).toMatch(/requests by time and type \(rates, time ranges\): served by idx_created_at_type/u);
		expect(result.stdout).toMatch(/user log pages \(user_id, newest first\): served by /u);
		expect(result.stdout).not.toContain('CREATE INDEX');
		expect(sha256(path)).toBe(before);
		expect(siblingsOf(path)).toEqual([]);
	});

	it('proposes the two missing indexes of a one-api-era file with their exact SQL, changes nothing, then --apply builds them', async () => {
		const path = copyOf('newapi');
		makeOneApiEra(path);
		const indexesBefore = sqliteIndexes(path);
		expect(indexesBefore).not.toHaveProperty('idx_created_at_type');
		expect(indexesBefore).not.toHaveProperty('idx_user_id_id');
		const before = sha256(path);

		const dry = await runCli(['maintain', 'indexes', path]);
		expectOk(dry);
		expect(dry.stdout).toMatch(/requests by time and type \(rates, time ranges\): missing$/mu);
		expect(dry.stdout).toMatch(/user log pages \(user_id, newest first\): missing$/mu);
		expect(dry.stdout).toMatch(/^propose idx_created_at_type \(/mu);
		expect(dry.stdout).toMatch(/^propose idx_user_id_id \(/mu);
		expect(proposalLines(dry.stdout)).toEqual(SQLITE_PROPOSALS);
		expect(dry.stdout).toContain('dry run: nothing changed; --apply runs the statements above');
		expect(sha256(path)).toBe(before);
		expect(sqliteIndexes(path)).toEqual(indexesBefore);

		const applied = await runCli(['maintain', 'indexes', path, '--apply']);
		expectOk(applied);
		expect(applied.stdout).toMatch(/^idx_created_at_type: done, valid in /mu);
		expect(applied.stdout).toMatch(/^idx_user_id_id: done, valid in /mu);
		expect(applied.stdout).not.toContain('dry run');
		// Independently: the file's own catalog.
		const after = sqliteIndexes(path);
		expect(after).toEqual({...indexesBefore, idx_created_at_type: ['created_at', 'type'], idx_user_id_id: ['user_id', 'id']});
		const definitions = withDb(path, db => db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND name IN ('idx_created_at_type', 'idx_user_id_id') ORDER BY name").all(), true);
		expect(definitions).toEqual([
			{name: 'idx_created_at_type', sql: 'CREATE INDEX "idx_created_at_type" ON "logs" ("created_at", "type")'},
			{name: 'idx_user_id_id', sql: 'CREATE INDEX "idx_user_id_id" ON "logs" ("user_id", "id")'},
		]);
		expect(withDb(path, db => db.pragma('integrity_check', {simple: true}), true)).toBe('ok');

		const again = await runCli(['maintain', 'indexes', path]);
		expectOk(again);
		expect(again.stdout).toContain('nothing to do: every hot query has an index that serves it');
		expect(proposalLines(again.stdout)).toEqual([]);
	});

	it('--json prints the dry run as JSON with the proposals, and changes nothing', async () => {
		const path = copyOf('newapi');
		makeOneApiEra(path);
		const before = sha256(path);
		const result = await runCli(['maintain', 'indexes', path, '--json']);
		expectOk(result);
		const advice = JSON.parse(result.stdout) as {engine: string; table: string; proposals: Array<{name: string; sql: string; columns: string[]}>};
		expect(advice.engine).toBe('sqlite');
		expect(advice.table).toBe('logs');
		expect(advice.proposals.map(proposal => proposal.sql)).toEqual(SQLITE_PROPOSALS);
		expect(sha256(path)).toBe(before);
	});
});

// ---------------------------------------------------------------------------------------------
// maintain indexes, PostgreSQL

describe('maintain indexes on PostgreSQL', () => {
	let url: string;
	let client: pg.Client;

	beforeAll(async () => {
		({db: {url}, client} = await database('relaytop_cli_idx'));
		await client.query(ONE_API_POSTGRES_DDL);
		// 30,000 rows of a gateway's shape, over 30 days up to a day ago.
		await client.query(
			`INSERT INTO logs (user_id, created_at, type, content, username, model_name, quota, prompt_tokens, completion_tokens, channel_id, token_id, "group")
SELECT i % 97, $1::bigint - 31 * 86400 + i * 86, CASE WHEN i % 17 = 0 THEN 5 ELSE 2 END, 'request', 'user' || (i % 97), 'gpt-4o-mini', i % 1000, i % 3000, i % 700, i % 7, i % 40, 'default'
FROM generate_series(1, 30000) i`,
			[Math.floor(Date.now() / 1000)],
		);
		await client.query('ANALYZE logs');
	});

	it('a dry run prints both CREATE INDEX CONCURRENTLY statements and builds nothing', async () => {
		const before = await pgIndexes(client);
		expect(before.map(index => index.name)).not.toContain('idx_created_at_type');
		const result = await runCli(['maintain', 'indexes', url]);
		expectOk(result);
		expect(result.stdout).toMatch(/^public\.logs: about [\d,]+ rows, /u);
		expect(result.stdout).toMatch(/requests by time and type \(rates, time ranges\): missing$/mu);
		expect(result.stdout).toMatch(/user log pages \(user_id, newest first\): missing$/mu);
		expect(proposalLines(result.stdout)).toEqual(POSTGRES_PROPOSALS);
		expect(result.stdout).toContain('dry run: nothing changed');
		expect(await pgIndexes(client)).toEqual(before);
	});

	it('--json: the dry run as valid JSON, with the proposals and their SQL', async () => {
		const before = await pgIndexes(client);
		const result = await runCli(['maintain', 'indexes', url, '--json']);
		expectOk(result);
		const advice = JSON.parse(result.stdout) as {engine: string; schema: string; table: string; proposals: Array<{name: string; sql: string; columns: string[]}>; repairs: unknown[]};
		expect(advice).toMatchObject({engine: 'postgres', schema: 'public', table: 'logs', repairs: []});
		expect(advice.proposals.map(proposal => [proposal.name, proposal.columns, proposal.sql])).toEqual([
			['idx_created_at_type', ['created_at', 'type'], POSTGRES_PROPOSALS[0]],
			['idx_user_id_id', ['user_id', 'id'], POSTGRES_PROPOSALS[1]],
		]);
		expect(await pgIndexes(client)).toEqual(before);
	});

	it('--read-only refuses --apply: exit 2, one line, nothing built', async () => {
		const before = await pgIndexes(client);
		const result = await runCli(['maintain', 'indexes', url, '--apply', '--read-only']);
		expectOneLineError(result, 2, /--read-only/u);
		expect(await pgIndexes(client)).toEqual(before);
	});

	it('--apply builds them concurrently: valid and ready in pg_index; a second dry run has nothing to do', async () => {
		const before = await pgIndexes(client);
		const result = await runCli(['maintain', 'indexes', url, '--apply']);
		expectOk(result);
		expect(result.stdout).toMatch(/^idx_created_at_type: done, valid in /mu);
		expect(result.stdout).toMatch(/^idx_user_id_id: done, valid in /mu);
		const after = await pgIndexes(client);
		expect(after).toEqual(
			[...before, {name: 'idx_created_at_type', valid: true, ready: true, columns: ['created_at', 'type']}, {name: 'idx_user_id_id', valid: true, ready: true, columns: ['user_id', 'id']}].sort((a, b) =>
				a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
			),
		);
		// Nothing INVALID left behind, and nothing built twice.
		expect(after.every(index => index.valid && index.ready)).toBe(true);

		const again = await runCli(['maintain', 'indexes', url]);
		expectOk(again);
		expect(again.stdout).toContain('nothing to do: every hot query has an index that serves it');
		expect(again.stdout).toMatch(/requests by time and type \(rates, time ranges\): served by idx_created_at_type$/mu);
		expect(again.stdout).toMatch(/user log pages \(user_id, newest first\): served by idx_user_id_id$/mu);
		expect(proposalLines(again.stdout)).toEqual([]);
	});
});

// ---------------------------------------------------------------------------------------------
// maintain retention, SQLite

describe('maintain retention on a SQLite file', () => {
	it('new-api: the dry run counts what an independent count does and changes nothing; --apply --batch 100 deletes exactly the rows before the cutoff', {timeout: 180_000}, async () => {
		const path = copyOf('newapi');
		// A fifth of the way in: some 10,000 rows go, a hundred per batch.
		const cutoff = secondAt(withDb(path, db => db.prepare('SELECT created_at FROM logs').pluck().all() as number[], true), 0.2);
		// Rows at the edge, ours: one a second before the cutoff (goes), one exactly at it (stays).
		const [justBefore, atCutoff] = withDb(path, db => {
			const insert = db.prepare("INSERT INTO logs (user_id, created_at, type, content, username, model_name) VALUES (1, ?, 2, ?, 'edge', 'gpt-4o-mini')");
			return [Number(insert.run(cutoff - 1, 'a second before the cutoff').lastInsertRowid), Number(insert.run(cutoff, 'exactly at the cutoff').lastInsertRowid)];
		});
		const old = sqliteCount(path, 'SELECT count(*) FROM logs WHERE created_at < ?', cutoff);
		const kept = sqliteCount(path, 'SELECT count(*) FROM logs WHERE NOT (created_at < ?) OR created_at IS NULL', cutoff);
		const total = sqliteCount(path, 'SELECT count(*) FROM logs');
		expect(old).toBeGreaterThan(1000);
		expect(kept).toBeGreaterThan(1000);
		const keptIds = withDb(path, db => db.prepare('SELECT id FROM logs WHERE NOT (created_at < ?) OR created_at IS NULL ORDER BY id').pluck().all(cutoff) as number[], true);
		const before = sha256(path);
		const iso = isoOfSecond(cutoff);

		const dry = await runCli(['maintain', 'retention', path, '--cutoff', iso]);
		expectOk(dry);
		expect(dry.stdout).toMatch(new RegExp(`^logs: ${thousands(old)} rows before ${escapeRegExp(iso)} \\(created_at < ${cutoff}\\), `, 'u'));
		expect(dry.stdout).toContain(`DELETE FROM "logs" WHERE id >= ? AND id < ? AND created_at < ${cutoff}`);
		expect(dry.stdout).toContain('dry run: nothing changed');
		expect(sha256(path)).toBe(before);
		expect(siblingsOf(path)).toEqual([]);

		const applied = await runCli(['maintain', 'retention', path, '--cutoff', iso, '--apply', '--batch', '100']);
		expectOk(applied);
		expect(applied.stdout).toMatch(new RegExp(`^done: deleted ${thousands(old)} rows in [\\d,]+ batches, .*analyzed$`, 'mu'));
		// Independently: nothing before the cutoff is left, everything at or after it is.
		expect(sqliteCount(path, 'SELECT count(*) FROM logs WHERE created_at < ?', cutoff)).toBe(0);
		expect(sqliteCount(path, 'SELECT count(*) FROM logs')).toBe(total - old);
		expect(withDb(path, db => db.prepare('SELECT id FROM logs ORDER BY id').pluck().all() as number[], true)).toEqual(keptIds);
		expect(sqliteCount(path, 'SELECT count(*) FROM logs WHERE id = ?', atCutoff)).toBe(1);
		expect(sqliteCount(path, 'SELECT count(*) FROM logs WHERE id = ?', justBefore)).toBe(0);
		expect(withDb(path, db => db.pragma('integrity_check', {simple: true}), true)).toBe('ok');

		// A rerun with the same cutoff has nothing left to delete.
		const rerun = await runCli(['maintain', 'retention', path, '--cutoff', iso, '--apply']);
		expectOk(rerun);
		expect(rerun.stdout).toMatch(new RegExp(`^logs: 0 rows before ${escapeRegExp(iso)} `, 'u'));
		expect(rerun.stdout).toContain('nothing to delete');
	});

	it('a store its writer left inside a transaction: a dry run refuses it untouched; --apply plays the journal back first, then deletes exactly the rows before the cutoff', {timeout: 180_000}, async () => {
		const pristine = copyOf('newapi');
		const cutoff = secondAt(withDb(pristine, db => db.prepare('SELECT created_at FROM logs').pluck().all() as number[], true), 0.2);
		const keptIds = withDb(pristine, db => db.prepare('SELECT id FROM logs WHERE NOT (created_at < ?) OR created_at IS NULL ORDER BY id').pluck().all(cutoff) as number[], true);
		const old = sqliteCount(pristine, 'SELECT count(*) FROM logs WHERE created_at < ?', cutoff);
		expect(old).toBeGreaterThan(1000);
		// Killed while it deleted every row, new ones too: the playback must bring those back.
		const path = join(workDir, `newapi-hot-${++files}.sqlite`);
		hotJournalCopy(pristine, path, 'DELETE FROM logs');
		const iso = isoOfSecond(cutoff);

		const hashes = [sha256(path), sha256(`${path}-journal`)];
		const dry = await runCli(['maintain', 'retention', path, '--cutoff', iso]);
		expectOneLineError(dry, 2, /holds a write its writer left unfinished/u);
		expect([sha256(path), sha256(`${path}-journal`)]).toEqual(hashes);

		const applied = await runCli(['maintain', 'retention', path, '--cutoff', iso, '--apply', '--batch', '1000']);
		expectOk(applied);
		expect(applied.stdout).toMatch(new RegExp(`^done: deleted ${thousands(old)} rows in `, 'mu'));
		expect(siblingsOf(path)).toEqual([]);
		expect(withDb(path, db => db.prepare('SELECT id FROM logs ORDER BY id').pluck().all() as number[], true)).toEqual(keptIds);
		expect(withDb(path, db => db.pragma('integrity_check', {simple: true}), true)).toBe('ok');
	});

	it('CPA store: deletes the events before the cutoff and their full-text rows, and keeps the event exactly at the cutoff', {timeout: 180_000}, async () => {
		const path = copyOf('cpa');
		// Early in the data, so the run stays short: about 3,000 events go.
		const cutoffMs = withDb(path, db => db.prepare('SELECT timestamp_ms FROM usage_events ORDER BY timestamp_ms LIMIT 1 OFFSET 3000').pluck().get() as number, true);
		expect(cutoffMs).toBeLessThan(Date.now());
		const atCutoff = withDb(path, db =>
			Number(
				db
					.prepare(
						"INSERT INTO usage_events (event_hash, timestamp_ms, timestamp, provider, model, account_snapshot, created_at_ms) VALUES ('relaytop-test-at-cutoff', ?, ?, 'openai', 'gpt-4o-mini', 'edge-account', ?)",
					)
					.run(cutoffMs, new Date(cutoffMs).toISOString(), cutoffMs).lastInsertRowid,
			),
		);
		const oldIds = withDb(path, db => db.prepare('SELECT id FROM usage_events WHERE timestamp_ms < ? ORDER BY id').pluck().all(cutoffMs) as number[], true);
		const total = sqliteCount(path, 'SELECT count(*) FROM usage_events');
		const ftsTotal = sqliteCount(path, 'SELECT count(*) FROM usage_events_fts');
		const oldFts = sqliteCount(path, 'SELECT count(*) FROM usage_events_fts WHERE event_id IN (SELECT value FROM json_each(?))', JSON.stringify(oldIds));
		expect(oldIds.length).toBeGreaterThan(2000);
		expect(oldFts).toBe(oldIds.length); // the fixture's index has one row per event
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events_fts WHERE event_id = ?', atCutoff)).toBe(1); // the trigger indexed ours
		const before = sha256(path);
		const iso = new Date(cutoffMs).toISOString();

		const dry = await runCli(['maintain', 'retention', path, '--cutoff', iso]);
		expectOk(dry);
		expect(dry.stdout).toMatch(new RegExp(`^usage_events: ${thousands(oldIds.length)} rows before ${escapeRegExp(iso)} \\(timestamp_ms < ${cutoffMs}\\), `, 'u'));
		expect(dry.stdout).toContain(`full-text index: ${thousands(oldFts)} rows go with them, 0 orphans removed too`);
		expect(sha256(path)).toBe(before);

		const applied = await runCli(['maintain', 'retention', path, '--cutoff', iso, '--apply', '--batch', '100']);
		expectOk(applied);
		expect(applied.stdout).toMatch(new RegExp(`^done: deleted ${thousands(oldIds.length)} rows in `, 'mu'));
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events WHERE timestamp_ms < ?', cutoffMs)).toBe(0);
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events')).toBe(total - oldIds.length);
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events WHERE id = ?', atCutoff)).toBe(1);
		// The full-text index: no row of a deleted event; ours and every kept event's rows stay.
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events_fts WHERE event_id IN (SELECT value FROM json_each(?))', JSON.stringify(oldIds))).toBe(0);
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events_fts')).toBe(ftsTotal - oldFts);
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events_fts WHERE event_id = ?', atCutoff)).toBe(1);
		expect(sqliteCount(path, "SELECT count(*) FROM usage_events_fts WHERE usage_events_fts MATCH 'edge'")).toBe(1);
		expect(sqliteCount(path, 'SELECT count(*) FROM usage_events_fts f WHERE NOT EXISTS (SELECT 1 FROM usage_events e WHERE e.id = f.event_id)')).toBe(0);
		expect(withDb(path, db => db.pragma('integrity_check', {simple: true}), true)).toBe('ok');
		expect(sqliteCount(path, "SELECT count(*) FROM temp.sqlite_master WHERE name LIKE 'relaytop%'")).toBe(0);
	});
});

// ---------------------------------------------------------------------------------------------
// maintain retention, PostgreSQL

describe('maintain retention on PostgreSQL', () => {
	let url: string;
	let client: pg.Client;
	let cutoff: number;
	let atCutoff: number;
	let justBefore: number;

	beforeAll(async () => {
		({db: {url}, client} = await database('relaytop_cli_ret'));
		await loadNewApiIntoPostgres(client, fixturePath('newapi'));
		cutoff = secondAt((await client.query<{t: string}>('SELECT created_at::text AS t FROM logs')).rows.map(row => Number(row.t)), 0.5);
		const insert = async (time: number, content: string) =>
			Number((await client.query<{id: string}>("INSERT INTO logs (user_id, created_at, type, content, username) VALUES (1, $1, 2, $2, 'edge') RETURNING id", [time, content])).rows[0]!.id);
		justBefore = await insert(cutoff - 1, 'a second before the cutoff');
		atCutoff = await insert(cutoff, 'exactly at the cutoff');
	});

	it('the dry run counts what an independent count does and deletes nothing; --read-only --apply is refused', async () => {
		const old = await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at < $1', [cutoff]);
		const total = await pgCount(client, 'SELECT count(*) AS n FROM logs');
		expect(old).toBeGreaterThan(1000);
		const iso = isoOfSecond(cutoff);
		const dry = await runCli(['maintain', 'retention', url, '--cutoff', iso]);
		expectOk(dry);
		expect(dry.stdout).toMatch(new RegExp(`^logs: ${thousands(old)} rows before ${escapeRegExp(iso)} \\(created_at < ${cutoff}\\), `, 'u'));
		expect(dry.stdout).toContain(`DELETE FROM "logs" WHERE id >= $1 AND id < $2 AND created_at < ${cutoff}`);
		expect(dry.stdout).toContain('dry run: nothing changed');
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs')).toBe(total);

		const refused = await runCli(['maintain', 'retention', url, '--cutoff', iso, '--apply', '--read-only']);
		expectOneLineError(refused, 2, /--read-only/u);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs')).toBe(total);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at < $1', [cutoff])).toBe(old);
	});

	it('--apply --batch 100 deletes exactly the rows before the cutoff; the row at the cutoff second stays', async () => {
		const old = await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at < $1', [cutoff]);
		const total = await pgCount(client, 'SELECT count(*) AS n FROM logs');
		const keptIds = (await client.query<{id: string}>('SELECT id::text AS id FROM logs WHERE NOT (created_at < $1) OR created_at IS NULL ORDER BY id', [cutoff])).rows.map(row => row.id);
		const result = await runCli(['maintain', 'retention', url, '--cutoff', isoOfSecond(cutoff), '--apply', '--batch', '100']);
		expectOk(result);
		expect(result.stdout).toMatch(new RegExp(`^done: deleted ${thousands(old)} rows in [\\d,]+ batches, .*; vacuumed and analyzed$`, 'mu'));
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at < $1', [cutoff])).toBe(0);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs')).toBe(total - old);
		expect((await client.query<{id: string}>('SELECT id::text AS id FROM logs ORDER BY id')).rows.map(row => row.id)).toEqual(keptIds);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE id = $1', [atCutoff])).toBe(1);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE id = $1', [justBefore])).toBe(0);
	});
});

// ---------------------------------------------------------------------------------------------
// Mistakes

describe('mistakes: one line, the right exit code, nothing written', () => {
	let oneApi: string;

	beforeAll(() => {
		oneApi = copyOf('newapi');
		makeOneApiEra(oneApi);
	});

	it('--read-only with --apply: exit 2, one line, no stack, the file untouched', async () => {
		const before = sha256(oneApi);
		for (const args of [
			['maintain', 'indexes', oneApi, '--apply', '--read-only'],
			['maintain', 'retention', oneApi, '--keep', '1d', '--apply', '--read-only'],
		]) {
			const result = await runCli(args);
			expectOneLineError(result, 2, /--read-only refuses every write/u);
			expect(sha256(oneApi)).toBe(before);
			expect(siblingsOf(oneApi)).toEqual([]);
		}
		expect(sqliteIndexes(oneApi)).not.toHaveProperty('idx_created_at_type');
	});

	it('another application\'s SQLite file with a hot journal: --apply refuses it, the file and its journal byte for byte as they were', async () => {
		const source = join(workDir, `notes-${++files}.sqlite`);
		const app = new Database(source);
		app.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
		const insert = app.prepare('INSERT INTO notes (body) VALUES (?)');
		app.transaction(() => {
			for (let n = 0; n < 3000; n++) insert.run(`note ${n} `.padEnd(300, '.'));
		})();
		app.close();
		const path = join(workDir, `notes-hot-${++files}.sqlite`);
		hotJournalCopy(source, path, "UPDATE notes SET body = 'overwritten'");
		const hashes = [sha256(path), sha256(`${path}-journal`)];
		for (const args of [
			['maintain', 'retention', path, '--keep', '30d', '--apply'],
			['maintain', 'indexes', path, '--apply'],
		]) {
			expectOneLineError(await runCli(args), 2, /is a SQLite database of another application: expected a new-api "logs" table or a CPA-Manager "usage_events" table/u);
			expect([sha256(path), sha256(`${path}-journal`)]).toEqual(hashes);
			expect(siblingsOf(path)).toEqual([`${basename(path)}-journal`]);
		}
	});

	it('--keep 30x is not a duration: exit 2, one line, nothing deleted', async () => {
		const before = sha256(oneApi);
		const dry = await runCli(['maintain', 'retention', oneApi, '--keep', '30x']);
		expectOneLineError(dry, 2, /--keep "30x" is not a duration/u);
		const applying = await runCli(['maintain', 'retention', oneApi, '--keep', '30x', '--apply']);
		expectOneLineError(applying, 2, /--keep "30x" is not a duration/u);
		expect(sha256(oneApi)).toBe(before);
	});

	it('--keep without maintain: exit 2', async () => {
		const before = sha256(oneApi);
		const result = await runCli([oneApi, '--keep', '30d']);
		expectOneLineError(result, 2, /--keep goes with relaytop maintain/u);
		const apply = await runCli([oneApi, '--apply']);
		expectOneLineError(apply, 2, /--apply goes with relaytop maintain/u);
		expect(sha256(oneApi)).toBe(before);
	});

	it('maintain with an unknown job, or none: exit 2', async () => {
		expectOneLineError(await runCli(['maintain', 'vacuum', oneApi]), 2, /maintain takes indexes or retention/u);
		expectOneLineError(await runCli(['maintain']), 2, /maintain takes indexes or retention/u);
	});

	it('maintain indexes with a retention flag: exit 2', async () => {
		const before = sha256(oneApi);
		expectOneLineError(await runCli(['maintain', 'indexes', oneApi, '--keep', '30d']), 2, /--keep does not apply to maintain indexes/u);
		expectOneLineError(await runCli(['maintain', 'indexes', oneApi, '--apply', '--batch', '10']), 2, /--batch does not apply to maintain indexes/u);
		expect(sha256(oneApi)).toBe(before);
		expect(sqliteIndexes(oneApi)).not.toHaveProperty('idx_created_at_type');
	});

	it('a postgres URL whose password never gets to connect: exit 1, and the password is printed nowhere', async () => {
		const password = 'Hunter2-s3cr3t-Passw0rd';
		const port = await freePort();
		const server = new URL((await testPostgres()).url);
		const targets = [
			`postgres://relaytop_nobody:${password}@127.0.0.1:${port}/newapi`,
			// A role that does not exist, on the real server: refused whatever its authentication.
			`postgres://relaytop_no_such_role:${password}@${server.host}${server.pathname}`,
		];
		for (const target of targets) {
			for (const args of [
				['maintain', 'indexes', target],
				['maintain', 'retention', target, '--keep', '30d', '--apply'],
			]) {
				const result = await runCli(args);
				expectOneLineError(result, 1);
				for (const output of [result.stdout, result.stderr]) {
					expect(output).not.toContain(password);
					expect(output).not.toContain(encodeURIComponent(password));
				}
			}
		}
	});
});

// ---------------------------------------------------------------------------------------------
// Ctrl-C

describe('Ctrl-C during maintain retention on PostgreSQL', () => {
	const OLD = 20_000;
	const AT_CUTOFF = 3;
	const NEWER = 500;
	let url: string;
	let client: pg.Client;
	let cutoff: number;

	beforeAll(async () => {
		({db: {url}, client} = await database('relaytop_cli_int'));
		await client.query(NEWAPI_LOGS_POSTGRES_DDL);
		// A week back from now: a cutoff in the past, whatever the clock says.
		cutoff = Math.floor(Date.now() / 1000) - 7 * 86_400;
		await client.query(
			`INSERT INTO logs (user_id, created_at, type, content, username, model_name)
SELECT i % 50, $1::bigint - 200000 + i * 5, 2, 'old', 'u' || (i % 50), 'gpt-4o-mini' FROM generate_series(1, $2::int) i`,
			[cutoff, OLD],
		);
		await client.query("INSERT INTO logs (user_id, created_at, type, content) SELECT 1, $1::bigint, 2, 'at the cutoff' FROM generate_series(1, $2::int)", [cutoff, AT_CUTOFF]);
		await client.query("INSERT INTO logs (user_id, created_at, type, content) SELECT 2, $1::bigint + i, 2, 'newer' FROM generate_series(1, $2::int) i", [cutoff, NEWER]);
		await client.query('ANALYZE logs');
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at < $1', [cutoff])).toBe(OLD);
	});

	it('stops at a safe point with exit 130 and says how to resume; the same --cutoff then finishes the job', async () => {
		const iso = isoOfSecond(cutoff);
		const keptIds = (await client.query<{id: string}>('SELECT id::text AS id FROM logs WHERE created_at >= $1 ORDER BY id', [cutoff])).rows.map(row => row.id);
		expect(keptIds).toHaveLength(AT_CUTOFF + NEWER);
		let sent = false;
		const interrupted = await runCli(['maintain', 'retention', url, '--cutoff', iso, '--apply', '--batch', '1'], {
			onStderr: (soFar, signal) => {
				// The first progress line: the run is in its batch loop, with its SIGINT handler installed.
				if (!sent && /^deleted [\d,]+ of /mu.test(soFar)) {
					sent = true;
					signal('SIGINT');
				}
			},
		});
		expect(sent, `no progress line came; stderr:\n${interrupted.stderr}`).toBe(true);
		expectNoStack(interrupted);
		expect(interrupted.signal).toBeNull();
		expect(interrupted.code, `stdout:\n${interrupted.stdout}\nstderr:\n${interrupted.stderr}`).toBe(130);
		expect(interrupted.stderr).toContain('relaytop: stopping at the next safe point');
		expect(interrupted.stdout).toMatch(/^interrupted: deleted [\d,]+ rows in [\d,]+ batches/mu);
		const resume = /--cutoff (\S+)/u.exec(interrupted.stdout);
		expect(resume, interrupted.stdout).not.toBeNull();
		expect(resume![1]).toBe(iso);
		// What it says it deleted is what is gone, and nothing at or after the cutoff went.
		const reported = Number(/^interrupted: deleted ([\d,]+) rows/mu.exec(interrupted.stdout)![1]!.replaceAll(',', ''));
		expect(reported).toBeGreaterThanOrEqual(1);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at < $1', [cutoff])).toBe(OLD - reported);
		expect((await client.query<{id: string}>('SELECT id::text AS id FROM logs WHERE created_at >= $1 ORDER BY id', [cutoff])).rows.map(row => row.id)).toEqual(keptIds);

		const resumed = await runCli(['maintain', 'retention', url, '--cutoff', resume![1]!, '--apply']);
		expectOk(resumed);
		expect(resumed.stdout).toMatch(new RegExp(`^done: deleted ${thousands(OLD - reported)} rows in `, 'mu'));
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at < $1', [cutoff])).toBe(0);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at = $1', [cutoff])).toBe(AT_CUTOFF);
		expect(await pgCount(client, 'SELECT count(*) AS n FROM logs WHERE created_at > $1', [cutoff])).toBe(NEWER);
		expect((await client.query<{id: string}>('SELECT id::text AS id FROM logs ORDER BY id')).rows.map(row => row.id)).toEqual(keptIds);
	});
});
