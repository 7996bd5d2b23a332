import {numberOrNull, queryRows, type Queryable} from './queryable.js';
import {sinceVersion} from './version-gate.js';

/** One table's size, tuples, maintenance times and scans (pg_stat_user_tables + sizes). Times are epoch ms. */
export interface TableStats {
	readonly schema: string;
	readonly name: string;
	/** As regclass prints it: schema-qualified when not on search_path. */
	readonly qualifiedName: string;
	/** pg_total_relation_size: heap + indexes + TOAST. Null while someone holds an ACCESS EXCLUSIVE lock on it (asking would wait). */
	readonly sizeBytes: number | null;
	/** pg_relation_size: the heap's main fork. */
	readonly tableBytes: number | null;
	/** 1 for the largest table of the database. */
	readonly sizeRank: number;
	/** A granted ACCESS EXCLUSIVE lock on the table (DDL, VACUUM FULL): sizes were skipped. */
	readonly locked: boolean;
	readonly nLiveTup: number;
	readonly nDeadTup: number;
	/** n_dead_tup / (n_live_tup + n_dead_tup); null for an empty table. */
	readonly deadRatio: number | null;
	readonly nModSinceAnalyze: number;
	/** PG13+. */
	readonly nInsSinceVacuum: number | null;
	readonly lastVacuumAtMs: number | null;
	readonly lastAutovacuumAtMs: number | null;
	readonly lastAnalyzeAtMs: number | null;
	readonly lastAutoanalyzeAtMs: number | null;
	readonly vacuumCount: number;
	readonly autovacuumCount: number;
	readonly analyzeCount: number;
	readonly autoanalyzeCount: number;
	readonly seqScan: number;
	readonly seqTupRead: number;
	/** Null for a table without indexes. */
	readonly idxScan: number | null;
	/** autovacuum is on for the server and not switched off for this table. */
	readonly autovacuumEnabled: boolean;
	/** Dead tuples at which autovacuum will VACUUM it: threshold + scale_factor × reltuples, table reloptions first. */
	readonly autovacuumAtDeadTuples: number;
	/** The table's own storage parameters (pg_class.reloptions), e.g. autovacuum_vacuum_scale_factor → '0.05'. */
	readonly reloptions: Readonly<Record<string, string>>;
}

export interface TablesSnapshot {
	/** The table name asked for (e.g. 'logs' or 'public.logs'). */
	readonly requested: string;
	/** That table, or null when to_regclass does not find it. */
	readonly table: TableStats | null;
	/** The largest tables of the database, largest first. */
	readonly largest: readonly TableStats[];
}

interface TableRow {
	is_requested: boolean;
	size_rank: number;
	schema: string;
	name: string;
	qualified_name: string;
	size_bytes: number | null;
	table_bytes: number | null;
	locked: boolean;
	n_live_tup: number;
	n_dead_tup: number;
	n_mod_since_analyze: number;
	n_ins_since_vacuum: number | null;
	last_vacuum_ms: number | null;
	last_autovacuum_ms: number | null;
	last_analyze_ms: number | null;
	last_autoanalyze_ms: number | null;
	vacuum_count: number;
	autovacuum_count: number;
	analyze_count: number;
	autoanalyze_count: number;
	seq_scan: number;
	seq_tup_read: number;
	idx_scan: number | null;
	autovacuum_enabled: boolean;
	autovacuum_at: number;
	reloptions: string[];
}

const epochMs = (column: string): string => `extract(epoch FROM s.${column})::float8 * 1000`;

const reloption = (name: string): string => `(SELECT option_value FROM pg_options_to_table(s.reloptions) WHERE option_name = '${name}')`;

/**
 * One statement: every user table ranked by size, returning the top $2 and the table named $1. Size
 * functions take an ACCESS SHARE lock, so tables with a granted ACCESS EXCLUSIVE lock are skipped (as
 * pgCenter and pgwatch do) rather than queued behind.
 */
