import {copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import Database from 'better-sqlite3';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {LOGS_DDL} from '../source/fixtures/newapi-schema.js';
import {openSqliteWritable} from '../source/maintenance/open-sqlite-writable.js';
import {DEFAULT_BATCH_SIZE} from '../source/maintenance/retention-batches.js';
import {columnCutoff, resolveCutoff} from '../source/maintenance/retention-cutoff.js';
import type {RetentionProgress, RetentionResult} from '../source/maintenance/retention-plan.js';
import {applySqliteRetention, planSqliteRetention} from '../source/maintenance/retention-sqlite.js';
import {longestMs, phaseOf, startWriter, type WriterPhase, type WriterRun} from './maintenance-latency.js';
import type {WriterFigures} from './maintenance-retention.js';

// The retention half on SQLite: a new-api `logs` file (upstream's DDL and 14 indexes, rows spread
// over `spanDays` ending when it was built, built once into bench/.cache and copied for each run;
// `keep` counts back from its newest row), relaytop's
// retention (planSqliteRetention / applySqliteRetention, busy timeout 1 s as its lock wait, its
// defaults: batches paced for the writer (WriterPacing), ANALYZE with analysis_limit 1000 after, no
// VACUUM), and the contrast of upstream's one unbounded
// DELETE; a gateway writer in its own thread inserts at a steady rate with new-api's busy timeout
// (SQLITE_PATH `?_busy_timeout=5000`), in the file's default journal mode (rollback journal), as
// gorm's driver leaves it.

export interface SqliteRetentionSettings {
	readonly rows: number;
	readonly spanDays: number;
	readonly keep: string;
	readonly writerRatePerSecond: number;
	readonly writerUpdateEvery: number;
	readonly writerBusyTimeoutMs: number;
	readonly baselineS: number;
	readonly afterS: number;
	readonly lockTimeoutMs: number;
}

/** The PostgreSQL writer's figures, less its pacing details (one insert at a time here), plus the rows kept. */
export type SqliteWriterFigures = Omit<WriterFigures, 'ratePerSecond' | 'updateEvery' | 'lateTicks'> & {
	readonly writerRowsKept: {readonly inserted: number; readonly found: number; readonly ok: boolean};
};

export interface SqliteRunFigures {
	readonly status: string;
	readonly error: string | null;
	readonly deleted: number;
	readonly batches: number | null;
	readonly retries: number | null;
	readonly deleteS: number;
	readonly rowsPerSecond: number | null;
	readonly analyzeS: number | null;
	readonly oldRowsLeft: number;
	readonly youngRowsKept: boolean;
	readonly writer: SqliteWriterFigures;
}

export interface SqliteRetentionResults {
	readonly settings: SqliteRetentionSettings & {readonly batchSize: number; readonly journalMode: string};
	readonly file: {readonly rows: number; readonly mb: number; readonly buildS: number | null};
	readonly batched: SqliteRunFigures;
	readonly unbounded: SqliteRunFigures;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const WRITER_TAG = 'mbench-writer';
const FILE_VERSION = 1;

/** The pristine file, built once per size: rows with ids and times rising together. */
function ensurePristine(settings: SqliteRetentionSettings, log: (line: string) => void): {path: string; buildS: number | null} {
	const folder = join(packageRoot(), 'bench', '.cache');
	mkdirSync(folder, {recursive: true});
	const path = join(folder, `maintenance-newapi-${settings.rows}-v${FILE_VERSION}.sqlite`);
	if (existsSync(path)) {
		return {path, buildS: null};
	}
	log(`    building ${path} (${settings.rows.toLocaleString('en')} rows, once)…`);
	const started = performance.now();
	const building = `${path}.building`;
	rmSync(building, {force: true});
	const db = new Database(building);
	try {
		db.exec(LOGS_DDL[0]!);
		const spanS = settings.spanDays * 86_400;
		const startS = Math.floor(Date.now() / 1000) - 60 - spanS;
		// Built for a fixed span: the run moves the times to end now (see freshCopy).
		db.prepare(
			`INSERT INTO logs (id, user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens,
	use_time, is_stream, channel_id, channel_name, token_id, "group", ip, request_id, upstream_request_id, other)
WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n < :rows - 1)
SELECT n + 1, u, :start + (n * :span) / :rows, ty, '', 'user' || u, 'user' || u || '-key' || (1 + n % 3), m, CASE WHEN ty = 2 THEN pt * 3 ELSE 0 END,
	CASE WHEN ty = 2 THEN pt ELSE 0 END, CASE WHEN ty = 2 THEN pt / 4 ELSE 0 END, n % 7, n % 3 > 0, 1 + n % 20, NULL, u * 4, 'default', '10.0.' || (u % 250) || '.1',
	lower(hex(randomblob(16))), CASE WHEN n % 5 < 3 THEN 'chatcmpl-' || lower(hex(randomblob(12))) ELSE '' END,
	CASE WHEN ty = 2 THEN '{"admin_info":{"use_channel":["' || (1 + n % 20) || '"]},"cache_ratio":0.1,"cache_tokens":' || (pt / 5) || ',"completion_ratio":4,"frt":' || (100 + n % 3000) || ',"group_ratio":1,"model_price":-1,"model_ratio":1.25,"user_group_ratio":-1}'
		ELSE '{"error_type":"upstream_error","status_code":429}' END
FROM (SELECT n, 1 + abs(random()) % 200 AS u, CASE WHEN abs(random()) % 100 < 94 THEN 2 ELSE 5 END AS ty,
	(CASE abs(random()) % 5 WHEN 0 THEN 'gpt-4o-mini' WHEN 1 THEN 'gpt-4o' WHEN 2 THEN 'claude-sonnet-4-5' WHEN 3 THEN 'deepseek-chat' ELSE 'gemini-2.5-flash' END) AS m,
	20 + abs(random()) % 4000 AS pt FROM g)`,
		).run({rows: settings.rows, start: startS, span: spanS});
		for (const index of LOGS_DDL.slice(1)) {
			db.exec(index);
		}
	} finally {
		db.close();
	}
	renameSync(building, path);
	const buildS = round((performance.now() - started) / 1000, 1);
	log(`    built in ${buildS} s`);
	return {path, buildS};
}

/** A working copy of the pristine file. */
function freshCopy(pristine: string): string {
	const path = join(packageRoot(), 'bench', '.cache', 'maintenance-newapi-work.sqlite');
	for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${path}${suffix}`, {force: true});
	copyFileSync(pristine, path);
	return path;
}

/**
 * The cached file ends when it was built, not now: `keep` counts back from its newest row, given to
 * the retention as an absolute cutoff (what a resumed run passes). The writer's rows, stamped now,
 * are newer still.
 */
function cutoffOf(path: string, keep: string): {cutoffMs: number; value: number} {
	const db = new Database(path, {readonly: true});
	try {
		const newestS = db.prepare('SELECT max(created_at) FROM logs').pluck().get() as number;
		const cutoffMs = resolveCutoff({keep, nowMs: newestS * 1000});
		return {cutoffMs, value: columnCutoff(cutoffMs, 'seconds').value};
	} finally {
		db.close();
	}
}

function counts(path: string, cutoff: number, ids: readonly number[]): {oldRows: number; young: number; found: number} {
	const db = new Database(path, {readonly: true});
	try {
		const oldRows = db.prepare('SELECT count(*) FROM logs WHERE created_at < ?').pluck().get(cutoff) as number;
		const young = db.prepare(`SELECT count(*) FROM logs WHERE created_at >= ? AND request_id NOT LIKE '${WRITER_TAG}-%'`).pluck().get(cutoff) as number;
		const probe = db.prepare('SELECT count(*) FROM logs WHERE id = ?').pluck();
		const found = ids.reduce((sum, id) => sum + (probe.get(id) as number), 0);
		return {oldRows, young, found};
	} finally {
		db.close();
	}
}

function writerFigures(run: WriterRun, marks: {baselineStart: number; baselineEnd: number; deleteEnd: number; end: number; afterEnd: number}, settings: SqliteRetentionSettings, found: number): SqliteWriterFigures {
	const phases: Record<string, WriterPhase> = {
		baseline: phaseOf(run, marks.baselineStart, marks.baselineEnd),
		deleting: phaseOf(run, marks.baselineEnd, marks.deleteEnd),
		...(marks.end > marks.deleteEnd ? {analyze: phaseOf(run, marks.deleteEnd, marks.end)} : {}),
		after: phaseOf(run, marks.end, marks.afterEnd),
	};
	const baseline = phases.baseline!.inserts.p99Ms;
	const deleting = phases.deleting!.inserts.p99Ms;
	const longest = longestMs(run);
	return {
		phases,
		longestMs: longest,
		withinLockTimeout: longest <= settings.lockTimeoutMs,
		p99RatioDeletingToBaseline: baseline === null || deleting === null || baseline === 0 ? null : round(deleting / baseline, 2),
		insertsSucceeded: run.insertedIds.length,
		insertsFailed: run.samples.kind.filter((kind, i) => kind === 0 && !run.samples.ok[i]).length,
		errors: run.errors,
		writerRowsKept: {inserted: run.insertedIds.length, found, ok: found === run.insertedIds.length},
	};
}

async function withWriter(
	path: string,
	settings: SqliteRetentionSettings,
	cutoff: number,
	work: () => Promise<{status: string; error: string | null; deleted: number; batches: number | null; retries: number | null; deleteEndPerf: number; deleteEnd: number; analyzed: boolean}>,
): Promise<SqliteRunFigures> {
	const youngBefore = counts(path, cutoff, []).young;
	const writer = await startWriter({
		engine: 'sqlite',
		target: path,
		table: 'logs',
		ratePerSecond: settings.writerRatePerSecond,
		updateEvery: settings.writerUpdateEvery,
		tag: WRITER_TAG,
		busyTimeoutMs: settings.writerBusyTimeoutMs,
	});
	await sleep(1000);
	const baselineStart = Date.now();
	await sleep(settings.baselineS * 1000);
	const baselineEnd = Date.now();
	const started = performance.now();
	let outcome: Awaited<ReturnType<typeof work>>;
	let end: number;
	let endPerf: number;
	let afterEnd: number;
	let run: WriterRun;
	try {
		outcome = await work();
		end = Date.now();
		endPerf = performance.now();
	} finally {
		await sleep(settings.afterS * 1000);
		afterEnd = Date.now();
		run = await writer.stop();
	}
	const deleteS = round((outcome.deleteEndPerf - started) / 1000, 2);
	const after = counts(path, cutoff, run.insertedIds);
	return {
		status: outcome.status,
		error: outcome.error,
		deleted: outcome.deleted,
		batches: outcome.batches,
		retries: outcome.retries,
		deleteS,
		rowsPerSecond: outcome.status === 'done' && deleteS > 0 ? Math.round(outcome.deleted / deleteS) : null,
		analyzeS: outcome.analyzed ? round((endPerf - outcome.deleteEndPerf) / 1000, 2) : null,
		oldRowsLeft: after.oldRows,
		youngRowsKept: after.young === youngBefore,
		writer: writerFigures(run, {baselineStart, baselineEnd, deleteEnd: outcome.deleteEnd, end: outcome.analyzed ? end : outcome.deleteEnd, afterEnd}, settings, after.found),
	};
}

export async function runSqliteRetentionBenchmark(settings: SqliteRetentionSettings, log: (line: string) => void): Promise<SqliteRetentionResults> {
	const pristine = ensurePristine(settings, log);

	const relaytopRun = async (): Promise<SqliteRunFigures> => {
		const path = freshCopy(pristine.path);
		const cutoff = cutoffOf(path, settings.keep);
		return withWriter(path, settings, cutoff.value, async () => {
			const db = openSqliteWritable(path, settings.lockTimeoutMs);
			try {
				const plan = planSqliteRetention(db, {store: 'newapi', cutoff: cutoff.cutoffMs});
				let deleteEnd: number | null = null;
				let deleteEndPerf = 0;
				const onProgress = (progress: RetentionProgress) => {
					if (progress.phase !== 'deleting' && deleteEnd === null) {
						deleteEnd = Date.now();
						deleteEndPerf = performance.now();
					}
				};
				let result: RetentionResult | null = null;
				let error: string | null = null;
				try {
					result = await applySqliteRetention(db, plan, {onProgress});
				} catch (caught) {
					error = caught instanceof Error ? caught.message : String(caught);
				}
				if (deleteEnd === null) {
					deleteEnd = Date.now();
					deleteEndPerf = performance.now();
				}
				return {
					status: result?.status ?? 'failed', error, deleted: result?.deleted ?? 0, batches: result?.batches ?? null, retries: result?.retries ?? null, deleteEndPerf, deleteEnd,
					analyzed: result?.analyzed ?? false,
				};
			} finally {
				db.close();
			}
		});
	};
	const report = (run: SqliteRunFigures) =>
		`    ${run.deleted.toLocaleString('en')} rows in ${run.deleteS} s = ${run.rowsPerSecond?.toLocaleString('en')} rows/s; writer p99 ${run.writer.phases.deleting?.inserts.p99Ms} ms (baseline ${run.writer.phases.baseline?.inserts.p99Ms} ms), longest ${run.writer.longestMs} ms, ${run.writer.insertsFailed} failed${run.error === null ? '' : `; ${run.error}`}`;

	log(`  SQLite: relaytop's retention (keep ${settings.keep}, batch ≤ ${DEFAULT_BATCH_SIZE}, busy timeout ${settings.lockTimeoutMs} ms, its own pacing: the default) with a writer at ${settings.writerRatePerSecond}/s…`);
	const batched = await relaytopRun();
	log(report(batched));

	log("  SQLite contrast: upstream's one unbounded DELETE…");
	const path = freshCopy(pristine.path);
	const unboundedCutoff = cutoffOf(path, settings.keep).value;
	const unbounded = await withWriter(path, settings, unboundedCutoff, async () => {
		// The gateway's own connection and busy timeout, as new-api's cleanup runs it.
		const db = new Database(path, {timeout: settings.writerBusyTimeoutMs});
		try {
			let deleted = 0;
			let error: string | null = null;
			try {
				deleted = db.prepare('DELETE FROM logs WHERE created_at < ?').run(unboundedCutoff).changes;
			} catch (caught) {
				error = caught instanceof Error ? caught.message : String(caught);
			}
			return {status: error === null ? 'done' : 'failed', error, deleted, batches: null, retries: null, deleteEndPerf: performance.now(), deleteEnd: Date.now(), analyzed: false};
		} finally {
			db.close();
		}
	});
	log(`    ${unbounded.deleted.toLocaleString('en')} rows in ${unbounded.deleteS} s; writer longest ${unbounded.writer.longestMs} ms, ${unbounded.writer.insertsFailed} failed`);
	const mb = round(statSync(pristine.path).size / 1_048_576, 1);
	const probe = new Database(pristine.path, {readonly: true});
	const journalMode = String(probe.pragma('journal_mode', {simple: true}));
	probe.close();
	for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${path}${suffix}`, {force: true});
	return {
		settings: {...settings, batchSize: DEFAULT_BATCH_SIZE, journalMode},
		file: {rows: settings.rows, mb, buildS: pristine.buildS},
		batched,
		unbounded,
	};
}
