// Whether a failure means the server could not be reached (refused, reset, gone, restarting) rather
// than that it answered with an error. The dashboard shows the first as "unreachable" and retries
// it sooner; the second stays a stale reason. Errors come from node's sockets, undici's fetch, the
// pg driver, the server itself (SQLSTATE) and HTTP clients, and are often wrapped: causes and an
// AggregateError's members are searched too. An error that carries an HTTP status got an answer.

/** Socket and DNS error codes, as node and undici name them. */
const SOCKET_CODES: Readonly<Record<string, string>> = {
	ECONNREFUSED: 'connection refused',
	ECONNRESET: 'connection reset',
	ECONNABORTED: 'connection aborted',
	EPIPE: 'connection closed',
	ETIMEDOUT: 'connect timed out',
	EHOSTUNREACH: 'host unreachable',
	ENETUNREACH: 'network unreachable',
	ENOTFOUND: 'host not found',
	EAI_AGAIN: 'host not found',
	UND_ERR_SOCKET: 'connection closed',
	UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
};

/** The pg driver's own errors for a connection that broke or never opened: they carry no code. */
const DRIVER_MESSAGES: ReadonlyArray<readonly [RegExp, string]> = [
	[/^Connection terminated unexpectedly$/u, 'connection lost'],
	[/^Client has encountered a connection error and is not queryable$/u, 'connection lost'],
	[/^Connection terminated due to connection timeout$|^timeout expired$/u, 'connect timed out'],
];

/** What a SQLSTATE of a lost or refused session says, or null for any other server error. */
function sqlstateReason(code: string, message: string): string | null {
	if (/^08[0-9A-Z]{3}$/u.test(code)) return 'connection failure';
	// admin_shutdown: a fast shutdown, pg_terminate_backend, or the postmaster's death.
	if (code === '57P01') return 'terminated by the server';
	if (code === '57P02') return 'server crashed';
	if (code === '57P03') {
		// "the database system is starting up", "… is shutting down", "… is in recovery mode".
		const state = /the database system is ([^.;]+)/u.exec(message)?.[1];
		return state === undefined ? 'server not accepting connections' : `server ${state}`;
	}
	return null;
}

const hasCode = (error: unknown): boolean => typeof (error as {code?: unknown} | null | undefined)?.code === 'string';

/** Deep enough for fetch's TypeError → cause → AggregateError → member; a cycle ends there too. */
const MAX_DEPTH = 4;

function reasonOf(error: unknown, depth: number): string | null {
	if (depth > MAX_DEPTH || typeof error !== 'object' || error === null) return null;
	const {code, message, cause, status} = error as {code?: unknown; message?: unknown; cause?: unknown; status?: unknown};
	// A status means the server answered, however badly (a body broken off part-way, a 503): that
	// keeps its own message, whatever socket code came with it.
	if (status !== undefined && status !== null) return null;
	const text = typeof message === 'string' ? message : '';
	if (typeof code === 'string') {
		const reason = SOCKET_CODES[code] ?? sqlstateReason(code, text);
		if (reason !== null) return reason;
	}
	for (const [pattern, reason] of DRIVER_MESSAGES) if (pattern.test(text)) return reason;
	const inner = [cause, ...(error instanceof AggregateError ? error.errors : [])];
	for (const nested of inner) {
		const reason = reasonOf(nested, depth + 1);
		if (reason !== null) return reason;
	}
	// undici's network failure with no code to say more; a cause with another code (a TLS
	// certificate, say) is the server answering, not a failure to reach it.
	if (error instanceof TypeError && text === 'fetch failed' && !hasCode(cause)) return 'no answer';
	return null;
}

/**
 * Why the server could not be reached, in a few words ("connection refused", "server starting
 * up"), when that is what `error` says; null for any other failure. Never throws.
 */
export function connectionFailure(error: unknown): string | null {
	try {
		return reasonOf(error, 0);
	} catch {
		return null;
	}
}

/** Whether `error` is a failure to reach the server (see connectionFailure). */
export const isConnectionFailure = (error: unknown): boolean => connectionFailure(error) !== null;
