import {numberOrNull, ownApplicationName, queryRows, type OwnBackendOptions, type Queryable} from './queryable.js';
import {requireVersion, sinceVersion} from './version-gate.js';

/** What pg_stat_activity shows a role without pg_read_all_stats instead of another role's query. */
const INSUFFICIENT_PRIVILEGE = '<insufficient privilege>';

/** One row of pg_stat_activity, other than relaytop's own backends. Ages are seconds on the server clock. */
export interface Backend {
	readonly pid: number;
	/** The parallel group leader (PG13+), else null. */
	readonly leaderPid: number | null;
	readonly database: string | null;
	/** Connected to the database the monitor is connected to. */
	readonly inCurrentDatabase: boolean;
	readonly usename: string | null;
	readonly applicationName: string | null;
	readonly clientAddr: string | null;
	/** 'client backend', 'autovacuum worker', 'walsender', …; null when hidden. */
	readonly backendType: string | null;
	/** 'active', 'idle', 'idle in transaction', …; null for background processes and hidden rows. */
	readonly state: string | null;
	readonly waitEventType: string | null;
	readonly waitEvent: string | null;
	readonly backendAgeS: number | null;
	/**
	 * backend_start and query_start as the server prints them, exact to the microsecond (a JavaScript
	 * Date would drop the microseconds): what a signal is guarded by, so a pid reused by another
	 * session, or a query that has since ended, is never hit. Null when hidden.
	 */
	readonly backendStart: string | null;
	readonly queryStart: string | null;
	readonly xactAgeS: number | null;
	readonly queryAgeS: number | null;
	readonly stateAgeS: number | null;
	/** age(backend_xmin) in transactions: how far this backend's snapshot holds back the horizon. */
	readonly xminAgeXids: number | null;
	/** age(backend_xid): a backend with an assigned xid holds the horizon too, with or without a snapshot. */
	readonly xidAgeXids: number | null;
	/** The current (or, when idle in transaction, last) query; null for idle sessions and hidden rows. */
	readonly query: string | null;
	/** False when the role may not see this backend's state, query or client (pg_stat_activity shows '<insufficient privilege>'). */
	readonly visible: boolean;
	/** pg_blocking_pids(), asked only for backends waiting on a Lock (it takes the lock manager's locks). */
	readonly blockedBy: readonly number[];
}

export interface BackendsSample {
	/** The server's clock_timestamp() when the sample was read, epoch ms. */
	readonly sampledAtMs: number;
	readonly backends: readonly Backend[];
}

interface BackendRow {
	sampled_at_ms: number;
	pid: number | null;
	leader_pid: number | null;
	datname: string | null;
	in_current_database: boolean | null;
	usename: string | null;
	application_name: string | null;
	client_addr: string | null;
	backend_type: string | null;
	state: string | null;
	wait_event_type: string | null;
	wait_event: string | null;
	backend_age_s: number | null;
	backend_start: string | null;
	query_start: string | null;
	xact_age_s: number | null;
	query_age_s: number | null;
	state_age_s: number | null;
	xmin_age: number | null;
	xid_age: number | null;
	query: string | null;
	blocked_by: number[] | null;
}

/** PG10+: backend_type. PG13+: leader_pid. Query text only for non-idle rows (idle texts are the bulk of the bytes). */
function backendsSql(versionNum: number): string {
	return `WITH clock AS (SELECT clock_timestamp() AS now)
SELECT extract(epoch FROM clock.now)::float8 * 1000 AS sampled_at_ms,
	a.pid,
	${sinceVersion(versionNum, 130_000, 'a.leader_pid', 'NULL::int')} AS leader_pid,
	a.datname,
	a.datname = current_database() AS in_current_database,
	a.usename,
	a.application_name,
	host(a.client_addr) AS client_addr,
	a.backend_type,
	a.state,
	a.wait_event_type,
	a.wait_event,
	extract(epoch FROM clock.now - a.backend_start)::float8 AS backend_age_s,
	a.backend_start::text AS backend_start,
	a.query_start::text AS query_start,
	extract(epoch FROM clock.now - a.xact_start)::float8 AS xact_age_s,
	extract(epoch FROM clock.now - a.query_start)::float8 AS query_age_s,
	extract(epoch FROM clock.now - a.state_change)::float8 AS state_age_s,
	age(a.backend_xmin) AS xmin_age,
	age(a.backend_xid) AS xid_age,
	CASE WHEN a.state IS DISTINCT FROM 'idle' THEN a.query END AS query,
	CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END AS blocked_by
FROM clock LEFT JOIN pg_stat_activity a
	ON a.pid <> pg_backend_pid() AND ($1::text IS NULL OR a.application_name IS DISTINCT FROM $1::text)
ORDER BY a.pid`;
}

/** Every backend but relaytop's own, in one cheap statement (the LEFT JOIN keeps the clock row when there is none): connections and activity are both built from it. */
export async function readBackends(db: Queryable, versionNum: number, options?: OwnBackendOptions): Promise<BackendsSample> {
	requireVersion('The sessions panel (pg_stat_activity.backend_type)', 100_000, versionNum);
	const rows = await queryRows<BackendRow>(db, backendsSql(versionNum), [ownApplicationName(options)]);
	const backends = rows.flatMap((row): Backend[] => {
		if (row.pid === null) return []; // the clock row when no other backend exists
		const visible = !(row.state === null && row.backend_type === null && row.query === INSUFFICIENT_PRIVILEGE);
		return [{
			pid: row.pid,
			leaderPid: row.leader_pid,
			database: row.datname,
			inCurrentDatabase: row.in_current_database === true,
			usename: row.usename,
			applicationName: row.application_name,
			clientAddr: row.client_addr,
			backendType: row.backend_type,
			state: row.state,
			waitEventType: row.wait_event_type,
			waitEvent: row.wait_event,
			backendAgeS: numberOrNull(row.backend_age_s),
			backendStart: row.backend_start,
			queryStart: row.query_start,
			xactAgeS: numberOrNull(row.xact_age_s),
			queryAgeS: numberOrNull(row.query_age_s),
			stateAgeS: numberOrNull(row.state_age_s),
			xminAgeXids: numberOrNull(row.xmin_age),
			xidAgeXids: numberOrNull(row.xid_age),
			query: visible ? row.query : null,
			visible,
			blockedBy: [...new Set(row.blocked_by ?? [])],
		}];
	});
	const [first] = rows;
	if (first === undefined) throw new Error('the sessions query returned no row');
	return {sampledAtMs: first.sampled_at_ms, backends};
}
