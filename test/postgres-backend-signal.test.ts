import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {signalBackend, signalSqlShown, type SignalTarget} from '../source/postgres/backend-signal.js';
import {readBackends} from '../source/postgres/monitor/backends-query.js';
import {PgSession} from '../source/sources/postgres/pg-session.js';
import {freshDatabase, testPostgres} from './support/postgres-server.js';

// Cancel and terminate from the PostgreSQL view go through the monitor's own read-only session,
// guarded by pid, backend_start and query_start as they were on screen.

let database: Awaited<ReturnType<typeof freshDatabase>>;
let versionNum = 0;
let observer: PgSession;
const opened: pg.Client[] = [];
const role = `relaytop_signal_${process.pid}`;

async function connect(url = database.url): Promise<pg.Client> {
	const client = new pg.Client({connectionString: url, application_name: 'workload'});
	client.on('error', () => {}); // sessions terminated on purpose
	await client.connect();
	opened.push(client);
	return client;
}

const pidOf = async (client: pg.Client): Promise<number> => (await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

/** The session as the monitor shows it, polled until `ready` holds (a query just sent may not show yet). */
async function onScreen(pid: number, ready: (target: SignalTarget & {state: string | null}) => boolean = () => true): Promise<SignalTarget & {state: string | null}> {
	for (let attempt = 0; attempt < 100; attempt++) {
		const {backends} = await readBackends(observer, versionNum);
		const backend = backends.find(candidate => candidate.pid === pid);
		if (backend !== undefined && ready(backend)) return backend;
		await new Promise(resolve => setTimeout(resolve, 50));
	}
	throw new Error(`pid ${pid} never showed as expected`);
}

const errorCode = async (promise: Promise<unknown>): Promise<string | undefined> =>
	promise.then(
		() => undefined,
		(error: {code?: string}) => error.code ?? 'no code',
	);

beforeAll(async () => {
	database = await freshDatabase('relaytop_signal');
	versionNum = (await testPostgres()).versionNum;
	observer = new PgSession({connectionString: database.url, application_name: 'relaytop'});
	const admin = await connect();
	await admin.query(`DROP ROLE IF EXISTS ${role}`);
	await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'signal-test'`);
	// It sees every session (as the monitor's role should), but may not signal a superuser's.
	await admin.query(`GRANT pg_read_all_stats TO ${role}`);
});

afterAll(async () => {
	await observer?.close();
	for (const client of opened) await client.end().catch(() => undefined);
	const admin = new pg.Client({connectionString: (await testPostgres()).url});
	await admin.connect();
	await database?.drop();
	await admin.query(`DROP ROLE IF EXISTS ${role}`);
	await admin.end();
});

describe('signalBackend', () => {
	it('cancels the running query it was shown, from a read-only session', async () => {
		const worker = await connect();
		const pid = await pidOf(worker);
		const sleeping = errorCode(worker.query('SELECT pg_sleep(60)'));
		const target = await onScreen(pid, backend => backend.state === 'active');
		expect(await signalBackend(observer, 'cancel', target)).toEqual({kind: 'sent'});
		expect(await sleeping).toBe('57014'); // query_canceled
		// Cancel ends the query, not the session.
		expect((await worker.query<{one: number}>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
	});

	it('sends nothing when the query on screen has ended and the session runs another', async () => {
		const worker = await connect();
		const pid = await pidOf(worker);
		const first = errorCode(worker.query('SELECT pg_sleep(0.3)'));
		const stale = await onScreen(pid, backend => backend.state === 'active');
		expect(await first).toBeUndefined();
		const second = errorCode(worker.query('SELECT pg_sleep(1.5)'));
		await onScreen(pid, backend => backend.state === 'active' && backend.queryStart !== stale.queryStart);
		expect(await signalBackend(observer, 'cancel', stale)).toEqual({kind: 'gone'});
		expect(await signalBackend(observer, 'terminate', stale)).toEqual({kind: 'gone'});
		expect(await second).toBeUndefined(); // the newer query ran to its end
	});

	it('sends nothing to a pid whose session started at another time', async () => {
		const worker = await connect();
		const pid = await pidOf(worker);
		const target = await onScreen(pid);
		// The same pid, a session that started a microsecond earlier: another session, reusing it.
		const {rows} = await observer.query<{earlier: string}>("SELECT ($1::timestamptz - interval '1 microsecond')::text AS earlier", [target.backendStart]);
		const reused = {...target, backendStart: rows[0]!.earlier};
		expect(await signalBackend(observer, 'terminate', reused)).toEqual({kind: 'gone'});
		expect((await worker.query<{one: number}>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
	});

	it('terminates an idle-in-transaction session, releasing its locks', async () => {
		const holder = await connect();
		const pid = await pidOf(holder);
		await holder.query('CREATE TABLE IF NOT EXISTS signal_locked (id int)');
		await holder.query('BEGIN');
		await holder.query('LOCK TABLE signal_locked IN ACCESS EXCLUSIVE MODE');
		const target = await onScreen(pid, backend => backend.state === 'idle in transaction');
		expect(await signalBackend(observer, 'terminate', target)).toEqual({kind: 'sent'});
		const probe = await connect();
		await probe.query("SET lock_timeout = '5s'");
		await probe.query('BEGIN');
		await expect(probe.query('LOCK TABLE signal_locked IN ACCESS SHARE MODE')).resolves.toBeDefined();
		await probe.query('ROLLBACK');
		for (let attempt = 0; attempt < 100 && (await observerSees(pid)); attempt++) await new Promise(resolve => setTimeout(resolve, 50));
		expect(await observerSees(pid)).toBe(false);
	});

	it('explains a permission refusal and leaves the session running', async () => {
		const victim = await connect();
		const pid = await pidOf(victim);
		const sleeping = errorCode(victim.query('SELECT pg_sleep(1.5)'));
		const target = await onScreen(pid, backend => backend.state === 'active');
		const url = new URL(database.url);
		url.username = role;
		url.password = 'signal-test';
		const unprivileged = await connect(url.toString());
		const outcome = await signalBackend(unprivileged, 'cancel', target);
		expect(outcome.kind).toBe('refused');
		expect(outcome.kind === 'refused' && outcome.reason).toMatch(/pg_signal_backend/u);
		expect(await sleeping).toBeUndefined();
	});

	it('refuses, with the grant to ask for, a session its role cannot see', async () => {
		const victim = await connect();
		const pid = await pidOf(victim);
		const target = await onScreen(pid);
		const url = new URL(database.url);
		url.username = role;
		url.password = 'signal-test';
		const blind = await connect(url.toString());
		await blind.query('SET ROLE NONE');
		const admin = await connect();
		await admin.query(`REVOKE pg_read_all_stats FROM ${role}`);
		try {
			const outcome = await signalBackend(blind, 'terminate', target);
			expect(outcome).toMatchObject({kind: 'refused', reason: expect.stringMatching(/pg_read_all_stats/u)});
			expect((await victim.query<{one: number}>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
		} finally {
			await admin.query(`GRANT pg_read_all_stats TO ${role}`);
		}
	});

	it('refuses a hidden session without sending anything', async () => {
		const outcome = await signalBackend(observer, 'cancel', {pid: 1, backendStart: null, queryStart: null});
		expect(outcome).toMatchObject({kind: 'refused', reason: expect.stringMatching(/pg_read_all_stats/u)});
	});

	it('shows the exact guarded statement with its values', () => {
		const shown = signalSqlShown('terminate', {pid: 42, backendStart: "2026-11-22 17:51:36.031538+00", queryStart: null});
		expect(shown).toContain('pg_terminate_backend(a.pid)');
		expect(shown).toContain('a.pid = 42');
		expect(shown).toContain("a.backend_start = '2026-11-22 17:51:36.031538+00'::timestamptz");
		expect(shown).toContain('IS NOT DISTINCT FROM NULL::timestamptz');
		expect(shown).not.toMatch(/\$\d/u);
	});
});

async function observerSees(pid: number): Promise<boolean> {
	const {backends} = await readBackends(observer, versionNum);
	return backends.some(backend => backend.pid === pid);
}
