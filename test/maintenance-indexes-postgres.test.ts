import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {quoteIdent, type IndexBuildProgress, type IndexProposal} from '../source/maintenance/index-advisor.js';
import {adviseIndexes, applyProposal, repairIndex} from '../source/maintenance/index-maintenance.js';
import {openMaintenanceClient} from '../source/maintenance/maintenance-connection.js';
import type {PostgresIndexTarget} from '../source/maintenance/postgres-index-advisor.js';
import {freshDatabase, freshDatabaseOn, testPostgres, testPostgresVersion} from './support/postgres-server.js';

// The index advisor on a real server. Each test has a schema of its own with a `logs` table holding
// an index set found in the field; outcomes are read from pg_index by the test, not by the advisor.

const ROWS = 20_000;
const MAINTENANCE_LIMITS = {lockTimeoutMs: 1000, statementTimeoutMs: 30_000};

interface Server {
	readonly url: string;
	readonly versionNum: number;
	readonly admin: pg.Client;
	/** Like the dashboard's observer: application_name relaytop, read-only transactions. */
	readonly observer: pg.Client;
}

const opened: pg.Client[] = [];
const drops: Array<() => Promise<void>> = [];

afterAll(async () => {
	await Promise.all(opened.map(async client => client.end().catch(() => undefined)));
	for (const drop of drops) await drop();
});

async function connect(url: string, applicationName: string, extra: pg.ClientConfig = {}): Promise<pg.Client> {
	const client = new pg.Client({connectionString: url, application_name: applicationName, ...extra});
	client.on('error', () => undefined); // sessions terminated on purpose
	await client.connect();
	opened.push(client);
	return client;
}

async function serverFrom(database: {url: string; drop: () => Promise<void>}, versionNum: number): Promise<Server> {
	drops.push(database.drop);
	return {
		url: database.url,
		versionNum,
		admin: await connect(database.url, 'index-test-admin'),
		observer: await connect(database.url, 'relaytop', {statement_timeout: 10_000, options: '-c default_transaction_read_only=on'}),
	};
}

async function maintenanceClient(server: Server): Promise<pg.Client> {
	const client = await openMaintenanceClient({connectionString: server.url}, MAINTENANCE_LIMITS);
	opened.push(client);
	return client;
}

type IndexSet = 'upstream' | 'one-api';

/**
 * A `logs` table (renamed to `table`) in a new schema: upstream new-api's DDL, or that of an old one-api
 * database (idx_created_at_id on (id, created_at), no (created_at, type), no (user_id, id)).
 */
async function makeLogs(server: Server, schema: string, set: IndexSet, table = 'logs'): Promise<PostgresIndexTarget> {
	const {admin} = server;
	await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
	await admin.query(`SET search_path TO ${quoteIdent(schema)}`);
	await admin.query(NEWAPI_LOGS_POSTGRES_DDL);
	if (set === 'one-api') {
		await admin.query('DROP INDEX idx_created_at_id; DROP INDEX idx_created_at_type; DROP INDEX idx_user_id_id');
		await admin.query('CREATE INDEX idx_created_at_id ON logs (id, created_at)');
	}
	await admin.query(
		`INSERT INTO logs (user_id, created_at, type, username, model_name, quota, prompt_tokens, completion_tokens, channel_id)
		SELECT i % 50, 1790000000 + i, CASE WHEN i % 17 = 0 THEN 5 ELSE 2 END, 'user' || (i % 50), 'gpt-4o', i, 10, 20, i % 3
		FROM generate_series(1, ${ROWS}) AS i`,
	);
	if (table !== 'logs') await admin.query(`ALTER TABLE logs RENAME TO ${quoteIdent(table)}`);
	await admin.query(`ANALYZE ${quoteIdent(table)}`);
	await admin.query('RESET search_path');
	return {engine: 'postgres', observer: server.observer, schema, table};
}

interface CatalogIndex {
	valid: boolean;
	ready: boolean;
	columns: string[];
}

