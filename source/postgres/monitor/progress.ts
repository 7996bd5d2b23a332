import {numberOrNull, ownApplicationName, queryRows, type OwnBackendOptions, type Queryable} from './queryable.js';
import {sinceVersion} from './version-gate.js';

/** A running VACUUM (manual or autovacuum), from pg_stat_progress_vacuum (9.6+). */
export interface VacuumProgress {
	readonly pid: number;
	readonly database: string | null;
	/** Resolved in the connected database only; null elsewhere or when hidden. */
	readonly relation: string | null;
	readonly autovacuum: boolean;
	readonly phase: string | null;
	readonly heapBlksTotal: number | null;
	readonly heapBlksScanned: number | null;
	readonly heapBlksVacuumed: number | null;
	readonly indexVacuumCount: number | null;
	/** PG17+. */
	readonly indexesTotal: number | null;
	readonly indexesProcessed: number | null;
	/** heap_blks_scanned / heap_blks_total × 100; null when the total is 0 or unknown. */
	readonly scannedPct: number | null;
	readonly vacuumedPct: number | null;
	readonly xactAgeS: number | null;
}

/** A running CREATE INDEX / REINDEX, from pg_stat_progress_create_index (PG12+). */
export interface CreateIndexProgress {
	readonly pid: number;
	readonly database: string | null;
	readonly relation: string | null;
	/** Null until the index exists in the catalog. */
	readonly index: string | null;
	/** 'CREATE INDEX', 'CREATE INDEX CONCURRENTLY', 'REINDEX', 'REINDEX CONCURRENTLY'. */
	readonly command: string | null;
	readonly phase: string | null;
	readonly lockersTotal: number | null;
	readonly lockersDone: number | null;
	/** In the "waiting for …" phases: the session the build waits for (often an idle-in-transaction one). */
	readonly currentLockerPid: number | null;
	readonly blocksTotal: number | null;
	readonly blocksDone: number | null;
	readonly tuplesTotal: number | null;
	readonly tuplesDone: number | null;
	readonly partitionsTotal: number | null;
	readonly partitionsDone: number | null;
	/** Of blocks when the phase counts blocks, else of tuples; null when neither has a total. */
	readonly percent: number | null;
	readonly xactAgeS: number | null;
}

export interface ProgressSnapshot {
	readonly vacuums: readonly VacuumProgress[];
	/** Empty before PG12, where the view does not exist (see createIndexSupported). */
	readonly createIndexes: readonly CreateIndexProgress[];
	readonly createIndexSupported: boolean;
}

const pct = (done: number | null, total: number | null): number | null => (done === null || total === null || total <= 0 ? null : (100 * done) / total);

const RELATION_IN_THIS_DB = (column: string): string =>
	`CASE WHEN p.datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND p.${column} <> 0 THEN p.${column}::regclass::text END`;

function vacuumProgressSql(versionNum: number): string {
	const pg17 = (text: string): string => sinceVersion(versionNum, 170_000, text, 'NULL::float8');
	return `WITH clock AS (SELECT clock_timestamp() AS now)
SELECT p.pid, p.datname, ${RELATION_IN_THIS_DB('relid')} AS relation,
	coalesce(a.backend_type = 'autovacuum worker', a.query LIKE 'autovacuum:%', false) AS autovacuum,
	p.phase,
	p.heap_blks_total::float8 AS heap_blks_total,
	p.heap_blks_scanned::float8 AS heap_blks_scanned,
	p.heap_blks_vacuumed::float8 AS heap_blks_vacuumed,
	p.index_vacuum_count::float8 AS index_vacuum_count,
	${pg17('p.indexes_total::float8')} AS indexes_total,
	${pg17('p.indexes_processed::float8')} AS indexes_processed,
	extract(epoch FROM clock.now - a.xact_start)::float8 AS xact_age_s
FROM pg_stat_progress_vacuum p CROSS JOIN clock
LEFT JOIN pg_stat_activity a ON a.pid = p.pid
WHERE p.pid <> pg_backend_pid() AND ($1::text IS NULL OR a.application_name IS DISTINCT FROM $1::text)
ORDER BY p.pid`;
}

