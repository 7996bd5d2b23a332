import type Database from 'better-sqlite3';
import type pg from 'pg';
import {isPostgresTarget, postgresConfig} from '../sources/postgres/pg-target.js';
import {PgSession} from '../sources/postgres/pg-session.js';
import {redactTarget} from '../sources/redact-target.js';
import {detectSchema, openSqliteReadOnly, type SqliteSchema} from '../sources/sqlite/open-sqlite.js';
import {InputError} from '../usage/input-error.js';
import {openMaintenanceClient} from './maintenance-connection.js';
import {DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS} from './maintenance-limits.js';
import {openSqliteWritable} from './open-sqlite-writable.js';

/**
 * The store a maintenance job works on. PostgreSQL: the database holding new-api's `logs` (the
 * --logs-db one when given), read through an observer session and written, only when asked, through
 * a dedicated maintenance connection. SQLite: the file, whose schema says new-api or CPA-Manager.
 */
export type MaintenanceTarget =
	| {
			readonly engine: 'postgres';
			readonly display: string;
			/** Read-only: the dry runs and the catalog; a generous timeout, since a dry run counts old rows once. */
			readonly observer: PgSession;
			/** Opens the writable connection (once); the caller's --read-only check comes before it. */
			writer(): Promise<pg.Client>;
			close(): Promise<void>;
	  }
	| {
			readonly engine: 'sqlite';
			readonly display: string;
			readonly path: string;
			readonly schema: SqliteSchema;
			close(): Promise<void>;
	  };

/** A dry run reads the old rows' count and id range once: more than a dashboard query may take. */
const DRY_RUN_TIMEOUT_MS = 120_000;
/** The dashboard's panel reads seldom: its connection goes once the panel has been left a while. */
const OBSERVER_IDLE_CLOSE_MS = 30_000;

export interface MaintenanceTargetOptions {
	/** PostgreSQL: the database holding new-api's `logs`, when apart from the main one. */
	readonly logsDb?: string;
	/**
	 * SQLite: a job told to write first plays back a write its writer left unfinished, as the
	 * gateway's next open would, when the file's own bytes show a gateway's table (see
	 * openSqliteWritable); a dry run refuses such a file.
	 */
	readonly finishInterruptedWrite?: boolean;
}

/** A SQLite store opened read-only, after playing back a write left unfinished when asked to. */
function openSqliteStore(path: string, finishInterruptedWrite: boolean): Database.Database {
	try {
		return openSqliteReadOnly(path);
	} catch (error) {
		if (!finishInterruptedWrite) throw error;
		// Plays back only a write left unfinished; any other failure it throws again, as reading did.
		openSqliteWritable(path, DEFAULT_LOCK_TIMEOUT_MS, {finishInterruptedWrite: true}).close();
		return openSqliteReadOnly(path);
	}
}

export async function openMaintenanceTarget(target: string, options: MaintenanceTargetOptions = {}): Promise<MaintenanceTarget> {
	if (/^https?:\/\//iu.test(target)) {
		throw new InputError(`maintenance works on the database itself: give the SQLite file or a postgres:// URL, not ${redactTarget(target)}`);
	}
	if (isPostgresTarget(target)) {
		if (options.logsDb !== undefined && !isPostgresTarget(options.logsDb)) {
			throw new InputError(`--logs-db takes a postgres:// URL, got ${redactTarget(options.logsDb)}`);
		}
		const url = options.logsDb ?? target;
		const config = postgresConfig(url);
		const observer = new PgSession(config, {statementTimeoutMs: DRY_RUN_TIMEOUT_MS, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, idleCloseMs: OBSERVER_IDLE_CLOSE_MS});
		let writer: Promise<pg.Client> | undefined;
		return {
			engine: 'postgres',
			display: redactTarget(url),
			observer,
			writer: () => {
				if (writer === undefined) {
					const opening = openMaintenanceClient(config, {lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, statementTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS});
					writer = opening;
					// A connection the server ended (a restart) or that never opened is not kept: the next job opens another.
					const forget = () => {
						if (writer === opening) writer = undefined;
					};
					opening.then(client => client.once('end', forget), forget);
				}
				return writer;
			},
			close: async () => {
				await observer.close();
				await (await writer?.catch(() => undefined))?.end().catch(() => undefined);
			},
		};
	}
	if (options.logsDb !== undefined) {
		throw new InputError('--logs-db applies to a PostgreSQL target only');
	}
	const db = openSqliteStore(target, options.finishInterruptedWrite === true);
	try {
		return {engine: 'sqlite', display: target, path: target, schema: detectSchema(db, target), close: async () => undefined};
	} finally {
		db.close();
	}
}
