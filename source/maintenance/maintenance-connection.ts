import pg from 'pg';
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
 * A dedicated connection for one maintenance job, apart from the dashboard's read-only observer:
 * writable, tagged `relaytop maintenance` (so the monitor shows it and pg_stat_statements can tell
 * it apart), autocommit, so each statement is its own short transaction. Refuses a standby.
 */
export async function openMaintenanceClient(config: pg.ClientConfig, limits: MaintenanceLimits): Promise<pg.Client> {
	const client = new pg.Client({...config, application_name: MAINTENANCE_APPLICATION_NAME, connectionTimeoutMillis: 10_000, keepAlive: true});
	// An idle connection that breaks reports here; without a listener the process would crash.
	client.on('error', () => undefined);
	await client.connect();
	try {
		const {rows} = await client.query<{recovery: boolean}>(
			markSql(`SELECT pg_is_in_recovery() AS recovery, set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false),
	set_config('idle_in_transaction_session_timeout', '60s', false), set_config('default_transaction_read_only', 'off', false)`),
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
