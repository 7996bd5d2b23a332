import Database from 'better-sqlite3';
import {openSqliteReadOnly, schemaOfTables} from '../sources/sqlite/open-sqlite.js';
import {InputError} from '../usage/input-error.js';
import {sqliteFileTables} from './sqlite-file-tables.js';

/**
 * Whether SQLite refuses to read `path` because a writer was killed inside a transaction: a hot
 * rollback journal, which only a writable connection may play back (SQLITE_READONLY_ROLLBACK).
 */
function leftUnfinished(path: string): boolean {
	let db: Database.Database | undefined;
	try {
		db = new Database(path, {readonly: true, fileMustExist: true});
		db.prepare('SELECT count(*) FROM sqlite_master').get();
		return false;
	} catch (error) {
		return (error as {code?: unknown}).code === 'SQLITE_READONLY_ROLLBACK';
	} finally {
		db?.close();
	}
}

export interface OpenWritableOptions {
	/**
	 * Play back a write its writer left unfinished, as the gateway's next open would: nothing
	 * committed changes. The file's own bytes must first show a gateway's table, since SQLite reads
	 * nothing of it before the playback, which writes to it. Without this, such a file is refused,
	 * as for reading.
	 */
	readonly finishInterruptedWrite?: boolean;
}

/**
 * A gateway's SQLite store opened for writing, for maintenance only. The file is first opened
 * read-only, so every bad-input case (missing, empty, not SQLite) fails the same way as for reading
 * and nothing is created. `busyTimeoutMs` plays lock_timeout's part: a write waits that long for the
 * gateway's own writer, then fails.
 */
export function openSqliteWritable(path: string, busyTimeoutMs: number, options: OpenWritableOptions = {}): Database.Database {
	try {
		openSqliteReadOnly(path).close();
	} catch (error) {
		if (options.finishInterruptedWrite !== true || !leftUnfinished(path)) throw error;
		const tables = sqliteFileTables(path);
		if (tables === null) throw error;
		schemaOfTables(tables, path); // refuses another application's file before anything is written to it
	}
	try {
		const db = new Database(path, {fileMustExist: true, timeout: busyTimeoutMs});
		db.prepare('SELECT count(*) FROM sqlite_master').get();
		return db;
	} catch (error) {
		throw new InputError(`cannot open ${path} for writing: ${(error as Error).message.split('\n')[0]}`);
	}
}
