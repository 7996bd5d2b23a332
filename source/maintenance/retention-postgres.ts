import type pg from 'pg';
import {markSql, queryRows, type Queryable} from '../postgres/monitor/queryable.js';
import {InputError} from '../usage/input-error.js';
import {isConnectionLoss} from './maintenance-connection.js';
import {CommitInDoubt, runRetention, type RetentionEngine} from './retention-batches.js';
import {columnCutoff, resolveCutoff} from './retention-cutoff.js';
import {RESTORE_TIMEOUTS, VACUUM_LOCK_TIMEOUT, vacuumSql, withoutStatementTimeout} from './table-maintenance.js';
import type {ApplyRetentionOptions, PlanRetentionOptions, RetentionPlan, RetentionResult} from './retention-plan.js';

// Retention of new-api's `logs` on PostgreSQL: id windows, each DELETE its own short transaction
// under the maintenance connection's lock_timeout and statement_timeout, then VACUUM (ANALYZE)
// outside any transaction. Each batch learns its transaction id before it deletes: should the
// connection break while its COMMIT is on the way, the server can still say whether it committed.

export interface PostgresRetentionOptions extends PlanRetentionOptions {
	/** `logs` (default) or `schema.logs`. */
	readonly table?: string;
}

/** `logs` → `"logs"`, `gw.logs` → `"gw"."logs"`. */
export function quotePostgresTable(table: string): string {
	const parts = table.split('.');
	if (parts.length > 2 || parts.some(part => part === '')) {
		throw new InputError(`${JSON.stringify(table)} is not a table name: expected logs or schema.logs`);
	}
	return parts.map(part => `"${part.replaceAll('"', '""')}"`).join('.');
}


/** The statements of a run; the cutoff is written in, the id window is $1/$2. */
function retentionSql(table: string, cutoff: number) {
	const old = `created_at < ${cutoff}`;
	return {
		count: `SELECT count(*) AS rows, min(id) AS min_id, max(id) AS max_id FROM ${table} WHERE ${old}`,
		sampleWidth: `SELECT avg(pg_column_size(s.*))::float8 AS width FROM (SELECT * FROM ${table} WHERE ${old} LIMIT 1000) s`,
		begin: 'BEGIN',
		xid: 'SELECT txid_current() AS xid',
		// The time predicate again in every batch: whatever the ids say, and whatever a writer
		// inserted since the plan, no row at or after the cutoff is ever deleted.
		deleteWindow: `DELETE FROM ${table} WHERE id >= $1 AND id < $2 AND ${old}`,
		commit: 'COMMIT',
		rollback: 'ROLLBACK',
		// On another connection, after a COMMIT went unanswered. txid_current and txid_status exist
		// from PostgreSQL 10 on (pg_current_xact_id and pg_xact_status only from 13).
		status: 'SELECT txid_status($1) AS status',
		// A primary-key probe: a gap in the ids costs one lookup, not one statement per window.
		nextId: `SELECT id FROM ${table} WHERE id >= $1 AND id <= $2 AND ${old} ORDER BY id LIMIT 1`,
		liftTimeout: 'SET statement_timeout = 0',
		// VACUUM's SHARE UPDATE EXCLUSIVE conflicts with no insert, update or delete, only with other
		// maintenance, such as the autovacuum a big delete sets off: a regular autovacuum gives way to a
		// waiter after deadlock_timeout (1 s by default), which a 1 s lock_timeout never outlasts.
		lockWait: `SET lock_timeout = '${VACUUM_LOCK_TIMEOUT}'`,
		vacuum: vacuumSql(table),
		restoreTimeout: RESTORE_TIMEOUTS,
		analyze: `ANALYZE ${table}`,
	};
}

interface SizeRow {
	reltuples: number;
	bytes: number;
}

async function approxBytes(db: Queryable, table: string, sampleWidth: string, size: SizeRow, rows: number): Promise<{approxBytes: number; bytesBasis: string}> {
	if (size.reltuples > 0) {
		return {
			approxBytes: Math.round((rows * size.bytes) / size.reltuples),
			bytesBasis: `rows × the table's size with its indexes and TOAST (pg_total_relation_size) ÷ its estimated row count (pg_class.reltuples)`,
		};
	}
	// Never analyzed (reltuples -1, or 0 before PostgreSQL 14): measure some of the rows themselves.
	const [width] = await queryRows<{width: number | null}>(db, sampleWidth);
	return {
		approxBytes: Math.round(rows * (width?.width ?? 0)),
		bytesBasis: `rows × the average size of up to 1000 of them (pg_column_size: row data only, no indexes; ${table} has never been analyzed)`,
	};
}

/**
 * The dry run: which rows of new-api's `logs` are older than the cutoff (count and id range, read
 * through the created_at index), about how many bytes they take, and the statements a run sends.
 * Reads only; any connection will do.
 */
