import type Database from 'better-sqlite3';
import {CPA_USAGE_EVENTS_INDEX_NEEDS, NEWAPI_LOGS_INDEX_NEEDS} from '../postgres/monitor/index-needs.js';
import {detectSchema, openSqliteReadOnly} from '../sources/sqlite/open-sqlite.js';
import {deriveIndexAdvice, quoteIdent, type AdvisedIndex, type IndexAdvice, type IndexAdvisorState, type IndexJobOptions, type IndexJobResult, type IndexProposal} from './index-advisor.js';
import {DEFAULT_LOCK_TIMEOUT_MS} from './maintenance-limits.js';
import {openSqliteWritable} from './open-sqlite-writable.js';

/** A new-api (`logs`) or CPA-Manager (`usage_events`) SQLite store; the schema decides which. */
export interface SqliteIndexTarget {
	readonly engine: 'sqlite';
	readonly path: string;
	/** How long a build waits for the gateway's own writer before it fails; default DEFAULT_LOCK_TIMEOUT_MS. */
	readonly busyTimeoutMs?: number;
}

interface ListedIndex {
	name: string;
	partial: number;
}

interface IndexColumnRow {
	name: string | null;
	cid: number;
	key: number;
}

/** The INTEGER PRIMARY KEY column, which is the rowid itself; null when the table has none. */
function rowidAlias(db: Database.Database, table: string): string | null {
	const keys = db.prepare('SELECT name, type FROM pragma_table_info(?) WHERE pk > 0').all(table) as Array<{name: string; type: string}>;
	return keys.length === 1 && keys[0]!.type.toUpperCase() === 'INTEGER' ? keys[0]!.name : null;
}

/**
 * The table's indexes (pragma index_list / index_xinfo). Every SQLite index ends with the rowid, so on a
 * table whose INTEGER PRIMARY KEY is the rowid, (user_id) is (user_id, id) to the planner (it reads
 * `WHERE user_id = ? ORDER BY id DESC` without sorting): that column is added to the key. SQLite has no
 * INVALID index and no build in progress another connection could see.
 */
function readSqliteIndexes(db: Database.Database, table: string): AdvisedIndex[] {
	const alias = rowidAlias(db, table);
	const definitionOf = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?").pluck();
	const list = db.prepare('SELECT name, partial FROM pragma_index_list(?)').all(table) as ListedIndex[];
	return list.map(({name, partial}) => {
		const columns = db.prepare('SELECT name, cid, key FROM pragma_index_xinfo(?) ORDER BY seqno').all(name) as IndexColumnRow[];
		const keyColumns = columns.filter(column => column.key === 1).map(column => (column.cid === -2 ? null : column.name));
		const definition = (definitionOf.get(name) as string | null | undefined) ?? null;
		return {
			name,
			method: 'btree',
			keyColumns: alias === null ? keyColumns : [...keyColumns, alias],
			valid: true,
			ready: true,
			building: false,
			predicate: partial === 1 ? (/\bWHERE\b([\s\S]*)$/iu.exec(definition ?? '')?.[1]?.trim() ?? 'partial') : null,
			definition,
		};
	});
}

/** dbstat's exact size of one b-tree, or null when this SQLite is built without it. */
function btreeBytes(db: Database.Database, name: string): number | null {
	try {
		return db.prepare('SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?').pluck().get(name) as number;
	} catch {
		return null;
	}
}

export function readSqliteIndexState(target: SqliteIndexTarget): IndexAdvisorState {
	const db = openSqliteReadOnly(target.path);
	try {
		const cpa = detectSchema(db, target.path) === 'cpa';
		const table = cpa ? 'usage_events' : 'logs';
		const indexes = readSqliteIndexes(db, table);
		const tableBytes = btreeBytes(db, table);
		// Without dbstat, the whole file stands for the table: a build reads no more than that.
		const fileBytes = (db.pragma('page_count', {simple: true}) as number) * (db.pragma('page_size', {simple: true}) as number);
		const totalBytes = tableBytes === null ? fileBytes : indexes.reduce((sum, index) => sum + (btreeBytes(db, index.name) ?? 0), tableBytes);
		// The rowid range: two b-tree descents instead of count(*) over the table; deleted rows make it an upper bound.
		const rows = db.prepare(`SELECT coalesce(max(rowid) - min(rowid) + 1, 0) FROM ${quoteIdent(table)}`).pluck().get() as number;
		return {
			engine: 'sqlite',
			schema: null,
			table,
			indexes,
			takenNames: db.prepare('SELECT name FROM sqlite_master').pluck().all() as string[],
			needs: cpa ? CPA_USAGE_EVENTS_INDEX_NEEDS : NEWAPI_LOGS_INDEX_NEEDS,
			tableBytes: tableBytes ?? fileBytes,
			totalBytes,
			rows,
			versionNum: null,
		};
	} finally {
		db.close();
	}
}

export function adviseSqliteIndexes(target: SqliteIndexTarget): IndexAdvice {
	return deriveIndexAdvice(readSqliteIndexState(target));
}

/**
 * Builds a proposed index with CREATE INDEX IF NOT EXISTS on a connection opened for writing. SQLite
 * builds in one statement that cannot be followed or interrupted: the signal is only checked before it
 * starts, and the calling thread waits for it (run it off the UI thread).
 */
export function applySqliteProposal(target: SqliteIndexTarget, proposal: IndexProposal, options: IndexJobOptions = {}): IndexJobResult {
	const result = (status: IndexJobResult['status'], valid: boolean, statements: string[], error: string | null, seconds = 0): IndexJobResult => ({
		index: proposal.name,
		status,
		valid,
		statements,
		leftovers: [],
		dropped: [],
		error,
		seconds,
	});
	if (options.signal?.aborted === true) return result('aborted', false, [], null);
	const startedAt = performance.now();
	const db = openSqliteWritable(target.path, target.busyTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
	try {
		if (db.prepare('SELECT 1 FROM sqlite_master WHERE lower(name) = lower(?)').get(proposal.name) !== undefined) {
			return result('failed', false, [], `${proposal.name} exists now: advise again`);
		}
		options.onProgress?.({phase: 'building index', blocksDone: null, blocksTotal: null, tuplesDone: null, tuplesTotal: null, lockersDone: null, lockersTotal: null, currentLockerPid: null});
		let error: string | null = null;
		try {
			db.prepare(proposal.sql).run();
		} catch (caught) {
			error = (caught as Error).message;
		}
		const valid = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(proposal.name) !== undefined;
		return result(error === null && valid ? 'done' : 'failed', valid, [proposal.sql], error ?? (valid ? null : `${proposal.name} is missing afterwards`), (performance.now() - startedAt) / 1000);
	} finally {
		db.close();
	}
}
