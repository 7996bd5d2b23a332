// new-api on PostgreSQL as an operator meets it: the CLI on a real server, the observer's session
// rules, the separate logs database, and what a mistaken target prints.

import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres, NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {openSource} from '../source/sources/open-target.js';
import {PgSession} from '../source/sources/postgres/pg-session.js';
import {postgresConfig} from '../source/sources/postgres/pg-target.js';
import {sql} from '../source/sources/sql/fragment.js';
import {loadNewApi} from './support/newapi-oracle.js';
import {freshDatabase, withClient} from './support/postgres-server.js';
import {runCliSync} from './support/run-cli.js';

type Database = Awaited<ReturnType<typeof freshDatabase>>;
let main: Database;
let logs: Database;

/** The URL with a password in it, as an operator might paste it. */
const withPassword = (url: string, password: string) => {
	const parsed = new URL(url);
	parsed.password = password;
	return parsed.toString();
};

beforeAll(async () => {
	// The fixture in one database, and split as LOG_SQL_DSN splits it: logs alone in another.
	main = await freshDatabase('relaytop_newapi_main');
	logs = await freshDatabase('relaytop_newapi_logs');
	await withClient(main.url, client => loadNewApiIntoPostgres(client, fixturePath('newapi')));
	await withClient(logs.url, async client => {
		await client.query(NEWAPI_LOGS_POSTGRES_DDL);
	});
	// Copy logs across through the client: the two databases share no connection.
	const rows = await withClient(main.url, client => client.query('SELECT * FROM logs ORDER BY id'));
	await withClient(logs.url, async client => {
		const columns = rows.fields.map(field => `"${field.name}"`).join(', ');
		for (let start = 0; start < rows.rows.length; start += 1000) {
			const batch = rows.rows.slice(start, start + 1000);
			const values = batch.map((_, row) => `(${rows.fields.map((__, column) => `$${row * rows.fields.length + column + 1}`).join(', ')})`).join(', ');
			await client.query(`INSERT INTO logs (${columns}) VALUES ${values}`, batch.flatMap(row => rows.fields.map(field => row[field.name])));
		}
	});
	await withClient(main.url, client => client.query('DROP TABLE logs'));
});

afterAll(async () => {
	await main?.drop();
	await logs?.drop();
});

describe('observer session', () => {
	it('reads only, with a statement and a lock timeout and no parallel workers, as application relaytop', async () => {
		const session = new PgSession(postgresConfig(main.url));
		try {
			const settings = await session.one(
				sql("SELECT current_setting('application_name') AS app, current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt, current_setting('default_transaction_read_only') AS ro, current_setting('max_parallel_workers_per_gather') AS workers"),
			);
			expect(settings).toEqual({app: 'relaytop', st: '10s', lt: '1s', ro: 'on', workers: '0'});
			await expect(session.query('CREATE TABLE intruder (id int)')).rejects.toThrow(/read-only transaction/u);
		} finally {
			await session.close();
		}
	});

	it('reconnects on the next query after its connection is cut', async () => {
		const session = new PgSession(postgresConfig(main.url));
		try {
			const {pid} = await session.one(sql('SELECT pg_backend_pid() AS pid'));
			await withClient(main.url, client => client.query('SELECT pg_terminate_backend($1)', [pid]));
			await session.query('SELECT 1').catch(() => undefined); // may fail: the cut is noticed here
			const after = await session.one(sql('SELECT pg_backend_pid() AS pid'));
			expect(after.pid).not.toBe(pid);
		} finally {
			await session.close();
		}
	});
});

