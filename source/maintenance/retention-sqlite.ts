import type Database from 'better-sqlite3';
import {InputError} from '../usage/input-error.js';
import {runRetention, type AfterStep, type RetentionEngine} from './retention-batches.js';
import {eventIdHorizon, ftsSql, hasEventsFts, openFtsMap, planFts, type FtsMap} from './retention-cpa-fts.js';
import {columnCutoff, resolveCutoff} from './retention-cutoff.js';
import type {ApplyRetentionOptions, PlanRetentionOptions, RetentionPlan, RetentionResult, RetentionStore} from './retention-plan.js';

// Retention on a SQLite store: new-api's `logs` (created_at in seconds) or CPA-Manager's
// `usage_events` (timestamp_ms) with its full-text index. Each batch is one BEGIN IMMEDIATE …
// COMMIT; the connection's busy timeout (openSqliteWritable) is its lock wait.

export interface SqliteRetentionOptions extends PlanRetentionOptions {
	readonly store: RetentionStore;
}

const LAYOUT = {
	newapi: {table: 'logs', timeColumn: 'created_at', unit: 'seconds'},
	cpa: {table: 'usage_events', timeColumn: 'timestamp_ms', unit: 'milliseconds'},
} as const;

function retentionSql(store: RetentionStore, cutoff: number, maxOldId: number) {
	const {table, timeColumn} = LAYOUT[store];
	const old = `${timeColumn} < ${cutoff}`;
	// CPA: the index map holds the index rows of events up to the plan's last old one. An event above
	// it (only an insert with an explicit id could put an old one there) waits for the next run, so
	// no deleted event ever leaves its index row behind.
	const planned = store === 'cpa' ? ` AND id <= ${maxOldId}` : '';
	return {
		count: `SELECT count(*) AS rows, min(id) AS minId, max(id) AS maxId FROM "${table}" WHERE ${old}`,
		all: `SELECT count(*) FROM "${table}"`,
		begin: 'BEGIN IMMEDIATE',
		// The time predicate again in every batch: no row at or after the cutoff is ever deleted.
		deleteWindow: `DELETE FROM "${table}" WHERE id >= ? AND id < ? AND ${old}${planned}`,
		commit: 'COMMIT',
		nextId: `SELECT id FROM "${table}" WHERE id >= ? AND id <= ? AND ${old} ORDER BY id LIMIT 1`,
		vacuum: 'VACUUM',
		// ANALYZE holds the write lock in one go; sampling at most 1000 rows per index (as PRAGMA optimize
		// does) keeps it short on a big file, where a full one kept the gateway's writer waiting ~1 s.
		analyze: `PRAGMA analysis_limit = 1000; ANALYZE "${table}"`,
	};
}

/**
 * About 200 ms per transaction, then up to 120 ms free (WriterPacing), starting from 250 ids, since
 * a batch's cost on this file is unknown until one has run. The maintenance benchmark's writer
 * (1M-row file, rollback journal) waited 0.24 s at most during the deletes, 0.54 s over the run.
 */
const SQLITE_PACING = {targetBatchMs: 200, maxGapMs: 120, firstWindow: 250} as const;

function pragmaNumber(db: Database.Database, name: string): number {
	return db.pragma(name, {simple: true}) as number;
}

/**
 * The dry run: rows older than the cutoff, their id range, about how many bytes they take, and the
 * statements a run sends; on a CPA store also the full-text index rows that go with them and its
 * orphans (one pass over the index). Reads only.
 */