/** pg_index of the table, by index name: validity and key columns. */
async function catalog(server: Server, target: PostgresIndexTarget): Promise<Map<string, CatalogIndex>> {
	const {rows} = await server.admin.query<CatalogIndex & {name: string}>(
		`SELECT c.relname AS name, i.indisvalid AS valid, i.indisready AS ready,
			ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = (SELECT t.oid FROM pg_class t JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = $1 AND t.relname = $2)`,
		[target.schema, target.table],
	);
	return new Map(rows.map(({name, ...index}) => [name, index]));
}

async function waitFor<T>(read: () => Promise<T> | T, done: (value: T) => boolean, what: string): Promise<T> {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const value = await read();
		if (done(value)) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 1000)}`);
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}

/** A session holding a snapshot (no lock on logs): a concurrent build waits for it before it can finish. */
async function holdSnapshot(server: Server): Promise<{pid: number; release: () => Promise<void>}> {
	const client = await connect(server.url, 'index-test-holder');
	await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
	const {rows} = await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid');
	return {pid: rows[0]!.pid, release: async () => void (await client.query('COMMIT'))};
}

/** The maintenance backend once it waits on another transaction (pg_stat_activity, any version). */
const waitingBuilder = async (server: Server): Promise<number> => {
	const rows = await waitFor(
		async () =>
			(
				await server.admin.query<{pid: number}>(
					"SELECT pid FROM pg_stat_activity WHERE application_name = 'relaytop maintenance' AND wait_event_type = 'Lock' AND wait_event = 'virtualxid'",
				)
			).rows,
		found => found.length === 1,
		'the build to wait for the held snapshot',
	);
	return rows[0]!.pid;
};

const oldSnapshotsPhase = (holderPid: number) => (progress: IndexBuildProgress[]) =>
	progress.some(update => update.phase === 'waiting for old snapshots' && update.currentLockerPid === holderPid);

/**
 * Starts building `proposal`, holds it in its wait for an older snapshot, checks the advisor sees a
 * build in progress, then terminates the building backend.
 */
async function terminateHalfWay(server: Server, target: PostgresIndexTarget, proposal: IndexProposal) {
	const holder = await holdSnapshot(server);
	const progress: IndexBuildProgress[] = [];
	const running = applyProposal({...target, maintenance: await maintenanceClient(server)}, proposal, {onProgress: update => progress.push(update)});
	running.catch(() => undefined); // awaited below, unless an expectation fails first
	try {
		const builder = await waitingBuilder(server);
		if (server.versionNum >= 120_000) await waitFor(() => progress, oldSnapshotsPhase(holder.pid), 'the progress of the waiting build');
		const during = await adviseIndexes(target);
		expect(during.building).toEqual([proposal.name]);
		expect(during.proposals.map(each => each.name)).not.toContain(proposal.name);
		expect(during.repairs.map(repair => repair.index)).not.toContain(proposal.name);
		expect(during.verdicts.find(verdict => verdict.need === proposal.need)!.status).toBe('building');
		await server.admin.query('SELECT pg_terminate_backend($1)', [builder]);
		return await running;
	} finally {
		await holder.release();
	}
}

/** Two builds terminated half-way leave INVALID indexes; the advisor repairs them (REINDEX where it can) and they end valid. */
async function terminatedBuildsAreRepaired(server: Server, schema: string): Promise<void> {
	const target = await makeLogs(server, schema, 'one-api');
	const proposals = (await adviseIndexes(target)).proposals;
	expect(proposals.map(proposal => proposal.name)).toEqual(['idx_created_at_type', 'idx_user_id_id']);
	for (const proposal of proposals) {
		const result = await terminateHalfWay(server, target, proposal);
		expect(result).toMatchObject({index: proposal.name, status: 'failed', valid: false, leftovers: [proposal.name], dropped: []});
		expect(result.error).toMatch(/terminat/u);
		expect((await catalog(server, target)).get(proposal.name)).toEqual({valid: false, ready: true, columns: proposal.columns});
	}

	const advice = await adviseIndexes(target);
	expect(advice.proposals).toEqual([]);
	expect(advice.verdicts.map(verdict => verdict.status)).toEqual(['invalid-only', 'invalid-only']);
	const reindex = server.versionNum >= 120_000;
	expect(advice.repairs.map(repair => [repair.index, repair.options.map(option => option.kind)])).toEqual(
		proposals.map(proposal => [proposal.name, reindex ? ['drop-and-rebuild', 'reindex'] : ['drop-and-rebuild']]),
	);

	const kinds = [reindex ? 'reindex' : 'drop-and-rebuild', 'drop-and-rebuild'] as const;
	for (const [position, repair] of advice.repairs.entries()) {
		const result = await repairIndex({...target, maintenance: await maintenanceClient(server)}, repair, kinds[position]!);
		expect(result).toMatchObject({index: repair.index, status: 'done', valid: true, leftovers: [], error: null});
		expect(result.statements).toEqual(repair.options.find(option => option.kind === kinds[position])!.sql);
	}
	const indexes = await catalog(server, target);
	for (const proposal of proposals) expect(indexes.get(proposal.name)).toEqual({valid: true, ready: true, columns: proposal.columns});
	expect(await adviseIndexes(target)).toMatchObject({proposals: [], repairs: [], building: []});
}

describe('index advisor on PostgreSQL', () => {
	let server: Server;
	beforeAll(async () => {
		const {versionNum} = await testPostgres();
		server = await serverFrom(await freshDatabase('relaytop_indexes'), versionNum);
	});

	it('proposes nothing for the upstream new-api set, and reads the table size', async () => {
		const target = await makeLogs(server, 'upstream', 'upstream');
		const advice = await adviseIndexes(target);
		expect(advice).toMatchObject({engine: 'postgres', schema: 'upstream', table: 'logs', proposals: [], repairs: [], building: [], rows: ROWS});
		const {rows} = await server.admin.query<{heap: string; total: string}>("SELECT pg_relation_size('upstream.logs') AS heap, pg_total_relation_size('upstream.logs') AS total");
		expect(advice.tableBytes).toBe(Number(rows[0]!.heap));
		expect(advice.totalBytes).toBe(Number(rows[0]!.total));
	});

	it('proposes (created_at, type) and (user_id, id) for a one-api database; applied, they are valid and nothing more is proposed', async () => {
		const target = await makeLogs(server, 'one_api', 'one-api');
		const advice = await adviseIndexes(target);
		expect(advice.proposals.map(({name, sql}) => ({name, sql}))).toEqual([
			{name: 'idx_created_at_type', sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type" ON "one_api"."logs" ("created_at", "type")'},
			{name: 'idx_user_id_id', sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_user_id_id" ON "one_api"."logs" ("user_id", "id")'},
		]);
		expect(advice.proposals.every(proposal => proposal.estimateSeconds >= 1)).toBe(true);
		const maintenance = await maintenanceClient(server);
		for (const proposal of advice.proposals) {
			const result = await applyProposal({...target, maintenance}, proposal);
			expect(result).toMatchObject({index: proposal.name, status: 'done', valid: true, statements: [proposal.sql], leftovers: [], dropped: [], error: null});
		}
		const indexes = await catalog(server, target);
		expect(indexes.get('idx_created_at_type')).toEqual({valid: true, ready: true, columns: ['created_at', 'type']});
		expect(indexes.get('idx_user_id_id')).toEqual({valid: true, ready: true, columns: ['user_id', 'id']});
		expect(await adviseIndexes(target)).toMatchObject({proposals: [], repairs: []});
		// The job's timeouts were lifted for the build only.
		const settings = await maintenance.query<{statement_timeout: string; lock_timeout: string}>(
			"SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout",
		);
		expect(settings.rows[0]).toEqual({statement_timeout: '30s', lock_timeout: '1s'});
	});

	it("waits for an older transaction longer than the connection's timeouts and still ends valid", async () => {
		const target = await makeLogs(server, 'slow_wait', 'one-api');
		const [proposal] = (await adviseIndexes(target)).proposals;
		const maintenance = await openMaintenanceClient({connectionString: server.url}, {lockTimeoutMs: 300, statementTimeoutMs: 1000});
		opened.push(maintenance);
		const holder = await holdSnapshot(server);
		const running = applyProposal({...target, maintenance}, proposal!);
		running.catch(() => undefined);
		try {
			await waitingBuilder(server);
			await new Promise(resolve => setTimeout(resolve, 2000));
		} finally {
			await holder.release();
		}
		expect(await running).toMatchObject({status: 'done', valid: true, error: null});
		expect((await catalog(server, target)).get(proposal!.name)).toEqual({valid: true, ready: true, columns: ['created_at', 'type']});
	});

	it('gives the proposal another name when an index has its name on other columns', async () => {
		const target = await makeLogs(server, 'name_clash', 'one-api');
		await server.admin.query('CREATE INDEX idx_created_at_type ON name_clash.logs (type, created_at)');
		const [proposal] = (await adviseIndexes(target)).proposals;
		expect(proposal).toMatchObject({name: 'idx_created_at_type_2', columns: ['created_at', 'type']});
		expect((await applyProposal({...target, maintenance: await maintenanceClient(server)}, proposal!)).status).toBe('done');
		const indexes = await catalog(server, target);
		expect(indexes.get('idx_created_at_type_2')).toEqual({valid: true, ready: true, columns: ['created_at', 'type']});
		expect(indexes.get('idx_created_at_type')!.columns).toEqual(['type', 'created_at']);
	});

	it('quotes schema and table names holding quotes and spaces', async () => {
		const target = await makeLogs(server, 'odd "gate" schema', 'one-api', 'my "logs" table');
		const advice = await adviseIndexes(target);
		expect(advice.proposals[0]!.sql).toBe('CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type" ON "odd ""gate"" schema"."my ""logs"" table" ("created_at", "type")');
		const maintenance = await maintenanceClient(server);
		for (const proposal of advice.proposals) expect((await applyProposal({...target, maintenance}, proposal)).status).toBe('done');
		const indexes = await catalog(server, target);
		expect([indexes.get('idx_created_at_type')?.valid, indexes.get('idx_user_id_id')?.valid]).toEqual([true, true]);
	});

	it('detects and repairs the INVALID index a build terminated half-way leaves, both ways', async () => {
		await terminatedBuildsAreRepaired(server, 'terminated');
	});

	it('cancels a build on abort and drops what it left, reporting its progress until then', async () => {
		const target = await makeLogs(server, 'aborted', 'one-api');
		const [proposal] = (await adviseIndexes(target)).proposals;
		const holder = await holdSnapshot(server);
		const maintenance = await maintenanceClient(server);
		const controller = new AbortController();
		const progress: IndexBuildProgress[] = [];
		const running = applyProposal({...target, maintenance}, proposal!, {signal: controller.signal, onProgress: update => progress.push(update)});
		running.catch(() => undefined);
		let result;
		try {
			await waitingBuilder(server);
			if (server.versionNum >= 120_000) await waitFor(() => progress, oldSnapshotsPhase(holder.pid), 'the progress of the waiting build');
			controller.abort();
			result = await running;
		} finally {
			await holder.release();
		}
		expect(result).toMatchObject({index: proposal!.name, status: 'aborted', valid: false, statements: [proposal!.sql], dropped: [proposal!.name], leftovers: [], error: null});
		expect((await catalog(server, target)).has(proposal!.name)).toBe(false);
		const leftover = await server.admin.query("SELECT 1 FROM pg_class WHERE relname = $1 AND relnamespace = 'aborted'::regnamespace", [proposal!.name]);
		expect(leftover.rowCount).toBe(0);
		expect((await adviseIndexes(target)).proposals.map(each => each.name)).toContain(proposal!.name);
	});
});

describe('index advisor on PostgreSQL 10 (no progress view, no REINDEX CONCURRENTLY)', () => {
	let server: Server;
	beforeAll(async () => {
		const old = await testPostgresVersion(10);
		server = await serverFrom(await freshDatabaseOn(old, 'relaytop_indexes_10'), old.versionNum);
	});

	it('tells a running build from a leftover by its lock, and repairs by dropping and building again', async () => {
		expect(Math.floor(server.versionNum / 10_000)).toBe(10);
		await terminatedBuildsAreRepaired(server, 'terminated');
	});
});
