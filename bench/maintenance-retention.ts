import {setTimeout as sleep} from 'node:timers/promises';
import pg from 'pg';
import {openMaintenanceClient} from '../source/maintenance/maintenance-connection.js';
import {applyPostgresRetention, planPostgresRetention} from '../source/maintenance/retention-postgres.js';
import {DEFAULT_BATCH_SIZE} from '../source/maintenance/retention-batches.js';
import {columnCutoff, resolveCutoff} from '../source/maintenance/retention-cutoff.js';
import type {RetentionProgress, RetentionResult} from '../source/maintenance/retention-plan.js';
import {upstreamDdl} from './pg-logs-table.js';
import {longestMs, phaseOf, startWriter, type WriterPhase, type WriterRun} from './maintenance-latency.js';

// The retention half of the maintenance benchmark, on PostgreSQL: a throwaway copy of new-api's
// `logs` (schema maintenance_bench, upstream's DDL and 14 indexes, rows taken from the cached table
// and spread evenly over `spanDays` ending now; the cached table itself is never written), and:
// - relaytop's retention (planPostgresRetention / applyPostgresRetention on a maintenance connection:
//   lock_timeout 1 s, statement_timeout 30 s, default batch size), deleting the rows older than
//   `keep`; rows/s of the delete phase, VACUUM (ANALYZE) timed on its own;
// - the contrast, on a fresh copy: upstream new-api's cleanup on PostgreSQL, one unbounded
//   `DELETE FROM logs WHERE created_at < ?` (reference new-api-logs.md §2.3), given at most
//   `unboundedLimitS` (statement_timeout), then a VACUUM (ANALYZE) timed the same way;
// - in both, a gateway writer (maintenance-writer.ts, its own thread and connection) inserting one
//   row per statement at a steady rate, with a baseline window before the deletes begin.

export interface RetentionSettings {
	/** Rows in each throwaway table. */
	readonly rows: number;
	readonly spanDays: number;
	/** What is kept (`--keep`): the rows older go. */
	readonly keep: string;
	readonly writerRatePerSecond: number;
	readonly writerUpdateEvery: number;
	readonly baselineS: number;
	/** The writer keeps going this long after the run, for a window after it. */
	readonly afterS: number;
	readonly lockTimeoutMs: number;
	readonly statementTimeoutMs: number;
	readonly unboundedLimitS: number;
}

export const RETENTION_SCHEMA = 'maintenance_bench';

export interface TableFigures {
	readonly rows: number;
	readonly buildS: number;
	readonly loadS: number;
	readonly indexesS: number;
	readonly indexes: number;
	readonly totalMb: number;
}

export interface WriterFigures {
	readonly ratePerSecond: number;
	readonly updateEvery: number;
	readonly phases: Readonly<Record<string, WriterPhase>>;
	/** The longest statement of the whole run (any phase, inserts and updates). */
	readonly longestMs: number;
	readonly withinLockTimeout: boolean;
	/** p99 of inserts during the deletes ÷ p99 of the baseline window. */
	readonly p99RatioDeletingToBaseline: number | null;
	readonly insertsSucceeded: number;
	readonly insertsFailed: number;
	readonly lateTicks: number;
	readonly errors: readonly string[];
}

export interface Checks {
	/** Every row the writer inserted is there afterwards. */
	readonly writerRowsKept: {readonly inserted: number; readonly found: number; readonly ok: boolean};
	/** No row older than the cutoff is left (the writer's rows are new). */
	readonly oldRowsLeft: number;
	/** Rows at or after the cutoff, the writer's aside, before and after: nothing young deleted. */
	readonly youngRows: {readonly before: number; readonly after: number; readonly ok: boolean};
}

export interface BatchedFigures {
	readonly plan: {readonly rows: number; readonly cutoffIso: string; readonly approxMb: number | null; readonly minId: number | null; readonly maxId: number | null};
	readonly status: string;
	readonly deleted: number;
	readonly batches: number;
	readonly retries: number;
	readonly deleteS: number;
	readonly rowsPerSecond: number;
	readonly vacuumS: number;
	/** Rows deleted ÷ (delete phase + VACUUM (ANALYZE)): the whole job. */
	readonly rowsPerSecondWithVacuum: number;
	readonly totalS: number;
	readonly walMb: number;
	readonly autovacuumsDuring: number;
	readonly progressReports: number;
	readonly writer: WriterFigures;
	readonly checks: Checks;
}

