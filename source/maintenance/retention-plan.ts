import type {CutoffChoice} from './retention-cutoff.js';

// What a retention run will do (the dry run), what it reports while it runs, and how it ended.
// planPostgresRetention / planSqliteRetention make a plan; applyPostgresRetention /
// applySqliteRetention carry it out.

export type RetentionStore = 'newapi' | 'cpa';

export interface PlanRetentionOptions extends CutoffChoice {
	/**
	 * VACUUM after the deletes. PostgreSQL: `VACUUM (ANALYZE)`, default true (false: `ANALYZE` only).
	 * SQLite: `VACUUM` before the `ANALYZE`, default false: it rewrites the whole file and locks it meanwhile.
	 */
	readonly vacuum?: boolean;
}

/** The full-text index of a CPA store: its rows that go with the events, and its orphans. */
export interface FtsPlan {
	/** usage_events_fts rows of the events that go. */
	readonly rows: number;
	/** usage_events_fts rows whose event is already gone (deleted by something else): removed too. */
	readonly orphans: number;
	/**
	 * The largest event id ever given out when planned. Ids are never reused (AUTOINCREMENT), so an
	 * index row at or below it without its event is an orphan; above it, the row may be an event's being inserted.
	 */
	readonly idHorizon: number;
}

export interface RetentionPlan {
	readonly engine: 'postgres' | 'sqlite';
	readonly store: RetentionStore;
	/** As given (PostgreSQL: maybe schema-qualified). */
	readonly table: string;
	readonly timeColumn: 'created_at' | 'timestamp_ms';
	/** The cutoff used, in epoch ms (new-api: floored to a whole second). Rows before it go. */
	readonly cutoffMs: number;
	readonly cutoffIso: string;
	/** The cutoff in the time column's unit, as it appears in the statements. */
	readonly cutoffValue: number;
	/** Rows older than the cutoff, and their id range: the range the batches walk. */
	readonly rows: number;
	readonly minId: number | null;
	readonly maxId: number | null;
	/** About how many bytes the rows take, tables and indexes together; null when unknown. */
	readonly approxBytes: number | null;
	/** How approxBytes was worked out, in words for the user. */
	readonly bytesBasis: string;
	/** CPA stores with a full-text index; null otherwise. */
	readonly fts: FtsPlan | null;
	readonly vacuum: boolean;
	/** The statements the run sends, as the user confirms them ($1/$2 or ?/? are each batch's id window). */
	readonly statements: readonly string[];
}

/** No old rows, and on a CPA store no orphaned full-text rows either. */
export const retentionHasWork = (plan: RetentionPlan): boolean => plan.rows > 0 || (plan.fts?.orphans ?? 0) > 0;

/** 'confirming': the connection broke while a batch was committing; waiting to learn whether it did. */
export type RetentionPhase = 'deleting' | 'confirming' | 'vacuum' | 'analyze' | 'done';

export interface RetentionProgress {
	readonly phase: RetentionPhase;
	/** Rows deleted so far (CPA: events; their index rows are counted in RetentionResult.ftsDeleted). */
	readonly deleted: number;
	/** The plan's row count. */
	readonly total: number;
	readonly batches: number;
	readonly ratePerSecond: number;
	readonly elapsedMs: number;
	/** The last id of the last window done; null before the first. */
	readonly lastId: number | null;
}

export interface ApplyRetentionOptions {
	/** Ids per window, so at most this many rows per transaction. Default 5000 (SQLite: fewer when a batch runs long, see WriterPacing). */
	readonly batchSize?: number;
	/** Checked between batches: the batch in flight commits or rolls back as a whole, then the run stops. */
	readonly signal?: AbortSignal;
	readonly onProgress?: (progress: RetentionProgress) => void;
	/** A pause between batches, to leave the server room. Default 0 (the loop still yields). */
	readonly pauseMs?: number;
	/** Times a batch that could not get its locks is tried again before the run stops. Default 3. */
	readonly lockRetries?: number;
	/** The first wait before such a retry; it doubles each time. Default 500. */
	readonly retryBackoffMs?: number;
	/**
	 * When the connection breaks while a batch is committing (PostgreSQL restarted or killed), how long
	 * to wait for the server to come back and say whether that batch committed. Default 60 s; the
	 * signal ends the wait early. The run stops either way: after a break it deletes nothing more.
	 */
	readonly confirmWaitMs?: number;
}

export interface RetentionResult {
	/** 'interrupted': the signal stopped it; a rerun with the same cutoff finishes the job. */
	readonly status: 'done' | 'interrupted';
	readonly cutoffMs: number;
	readonly cutoffIso: string;
	readonly deleted: number;
	/** CPA: full-text index rows removed (of deleted events, and orphans). */
	readonly ftsDeleted: number;
	readonly batches: number;
	/** Batches tried again after a lock wait timed out. */
	readonly retries: number;
	readonly elapsedMs: number;
	readonly lastId: number | null;
	readonly vacuumed: boolean;
	readonly analyzed: boolean;
}
