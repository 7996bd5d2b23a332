import {isConnectionFailure} from '../../poll/connection-failure.js';

/** Why a panel has no data this time. */
export type UnavailableReason =
	| 'privilege' // 42501: the role may not read it
	| 'extension-missing' // pg_stat_statements is not installed in this database
	| 'not-preloaded' // the extension is installed but its library is not in shared_preload_libraries
	| 'unsupported' // the server is too old for this panel
	| 'timeout' // statement_timeout or lock_timeout ended the query
	| 'failed'; // any other server error

export interface PanelUnavailable {
	readonly status: 'unavailable';
	readonly reason: UnavailableReason;
	/** The SQLSTATE of the error, when a server error caused it. */
	readonly sqlstate: string | null;
	/** The server's message, or ours. */
	readonly message: string;
	/** One line telling the operator what to grant, install or change. */
	readonly hint: string;
}

export interface PanelOk<T> {
	readonly status: 'ok';
	readonly data: T;
}

/** What every panel returns: its data, or why it has none and how to fix that. Never a thrown error. */
export type PanelResult<T> = PanelOk<T> | PanelUnavailable;

const panelOk = <T>(data: T): PanelOk<T> => ({status: 'ok', data});

export const unavailable = (reason: UnavailableReason, message: string, hint: string, sqlstate: string | null = null): PanelUnavailable => ({
	status: 'unavailable',
	reason,
	sqlstate,
	message,
	hint,
});

/** What the hints name: the connected role, the database and the extension's schema. */
export interface HintContext {
	readonly role?: string | undefined;
	readonly database?: string | undefined;
	/** Set for the pg_stat_statements panel: its errors get extension hints. */
	readonly statements?: boolean;
	readonly extensionSchema?: string | undefined;
}

const quoteIdent = (name: string): string => (/^[a-z_][a-z0-9_]*$/u.test(name) ? name : `"${name.replaceAll('"', '""')}"`);

export const grantMonitorHint = (role: string | undefined): string =>
	`GRANT pg_monitor TO ${role === undefined ? '<role>' : quoteIdent(role)}; (as a superuser)`;

export const createExtensionHint = (database: string | undefined): string =>
	`CREATE EXTENSION pg_stat_statements; (as a superuser, in database ${database === undefined ? '<database>' : quoteIdent(database)})`;

export const PRELOAD_HINT = "shared_preload_libraries = 'pg_stat_statements' in postgresql.conf, then restart PostgreSQL";

/** A pg DatabaseError (or a socket error): something with a string `code`. */
function sqlstateOf(error: unknown): string | undefined {
	if (typeof error !== 'object' || error === null) return undefined;
	const code = (error as {code?: unknown}).code;
	return typeof code === 'string' ? code : undefined;
}

/**
 * Maps a server error to an unavailable panel with a hint. Errors without a code (a bug in our code)
 * and a server out of reach (refused, restarting, the session ended) are not the panel's business:
 * they are rethrown, so the caller keeps its last snapshot rather than a screen of notices.
 */
export function unavailableFromError(error: unknown, context: HintContext = {}): PanelUnavailable {
	const code = sqlstateOf(error);
	if (code === undefined || isConnectionFailure(error)) throw error;
	const message = error instanceof Error ? error.message : String(error);
	const statements = context.statements === true;
	switch (code) {
		case '42501': {
			const hint = statements
				? `GRANT EXECUTE ON FUNCTION ${context.extensionSchema === undefined ? '' : `${quoteIdent(context.extensionSchema)}.`}pg_stat_statements(boolean) TO ${context.role === undefined ? '<role>' : quoteIdent(context.role)}; or ${grantMonitorHint(context.role)}`
				: grantMonitorHint(context.role);
			return unavailable('privilege', message, hint, code);
		}
		case '42P01':
		case '42883':
			if (statements) return unavailable('extension-missing', message, createExtensionHint(context.database), code);
			return unavailable('failed', message, 'a statistics view or function this panel reads is missing on this server', code);
		case '55000':
			if (/shared_preload_libraries/u.test(message)) return unavailable('not-preloaded', message, PRELOAD_HINT, code);
			return unavailable('failed', message, 'the server refused the query in its current state', code);
		case '57014':
			return unavailable('timeout', message, 'the query ran past statement_timeout; the panel waits longer before its next try', code);
		case '55P03':
			return unavailable('timeout', message, 'a lock was not granted within lock_timeout (DDL or VACUUM FULL holding it?); the panel tries again later', code);
		case '0A000':
			return unavailable('unsupported', message, 'this server does not support what the panel reads', code);
		default:
			return unavailable('failed', message, `the server answered SQLSTATE ${code}`, code);
	}
}

/** Runs one panel: its data, or an unavailable result for a server error. */
export async function runPanel<T>(read: () => Promise<T>, context: HintContext = {}): Promise<PanelResult<T>> {
	try {
		return panelOk(await read());
	} catch (error) {
		return unavailableFromError(error, context);
	}
}
