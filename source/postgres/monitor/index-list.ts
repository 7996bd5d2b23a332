import type {IndexLike} from './index-needs.js';
import {numberOrNull, queryRows, type Queryable} from './queryable.js';
import {sinceVersion} from './version-gate.js';

export interface IndexColumn {
	/** The column name, or the expression's text for an expression column. */
	readonly name: string;
	readonly expression: boolean;
	/** An INCLUDE column (PG11+): stored, not part of the key. */
	readonly included: boolean;
	readonly descending: boolean;
}

export interface IndexInfo extends IndexLike {
	readonly schema: string;
	readonly columns: readonly IndexColumn[];
	readonly unique: boolean;
	readonly primary: boolean;
	/** pg_index.indislive: false while DROP INDEX CONCURRENTLY removes it. */
	readonly live: boolean;
	/** pg_get_indexdef: the CREATE INDEX statement. */
	readonly definition: string;
	/** Null while someone holds an ACCESS EXCLUSIVE lock on the index. */
	readonly sizeBytes: number | null;
	/** Index scans since the statistics were reset; null when not in pg_stat_user_indexes. */
	readonly idxScan: number | null;
	/** The backend building it (pg_stat_progress_create_index, PG12+), else null. */
	readonly buildPid: number | null;
}

export interface IndexesSnapshot {
	readonly requested: string;
	/** The table as regclass prints it; null when to_regclass does not find it. */
	readonly table: string | null;
	readonly indexes: readonly IndexInfo[];
}

interface IndexRow {
	table_name: string | null;
	name: string | null;
	schema: string;
	method: string;
	unique: boolean;
	primary: boolean;
	valid: boolean;
	ready: boolean;
	live: boolean;
	key_count: number;
	column_names: (string | null)[];
	column_defs: string[];
	descending: (boolean | null)[];
	predicate: string | null;
	definition: string;
	size_bytes: number | null;
	idx_scan: number | null;
	build_pid: number | null;
}

/**
 * The indexes of table $1, with each column (indkey; 0 is an expression, whose text pg_get_indexdef
 * gives; INCLUDE columns after indnkeyatts, PG11+), validity, size and whether a build is running.
 * The LEFT JOIN keeps one row for a table without indexes, so "found, no index" differs from "not found".
 */
function indexesSql(versionNum: number): string {
	const keyCount = sinceVersion(versionNum, 110_000, 'i.indnkeyatts', 'i.indnatts');
	const buildPid = sinceVersion(
		versionNum,
		120_000,
		'(SELECT p.pid FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid LIMIT 1)',
		'NULL::int',
	);
	return `WITH target AS (SELECT to_regclass($1::text) AS oid)
SELECT t.oid::regclass::text AS table_name,
	ci.relname AS name,
	ns.nspname AS schema,
	am.amname AS method,
	i.indisunique AS unique,
	i.indisprimary AS primary,
	i.indisvalid AS valid,
	i.indisready AS ready,
	i.indislive AS live,
	${keyCount}::int AS key_count,
	ARRAY(SELECT a.attname::text FROM generate_series(1, i.indnatts) AS k LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0 ORDER BY k) AS column_names,
	ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS column_defs,
	ARRAY(SELECT (i.indoption[k - 1] & 1) = 1 FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS descending,
	pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
	pg_get_indexdef(i.indexrelid) AS definition,
	CASE WHEN NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'relation' AND l.relation = i.indexrelid AND l.mode = 'AccessExclusiveLock' AND l.granted)
		THEN pg_relation_size(i.indexrelid) END::float8 AS size_bytes,
	s.idx_scan::float8 AS idx_scan,
	${buildPid} AS build_pid
FROM target t
LEFT JOIN pg_index i ON i.indrelid = t.oid
LEFT JOIN pg_class ci ON ci.oid = i.indexrelid
LEFT JOIN pg_namespace ns ON ns.oid = ci.relnamespace
LEFT JOIN pg_am am ON am.oid = ci.relam
LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
ORDER BY ci.relname`;
}

const toIndex = (row: IndexRow & {name: string}): IndexInfo => {
	const columns = row.column_defs.map((definition, position): IndexColumn => {
		const name = row.column_names[position] ?? null;
		return {name: name ?? definition, expression: name === null, included: position >= row.key_count, descending: row.descending[position] === true};
	});
	const keyColumns = columns.filter(column => !column.included).map(column => (column.expression ? null : column.name));
	return {
		name: row.name,
		schema: row.schema,
		method: row.method,
		columns,
		keyColumns,
		unique: row.unique,
		primary: row.primary,
		valid: row.valid,
		ready: row.ready,
		live: row.live,
		predicate: row.predicate,
		definition: row.definition,
		sizeBytes: numberOrNull(row.size_bytes),
		idxScan: numberOrNull(row.idx_scan),
		building: row.build_pid !== null,
		buildPid: row.build_pid,
	};
};

/** The indexes of one table (default 'logs', found through search_path unless schema-qualified). */
export async function readIndexes(db: Queryable, versionNum: number, table = 'logs'): Promise<IndexesSnapshot> {
	const rows = await queryRows<IndexRow>(db, indexesSql(versionNum), [table]);
	const tableName = rows[0]?.table_name ?? null;
	const indexes = rows.flatMap(row => (row.name === null ? [] : [toIndex({...row, name: row.name})]));
	return {requested: table, table: tableName, indexes};
}
