import type Database from 'better-sqlite3';
import type {GroupPage, PageRequest, RequestPage, SortedPageRequest} from '../../usage/types.js';
import {decodeGroupPage, decodeRequest, num, type Row} from '../sql/decode.js';
import type {Dialect} from '../sql/dialect.js';
import type {SqlFragment} from '../sql/fragment.js';
import type {RequestRows, UsagePartials} from '../sql/request-rows.js';
import {groupCountSql, groupPageSql, requestCountSql, requestPageSql} from '../sql/usage-aggregates.js';

/** Enough for every query of every view; a refresh asks the same questions with new values. */
const STATEMENT_CACHE_SIZE = 64;

/** Runs built queries on one read-only SQLite connection. */
export class SqliteQueries {
	private readonly tables = new Map<string, boolean>();
	// Prepared once per SQL text: a statement's native memory is invisible to the GC, so one per
	// refresh would pile up between collections.
	private readonly statements = new Map<string, Database.Statement>();

	constructor(private readonly db: Database.Database) {}

	one(query: SqlFragment): Row {
		return this.statement(query.sql).get(...query.params) as Row;
	}

	all(query: SqlFragment): Row[] {
		return this.statement(query.sql).all(...query.params) as Row[];
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
			found = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
			this.tables.set(name, found);
		}
		return found;
	}

	/** One page of groups; a page past the end asks for the number of groups separately. */
	groupPage(partials: UsagePartials, request: SortedPageRequest, dialect: Dialect, label: (row: Row) => string): GroupPage {
		const rows = this.all(groupPageSql(partials, request, dialect));
		const totalItems = rows[0] === undefined ? num(this.one(groupCountSql(partials)).total_items) : num(rows[0].total_items);
		return decodeGroupPage(request, rows, label, totalItems);
	}

	/** One page of the request log, newest first. */
	requestPage(rows: RequestRows, counted: RequestRows, request: PageRequest, apiKeyLabel: (key: string) => string): RequestPage {
		const items = this.all(requestPageSql(rows, request)).map(row => decodeRequest(row, apiKeyLabel));
		return {page: request.page, pageSize: request.pageSize, totalItems: num(this.one(requestCountSql(counted)).total_items), items};
	}

	close(): void {
		this.db.close();
	}
}