export async function planPostgresRetention(db: Queryable, options: PostgresRetentionOptions): Promise<RetentionPlan> {
	const table = options.table ?? 'logs';
	const quoted = quotePostgresTable(table);
	const cutoff = columnCutoff(resolveCutoff(options), 'seconds');
	const sql = retentionSql(quoted, cutoff.value);
	const [size] = await queryRows<SizeRow>(
		db,
		'SELECT c.reltuples::float8 AS reltuples, pg_total_relation_size(c.oid)::float8 AS bytes FROM pg_class c WHERE c.oid = to_regclass($1)',
		[quoted],
	);
	if (size === undefined) {
		throw new InputError(`table ${table} not found: is this new-api's logs database (--logs-db when logs live apart)?`);
	}
	const [old] = await queryRows<{rows: string; min_id: string | null; max_id: string | null}>(db, sql.count);
	const rows = Number(old!.rows);
	const vacuum = options.vacuum ?? true;
	return {
		engine: 'postgres',
		store: 'newapi',
		table,
		timeColumn: 'created_at',
		cutoffMs: cutoff.effectiveMs,
		cutoffIso: new Date(cutoff.effectiveMs).toISOString(),
		cutoffValue: cutoff.value,
		rows,
		minId: old!.min_id === null ? null : Number(old!.min_id),
		maxId: old!.max_id === null ? null : Number(old!.max_id),
		...(rows === 0 ? {approxBytes: 0, bytesBasis: 'no rows to delete'} : await approxBytes(db, table, sql.sampleWidth, size, rows)),
		fts: null,
		vacuum,
		statements: [sql.begin, sql.xid, sql.deleteWindow, sql.commit, sql.nextId, ...(vacuum ? [sql.liftTimeout, sql.lockWait, sql.vacuum, sql.restoreTimeout] : [sql.analyze])],
	};
}


export interface PostgresApplyOptions extends ApplyRetentionOptions {
	/**
	 * Another connection, one that reconnects by itself (PgSession), to ask whether a batch
	 * committed when the maintenance connection broke with its COMMIT unanswered. Without it such a
	 * batch is reported in doubt.
	 */
	readonly checkOn?: Queryable;
}

/** Whether transaction `xid` committed: null while it still runs (its session has not seen the break yet). */
async function hasCommitted(db: Queryable, statement: string, xid: string): Promise<boolean | null> {
	const [row] = await queryRows<{status: string | null}>(db, statement, [xid]);
	return row?.status === 'committed' ? true : row?.status === 'aborted' ? false : null;
}

/**
 * Carries out a plan of planPostgresRetention on `client`: a dedicated maintenance connection
 * (openMaintenanceClient), whose lock_timeout and statement_timeout bound every batch. Each batch is
 * one short transaction deleting an id window, so an interruption, a killed connection or a lock
 * timeout loses at most the batch in flight, whole. When the connection breaks (the server
 * restarted or was killed) the run stops with a RetentionStoppedError that counts exactly the rows
 * committed: a batch whose COMMIT went unanswered is asked about on `checkOn` once the server is
 * back. A rerun with the same cutoff (the plan's cutoffIso) resumes. Rows a writer inserts after the
 * plan with an old time and an id above the plan's range stay for the next run.
 */
export async function applyPostgresRetention(client: Pick<pg.ClientBase, 'query'>, plan: RetentionPlan, options: PostgresApplyOptions = {}): Promise<RetentionResult> {
	if (plan.engine !== 'postgres') {
		throw new Error(`a ${plan.engine} plan cannot run on PostgreSQL`);
	}
	const sql = retentionSql(quotePostgresTable(plan.table), plan.cutoffValue);
	const maxId = plan.maxId;
	const {checkOn} = options;
	const engine: RetentionEngine = {
		range: plan.minId === null || maxId === null ? null : {first: plan.minId, last: maxId},
		async deleteWindow(lo, hi) {
			// Any failure but a lost connection leaves the connection open, maybe in a transaction the
			// server aborted (a lock or statement timeout) or one it still holds open (an error on this
			// side): it is ended here, so the batch rolls back and the connection serves the next job.
			const rollBack = () => client.query(sql.rollback).then(() => undefined, () => undefined);
			let xid: string;
			let deleted: number;
			try {
				await client.query(sql.begin);
				xid = (await client.query<{xid: string}>(markSql(sql.xid))).rows[0]!.xid;
				deleted = (await client.query(markSql(sql.deleteWindow), [lo, hi])).rowCount ?? 0;
			} catch (error) {
				if (!isConnectionLoss(error)) await rollBack();
				throw error;
			}
			try {
				await client.query(sql.commit);
			} catch (error) {
				// Silence from a lost connection means it may have committed. An error in answer means it did
				// not; the ROLLBACK makes sure no transaction stays open.
				if (isConnectionLoss(error)) {
					throw new CommitInDoubt(deleted, checkOn === undefined ? null : () => hasCommitted(checkOn, sql.status, xid), {cause: error});
				}
				await rollBack();
				throw error;
			}
			return {deleted, ftsDeleted: 0};
		},
		async nextId(from) {
			const {rows} = await client.query<{id: string}>(markSql(sql.nextId), [from, maxId]);
			return rows[0] === undefined ? null : Number(rows[0].id);
		},
		// lock_not_available: lock_timeout ran out, on the table or on a row.
		isLockFailure: error => (error as {code?: unknown}).code === '55P03',
		isConnectionLoss,
		after: plan.vacuum
			? [{phase: 'vacuum', statement: sql.vacuum, vacuums: true, analyzes: true, run: () => withoutStatementTimeout(client, [sql.liftTimeout, sql.lockWait], sql.restoreTimeout, () => client.query(markSql(sql.vacuum)))}]
			: [{phase: 'analyze', statement: sql.analyze, vacuums: false, analyzes: true, run: async () => void (await client.query(markSql(sql.analyze)))}],
	};
	return runRetention(plan, engine, options);
}
