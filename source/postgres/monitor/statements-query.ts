import {extensionVersionAtLeast} from './server-info.js';
import {numberOrNull, queryRows, SQL_MARKER, type Queryable} from './queryable.js';

/**
 * Which pg_stat_statements columns exist, from the installed extension's version (not the server's:
 * an extension not updated after pg_upgrade keeps its old columns).
 * - 1.8 (PG13): total_time → total_exec_time (plus planning columns).
 * - 1.9 (PG14): toplevel, pg_stat_statements_info (dealloc, stats_reset).
 * - 1.11 (PG17): stats_since per entry.
 */
export interface StatementsColumns {
	readonly extensionVersion: string;
	/** 'total_time' before 1.8, 'total_exec_time' from 1.8. */
	readonly totalColumn: 'total_time' | 'total_exec_time';
	readonly toplevel: boolean;
	readonly info: boolean;
	readonly statsSince: boolean;
	/** The schema-qualified function, e.g. "public".pg_stat_statements. */
	readonly functionName: string;
}

const quoted = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export function statementsColumns(extensionVersion: string, schema: string): StatementsColumns {
	return {
		extensionVersion,
		totalColumn: extensionVersionAtLeast(extensionVersion, 1, 8) ? 'total_exec_time' : 'total_time',
		toplevel: extensionVersionAtLeast(extensionVersion, 1, 9),
		info: extensionVersionAtLeast(extensionVersion, 1, 9),
		statsSince: extensionVersionAtLeast(extensionVersion, 1, 11),
		functionName: `${quoted(schema)}.pg_stat_statements`,
	};
}

const CURRENT_DB = '(SELECT oid FROM pg_database WHERE datname = current_database())';

/**
 * Numbers of every entry of the connected database, without query texts (pg_stat_statements(false)
 * does not read the texts file), with the server clock and the extension's reset time.
 */
export function statementNumbersSql(columns: StatementsColumns): string {
	const schemaOf = columns.functionName.slice(0, columns.functionName.lastIndexOf('.'));
	return `WITH clock AS (SELECT clock_timestamp() AS now${
		columns.info ? `, (SELECT extract(epoch FROM stats_reset)::float8 * 1000 FROM ${schemaOf}.pg_stat_statements_info) AS stats_reset_ms, (SELECT dealloc::float8 FROM ${schemaOf}.pg_stat_statements_info) AS dealloc` : ', NULL::float8 AS stats_reset_ms, NULL::float8 AS dealloc'
	})
SELECT extract(epoch FROM clock.now)::float8 * 1000 AS sampled_at_ms,
	clock.stats_reset_ms,
	clock.dealloc,
	s.userid::text AS userid,
	s.queryid::text AS queryid,
	${columns.toplevel ? 's.toplevel' : 'NULL::boolean'} AS toplevel,
	s.calls::float8 AS calls,
	s.${columns.totalColumn}::float8 AS total_ms,
	s.rows::float8 AS rows,
	${columns.statsSince ? 'extract(epoch FROM s.stats_since)::float8 * 1000' : 'NULL::float8'} AS stats_since_ms
FROM clock LEFT JOIN ${columns.functionName}(false) s ON s.dbid = ${CURRENT_DB}`;
}

/** Texts of the given queryids only (reading texts loads the whole texts file: done for the top N, and cached). */
function statementTextsSql(columns: StatementsColumns): string {
	return `SELECT s.userid::text AS userid, s.queryid::text AS queryid, ${columns.toplevel ? 's.toplevel' : 'NULL::boolean'} AS toplevel, s.query
FROM ${columns.functionName}(true) s
WHERE s.dbid = ${CURRENT_DB} AND s.queryid = ANY($1::bigint[])`;
}

/** One entry's cumulative numbers. queryid is text: it is a 64-bit integer. */
export interface StatementNumbers {
	/** userid:queryid:toplevel, unique within the database. */
	readonly key: string;
	readonly userid: string;
	readonly queryid: string;
	readonly toplevel: boolean | null;
	readonly calls: number;
	readonly totalMs: number;
	readonly rows: number;
	readonly statsSinceMs: number | null;
}

export interface StatementNumbersSample {
	readonly sampledAtMs: number;
	readonly statsResetAtMs: number | null;
	readonly dealloc: number | null;
	/** Entries whose queryid the role may see. */
	readonly entries: readonly StatementNumbers[];
	/** Other roles' entries (queryid hidden without pg_read_all_stats): counted, not listed. */
	readonly hidden: {readonly statements: number; readonly calls: number; readonly totalMs: number};
}

export const statementKey = (userid: string, queryid: string, toplevel: boolean | null): string => `${userid}:${queryid}:${toplevel === null ? '' : toplevel ? 't' : 'f'}`;

interface NumbersRow {
	sampled_at_ms: number;
	stats_reset_ms: number | null;
	dealloc: number | null;
	userid: string | null;
	queryid: string | null;
	toplevel: boolean | null;
	calls: number | null;
	total_ms: number | null;
	rows: number | null;
	stats_since_ms: number | null;
}

export async function readStatementNumbers(db: Queryable, columns: StatementsColumns): Promise<StatementNumbersSample> {
	const rows = await queryRows<NumbersRow>(db, statementNumbersSql(columns));
	const [first] = rows;
	if (first === undefined) throw new Error('the statements query returned no row');
	const entries: StatementNumbers[] = [];
	const hidden = {statements: 0, calls: 0, totalMs: 0};
	for (const row of rows) {
		if (row.userid === null) continue; // the clock row of an empty view
		if (row.queryid === null) {
			hidden.statements += 1;
			hidden.calls += row.calls ?? 0;
			hidden.totalMs += row.total_ms ?? 0;
			continue;
		}
		entries.push({
			key: statementKey(row.userid, row.queryid, row.toplevel),
			userid: row.userid,
			queryid: row.queryid,
			toplevel: row.toplevel,
			calls: row.calls ?? 0,
			totalMs: row.total_ms ?? 0,
			rows: row.rows ?? 0,
			statsSinceMs: numberOrNull(row.stats_since_ms),
		});
	}
	return {sampledAtMs: first.sampled_at_ms, statsResetAtMs: numberOrNull(first.stats_reset_ms), dealloc: numberOrNull(first.dealloc), entries, hidden};
}

interface TextRow {
	userid: string;
	queryid: string;
	toplevel: boolean | null;
	query: string | null;
}

/** Texts by key for the given queryids. */
export async function readStatementTexts(db: Queryable, columns: StatementsColumns, queryids: readonly string[]): Promise<Map<string, string>> {
	const texts = new Map<string, string>();
	if (queryids.length === 0) return texts;
	const rows = await queryRows<TextRow>(db, statementTextsSql(columns), [[...new Set(queryids)]]);
	for (const row of rows) if (row.query !== null) texts.set(statementKey(row.userid, row.queryid, row.toplevel), row.query);
	return texts;
}

/** The text carries relaytop's marker: one of relaytop's own statements. */
export const isOwnStatement = (query: string | null, marker: string = SQL_MARKER): boolean => query !== null && query.includes(marker);
