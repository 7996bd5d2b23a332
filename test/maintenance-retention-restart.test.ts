// Retention when PostgreSQL goes away in the middle of it: a fast shutdown (stop) or a crash
// (SIGKILL of the postmaster and its processes, then crash recovery), on a server of the test's own with a fixed
// port and data folder, so the URL is the same after the restart. The batch in flight is held
// server-side at a known point: inside its DELETE (by a row trigger waiting on a gate), or inside
// its COMMIT after the commit is on disk (by a synchronous standby that does not exist: the
// backend waits for it with the transaction already committed, so the answer never comes). Every
// figure is recounted from the rows after the restart, never taken from the code under test.

import {chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';
import {applyRetentionOn, planRetentionOn} from '../source/maintenance/maintenance-jobs.js';
import {localMaintenance} from '../source/maintenance/maintenance-service.js';
import {openMaintenanceTarget, type MaintenanceTarget} from '../source/maintenance/maintenance-target.js';
import {RetentionStoppedError} from '../source/maintenance/retention-batches.js';
import type {RetentionPhase} from '../source/maintenance/retention-plan.js';
import {isAlive} from '../source/postgres/embedded/data-dir.js';
import {startEmbeddedPostgres, type EmbeddedPostgres, type EmbeddedPostgresOptions} from '../source/postgres/embedded/embedded-server.js';
import {stablePort} from './support/net.js';
import {TEST_POSTGRES_MAJORS} from './support/postgres-server.js';
import {CLI, runCli as runBuiltCli, type CliResult} from './support/run-cli.js';

// ---------------------------------------------------------------------------------------------
// A server of our own

/** The processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
	return readdirSync('/proc')
		.filter(name => /^\d+$/u.test(name))
		.filter(name => {
			try {
				const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
				return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
			} catch {
				return false; // gone meanwhile
			}
		})
		.map(Number);
}

/** Waits for `condition`, polling; fails with `what` after a generous deadline (not a timing assertion). */
async function until(what: string, condition: () => Promise<boolean> | boolean, deadlineMs = 60_000): Promise<void> {
	const end = Date.now() + deadlineMs;
	while (!(await condition())) {
		if (Date.now() > end) throw new Error(`gave up waiting: ${what}`);
		await new Promise(resolve => setTimeout(resolve, 20));
	}
}

interface OwnServer {
	readonly url: string;
	/** Ends the server: a fast shutdown, or SIGKILL of the postmaster and its processes. */
	down(how: 'stop' | 'kill'): Promise<void>;
	/** Starts it again on the same folder and port: the same URL. */
	up(): Promise<void>;
	restart(how: 'stop' | 'kill'): Promise<void>;
	/** A superuser connection whose own commits never wait for a standby. */
	connect(): Promise<pg.Client>;
	close(): Promise<void>;
}

async function ownServer(major?: number): Promise<OwnServer> {
	const base = mkdtempSync(join(tmpdir(), 'relaytop-retention-restart-'));
	chmodSync(base, 0o755); // the server runs as another OS user when we are root
	// The embedded default is synchronous_commit off; a server kept for data has it on, and the
	// absent standby below only holds commits that wait for it.
	const options: EmbeddedPostgresOptions = {dataDir: join(base, 'pg'), port: await stablePort(), persistent: true, settings: {synchronous_commit: 'on'}, ...(major === undefined ? {} : {major})};
	let server: EmbeddedPostgres = await startEmbeddedPostgres(options);
	const {url} = server;
	const clients: pg.Client[] = [];
	const own: OwnServer = {
		url,
		async down(how) {
			if (how === 'stop') {
				await server.stop();
				return;
			}
			// A crash of the whole server: the postmaster, then every process it started. Killed alone,
			// the postmaster leaves backends that run on until they notice (before PostgreSQL 12, a
			// backend asleep or waiting for a lock does not: it runs on to its statement_timeout).
			const left = childrenOf(server.pid);
			process.kill(server.pid, 'SIGKILL');
			for (const pid of left) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
			await server.stop(); // returns at once: releases the folder's lock
			// Until they are gone they hold the old server's shared memory, and a new one will not start.
			await until('the killed server’s processes to exit', () => left.every(pid => !isAlive(pid)));
		},
		async up() {
			server = await startEmbeddedPostgres(options);
			expect(server.url).toBe(url);
		},
		async restart(how) {
			await own.down(how);
			await own.up();
		},
		async connect() {
			const client = new pg.Client({connectionString: url});
			client.on('error', () => undefined);
			await client.connect();
			await client.query("SET synchronous_commit = 'local'");
			clients.push(client);
			return client;
		},
		async close() {
			for (const client of clients) await client.end().catch(() => undefined);
			await server.stop();
			rmSync(base, {recursive: true, force: true});
		},
	};
	return own;
}

// ---------------------------------------------------------------------------------------------
// The table, the gate, and what the rows say

/** A fixed cutoff second, in the past. */
const CUTOFF = Math.floor(Date.UTC(2025, 0, 1) / 1000);
const CUTOFF_ISO = new Date(CUTOFF * 1000).toISOString();

/**
 * new-api's logs with ids 1…`rows`: three in four old, the fourth at or after the cutoff (every
 * 400th exactly at it), and one row without a time. Old and kept rows share every batch's window.
 * `newer` gives the kept rows' times (SQL of the id `g`).
 */
async function createLogs(db: pg.Client, rows: number, cutoff = CUTOFF, newer = `${cutoff} + g % 400`): Promise<void> {
	await db.query('DROP TABLE IF EXISTS logs, retention_gate, sync_probe; DROP FUNCTION IF EXISTS retention_gate(); DROP SEQUENCE IF EXISTS retention_gate_reached');
	await db.query(NEWAPI_LOGS_POSTGRES_DDL);
	await db.query(
		`INSERT INTO logs (id, user_id, created_at, type, content, username, model_name)
		SELECT g, g % 7, CASE WHEN g % 4 = 0 THEN ${newer} ELSE $1::bigint - 100000 + g END, 2, 'request ' || g, 'u' || (g % 7), 'gpt-4o'
		FROM generate_series(1, $2::int) g`,
		[cutoff, rows],
	);
	await db.query("INSERT INTO logs (id, user_id, created_at, type, content) VALUES ($1, 1, NULL, 2, 'no time')", [rows + 1]);
	await db.query('ANALYZE logs');
}

/**
 * A row trigger that holds the DELETE reaching row `holdId` until the gate opens, and says it got
 * there through a sequence (seen by other sessions at once, whatever the transaction does).
 */
async function holdAt(db: pg.Client, holdId: number): Promise<void> {
	await db.query(`CREATE SEQUENCE retention_gate_reached;
CREATE TABLE retention_gate (hold_id bigint, open boolean NOT NULL);
CREATE FUNCTION retention_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.id = (SELECT hold_id FROM retention_gate) THEN
		PERFORM setval('retention_gate_reached', 1);
		WHILE NOT (SELECT open FROM retention_gate) LOOP
			PERFORM pg_sleep(0.01);
		END LOOP;
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER retention_gate BEFORE DELETE ON logs FOR EACH ROW EXECUTE PROCEDURE retention_gate();`);
	await db.query('INSERT INTO retention_gate VALUES ($1, false)', [holdId]);
}

const heldAtGate = async (db: pg.Client): Promise<boolean> => (await db.query<{is_called: boolean}>('SELECT is_called FROM retention_gate_reached')).rows[0]!.is_called;

const maintenanceWaits = async (db: pg.Client, event: string): Promise<boolean> =>
	(await db.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'relaytop maintenance' AND wait_event = $1", [event])).rows.length > 0;

/**
 * Makes every commit on disk wait for a synchronous standby that never comes, proves it with a
 * probe whose commit waits, then lets the held batch go on: its COMMIT is written, then waits.
 */
async function holdCommit(server: OwnServer, db: pg.Client): Promise<void> {
	await db.query('CREATE TABLE sync_probe (n int)');
	await db.query("ALTER SYSTEM SET synchronous_standby_names = 'relaytop_absent_standby'");
	await db.query('SELECT pg_reload_conf()');
	const probe = await server.connect();
	await probe.query("SET synchronous_commit = 'on'");
	const {pid} = (await probe.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!;
	// The reload reaches the server's processes a moment later: insert until one commit waits.
	void (async () => {
		for (;;) {
			const waited = await probe.query('INSERT INTO sync_probe VALUES (1)').then(() => false, () => true);
			if (waited) return;
		}
	})();
	await until('a commit waiting for the absent standby', async () => (await db.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = $2', [pid, 'SyncRep'])).rows.length > 0);
	await db.query('UPDATE retention_gate SET open = true');
	await until('the held batch to commit and wait for the standby', () => maintenanceWaits(db, 'SyncRep'));
}

/** Back to no standby: the setting outlives the restart (postgresql.auto.conf). */
async function releaseCommits(db: pg.Client): Promise<void> {
	await db.query('ALTER SYSTEM RESET synchronous_standby_names');
	await db.query('SELECT pg_reload_conf()');
}

const count = async (db: pg.Client, sql: string): Promise<number> => Number((await db.query<{n: string}>(sql)).rows[0]!.n);
const oldRows = (db: pg.Client) => count(db, `SELECT count(*) AS n FROM logs WHERE created_at < ${CUTOFF}`);

/** Every row the cutoff keeps (at or after it, or without a time), whole: a digest of them all and their count. */
async function keptRows(db: pg.Client): Promise<{rows: number; digest: string}> {
	const {rows: [kept]} = await db.query<{rows: string; digest: string}>(
		`SELECT count(*) AS rows, md5(string_agg(l::text, '|' ORDER BY id)) AS digest FROM logs l WHERE (created_at < ${CUTOFF}) IS NOT TRUE`,
	);
	return {rows: Number(kept!.rows), digest: kept!.digest};
}

/** Old rows with ids up to `id`, by the layout of createLogs. */
const oldUpTo = (id: number): number => id - Math.floor(id / 4);

// ---------------------------------------------------------------------------------------------
// The library, on each PostgreSQL major

const BATCH = 200;
const ROWS = 8000;
/** The sixth batch: ids 1001–1200. Five batches are committed when it is held. */
const HELD_BATCH = {first: 1001, last: 1200, holdId: 1101};

const SCENARIOS = [
	{how: 'stop', when: 'deleting'},
	{how: 'kill', when: 'deleting'},
	{how: 'stop', when: 'committing'},
	{how: 'kill', when: 'committing'},
] as const;

describe.each(TEST_POSTGRES_MAJORS)('PostgreSQL %i goes away in the middle of a retention run', major => {
	let server: OwnServer;
	let admin: pg.Client;
	const targets: MaintenanceTarget[] = [];
	const target = async () => {
		const opened = await openMaintenanceTarget(server.url);
		targets.push(opened);
		return opened;
	};

	beforeAll(async () => {
		server = await ownServer(major);
	});
	afterAll(async () => {
		for (const opened of targets) await opened.close();
		await server?.close();
	});

	it.each(SCENARIOS)('$how during a batch’s $when: the report is exactly what committed; resuming deletes the rest and nothing newer', {timeout: 180_000}, async ({how, when}) => {
		admin = await server.connect();
		await createLogs(admin, ROWS);
		await holdAt(admin, HELD_BATCH.holdId);
		const oldBefore = await oldRows(admin);
		const keptBefore = await keptRows(admin);
		expect(oldBefore).toBe(oldUpTo(ROWS));

		const job = await target();
		const plan = await planRetentionOn(job, {cutoff: CUTOFF_ISO});
		expect(plan).toMatchObject({cutoffValue: CUTOFF, rows: oldBefore, minId: 1});
		const phases: RetentionPhase[] = [];
		const run = applyRetentionOn(job, plan, {batchSize: BATCH, onProgress: progress => phases.push(progress.phase)}).then(
			() => new Error('the run went through'),
			(error: unknown) => error,
		);
		await until('the sixth batch to reach the held row', () => heldAtGate(admin));
		if (when === 'committing') await holdCommit(server, admin);
		await server.restart(how);

		admin = await server.connect();
		if (when === 'committing') await releaseCommits(admin);
		const error = await run;
		expect(error).toBeInstanceOf(RetentionStoppedError);
		const {stop, message} = error as RetentionStoppedError;
		const oldAfter = await oldRows(admin);
		// Exactly what is gone, recounted from the rows; and the batch in flight went whole or not at all.
		expect(stop.deleted).toBe(oldBefore - oldAfter);
		expect(oldBefore - oldAfter).toBe(oldUpTo(when === 'committing' ? HELD_BATCH.last : HELD_BATCH.first - 1));
		expect(stop.inDoubt).toBe(0);
		expect(await keptRows(admin)).toEqual(keptBefore);
		expect(stop).toMatchObject({kind: 'lost', cutoffIso: CUTOFF_ISO, deletesDone: false, during: `the batch of ids ${HELD_BATCH.first}–${HELD_BATCH.last}`});
		expect(stop.inFlight).toEqual(when === 'committing' ? {rows: oldUpTo(HELD_BATCH.last) - oldUpTo(HELD_BATCH.first - 1), outcome: 'committed', confirmed: true} : {rows: null, outcome: 'rolled back', confirmed: false});
		expect(phases.includes('confirming')).toBe(when === 'committing');
		const committed = when === 'committing' ? '(the last batch confirmed committed after reconnecting)' : '(the batch in flight rolled back)';
		expect(message).toMatch(
			new RegExp(`^retention stopped: PostgreSQL went away during the batch of ids ${HELD_BATCH.first}–${HELD_BATCH.last} \\([^)]+\\); ${(oldBefore - oldAfter).toLocaleString('en-US')} rows deleted and committed ${committed.replace(/[()]/gu, '\\$&')}; run again with --cutoff ${CUTOFF_ISO} to resume$`, 'u'),
		);

		await admin.query('DROP TRIGGER retention_gate ON logs');
		const again = await target();
		const resumedPlan = await planRetentionOn(again, {cutoff: stop.cutoffIso});
		expect(resumedPlan).toMatchObject({cutoffValue: CUTOFF, rows: oldAfter});
		const resumed = await applyRetentionOn(again, resumedPlan, {batchSize: BATCH});
		expect(resumed).toMatchObject({status: 'done', deleted: oldAfter});
		expect(await oldRows(admin)).toBe(0);
		expect(await keptRows(admin)).toEqual(keptBefore);
	});

	it('a server that stays away past the wait: the report keeps what is certain apart from the batch in doubt', {timeout: 180_000}, async () => {
		admin = await server.connect();
		await createLogs(admin, ROWS);
		await holdAt(admin, HELD_BATCH.holdId);
		const oldBefore = await oldRows(admin);
		const keptBefore = await keptRows(admin);
		const job = await target();
		const plan = await planRetentionOn(job, {cutoff: CUTOFF_ISO});
		const run = applyRetentionOn(job, plan, {batchSize: BATCH, confirmWaitMs: 1000}).then(
			() => new Error('the run went through'),
			(error: unknown) => error,
		);
		await until('the sixth batch to reach the held row', () => heldAtGate(admin));
		await holdCommit(server, admin);
		await server.down('stop');
		// The run gives up asking while the server is down; only then does it come back.
		const error = await run;
		await server.up();
		admin = await server.connect();
		await releaseCommits(admin);

		expect(error).toBeInstanceOf(RetentionStoppedError);
		const {stop, message} = error as RetentionStoppedError;
		const inFlight = oldUpTo(HELD_BATCH.last) - oldUpTo(HELD_BATCH.first - 1);
		expect(stop).toMatchObject({kind: 'lost', deleted: oldUpTo(HELD_BATCH.first - 1), inDoubt: inFlight, inFlight: {rows: inFlight, outcome: 'unknown', confirmed: false}});
		expect(message).toContain(`; ${stop.deleted.toLocaleString('en-US')} rows deleted and committed, ${inFlight} more in doubt (the batch in flight may have committed: the server could not be asked in time); run again with --cutoff ${CUTOFF_ISO} to resume`);
		// It had committed: what is gone is what was certain plus the batch in doubt, nothing more.
		expect(oldBefore - (await oldRows(admin))).toBe(stop.deleted + stop.inDoubt);
		expect(await keptRows(admin)).toEqual(keptBefore);
	});
});

// ---------------------------------------------------------------------------------------------
// The CLI and the dashboard's service

describe('relaytop maintain retention, and the maintenance panel, when PostgreSQL is killed', () => {
	let server: OwnServer;
	const targets: MaintenanceTarget[] = [];

	beforeAll(async () => {
		if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
		server = await ownServer();
	});
	afterAll(async () => {
		for (const opened of targets) await opened.close();
		await server?.close();
	});

	/** No DATABASE_URL from the shell; the guard kills a hung child within the test's 180 s, so it fails with what was printed. */
	const runCli = (args: readonly string[]): Promise<CliResult> => runBuiltCli(args, {env: {DATABASE_URL: undefined}, guardMs: 170_000});

	it('the CLI: one line with exactly what committed and the --cutoff to resume, --json the same as an object; the rerun finishes', {timeout: 180_000}, async () => {
		const admin = await server.connect();
		await createLogs(admin, ROWS);
		await holdAt(admin, HELD_BATCH.holdId);
		const oldBefore = await oldRows(admin);
		const keptBefore = await keptRows(admin);
		const password = decodeURIComponent(new URL(server.url).password);

		const cli = runCli(['maintain', 'retention', server.url, '--cutoff', CUTOFF_ISO, '--apply', '--batch', String(BATCH), '--json']);
		await until('the sixth batch to reach the held row', () => heldAtGate(admin));
		await holdCommit(server, admin);
		await server.restart('kill');
		const again = await server.connect();
		await releaseCommits(again);
		const {code, stdout, stderr} = await cli;

		const oldAfter = await oldRows(again);
		expect(oldBefore - oldAfter).toBe(oldUpTo(HELD_BATCH.last));
		expect(code, stderr).toBe(1);
		// The plan's text first (as with every --apply), then the report as JSON.
		const report = JSON.parse(stdout.slice(stdout.search(/^\{$/mu))) as Record<string, unknown>;
		expect(report).toMatchObject({status: 'stopped', kind: 'lost', deleted: oldBefore - oldAfter, inDoubt: 0, cutoffIso: CUTOFF_ISO, inFlight: {outcome: 'committed', confirmed: true}});
		const last = stderr.trim().split('\n').at(-1)!;
		expect(last).toMatch(
			new RegExp(`^relaytop: retention stopped: PostgreSQL went away during the batch of ids 1001–1200 \\([^)]+\\); ${(oldBefore - oldAfter).toLocaleString('en-US')} rows deleted and committed \\(the last batch confirmed committed after reconnecting\\); run again with --cutoff ${CUTOFF_ISO} to resume$`, 'u'),
		);
		expect(report.message).toBe(last.slice('relaytop: '.length));
		expect(stdout + stderr).not.toContain(password);
		expect(await keptRows(again)).toEqual(keptBefore);

		await again.query('DROP TRIGGER retention_gate ON logs');
		const resumed = await runCli(['maintain', 'retention', server.url, '--cutoff', CUTOFF_ISO, '--apply', '--batch', String(BATCH)]);
		expect(resumed.code, resumed.stderr).toBe(0);
		expect(resumed.stdout).toMatch(new RegExp(`^done: deleted ${oldAfter.toLocaleString('en-US')} rows in `, 'mu'));
		expect(await oldRows(again)).toBe(0);
		expect(await keptRows(again)).toEqual(keptBefore);
	});

	it('the panel: one line with what committed and that D resumes; its next dry run keeps the stopped cutoff, however late it is', {timeout: 180_000}, async () => {
		const KEEP_MS = 30 * 86_400_000;
		const second = () => Math.floor((Date.now() - KEEP_MS) / 1000);
		// The panel's window is relative to now, and its batches are 5,000 ids: kept rows a few seconds
		// after the cutoff, which a cutoff moved on by the time of the resume would take.
		const cutoffNow = second();
		const rows = 30_000;
		const admin = await server.connect();
		await createLogs(admin, rows, cutoffNow, `${cutoffNow + 2} + (g / 4) % 4`);
		await holdAt(admin, 12_001); // in the third batch, ids 10001–15000
		const kept = async (db: pg.Client) => (await db.query<{digest: string}>(`SELECT md5(string_agg(l::text, '|' ORDER BY id)) AS digest FROM logs l WHERE (created_at < ${cutoffNow}) IS NOT TRUE`)).rows[0]!.digest;
		const keptBefore = await kept(admin);
		const old = async (db: pg.Client) => count(db, `SELECT count(*) AS n FROM logs WHERE created_at < ${cutoffNow}`);
		const oldBefore = await old(admin);

		const opened = await openMaintenanceTarget(server.url);
		targets.push(opened);
		const service = localMaintenance(opened);
		const {plan} = await service.overview('30d');
		expect(plan).not.toBeNull();
		expect(plan!.rows).toBe(oldBefore);
		const lines: string[] = [];
		const outcome = service.run({kind: 'retention', plan: plan!}, line => lines.push(line), new AbortController().signal);
		await until('the third batch to reach the held row', () => heldAtGate(admin));
		await holdCommit(server, admin);
		await server.restart('kill');
		const again = await server.connect();
		await releaseCommits(again);
		const {ok, text} = await outcome;

		const oldAfter = await old(again);
		expect(oldBefore - oldAfter).toBe(oldUpTo(15_000));
		expect(ok).toBe(false);
		const [first, ...rest] = text.split('\n');
		expect(first).toBe(`stopped: PostgreSQL went away; ${(oldBefore - oldAfter).toLocaleString('en-US')} rows deleted and committed; D resumes at the same cutoff`);
		expect(rest).toEqual([expect.stringMatching(/^ {2}PostgreSQL went away during the batch of ids 10001–15000 \(.+\); the last batch confirmed committed after reconnecting$/u)]);
		expect(lines).toContainEqual(`connection lost during a COMMIT · ${oldUpTo(10_000).toLocaleString('en-US')} rows committed before it · waiting for the server to confirm that batch…`);

		// Later, the window's cutoff has moved past the kept rows; the panel's dry run stays at the stopped one.
		await until('the clock to move the 30-day cutoff past the kept rows', () => second() > cutoffNow + 5);
		const resumed = await service.overview('30d');
		expect(resumed.plan).toMatchObject({cutoffIso: plan!.cutoffIso, rows: oldAfter});
		expect((await service.overview('14d')).plan!.cutoffIso).not.toBe(plan!.cutoffIso);
		await again.query('DROP TRIGGER retention_gate ON logs');
		// What D runs, on a maintenance connection opened afresh.
		const job = await openMaintenanceTarget(server.url);
		targets.push(job);
		expect(await applyRetentionOn(job, resumed.plan!, {})).toMatchObject({status: 'done', deleted: oldAfter});
		expect(await old(again)).toBe(0);
		expect(await kept(again)).toBe(keptBefore);
	});
});