export function planSqliteRetention(db: Database.Database, options: SqliteRetentionOptions): RetentionPlan {
	const {store} = options;
	const {table, timeColumn, unit} = LAYOUT[store];
	if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) === undefined) {
		throw new InputError(`no ${table} table: not a ${store === 'cpa' ? 'CPA-Manager' : 'new-api'} store`);
	}
	const cutoff = columnCutoff(resolveCutoff(options), unit);
	const old = db.prepare(retentionSql(store, cutoff.value, 0).count).get() as {rows: number; minId: number | null; maxId: number | null};
	const sql = retentionSql(store, cutoff.value, old.maxId ?? 0);
	const all = db.prepare(sql.all).pluck().get() as number;
	const usedBytes = (pragmaNumber(db, 'page_count') - pragmaNumber(db, 'freelist_count')) * pragmaNumber(db, 'page_size');
	const fts = store === 'cpa' && hasEventsFts(db) ? ftsSql(cutoff.value, eventIdHorizon(db), old.maxId ?? 0) : null;
	const vacuum = options.vacuum ?? false;
	return {
		engine: 'sqlite',
		store,
		table,
		timeColumn,
		cutoffMs: cutoff.effectiveMs,
		cutoffIso: new Date(cutoff.effectiveMs).toISOString(),
		cutoffValue: cutoff.value,
		rows: old.rows,
		minId: old.minId,
		maxId: old.maxId,
		approxBytes: all === 0 ? 0 : Math.round((old.rows * usedBytes) / all),
		bytesBasis: `rows × the database file's used pages ÷ all ${table} rows (the file only shrinks with VACUUM)`,
		fts: fts === null ? null : planFts(db, fts),
		vacuum,
		statements: [
			...(fts === null ? [] : [fts.createMap, fts.fillMap, fts.indexMap, fts.indexOrphans]),
			sql.begin, sql.deleteWindow, ...(fts === null ? [] : [fts.deleteWindow]), sql.commit,
			sql.nextId, ...(fts === null ? [] : [fts.nextOrphan, fts.dropMap]),
			...(vacuum ? [sql.vacuum] : []), sql.analyze,
		],
	};
}

const isBusy = (error: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/u.test(String((error as {code?: unknown}).code));

/** The smaller of two ids, either of which may be missing. */
const earliest = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

function windowRange(plan: RetentionPlan, fts: FtsMap | null): RetentionEngine['range'] {
	const events = plan.minId === null || plan.maxId === null ? null : {first: plan.minId, last: plan.maxId};
	const orphans = fts?.orphanRange ?? null;
	if (events === null || orphans === null) {
		return events ?? orphans;
	}
	return {first: Math.min(events.first, orphans.first), last: Math.max(events.last, orphans.last)};
}

/**
 * Carries out a plan of planSqliteRetention on `db`, opened with openSqliteWritable (its busy timeout
 * is how long a batch waits for the gateway's writer). Each batch deletes an id window in one
 * BEGIN IMMEDIATE … COMMIT, on a CPA store together with the window's full-text index rows, so an
 * interruption or a crash loses at most that batch, whole. Between batches the loop yields to the
 * event loop. Afterwards: VACUUM when the plan says so, then ANALYZE. A rerun with the same cutoff resumes.
 */
export async function applySqliteRetention(db: Database.Database, plan: RetentionPlan, options: ApplyRetentionOptions = {}): Promise<RetentionResult> {
	if (plan.engine !== 'sqlite') {
		throw new Error(`a ${plan.engine} plan cannot run on SQLite`);
	}
	const maxOldId = plan.maxId ?? 0;
	const sql = retentionSql(plan.store, plan.cutoffValue, maxOldId);
	const fts = plan.fts === null ? null : openFtsMap(db, ftsSql(plan.cutoffValue, plan.fts.idHorizon, maxOldId));
	try {
		const deleteWindow = db.prepare(sql.deleteWindow);
		const nextOld = db.prepare(sql.nextId).pluck();
		const step = (phase: AfterStep['phase'], statement: string): AfterStep => ({
			phase, statement, vacuums: phase === 'vacuum', analyzes: phase === 'analyze', run: async () => void db.exec(statement),
		});
		const engine: RetentionEngine = {
			range: windowRange(plan, fts),
			async deleteWindow(lo, hi) {
				db.exec(sql.begin);
				try {
					const deleted = deleteWindow.run(lo, hi).changes;
					const ftsDeleted = fts?.deleteWindow(lo, hi) ?? 0;
					db.exec(sql.commit);
					return {deleted, ftsDeleted};
				} catch (error) {
					// A COMMIT that found the file busy leaves the transaction open: end it, so nothing is half done.
					if (db.inTransaction) {
						db.exec('ROLLBACK');
					}
					throw error;
				}
			},
			async nextId(from) {
				return earliest((nextOld.get(from, maxOldId) as number | undefined) ?? null, fts?.nextOrphan(from) ?? null);
			},
			isLockFailure: isBusy,
			// An in-process file: no connection to lose.
			isConnectionLoss: () => false,
			pacing: SQLITE_PACING,
			after: [...(plan.vacuum ? [step('vacuum', sql.vacuum)] : []), step('analyze', sql.analyze)],
		};
		return await runRetention(plan, engine, options);
	} finally {
		fts?.drop();
	}
}
