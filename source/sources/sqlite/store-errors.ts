/** How long a read waits for another process's write lock before giving up. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * A read of a store that failed because of what happened to the file (a writer's lock, a truncation,
 * an interrupted write), told in one line that names the file.
 */
export class StoreReadError extends Error {
	override readonly name: string = 'StoreReadError';
}

/** Another connection's lock kept the read out: the file and the connection are sound. */
export class StoreLockedError extends StoreReadError {
	override readonly name = 'StoreLockedError';
}

/** SQLite's extended result codes refine the primary one after an underscore: SQLITE_IOERR_SHORT_READ. */
const codeIs = (code: string, primary: string): boolean => code === primary || code.startsWith(`${primary}_`);

/** Why a read of `path` failed, for the failures a damaged or interrupted store causes; undefined for any other. */
function account(code: string, path: string): string | undefined {
	if (codeIs(code, 'SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'SQLITE_IOERR_SHORT_READ') {
		return `${path} is truncated or damaged: some of its pages cannot be read`;
	}
	// Only a writable connection may finish these, and this one never writes.
	if (code === 'SQLITE_READONLY_ROLLBACK') {
		return `${path} holds a write its writer left unfinished; it is rolled back when the gateway opens the store again, or by relaytop maintain indexes ${path} --apply`;
	}
	if (code === 'SQLITE_READONLY_RECOVERY') {
		return `${path} holds a write its writer left unfinished; it is repaired when the gateway opens the store again`;
	}
	if (codeIs(code, 'SQLITE_IOERR')) {
		return `${path} cannot be read: the disk reported an input/output error`;
	}
	return undefined;
}

/** `error` as a StoreReadError when SQLite's code says the file is at fault; as it is otherwise. */
export function storeReadError(error: unknown, path: string): unknown {
	const code = (error as {code?: unknown} | null)?.code;
	if (typeof code !== 'string') {
		return error;
	}
	// Not every lock is waited out for the busy timeout (SQLite gives up at once on some in WAL mode),
	// so none is told with a duration.
	if (code === 'SQLITE_BUSY_RECOVERY') {
		return new StoreLockedError(`${path} is being recovered by another process after a crash; it can be read once that is done`);
	}
	if (codeIs(code, 'SQLITE_BUSY') || codeIs(code, 'SQLITE_LOCKED')) {
		return new StoreLockedError(`${path} is locked by a writer; it can be read once the write is done`);
	}
	const told = account(code, path);
	return told === undefined ? error : new StoreReadError(told);
}
