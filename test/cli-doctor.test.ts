// `relaytop doctor` as a real process: its exit codes (0 all well, 1 warnings, 2 critical,
// 3 unreachable, 4 bad usage), text and JSON on real SQLite copies and a real PostgreSQL
// database, and that it never writes the store nor prints a password.

import {createHash} from 'node:crypto';
import {copyFileSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {freshDatabase} from './support/postgres-server.js';
import {runCli} from './support/run-cli.js';

interface DoctorJson {
	status: string;
	exit_code: number;
	machine: {ram_bytes: number; ram_from: string; cores: number; cores_from: string} | null;
	counts: {ok: number; warning: number; critical: number};
	checks: Array<{id: string; status: string; summary: string; fix: {lines: string[]; applicable: boolean} | null}>;
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const statusOf = (report: DoctorJson, id: string): string | undefined => report.checks.find(check => check.id === id)?.status;

let workDir: string;

beforeAll(() => {
	workDir = mkdtempSync(join(tmpdir(), 'relaytop-doctor-'));
});

afterAll(() => rmSync(workDir, {recursive: true, force: true}));

/** A copy of the new-api fixture, changed by `prepare` (opened for writing here, never by relaytop). */
function fixtureCopy(name: string, prepare: (db: Database.Database) => void = () => undefined): string {
	const path = join(workDir, name);
	copyFileSync(fixturePath('newapi'), path);
	const db = new Database(path);
	try {
		prepare(db);
	} finally {
		db.close();
	}
	return path;
}

describe('relaytop doctor on SQLite', () => {
	it('exits 0 when every check passes, and writes nothing', async () => {
		const path = fixtureCopy('wal.db', db => db.pragma('journal_mode = WAL'));
		const before = sha256(path);
		const result = await runCli(['doctor', path]);
		expect(result.stderr).toBe('');
		expect(result.code).toBe(0);
		expect(result.stdout).toMatch(/· 0 critical, 0 warnings, \d+ ok ·/u);
		expect(result.stdout).not.toMatch(/WARNINGS|CRITICAL/u);
		expect(sha256(path)).toBe(before);
	});

	it('exits 1 for warnings, each with its evidence and fix, in text and in JSON', async () => {
		const path = fixtureCopy('no-index.db', db => db.exec('DROP INDEX idx_created_at_type; DROP INDEX idx_created_at_id'));
		const before = sha256(path);
		const text = await runCli(['doctor', path]);
		expect(text.code).toBe(1);
		expect(text.stdout).toContain('WARNINGS');
		expect(text.stdout).toContain('fix: PRAGMA journal_mode = WAL;');
		expect(text.stdout).toContain('fix: CREATE INDEX IF NOT EXISTS "idx_created_at_type" ON "logs" ("created_at", "type");');
		const json = await runCli(['doctor', path, '--json']);
		expect(json.code).toBe(1);
		const report = JSON.parse(json.stdout) as DoctorJson;
		expect(report.status).toBe('warning');
		expect(report.exit_code).toBe(1);
		expect(report.machine).toBeNull();
		expect(statusOf(report, 'sqlite.journal_mode')).toBe('warning');
		expect(statusOf(report, 'index.logs.requests_by_time_and_type')).toBe('warning');
		expect(report.checks.find(check => check.id === 'index.logs.requests_by_time_and_type')?.fix?.applicable).toBe(true);
		expect(report.counts.warning).toBe(report.checks.filter(check => check.status === 'warning').length);
		// Worst first.
		expect(report.checks.findIndex(check => check.status === 'ok')).toBeGreaterThan(report.checks.findLastIndex(check => check.status === 'warning'));
		expect(sha256(path)).toBe(before);
	});

	it('runs on the demo fixture when no target is given', async () => {
		const result = await runCli(['doctor', '--json'], {env: {DATABASE_URL: ''}});
		const report = JSON.parse(result.stdout) as DoctorJson;
		expect(result.code).toBe(report.exit_code);
		expect(report.checks.map(check => check.id)).toEqual(expect.arrayContaining(['sqlite.journal_mode', 'sqlite.free_pages', 'load.rate']));
		// The fixture's own "now": its traffic shows as a rate.
		expect(report.checks.find(check => check.id === 'load.rate')?.summary).toMatch(/^[1-9]\d* rpm/u);
	});

	it('exits 3 when the target cannot be reached, in one line', async () => {
		const missing = await runCli(['doctor', join(workDir, 'missing.db')]);
		expect(missing.code).toBe(3);
		expect(missing.stdout).toBe('');
		expect(missing.stderr.trim().split('\n')).toHaveLength(1);
		const refused = await runCli(['doctor', 'postgres://gateway:s3cretpass@127.0.0.1:1/newapi']);
		expect(refused.code).toBe(3);
		expect(refused.stderr).toMatch(/ECONNREFUSED/u);
		expect(refused.stderr).not.toContain('s3cretpass');
	});

	it('exits 4 for bad usage, before anything connects', async () => {
		for (const args of [['doctor', '--bogus'], ['doctor', '--ram', 'lots'], ['doctor', '--cores', '0'], ['doctor', 'a.db', 'b.db'], ['doctor', '--sort', 'totalCost'], ['doctor', 'x.db', '--logs-db', 'postgres://h/db']]) {
			const result = await runCli(args);
			expect(result.code, args.join(' ')).toBe(4);
			expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
		}
		expect((await runCli(['doctor', '--quota-per-unit', '1000'])).code).toBe(4); // doctor prices nothing
		// The other commands keep their own: --ram means nothing to --json.
		expect((await runCli(['--json', '--ram', '2GB'])).code).toBe(2);
	});

	it('is found after flags, and --help is not a usage error', async () => {
		const path = fixtureCopy('flags-first.db');
		const result = await runCli(['--json', 'doctor', path]);
		expect(result.code).toBe(1); // the fixture's journal mode
		expect((JSON.parse(result.stdout) as DoctorJson).exit_code).toBe(1);
		expect((await runCli(['--no-color', 'doctor', '--bogus'])).code).toBe(4);
		const help = await runCli(['doctor', '--help']);
		expect(help.code).toBe(0);
		expect(help.stdout).toContain('relaytop doctor [TARGET]');
	});
});

describe('relaytop doctor on PostgreSQL', () => {
	let database: {url: string; name: string; drop: () => Promise<void>};

	beforeAll(async () => {
		database = await freshDatabase('doctor_cli');
		const client = new pg.Client({connectionString: database.url});
		await client.connect();
		try {
			await client.query(NEWAPI_LOGS_POSTGRES_DDL); // with new-api's own indexes
			await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
		} finally {
			await client.end();
		}
	});

	afterAll(async () => database?.drop());

	it('exits 2 for a critical finding and clears it when the fix is run', async () => {
		const client = new pg.Client({connectionString: database.url});
		await client.connect();
		const show = async (sql: string) => (await client.query<{v: string}>(sql)).rows[0]!.v;
		try {
			// Autovacuum stays on for the table but will not start before a million dead rows, so only
			// the fix removes these; the table's autovacuum check itself stays quiet.
			await client.query('ALTER TABLE logs SET (autovacuum_vacuum_threshold = 1000000)');
			await client.query('INSERT INTO logs (user_id, created_at, type) SELECT g % 7, 1786500000 + g, 2 FROM generate_series(1, 6000) g');
			await client.query('DELETE FROM logs WHERE id % 2 = 0'); // 3000 dead of 6000: 50%
			const flush = Number(await show("SELECT current_setting('server_version_num') AS v")) >= 150_000;
			const deadRows = async () => {
				if (flush) await client.query('SELECT pg_stat_force_next_flush()');
				return Number(await show("SELECT coalesce(max(n_dead_tup), 0) AS v FROM pg_stat_user_tables WHERE relname = 'logs'"));
			};
			await vi.waitFor(async () => expect(await deadRows()).toBe(3000), {timeout: 10_000, interval: 200});
			// A server with autovacuum off altogether (CI's) is critical for that too, and stays so.
			const serverCritical = (await show("SELECT current_setting('autovacuum') AS v")) === 'on' ? [] : ['setting.autovacuum', 'table.logs.autovacuum'];
			const critical = await runCli(['doctor', database.url, '--json', '--ram', '2GB', '--cores', '1']);
			const report = JSON.parse(critical.stdout) as DoctorJson;
			expect(critical.code).toBe(2);
			expect(report.exit_code).toBe(2);
			expect(report.machine).toEqual({ram_bytes: 2 * 1024 ** 3, ram_from: 'given', cores: 1, cores_from: 'given'});
			expect(report.checks.filter(check => check.status === 'critical').map(check => check.id).sort()).toEqual(['table.logs.dead_tuples', ...serverCritical].sort());
			const dead = report.checks.find(check => check.id === 'table.logs.dead_tuples');
			expect(dead?.summary).toMatch(/^3000 dead of 6000 rows \(50%\)/u);
			expect(dead?.fix).toMatchObject({lines: ['VACUUM (ANALYZE) logs;'], applicable: true});
			await client.query(dead!.fix!.lines[0]!);
			await vi.waitFor(async () => expect(await deadRows()).toBe(0), {timeout: 10_000, interval: 200});
			const after = await runCli(['doctor', database.url, '--json', '--ram', '2GB', '--cores', '1']);
			const fixed = JSON.parse(after.stdout) as DoctorJson;
			expect(statusOf(fixed, 'table.logs.dead_tuples')).toBe('ok');
			expect(fixed.checks.filter(check => check.status === 'critical').map(check => check.id).sort()).toEqual([...serverCritical].sort());
			expect(after.code).toBe(serverCritical.length > 0 ? 2 : fixed.counts.warning > 0 ? 1 : 0);
		} finally {
			await client.query('ALTER TABLE logs RESET (autovacuum_vacuum_threshold)');
			await client.end();
		}
	});

	it('checks a server without new-api’s logs and says what is missing', async () => {
		const bare = await freshDatabase('doctor_bare');
		try {
			const result = await runCli(['doctor', bare.url, '--json']);
			const report = JSON.parse(result.stdout) as DoctorJson;
			expect([1, 2]).toContain(result.code);
			expect(statusOf(report, 'tables.unreadable') ?? statusOf(report, 'table.logs.missing')).toBe('warning');
			expect(statusOf(report, 'load.unreadable')).toBe('warning');
			expect(report.checks.some(check => check.id === 'connections.usage')).toBe(true);
		} finally {
			await bare.drop();
		}
	});
});