export interface UnboundedFigures {
	readonly statement: string;
	readonly status: 'done' | 'timed out' | 'failed';
	readonly error: string | null;
	readonly deleted: number;
	readonly deleteS: number;
	readonly rowsPerSecond: number | null;
	readonly vacuumS: number | null;
	readonly rowsPerSecondWithVacuum: number | null;
	readonly walMb: number;
	readonly autovacuumsDuring: number;
	readonly writer: WriterFigures;
	readonly checks: Checks;
}

export interface RetentionResults {
	readonly settings: RetentionSettings & {readonly batchSize: number};
	readonly table: TableFigures;
	readonly batched: BatchedFigures;
	readonly unbounded: (UnboundedFigures & {readonly table: TableFigures}) | {readonly skipped: string};
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const secondsSince = (started: number): number => round((performance.now() - started) / 1000, 2);
const QUOTED = `"${RETENTION_SCHEMA}"."logs"`;
const WRITER_TAG = 'mbench-writer';

const COPIED_COLUMNS = `user_id, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens, use_time, is_stream,
	channel_id, channel_name, token_id, "group", ip, request_id, upstream_request_id, other`;

/** A fresh maintenance_bench.logs: upstream's DDL, `rows` rows of the cached table spread over the span ending now, its indexes. */
export async function buildRetentionTable(admin: pg.ClientBase, settings: RetentionSettings, log: (line: string) => void): Promise<TableFigures> {
	const started = performance.now();
	const {createTable, indexes} = upstreamDdl();
	await admin.query(`DROP SCHEMA IF EXISTS ${RETENTION_SCHEMA} CASCADE`);
	await admin.query(`CREATE SCHEMA ${RETENTION_SCHEMA}`);
	await admin.query(`SET search_path = ${RETENTION_SCHEMA}`);
	try {
		await admin.query(createTable);
		const spanS = settings.spanDays * 86_400;
		const endS = Math.floor(Date.now() / 1000) - 60;
		const loadStarted = performance.now();
		// In id order, so that ids and times rise together, as in an append-only log.
		await admin.query(
			`INSERT INTO ${QUOTED} (created_at, ${COPIED_COLUMNS})
SELECT $1::bigint + floor((id - 1) * $2::float8 / $3::float8)::bigint, ${COPIED_COLUMNS}
FROM public.logs WHERE id >= 1 AND id <= $3::bigint ORDER BY id`,
			[endS - spanS, spanS, settings.rows],
		);
		const loadS = secondsSince(loadStarted);
		log(`    ${settings.rows.toLocaleString('en')} rows copied in ${loadS} s`);
		const indexesStarted = performance.now();
		await admin.query("SET maintenance_work_mem = '256MB'");
		for (const index of indexes) {
			await admin.query(index.sql);
		}
		await admin.query('RESET maintenance_work_mem');
		const indexesS = secondsSince(indexesStarted);
		log(`    ${indexes.length} indexes in ${indexesS} s`);
		await admin.query(`VACUUM (ANALYZE) ${QUOTED}`);
		const {rows} = await admin.query<{rows: string; bytes: string}>(`SELECT count(*) AS rows, pg_total_relation_size('${QUOTED}') AS bytes FROM ${QUOTED}`);
		return {rows: Number(rows[0]!.rows), buildS: secondsSince(started), loadS, indexesS, indexes: indexes.length + 1, totalMb: round(Number(rows[0]!.bytes) / 1_048_576, 1)};
	} finally {
		await admin.query('RESET search_path');
	}
}

export async function dropRetentionSchema(admin: pg.ClientBase): Promise<void> {
	await admin.query(`DROP SCHEMA IF EXISTS ${RETENTION_SCHEMA} CASCADE`);
}

const walLsn = async (admin: pg.ClientBase): Promise<string> => (await admin.query<{lsn: string}>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
const walMbSince = async (admin: pg.ClientBase, from: string): Promise<number> =>
	round(Number((await admin.query<{bytes: string}>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn) AS bytes', [from])).rows[0]!.bytes) / 1_048_576, 1);
const autovacuums = async (admin: pg.ClientBase): Promise<number> =>
	Number((await admin.query<{n: string}>(`SELECT coalesce(autovacuum_count, 0) AS n FROM pg_stat_user_tables WHERE relid = '${QUOTED}'::regclass`)).rows[0]?.n ?? 0);

async function youngRows(admin: pg.ClientBase, cutoff: number): Promise<number> {
	const {rows} = await admin.query<{n: string}>(`SELECT count(*) AS n FROM ${QUOTED} WHERE created_at >= $1 AND request_id NOT LIKE '${WRITER_TAG}-%'`, [cutoff]);
	return Number(rows[0]!.n);
}

async function checksAfter(admin: pg.ClientBase, cutoff: number, youngBefore: number, run: WriterRun): Promise<Checks> {
	const found = Number((await admin.query<{n: string}>(`SELECT count(*) AS n FROM ${QUOTED} WHERE id = ANY($1::bigint[])`, [run.insertedIds])).rows[0]!.n);
	const oldRowsLeft = Number((await admin.query<{n: string}>(`SELECT count(*) AS n FROM ${QUOTED} WHERE created_at < $1`, [cutoff])).rows[0]!.n);
	const young = await youngRows(admin, cutoff);
	return {
		writerRowsKept: {inserted: run.insertedIds.length, found, ok: found === run.insertedIds.length},
		oldRowsLeft,
		youngRows: {before: youngBefore, after: young, ok: young === youngBefore},
	};
}

interface Marks {
	baselineStart: number;
	baselineEnd: number;
	deleteEnd: number | null;
	end: number | null;
	afterEnd: number;
}

function writerFigures(run: WriterRun, marks: Marks, settings: RetentionSettings): WriterFigures {
	const deleteEnd = marks.deleteEnd ?? marks.end ?? marks.afterEnd;
	const end = marks.end ?? deleteEnd;
	const phases: Record<string, WriterPhase> = {
		baseline: phaseOf(run, marks.baselineStart, marks.baselineEnd),
		deleting: phaseOf(run, marks.baselineEnd, deleteEnd),
		...(end > deleteEnd ? {vacuum: phaseOf(run, deleteEnd, end)} : {}),
		after: phaseOf(run, end, marks.afterEnd),
	};
	const longest = longestMs(run);
	const baseline = phases.baseline!.inserts.p99Ms;
	const deleting = phases.deleting!.inserts.p99Ms;
	return {
		ratePerSecond: settings.writerRatePerSecond,
		updateEvery: settings.writerUpdateEvery,
		phases,
		longestMs: longest,
		withinLockTimeout: longest <= settings.lockTimeoutMs,
		p99RatioDeletingToBaseline: baseline === null || deleting === null || baseline === 0 ? null : round(deleting / baseline, 2),
		insertsSucceeded: run.insertedIds.length,
		insertsFailed: run.samples.kind.filter((kind, i) => kind === 0 && !run.samples.ok[i]).length,
		lateTicks: run.samples.lateTicks,
		errors: run.errors,
	};
}

/** Starts the writer, lets it settle for a second, then records a baseline window. */
async function writerWithBaseline(url: string, settings: RetentionSettings, tag: string) {
	const writer = await startWriter({
		engine: 'postgres',
		target: url,
		table: QUOTED,
		ratePerSecond: settings.writerRatePerSecond,
		updateEvery: settings.writerUpdateEvery,
		tag,
		busyTimeoutMs: 0,
	});
	await sleep(1000);
	const baselineStart = Date.now();
	await sleep(settings.baselineS * 1000);
	return {writer, baselineStart, baselineEnd: Date.now()};
}

export async function runBatchedRetention(url: string, admin: pg.ClientBase, settings: RetentionSettings, log: (line: string) => void): Promise<BatchedFigures> {
	const maintenance = await openMaintenanceClient({connectionString: url}, {lockTimeoutMs: settings.lockTimeoutMs, statementTimeoutMs: settings.statementTimeoutMs});
	try {
		const plan = await planPostgresRetention(maintenance, {table: `${RETENTION_SCHEMA}.logs`, keep: settings.keep});
		log(`    plan: ${plan.rows.toLocaleString('en')} rows before ${plan.cutoffIso} (ids ${plan.minId}–${plan.maxId}), about ${round((plan.approxBytes ?? 0) / 1_048_576, 0)} MB`);
		const youngBefore = await youngRows(admin, plan.cutoffValue);
		await admin.query('CHECKPOINT');
		const {writer, baselineStart, baselineEnd} = await writerWithBaseline(url, settings, WRITER_TAG);
		const wal = await walLsn(admin);
		const autovacuumsBefore = await autovacuums(admin);
		const started = performance.now();
		let vacuumStarted: number | null = null;
		let deleteEnd: number | null = null;
		let reports = 0;
		let lastLogged = started;
		const onProgress = (progress: RetentionProgress) => {
			reports++;
			if (progress.phase !== 'deleting' && deleteEnd === null) {
				deleteEnd = Date.now();
				vacuumStarted = performance.now();
				log(`    deletes done: ${progress.deleted.toLocaleString('en')} rows in ${progress.batches} batches, ${secondsSince(started)} s; ${progress.phase}…`);
			} else if (progress.phase === 'deleting' && performance.now() - lastLogged > 10_000) {
				lastLogged = performance.now();
				log(`    ${progress.deleted.toLocaleString('en')} / ${progress.total.toLocaleString('en')} rows, ${Math.round(progress.ratePerSecond).toLocaleString('en')} rows/s`);
			}
		};
		let result: RetentionResult;
		let endPerf = 0;
		let end: number | null = null;
		let afterEnd: number;
		let run: WriterRun;
		const deleteStartedPerf = started;
		try {
			result = await applyPostgresRetention(maintenance, plan, {onProgress});
			endPerf = performance.now();
			end = Date.now();
		} finally {
			await sleep(settings.afterS * 1000);
			afterEnd = Date.now();
			run = await writer.stop();
		}
		const deleteS = round(((vacuumStarted ?? endPerf) - deleteStartedPerf) / 1000, 2);
		const vacuumS = vacuumStarted === null ? 0 : round((endPerf - vacuumStarted) / 1000, 2);
		const walMb = await walMbSince(admin, wal);
		const autovacuumsDuring = (await autovacuums(admin)) - autovacuumsBefore;
		return {
			plan: {rows: plan.rows, cutoffIso: plan.cutoffIso, approxMb: plan.approxBytes === null ? null : round(plan.approxBytes / 1_048_576, 1), minId: plan.minId, maxId: plan.maxId},
			status: result.status,
			deleted: result.deleted,
			batches: result.batches,
			retries: result.retries,
			deleteS,
			rowsPerSecond: Math.round(result.deleted / deleteS),
			vacuumS,
			rowsPerSecondWithVacuum: Math.round(result.deleted / (deleteS + vacuumS)),
			totalS: round(result.elapsedMs / 1000, 2),
			walMb,
			autovacuumsDuring,
			progressReports: reports,
			writer: writerFigures(run, {baselineStart, baselineEnd, deleteEnd, end, afterEnd}, settings),
			checks: await checksAfter(admin, plan.cutoffValue, youngBefore, run),
		};
	} finally {
		await maintenance.end().catch(() => undefined);
	}
}

/** Upstream new-api's cleanup on PostgreSQL: one DELETE, on a connection with default settings but a time limit. */
export async function runUnboundedRetention(url: string, admin: pg.ClientBase, settings: RetentionSettings, log: (line: string) => void): Promise<UnboundedFigures> {
	// The same cutoff rule as the batched run: --keep from now, floored to a whole second.
	const cutoff = columnCutoff(resolveCutoff({keep: settings.keep}), 'seconds').value;
	const statement = `DELETE FROM ${QUOTED} WHERE created_at < $1`;
	const youngBefore = await youngRows(admin, cutoff);
	const gateway = new pg.Client({connectionString: url, application_name: 'new-api log cleanup (bench)'});
	gateway.on('error', () => undefined);
	await gateway.connect();
	try {
		await gateway.query(`SET statement_timeout = '${settings.unboundedLimitS}s'`);
		await admin.query('CHECKPOINT');
		const {writer, baselineStart, baselineEnd} = await writerWithBaseline(url, settings, WRITER_TAG);
		const wal = await walLsn(admin);
		const autovacuumsBefore = await autovacuums(admin);
		let status: UnboundedFigures['status'] = 'done';
		let error: string | null = null;
		let deleted = 0;
		let deleteS = 0;
		let vacuumS: number | null = null;
		let deleteEnd: number | null = null;
		let end: number | null = null;
		let afterEnd: number;
		let run: WriterRun;
		try {
			const started = performance.now();
			try {
				deleted = (await gateway.query(statement, [cutoff])).rowCount ?? 0;
			} catch (caught) {
				error = caught instanceof Error ? caught.message : String(caught);
				status = (caught as {code?: string}).code === '57014' ? 'timed out' : 'failed';
			}
			deleteS = secondsSince(started);
			deleteEnd = Date.now();
			log(`    unbounded DELETE: ${status}, ${deleted.toLocaleString('en')} rows in ${deleteS} s${error === null ? '' : ` (${error})`}`);
			if (status === 'done') {
				await gateway.query('SET statement_timeout = 0');
				const vacuumStarted = performance.now();
				await gateway.query(`VACUUM (ANALYZE) ${QUOTED}`);
				vacuumS = secondsSince(vacuumStarted);
				log(`    VACUUM (ANALYZE): ${vacuumS} s`);
			}
			end = Date.now();
		} finally {
			await sleep(settings.afterS * 1000);
			afterEnd = Date.now();
			run = await writer.stop();
		}
		return {
			statement: statement.replace('$1', String(cutoff)),
			status,
			error,
			deleted,
			deleteS,
			rowsPerSecond: status === 'done' && deleteS > 0 ? Math.round(deleted / deleteS) : null,
			vacuumS,
			rowsPerSecondWithVacuum: status === 'done' && vacuumS !== null ? Math.round(deleted / (deleteS + vacuumS)) : null,
			walMb: await walMbSince(admin, wal),
			autovacuumsDuring: (await autovacuums(admin)) - autovacuumsBefore,
			writer: writerFigures(run, {baselineStart, baselineEnd, deleteEnd, end, afterEnd}, settings),
			checks: await checksAfter(admin, cutoff, youngBefore, run),
		};
	} finally {
		await gateway.end().catch(() => undefined);
	}
}

export async function runRetentionBenchmark(url: string, admin: pg.ClientBase, settings: RetentionSettings, log: (line: string) => void): Promise<RetentionResults> {
	try {
		log(`  building ${RETENTION_SCHEMA}.logs (${settings.rows.toLocaleString('en')} rows over ${settings.spanDays} days)…`);
		const table = await buildRetentionTable(admin, settings, log);
		log(`  relaytop's retention (keep ${settings.keep}, batch ${DEFAULT_BATCH_SIZE}, lock_timeout ${settings.lockTimeoutMs} ms) with a writer at ${settings.writerRatePerSecond}/s…`);
		const batched = await runBatchedRetention(url, admin, settings, log);
		log(`    ${batched.deleted.toLocaleString('en')} rows in ${batched.deleteS} s = ${batched.rowsPerSecond.toLocaleString('en')} rows/s; VACUUM ${batched.vacuumS} s; writer p99 ${batched.writer.phases.deleting?.inserts.p99Ms} ms (baseline ${batched.writer.phases.baseline?.inserts.p99Ms} ms), longest ${batched.writer.longestMs} ms`);
		let unbounded: RetentionResults['unbounded'];
		try {
			log(`  contrast: rebuilding ${RETENTION_SCHEMA}.logs for upstream's one unbounded DELETE…`);
			const fresh = await buildRetentionTable(admin, settings, log);
			unbounded = {...(await runUnboundedRetention(url, admin, settings, log)), table: fresh};
		} catch (error) {
			unbounded = {skipped: `failed: ${error instanceof Error ? error.message : String(error)}`};
			log(`    the contrast failed: ${unbounded.skipped}`);
		}
		return {settings: {...settings, batchSize: DEFAULT_BATCH_SIZE}, table, batched, unbounded};
	} finally {
		await dropRetentionSchema(admin);
	}
}
