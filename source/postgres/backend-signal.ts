import pg from 'pg';
import {queryRows, type Queryable} from './monitor/queryable.js';

export type SignalKind = 'cancel' | 'terminate';

/** A session as it was on screen: the pid alone may since belong to another session or query. */
export interface SignalTarget {
	readonly pid: number;
	/** backend_start and query_start as the server printed them, exact (Backend.backendStart / queryStart). */
	readonly backendStart: string | null;
	readonly queryStart: string | null;
}

/**
 * - sent: the server accepted the signal (cancel: the query is interrupted; terminate: the session ends);
 * - gone: no session has that pid, start and query start any more: the screen was stale, nothing was sent;
 * - refused: the server declined (permission, or a process it cannot signal); `reason` says what to do.
 */
export type SignalOutcome = {readonly kind: 'sent'} | {readonly kind: 'gone'} | {readonly kind: 'refused'; readonly reason: string};

const FUNCTIONS: Record<SignalKind, string> = {cancel: 'pg_cancel_backend', terminate: 'pg_terminate_backend'};

/**
 * The statement, guarded in SQL: the signal goes only to a session whose pid, backend_start and
 * query_start all match what was on screen, checked in the statement that sends it. `sent` is null
 * when they do not match; `hidden` says the role cannot see the session's times at all.
 */
export const signalSql = (kind: SignalKind): string => `SELECT a.backend_start IS NULL AS hidden,
  CASE WHEN a.backend_start = $2::timestamptz AND a.query_start IS NOT DISTINCT FROM $3::timestamptz
    THEN ${FUNCTIONS[kind]}(a.pid) END AS sent
FROM pg_stat_activity a
WHERE a.pid = $1`;

const literal = (value: string | null): string => (value === null ? 'NULL' : `'${value.replaceAll("'", "''")}'`);

/** What the confirm dialog shows: the statement with the values it runs with. */
export const signalSqlShown = (kind: SignalKind, target: SignalTarget): string =>
	signalSql(kind).replaceAll('$1', String(target.pid)).replaceAll('$2', literal(target.backendStart)).replaceAll('$3', literal(target.queryStart));

const HIDDEN_HINT = 'this session is hidden from relaytop’s role, so it cannot be identified safely: GRANT pg_read_all_stats (or pg_monitor) TO <role>';

const PERMISSION_HINT =
	'permission denied: a role may signal only its own role’s sessions, or any non-superuser session with GRANT pg_signal_backend TO <role>; only a superuser may signal a superuser’s session';

/** Sends the signal, guarded; never throws for a refusal the user can act on. */
export async function signalBackend(db: Queryable, kind: SignalKind, target: SignalTarget): Promise<SignalOutcome> {
	if (target.backendStart === null) {
		// Hidden rows have no start time: the guard cannot be checked, so nothing is sent.
		return {kind: 'refused', reason: HIDDEN_HINT};
	}
	try {
		const [row] = await queryRows<{hidden: boolean; sent: boolean | null}>(db, signalSql(kind), [target.pid, target.backendStart, target.queryStart]);
		if (row === undefined) return {kind: 'gone'};
		if (row.sent === null) return row.hidden ? {kind: 'refused', reason: HIDDEN_HINT} : {kind: 'gone'};
		// false: the server warned instead of signalling (not a backend it may signal).
		return row.sent ? {kind: 'sent'} : {kind: 'refused', reason: `the server did not signal pid ${target.pid}; it may be a process that cannot be signalled`};
	} catch (error) {
		if (error instanceof pg.DatabaseError && error.code === '42501') {
			return {kind: 'refused', reason: PERMISSION_HINT};
		}
		throw error;
	}
}
