import {statSync} from 'node:fs';
import Database from 'better-sqlite3';
import {InputError} from '../../usage/input-error.js';
import {BUSY_TIMEOUT_MS, StoreReadError, storeReadError} from './store-errors.js';

export type SqliteSchema = 'newapi' | 'cpa';

/**
 * Opens a gateway store read-only: the file is never written, whatever happens later.
 * Every failure becomes a one-line InputError naming the file and what was expected.
 */
export function openSqliteReadOnly(path: string): Database.Database {
	let size: number;
	try {
		const stats = statSync(path);
		if (stats.isDirectory()) {
			throw new InputError(`${path} is a directory, not a SQLite database`);
		}
		size = stats.size;
	} catch (error) {
		if (error instanceof InputError) {
			throw error;
		}
		const code = (error as NodeJS.ErrnoException).code;
		throw new InputError(code === 'ENOENT' ? `${path}: no such file` : `cannot read ${path} (${code ?? 'unknown error'})`);
	}
	if (size === 0) {
		throw new InputError(`${path} is empty, not a SQLite database`);
	}
	let db: Database.Database | undefined;
	try {
		db = new Database(path, {readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS});
		// A failed open is only noticed on the first read.
		db.prepare('SELECT count(*) FROM sqlite_master').get();
	} catch (error) {
		db?.close(); // a store that is retried until it reads again must not pile up connections
		if ((error as {code?: string}).code === 'SQLITE_NOTADB') {
			throw new InputError(`${path} is not a SQLite database (expected a new-api or CPA-Manager store)`);
		}
		const told = storeReadError(error, path);
		throw new InputError(told instanceof StoreReadError ? told.message : `cannot open ${path} as SQLite: ${(error as Error).message.split('\n')[0]}`);
	}
	db.pragma('query_only = ON');
	return db;
}

export function detectSchema(db: Database.Database, path: string): SqliteSchema {
	const tables = new Set(
		(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('logs', 'usage_events')").all() as Array<{name: string}>).map(
			row => row.name,
		),
	);
	return schemaOfTables(tables, path);
}

/** Which gateway's store holds these tables; refuses any other application's database. */
export function schemaOfTables(tables: ReadonlySet<string>, path: string): SqliteSchema {
	if (tables.has('usage_events')) {
		return 'cpa';
	}
	if (tables.has('logs')) {
		return 'newapi';
	}
	throw new InputError(`${path} is a SQLite database of another application: expected a new-api "logs" table or a CPA-Manager "usage_events" table`);
}

export function tableColumns(db: Database.Database, table: string): Set<string> {
	return new Set((db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as Array<{name: string}>).map(row => row.name));
}

/** Refuses a table that lacks the columns every query needs, naming the first one missing. */
export function requireColumns(columns: ReadonlySet<string>, required: readonly string[], table: string, path: string): void {
	const missing = required.find(name => !columns.has(name));
	if (missing !== undefined) {
		throw new InputError(`${path}: table "${table}" has no column "${missing}"; is this a new-api or CPA-Manager store?`);
	}
}
