import {counterDelta, ratio, type CounterReading} from './counter-rates.js';
import {numberOrNull, queryRows, type Queryable} from './queryable.js';

/** Cumulative counters of pg_stat_database for the connected database. */
export interface DatabaseCounters {
	readonly xactCommit: number;
	readonly xactRollback: number;
	readonly blksRead: number;
	readonly blksHit: number;
	readonly tupInserted: number;
	readonly tupUpdated: number;
	readonly tupDeleted: number;
	readonly tempFiles: number;
	readonly tempBytes: number;
	readonly deadlocks: number;
	readonly conflicts: number;
}

export interface DatabaseInterval {
	readonly seconds: number;
	/** The statistics were reset (or a counter went down) inside the interval: figures count from the reset. */
	readonly restarted: boolean;
	/** (commits + rollbacks) per second. */
	readonly tps: number;
	readonly commitsPerS: number;
	readonly rollbacksPerS: number;
	/** blks_hit / (blks_hit + blks_read) over the interval; null without block access. */
	readonly cacheHitRatio: number | null;
	readonly tupInsertedPerS: number;
	readonly tupUpdatedPerS: number;
	readonly tupDeletedPerS: number;
	readonly tempFiles: number;
	readonly tempBytes: number;
	readonly tempBytesPerS: number;
	readonly deadlocks: number;
}

export interface DatabaseStatsSnapshot {
	readonly sampledAtMs: number;
	readonly database: string;
	/** Backends connected to this database (relaytop's included: pg_stat_database counts them all). */
	readonly numBackends: number;
	readonly statsResetAtMs: number | null;
	readonly counters: DatabaseCounters;
	/** Since the statistics were reset. */
	readonly cacheHitRatio: number | null;
	/** Since the previous sample; null on the first. */
	readonly interval: DatabaseInterval | null;
}

interface DatabaseRow {
	sampled_at_ms: number;
	database: string;
	num_backends: number;
	stats_reset_ms: number | null;
	xact_commit: number;
	xact_rollback: number;
	blks_read: number;
	blks_hit: number;
	tup_inserted: number;
	tup_updated: number;
	tup_deleted: number;
	temp_files: number;
	temp_bytes: number;
	deadlocks: number;
	conflicts: number;
}

/** Readable by any role; each sample must be its own transaction (stats are cached per transaction on PG15+). */
const DATABASE_STATS_SQL = `SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS sampled_at_ms,
	d.datname AS database,
	d.numbackends AS num_backends,
	extract(epoch FROM d.stats_reset)::float8 * 1000 AS stats_reset_ms,
	d.xact_commit::float8 AS xact_commit,
	d.xact_rollback::float8 AS xact_rollback,
	d.blks_read::float8 AS blks_read,
	d.blks_hit::float8 AS blks_hit,
	d.tup_inserted::float8 AS tup_inserted,
	d.tup_updated::float8 AS tup_updated,
	d.tup_deleted::float8 AS tup_deleted,
	d.temp_files::float8 AS temp_files,
	d.temp_bytes::float8 AS temp_bytes,
	d.deadlocks::float8 AS deadlocks,
	d.conflicts::float8 AS conflicts
FROM pg_stat_database d
WHERE d.datname = current_database()`;

type Counter = keyof DatabaseCounters;

/** TPS, cache hit ratio, temp files and deadlocks of the connected database; keeps the previous reading for rates. */
export class DatabaseStatsSampler {
	private previous: CounterReading<Counter> | null = null;

	clear(): void {
		this.previous = null;
	}

	async sample(db: Queryable): Promise<DatabaseStatsSnapshot> {
		const [row] = await queryRows<DatabaseRow>(db, DATABASE_STATS_SQL);
		if (row === undefined) throw new Error('pg_stat_database has no row for the current database');
		const counters: DatabaseCounters = {
			xactCommit: row.xact_commit,
			xactRollback: row.xact_rollback,
			blksRead: row.blks_read,
			blksHit: row.blks_hit,
			tupInserted: row.tup_inserted,
			tupUpdated: row.tup_updated,
			tupDeleted: row.tup_deleted,
			tempFiles: row.temp_files,
			tempBytes: row.temp_bytes,
			deadlocks: row.deadlocks,
			conflicts: row.conflicts,
		};
		const current: CounterReading<Counter> = {atMs: row.sampled_at_ms, resetAtMs: numberOrNull(row.stats_reset_ms), values: counters};
		const delta = counterDelta(this.previous, current);
		this.previous = current;
		return {
			sampledAtMs: row.sampled_at_ms,
			database: row.database,
			numBackends: row.num_backends,
			statsResetAtMs: current.resetAtMs,
			counters,
			cacheHitRatio: ratio(counters.blksHit, counters.blksHit + counters.blksRead),
			interval:
				delta === null
					? null
					: {
							seconds: delta.seconds,
							restarted: delta.restarted,
							tps: delta.perSecond.xactCommit + delta.perSecond.xactRollback,
							commitsPerS: delta.perSecond.xactCommit,
							rollbacksPerS: delta.perSecond.xactRollback,
							cacheHitRatio: ratio(delta.deltas.blksHit, delta.deltas.blksHit + delta.deltas.blksRead),
							tupInsertedPerS: delta.perSecond.tupInserted,
							tupUpdatedPerS: delta.perSecond.tupUpdated,
							tupDeletedPerS: delta.perSecond.tupDeleted,
							tempFiles: delta.deltas.tempFiles,
							tempBytes: delta.deltas.tempBytes,
							tempBytesPerS: delta.perSecond.tempBytes,
							deadlocks: delta.deltas.deadlocks,
						},
		};
	}
}
