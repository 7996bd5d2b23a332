import type Database from 'better-sqlite3';
import type {Row} from '../sql/decode.js';
import type {SqlFragment} from '../sql/fragment.js';
import type {SqlRunner} from '../sql/sql-runner.js';
import {storeReadError} from './store-errors.js';

/** Enough for every query of every view; a refresh asks the same questions with new values. */
const STATEMENT_CACHE_SIZE = 64;

/**
 * Runs built queries on one read-only SQLite connection. A failure the file causes (a writer's lock,
 * a truncation) is told as a StoreReadError naming the file.
 */
export class SqliteQueries {
	private readonly tables = new Map<string, boolean>();
	// Prepared once per SQL text: a statement's native memory is invisible to the GC, so one per
	// refresh would pile up between collections.
	private readonly statements = new Map<string, Database.Statement>();

	constructor(private readonly db: Database.Database) {}

	one(query: SqlFragment): Row {
		return this.reading(() => this.statement(query.sql).get(...query.params) as Row);
	}

	all(query: SqlFragment): Row[] {
		return this.reading(() => this.statement(query.sql).all(...query.params) as Row[]);
	}

	/** A read whose failure, when the file caused it, is told in words. */
	private reading<T>(read: () => T): T {
		try {
			return read();
		} catch (error) {
			throw storeReadError(error, this.db.name);
		}
	}

	private statement(text: string): Database.Statement {
		let statement = this.statements.get(text);
		if (statement === undefined) {
			statement = this.db.prepare(text);
			if (this.statements.size >= STATEMENT_CACHE_SIZE) {
				this.statements.delete(this.statements.keys().next().value!); // the oldest
			}
		} else {
			this.statements.delete(text); // re-inserted below: most recently used last
		}
		this.statements.set(text, statement);
		return statement;
	}

	hasTable(name: string): boolean {
		let found = this.tables.get(name);
		if (found === undefined) {
			found = this.reading(() => this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined);
			this.tables.set(name, found);
		}
		return found;
	}

	close(): void {
		this.db.close();
	}
}

/** The shared, asynchronous face of a SQLite connection's queries. */
export const sqliteRunner = (queries: SqliteQueries): SqlRunner => ({
	one: async query => queries.one(query),
	all: async query => queries.all(query),
	hasTable: async name => queries.hasTable(name),
	close: async () => queries.close(),
});