describe('separate logs database (LOG_SQL_DSN)', () => {
	it('reads logs from --logs-db and names from the main database', async () => {
		const fixture = loadNewApi(fixturePath('newapi'));
		const result = runCliSync([main.url, '--logs-db', logs.url, '--json', '--range', 'all', '--dimension', 'channel', '--page-size', '500']);
		expect(result.stderr).toBe('');
		expect(result.code).toBe(0);
		const snapshot = JSON.parse(result.stdout);
		expect(snapshot.source.kind).toBe('newapi-postgres');
		expect(snapshot.summary.total_requests).toBe(fixture.rows.length);
		// Channel names come from the main database's channels table.
		const labels = snapshot.accounts.items.map((item: {label: string}) => item.label);
		expect(labels).toEqual(expect.arrayContaining([...fixture.channels.values()].filter(name => labels.includes(name))));
		expect(labels.some((label: string) => [...fixture.channels.values()].includes(label))).toBe(true);
	});

	it('holds at most two connections, and says where logs are missing', async () => {
		const source = await openSource(main.url, {logsDb: logs.url});
		try {
			const query = {range: {startMs: null, endMs: Date.now()}, filters: {channel: 'openai-main'}};
			await source.summary(query);
			await source.apiKeys(query, {page: 1, pageSize: 10, sortKey: 'totalCalls', sortDirection: 'desc'});
			const count = await withClient(main.url, async client => {
				const {rows} = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'relaytop'");
				return rows[0].n as number;
			});
			expect(count).toBeLessThanOrEqual(2);
			expect(count).toBeGreaterThanOrEqual(1);
		} finally {
			await source.close();
		}
		const withoutLogs = runCliSync([main.url, '--json']);
		expect(withoutLogs.code).toBe(2);
		expect(withoutLogs.stderr).toMatch(/^relaytop: .*no "logs" table here; .*--logs-db\n$/u);
	});
});

describe('mistaken targets', () => {
	it('an unreachable server: one line, exit 1, no password', () => {
		const result = runCliSync(['postgres://observer:hunter2-secret@127.0.0.1:1/newapi', '--json']);
		expect(result.code).toBe(1);
		expect(result.stdout).toBe('');
		expect(result.stderr.split('\n')).toHaveLength(2); // one line and its newline
		expect(result.stderr).toContain('ECONNREFUSED');
		expect(result.stderr).toContain('postgres://observer:***@127.0.0.1:1/newapi');
		expect(result.stderr).not.toContain('hunter2-secret');
	});

	it('a wrong password or database: one line, no password', () => {
		const result = runCliSync([withPassword(`${main.url}_missing`, 'hunter2-secret'), '--json']);
		expect(result.code).toBe(1);
		// A server with trust authentication gets as far as the missing database; one that checks passwords stops there.
		expect(result.stderr).toMatch(/^relaytop: postgres:\/\/[^ ]*:\*\*\*@.*(?:does not exist|password authentication failed)[^\n]*\n$/u);
		expect(result.stderr).not.toContain('hunter2-secret');
	});

	it('--logs-db must be a PostgreSQL URL, next to a PostgreSQL target', () => {
		expect(runCliSync([main.url, '--logs-db', 'mysql://u:secretpw@h/db', '--json'])).toMatchObject({code: 2, stderr: expect.stringMatching(/^relaytop: --logs-db takes a postgres:\/\/ URL, got mysql:\/\/u:\*\*\*@h\/db\n$/u)});
		expect(runCliSync([fixturePath('newapi'), '--logs-db', logs.url, '--json'])).toMatchObject({code: 2, stderr: expect.stringContaining('--logs-db applies to a PostgreSQL target only')});
		expect(runCliSync(['--logs-db', logs.url, '--json'], {env: {DATABASE_URL: ''}})).toMatchObject({code: 2, stderr: expect.stringContaining('--logs-db goes with a postgres:// target')});
	});

	it('takes DATABASE_URL when no target is given', () => {
		const result = runCliSync(['--logs-db', logs.url, '--json', '--range', 'all'], {env: {DATABASE_URL: main.url}});
		expect(result.stderr).toBe('');
		expect(JSON.parse(result.stdout).source.kind).toBe('newapi-postgres');
	});
});

