import pg from 'pg';
import {connectionFailure} from '../poll/connection-failure.js';
import {markSql} from '../postgres/monitor/queryable.js';
import {MAINTENANCE_APPLICATION_NAME} from './maintenance-limits.js';

/** The limits a maintenance connection starts with; a job may lift statement_timeout for one statement. */
export interface MaintenanceLimits {
	/** Every lock a write waits for, at most this long: a job fails fast rather than queue in front of the gateway. */
	readonly lockTimeoutMs: number;
	/** Every statement, at most this long; 0 turns it off (an index build, a VACUUM). */
	readonly statementTimeoutMs: number;
}

/**
 * pg's errors for a query on a client that was ended on this side: refused before it was sent
 * ("… closed and is not queryable"), or in flight when the connection closed ("Connection
 * terminated"), where a COMMIT may have gone through unanswered.
 */
const CLIENT_CLOSED = /^(?:Client was closed and is not queryable|Connection terminated)$/u;

/**
 * Whether an error says the connection itself is gone: the server unreachable, restarting or
 * ending the session, the socket broken, the client closed. Only what the error says counts: any
 * other error (one the server reported about a statement, or one on this side) leaves a connection
 * that is still open, possibly inside a transaction that must be rolled back.
 */
export const isConnectionLoss = (error: unknown): boolean => connectionFailure(error) !== null || (error instanceof Error && CLIENT_CLOSED.test(error.message));

/**
 * A dedicated connection for one maintenance job, apart from the dashboard's read-only observer:
 * writable, tagged `relaytop maintenance` (so the monitor shows it and pg_stat_statements can tell
 * it apart), autocommit, so each statement is its own short transaction. Refuses a standby.
 * A commit it is told of is on disk: where the server runs with synchronous_commit off, a crash
 * could take back commits it had acknowledged, and a job's count of what it committed would be
 * wrong, so the session flushes before each answer ('local': no wait for a standby).
 */
export async function openMaintenanceClient(config: pg.ClientConfig, limits: MaintenanceLimits): Promise<pg.Client> {
	const client = new pg.Client({...config, application_name: MAINTENANCE_APPLICATION_NAME, connectionTimeoutMillis: 10_000, keepAlive: true});
	// An idle connection that breaks reports here; without a listener the process would crash.
	client.on('error', () => undefined);
	await client.connect();
	try {
		const {rows} = await client.query<{recovery: boolean}>(
			markSql(`SELECT pg_is_in_recovery() AS recovery, set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false),
	set_config('idle_in_transaction_session_timeout', '60s', false), set_config('default_transaction_read_only', 'off', false),
	CASE current_setting('synchronous_commit') WHEN 'off' THEN set_config('synchronous_commit', 'local', false) END`),
			[`${limits.lockTimeoutMs}ms`, `${limits.statementTimeoutMs}ms`],
		);
		if (rows[0]?.recovery === true) {
			throw new Error('the server is a standby (in recovery): maintenance runs on the primary');
		}
		return client;
	} catch (error) {
		await client.end().catch(() => undefined);
		throw error;
	}
}
