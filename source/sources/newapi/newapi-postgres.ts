import type pg from 'pg';
import {signalBackend, type SignalKind, type SignalTarget} from '../../postgres/backend-signal.js';
import {PostgresMonitor, type PanelName} from '../../postgres/monitor/postgres-monitor.js';
import {InputError} from '../../usage/input-error.js';
import {OBSERVER_LIMITS, PgSession} from '../postgres/pg-session.js';
import {requireColumns} from '../sqlite/open-sqlite.js';
import type {RollupPolicy} from '../rollup/range-rollups.js';
import type {NewApiDialect} from './newapi-sql.js';
import {logsColumnsOf, NewApiSource, REQUIRED_LOGS_COLUMNS} from './newapi-source.js';

/** A database to connect to, and how to name it in messages (without its password). */
export interface PostgresDatabase {
	readonly config: pg.ClientConfig;
	readonly display: string;
}

export const postgresNewApiDialect: NewApiDialect = {
	byteOrder: expression => `(${expression}) COLLATE "C"`,
	// `other` is text that may be empty, cut short or not JSON, and a cast to jsonb would fail the
	// whole query (PostgreSQL before 16 cannot test first). So the number is read from the text of
	// what looks like a whole object: the key is top-level wherever new-api writes it. Every row of a
	// range goes through this, so it avoids what costs per character: functions that count
	// characters into the text (substr, right) and regular expressions over all of it. The ends are
	// tested on the text as it is first (new-api writes no spaces around its JSON), trimmed only if
	// that fails; split_part finds the key and gives what follows it; the pattern sees 64 characters.
	cachedTokens: other => {
		const spaces = "E' \\t\\r\\n'";
		const opens = `CASE WHEN left(${other}, 1) = '{' THEN true ELSE left(ltrim(${other}, ${spaces}), 1) = '{' END`;
		const closes = `CASE WHEN ${other} LIKE '%}' THEN true ELSE rtrim(${other}, ${spaces}) LIKE '%}' END`;
		// JSON's own white space only; digits cut off by the 64 characters give no number rather than a wrong one.
		const space = '[ \\t\\r\\n]*';
		const value = `substring(left(split_part(${other}, '"cache_tokens"', 2), 64) FROM '^${space}:${space}(-?[0-9]{1,18})[^0-9]')`;
		return `CASE WHEN (${opens}) AND (${closes}) THEN GREATEST(COALESCE(CAST(${value} AS BIGINT), 0), 0) ELSE 0 END`;
	},
	likeIgnoringCase: column => `${column} ILIKE ? ESCAPE '\\'`,
	// A CTE read more than once is computed once (PostgreSQL 12+; always, before).
	sharedCte: 'AS',
	groupingSets: true,
	textRefusesNul: true,
};

/** The statistics views answer at once; a panel that takes longer is better switched off. */
const MONITOR_LIMITS = {...OBSERVER_LIMITS, statementTimeoutMs: 5000};

/** How often the main database is read when logs live apart: names, every 30 s. */
const MAIN_IDLE_CLOSE_MS = 5000;

export interface NewApiPostgresOptions {
	/** The database of `logs`, when new-api keeps them apart (LOG_SQL_DSN). */
	readonly logsDb?: PostgresDatabase;
	readonly quotaPerUnit?: number;
	/** Keep long ranges' figures in memory, merged with new rows (the live dashboard). */
	readonly rollups?: RollupPolicy;
}

/**
 * new-api's `logs` on PostgreSQL, read on one connection, and channel and token names from the
 * main database; the PostgreSQL view samples the server on a second connection. With logs apart,
 * the main database's connection closes when idle, so relaytop holds at most two connections.
 */
export async function newApiPostgres(main: PostgresDatabase, options: NewApiPostgresOptions = {}): Promise<NewApiSource> {
	const mainSession = new PgSession(main.config, options.logsDb === undefined ? OBSERVER_LIMITS : {...OBSERVER_LIMITS, idleCloseMs: MAIN_IDLE_CLOSE_MS});
	const logsSession = options.logsDb === undefined ? mainSession : new PgSession(options.logsDb.config);
	const logsDisplay = options.logsDb?.display ?? main.display;
	try {
		const {rows} = await logsSession.query<{name: string}>(
			"SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass('logs') AND attnum > 0 AND NOT attisdropped",
		);
		if (rows.length === 0) {
			throw new InputError(`${logsDisplay}: no "logs" table here; is this new-api's database? If its logs live in another database (LOG_SQL_DSN), give that with --logs-db`);
		}
		const present = new Set(rows.map(row => row.name));
		requireColumns(present, REQUIRED_LOGS_COLUMNS, 'logs', logsDisplay);
		const target = options.logsDb === undefined ? main.display : `${main.display} (logs: ${options.logsDb.display})`;
		// The PostgreSQL view's own connection, to the database of logs: opened when first asked.
		const monitorSession = new PgSession(options.logsDb?.config ?? main.config, MONITOR_LIMITS);
		const monitor = new PostgresMonitor({table: 'logs'});
		const postgres = {
			snapshot: (panels?: readonly PanelName[]) => monitor.snapshot(monitorSession, panels),
			signal: (kind: SignalKind, target: SignalTarget) => signalBackend(monitorSession, kind, target),
			close: () => monitorSession.close(),
		};
		return new NewApiSource({kind: 'newapi-postgres', logs: logsSession, main: mainSession, dialect: postgresNewApiDialect, columns: logsColumnsOf(present), postgres}, target, options.quotaPerUnit, options.rollups);
	} catch (error) {
		await logsSession.close();
		await mainSession.close();
		// pg's messages (ECONNREFUSED, authentication failed, no such database) do not say where.
		throw error instanceof InputError ? error : new Error(`${logsDisplay}: ${error instanceof Error ? error.message : String(error)}`);
	}
}