function tablesSql(versionNum: number): string {
	return `WITH locked AS (
	SELECT DISTINCT l.relation FROM pg_locks l
	WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
), sized AS (
	SELECT s.*, c.reltuples, c.reloptions, k.relation IS NOT NULL AS locked,
		CASE WHEN k.relation IS NULL THEN pg_total_relation_size(s.relid) END AS size_bytes,
		CASE WHEN k.relation IS NULL THEN pg_relation_size(s.relid) END AS table_bytes
	FROM pg_stat_user_tables s
	JOIN pg_class c ON c.oid = s.relid
	LEFT JOIN locked k ON k.relation = s.relid
), ranked AS (
	SELECT sized.*, row_number() OVER (ORDER BY size_bytes DESC NULLS LAST, relid) AS size_rank FROM sized
)
SELECT s.relid = to_regclass($1::text) AS is_requested,
	s.size_rank::int AS size_rank,
	s.schemaname AS schema,
	s.relname AS name,
	s.relid::regclass::text AS qualified_name,
	s.size_bytes::float8 AS size_bytes,
	s.table_bytes::float8 AS table_bytes,
	s.locked,
	s.n_live_tup::float8 AS n_live_tup,
	s.n_dead_tup::float8 AS n_dead_tup,
	s.n_mod_since_analyze::float8 AS n_mod_since_analyze,
	${sinceVersion(versionNum, 130_000, 's.n_ins_since_vacuum::float8', 'NULL::float8')} AS n_ins_since_vacuum,
	${epochMs('last_vacuum')} AS last_vacuum_ms,
	${epochMs('last_autovacuum')} AS last_autovacuum_ms,
	${epochMs('last_analyze')} AS last_analyze_ms,
	${epochMs('last_autoanalyze')} AS last_autoanalyze_ms,
	s.vacuum_count::float8 AS vacuum_count,
	s.autovacuum_count::float8 AS autovacuum_count,
	s.analyze_count::float8 AS analyze_count,
	s.autoanalyze_count::float8 AS autoanalyze_count,
	coalesce(s.seq_scan, 0)::float8 AS seq_scan,
	coalesce(s.seq_tup_read, 0)::float8 AS seq_tup_read,
	s.idx_scan::float8 AS idx_scan,
	current_setting('autovacuum') = 'on' AND coalesce(${reloption('autovacuum_enabled')}, 'true')::boolean AS autovacuum_enabled,
	(coalesce(${reloption('autovacuum_vacuum_threshold')}, current_setting('autovacuum_vacuum_threshold'))::float8
		+ coalesce(${reloption('autovacuum_vacuum_scale_factor')}, current_setting('autovacuum_vacuum_scale_factor'))::float8
		* greatest(s.reltuples, 0))::float8 AS autovacuum_at,
	coalesce(s.reloptions, '{}') AS reloptions
FROM ranked s
WHERE s.size_rank <= $2::int OR s.relid = to_regclass($1::text)
ORDER BY s.size_rank`;
}

const toStats = (row: TableRow): TableStats => ({
	schema: row.schema,
	name: row.name,
	qualifiedName: row.qualified_name,
	sizeBytes: numberOrNull(row.size_bytes),
	tableBytes: numberOrNull(row.table_bytes),
	sizeRank: row.size_rank,
	locked: row.locked,
	nLiveTup: row.n_live_tup,
	nDeadTup: row.n_dead_tup,
	deadRatio: row.n_live_tup + row.n_dead_tup > 0 ? row.n_dead_tup / (row.n_live_tup + row.n_dead_tup) : null,
	nModSinceAnalyze: row.n_mod_since_analyze,
	nInsSinceVacuum: numberOrNull(row.n_ins_since_vacuum),
	lastVacuumAtMs: numberOrNull(row.last_vacuum_ms),
	lastAutovacuumAtMs: numberOrNull(row.last_autovacuum_ms),
	lastAnalyzeAtMs: numberOrNull(row.last_analyze_ms),
	lastAutoanalyzeAtMs: numberOrNull(row.last_autoanalyze_ms),
	vacuumCount: row.vacuum_count,
	autovacuumCount: row.autovacuum_count,
	analyzeCount: row.analyze_count,
	autoanalyzeCount: row.autoanalyze_count,
	seqScan: row.seq_scan,
	seqTupRead: row.seq_tup_read,
	idxScan: numberOrNull(row.idx_scan),
	autovacuumEnabled: row.autovacuum_enabled,
	autovacuumAtDeadTuples: row.autovacuum_at,
	reloptions: Object.fromEntries(row.reloptions.map(option => [option.slice(0, option.indexOf('=')), option.slice(option.indexOf('=') + 1)])),
});

export interface TablesOptions {
	/** Looked up with to_regclass, so 'logs' follows search_path and 'schema.logs' is exact. Default 'logs'. */
	readonly table?: string;
	/** How many of the largest tables to list; default 10. */
	readonly largest?: number;
}

export async function readTables(db: Queryable, versionNum: number, options: TablesOptions = {}): Promise<TablesSnapshot> {
	const requested = options.table ?? 'logs';
	const largest = options.largest ?? 10;
	const rows = await queryRows<TableRow>(db, tablesSql(versionNum), [requested, largest]);
	const table = rows.find(row => row.is_requested);
	return {
		requested,
		table: table === undefined ? null : toStats(table),
		largest: rows.filter(row => row.size_rank <= largest).map(toStats),
	};
}
