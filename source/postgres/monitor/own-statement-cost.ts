import {counterDelta} from './counter-rates.js';
import {queryRows, SQL_MARKER, type Queryable} from './queryable.js';
import type {ServerInfo} from './server-info.js';
import {statementKey, statementsColumns} from './statements-query.js';

/**
 * relaytop's own statements in pg_stat_statements, found by the marker comment their text carries.
 *
 * Why a marker: pg_stat_statements records neither application_name nor pid, and relaytop often runs as
 * the gateway's own role, so neither the application name nor userid tells its statements apart. Every
 * statement this module sends carries SQL_MARKER after its first keyword (markSql), and pg_stat_statements
 * keeps comments inside a statement in its normalised text. Other relaytop queries count only if they
 * carry the marker too (wrap them in markSql). The sum reads every text (the texts file), so call it
 * around a benchmark or now and then, not on every refresh. The reading query counts itself.
 */
export interface OwnStatementCost {
	readonly sampledAtMs: number;
	/** pg_stat_statements_info.stats_reset (1.9+), else null. */
	readonly statsResetAtMs: number | null;
	/** Sums over the entries. */
	readonly calls: number;
	/** Execution time (total_exec_time, or total_time before 1.8). */
	readonly totalMs: number;
	/** Entries carrying the marker in the connected database, by userid:queryid:toplevel. */
	readonly entries: readonly {readonly key: string; readonly calls: number; readonly totalMs: number}[];
}

interface CostRow {
	sampled_at_ms: number;
	stats_reset_ms: number | null;
	userid: string | null;
	queryid: string | null;
	toplevel: boolean | null;
	calls: number | null;
	total_ms: number | null;
}

export async function readOwnStatementCost(db: Queryable, server: ServerInfo, marker: string = SQL_MARKER): Promise<OwnStatementCost> {
	const {version, schema} = server.statements;
	if (version === null || schema === null) throw new Error('pg_stat_statements is not installed in this database');
	const columns = statementsColumns(version, schema);
	const schemaOf = columns.functionName.slice(0, columns.functionName.lastIndexOf('.'));
	const rows = await queryRows<CostRow>(
		db,
		`WITH clock AS (SELECT clock_timestamp() AS now, ${columns.info ? `(SELECT extract(epoch FROM stats_reset)::float8 * 1000 FROM ${schemaOf}.pg_stat_statements_info)` : 'NULL::float8'} AS stats_reset_ms)
SELECT extract(epoch FROM clock.now)::float8 * 1000 AS sampled_at_ms,
	clock.stats_reset_ms,
	s.userid::text AS userid,
	s.queryid::text AS queryid,
	${columns.toplevel ? 's.toplevel' : 'NULL::boolean'} AS toplevel,
	s.calls::float8 AS calls,
	s.${columns.totalColumn}::float8 AS total_ms
FROM clock LEFT JOIN ${columns.functionName}(true) s
	ON s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND strpos(s.query, $1::text) > 0 AND s.queryid IS NOT NULL`,
		[marker],
	);
	const [first] = rows;
	if (first === undefined) throw new Error('the own-cost query returned no row');
	const entries = rows.flatMap(row =>
		row.userid === null || row.queryid === null ? [] : [{key: statementKey(row.userid, row.queryid, row.toplevel), calls: row.calls ?? 0, totalMs: row.total_ms ?? 0}],
	);
	return {
		sampledAtMs: first.sampled_at_ms,
		statsResetAtMs: first.stats_reset_ms,
		calls: entries.reduce((sum, entry) => sum + entry.calls, 0),
		totalMs: entries.reduce((sum, entry) => sum + entry.totalMs, 0),
		entries,
	};
}

export interface OwnCostInterval {
	readonly seconds: number;
	/** Counters started over in between (reset): the figures are a lower bound. */
	readonly restarted: boolean;
	readonly calls: number;
	readonly totalMs: number;
	/** Milliseconds of server time relaytop's statements used per second of wall time. */
	readonly msPerS: number;
}

/**
 * relaytop's own query time between two readings, entry by entry (an entry that appeared counts whole, one
 * that went down or was reset counts from zero, one that vanished counts nothing); divide by the
 * refreshes in between for "per refresh". Pure.
 */
export function ownCostBetween(before: OwnStatementCost, after: OwnStatementCost): OwnCostInterval | null {
	const seconds = (after.sampledAtMs - before.sampledAtMs) / 1000;
	if (!(seconds > 0)) return null;
	const earlier = new Map(before.entries.map(entry => [entry.key, entry]));
	let calls = 0;
	let totalMs = 0;
	let restarted = false;
	for (const entry of after.entries) {
		const then = earlier.get(entry.key) ?? {calls: 0, totalMs: 0};
		const delta = counterDelta(
			{atMs: before.sampledAtMs, resetAtMs: before.statsResetAtMs, values: {calls: then.calls, totalMs: then.totalMs}},
			{atMs: after.sampledAtMs, resetAtMs: after.statsResetAtMs, values: {calls: entry.calls, totalMs: entry.totalMs}},
		);
		if (delta === null) continue;
		restarted ||= delta.restarted;
		calls += delta.deltas.calls;
		totalMs += delta.deltas.totalMs;
	}
	return {seconds, restarted, calls, totalMs, msPerS: totalMs / seconds};
}