const CREATE_INDEX_PROGRESS_SQL = `WITH clock AS (SELECT clock_timestamp() AS now)
SELECT p.pid, p.datname, ${RELATION_IN_THIS_DB('relid')} AS relation, ${RELATION_IN_THIS_DB('index_relid')} AS index,
	p.command, p.phase,
	p.lockers_total::float8 AS lockers_total, p.lockers_done::float8 AS lockers_done,
	nullif(p.current_locker_pid, 0)::int AS current_locker_pid,
	p.blocks_total::float8 AS blocks_total, p.blocks_done::float8 AS blocks_done,
	p.tuples_total::float8 AS tuples_total, p.tuples_done::float8 AS tuples_done,
	p.partitions_total::float8 AS partitions_total, p.partitions_done::float8 AS partitions_done,
	extract(epoch FROM clock.now - a.xact_start)::float8 AS xact_age_s
FROM pg_stat_progress_create_index p CROSS JOIN clock
LEFT JOIN pg_stat_activity a ON a.pid = p.pid
WHERE p.pid <> pg_backend_pid() AND ($1::text IS NULL OR a.application_name IS DISTINCT FROM $1::text)
ORDER BY p.pid`;

interface VacuumRow {
	pid: number;
	datname: string | null;
	relation: string | null;
	autovacuum: boolean;
	phase: string | null;
	heap_blks_total: number | null;
	heap_blks_scanned: number | null;
	heap_blks_vacuumed: number | null;
	index_vacuum_count: number | null;
	indexes_total: number | null;
	indexes_processed: number | null;
	xact_age_s: number | null;
}

interface CreateIndexRow {
	pid: number;
	datname: string | null;
	relation: string | null;
	index: string | null;
	command: string | null;
	phase: string | null;
	lockers_total: number | null;
	lockers_done: number | null;
	current_locker_pid: number | null;
	blocks_total: number | null;
	blocks_done: number | null;
	tuples_total: number | null;
	tuples_done: number | null;
	partitions_total: number | null;
	partitions_done: number | null;
	xact_age_s: number | null;
}

/**
 * Running VACUUMs and index builds of the whole cluster (relation names only for the connected
 * database). Relaytop's own backends are left out by default; pass ownApplicationName: null to see the
 * progress of relaytop's own maintenance.
 */
export async function readProgress(db: Queryable, versionNum: number, options?: OwnBackendOptions): Promise<ProgressSnapshot> {
	const own = ownApplicationName(options);
	const vacuumRows = await queryRows<VacuumRow>(db, vacuumProgressSql(versionNum), [own]);
	const createIndexSupported = versionNum >= 120_000;
	const indexRows = createIndexSupported ? await queryRows<CreateIndexRow>(db, CREATE_INDEX_PROGRESS_SQL, [own]) : [];
	return {
		vacuums: vacuumRows.map(row => {
			const total = numberOrNull(row.heap_blks_total);
			return {
				pid: row.pid,
				database: row.datname,
				relation: row.relation,
				autovacuum: row.autovacuum,
				phase: row.phase,
				heapBlksTotal: total,
				heapBlksScanned: numberOrNull(row.heap_blks_scanned),
				heapBlksVacuumed: numberOrNull(row.heap_blks_vacuumed),
				indexVacuumCount: numberOrNull(row.index_vacuum_count),
				indexesTotal: numberOrNull(row.indexes_total),
				indexesProcessed: numberOrNull(row.indexes_processed),
				scannedPct: pct(numberOrNull(row.heap_blks_scanned), total),
				vacuumedPct: pct(numberOrNull(row.heap_blks_vacuumed), total),
				xactAgeS: numberOrNull(row.xact_age_s),
			};
		}),
		createIndexes: indexRows.map(row => {
			const blocksTotal = numberOrNull(row.blocks_total);
			const tuplesTotal = numberOrNull(row.tuples_total);
			return {
				pid: row.pid,
				database: row.datname,
				relation: row.relation,
				index: row.index,
				command: row.command,
				phase: row.phase,
				lockersTotal: numberOrNull(row.lockers_total),
				lockersDone: numberOrNull(row.lockers_done),
				currentLockerPid: row.current_locker_pid,
				blocksTotal,
				blocksDone: numberOrNull(row.blocks_done),
				tuplesTotal,
				tuplesDone: numberOrNull(row.tuples_done),
				partitionsTotal: numberOrNull(row.partitions_total),
				partitionsDone: numberOrNull(row.partitions_done),
				percent: (blocksTotal ?? 0) > 0 ? pct(numberOrNull(row.blocks_done), blocksTotal) : pct(numberOrNull(row.tuples_done), tuplesTotal),
				xactAgeS: numberOrNull(row.xact_age_s),
			};
		}),
		createIndexSupported,
	};
}