describe('the postgres section of --json', () => {
	it('describes the server, its sessions, the logs table and its indexes, without relaytop itself', async () => {
		const probes = await Promise.all(
			Array.from({length: 3}, async () => {
				const client = new pg.Client({connectionString: logs.url, application_name: 'json-probe'});
				await client.connect();
				return client;
			}),
		);
		try {
			// With logs apart, the PostgreSQL view watches the database of logs.
			const result = runCliSync([main.url, '--logs-db', logs.url, '--json', '--range', 'all']);
			expect(result.stderr).toBe('');
			const {postgres} = JSON.parse(result.stdout);
			const versionNum = await withClient(logs.url, async client => Number((await client.query("SELECT current_setting('server_version_num') AS v")).rows[0].v));
			expect(postgres.server).toMatchObject({version_num: versionNum, max_connections: expect.any(Number)});
			expect(postgres.connections.by_application).toContainEqual(expect.objectContaining({application_name: 'json-probe', total: 3}));
			expect(postgres.connections.by_application.map((application: {application_name: string}) => application.application_name)).not.toContain('relaytop');
			const live = await withClient(logs.url, async client => Number((await client.query('SELECT count(*) AS n FROM logs')).rows[0].n));
			expect(postgres.tables[0]).toMatchObject({name: 'logs', size_bytes: expect.any(Number)});
			expect(postgres.tables[0].n_live_tup).toBeGreaterThan(live * 0.9); // statistics, not a count
			const names = postgres.indexes.map((index: {name: string}) => index.name);
			expect(names).toEqual(expect.arrayContaining(['logs_pkey', 'idx_created_at_type', 'idx_created_at_id', 'idx_user_id_id']));
			expect(postgres.indexes.find((index: {name: string}) => index.name === 'idx_created_at_type')).toMatchObject({columns: ['created_at', 'type'], valid: true});
			expect(postgres.index_needs.map((need: {status: string}) => need.status)).toEqual(['served', 'served']);
			expect(postgres.database).toMatchObject({tps: expect.any(Number), cache_hit_ratio: expect.any(Number), deadlocks: 0});
			expect(postgres.activity.every((session: {application_name: string}) => session.application_name !== 'relaytop')).toBe(true);
			// The extension is preloaded but not created in this database: the panel says what to run.
			expect(postgres.server.database).toBe(logs.name);
			expect(postgres.statements.unavailable).toMatchObject({reason: 'extension-missing', hint: expect.stringContaining('CREATE EXTENSION pg_stat_statements')});
		} finally {
			await Promise.all(probes.map(client => client.end()));
		}
	});

	it('is left out for a SQLite target', () => {
		const result = runCliSync([fixturePath('newapi'), '--json']);
		expect(result.code).toBe(0);
		expect(JSON.parse(result.stdout)).not.toHaveProperty('postgres');
	});
});

describe('the PostgreSQL block of --once', () => {
	it('says how full the server is, who holds it, what blocks, the logs table and its indexes', async () => {
		const probes = await Promise.all(
			Array.from({length: 4}, async () => {
				const client = new pg.Client({connectionString: logs.url, application_name: 'once-probe'});
				await client.connect();
				return client;
			}),
		);
		try {
			const result = runCliSync([main.url, '--logs-db', logs.url, '--once', '--range', '1h']);
			expect(result.stderr).toBe('');
			const block = result.stdout.slice(result.stdout.indexOf('\nPOSTGRESQL\n'));
			expect(block).toMatch(/\nconnections \d+\/\d+ \([\d.]+%\) · active \d+ · idle \d+ · idle in transaction \d+ · waiting on a lock 0 · most from once-probe \(4\)\n/u);
			expect(block).toContain('0 sessions blocked · no session holds back the xmin horizon');
			expect(block).toMatch(/\nlogs · [\d.]+ MB · [\d,]+ live · [\d,]+ dead/u);
			expect(block).toContain('served: requests by time and type (rates, time ranges) by ');
		} finally {
			await Promise.all(probes.map(client => client.end()));
		}
		expect(runCliSync([fixturePath('newapi'), '--once']).stdout).not.toContain('POSTGRESQL');
	});
});
