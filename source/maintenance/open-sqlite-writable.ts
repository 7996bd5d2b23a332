import Database from 'better-sqlite3';
import {openSqliteReadOnly} from '../sources/sqlite/open-sqlite.js';
import {InputError} from '../usage/input-error.js';

/**
 * A gateway's SQLite store opened for writing, for maintenance only. The file is first opened
 * read-only, so every bad-input case (missing, empty, not SQLite) fails the same way as for reading
 * and nothing is created. `busyTimeoutMs` plays lock_timeout's part: a write waits that long for the
 * gateway's own writer, then fails.
 */
export function openSqliteWritable(path: string, busyTimeoutMs: number): Database.Database {
	openSqliteReadOnly(path).close();
	try {
		const db = new Database(path, {fileMustExist: true, timeout: busyTimeoutMs});
		db.prepare('SELECT count(*) FROM sqlite_master').get();
		return db;
	} catch (error) {
		throw new InputError(`cannot open ${path} for writing: ${(error as Error).message.split('\n')[0]}`);
	}
}
