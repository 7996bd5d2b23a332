import {copyFileSync, mkdtempSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {writeNewApiFixture} from '../source/fixtures/newapi-fixture.js';
import {ensureStore, packageRoot} from '../source/fixtures/fixture-files.js';
import {adviseIndexes, applyProposal, type IndexTarget} from '../source/maintenance/index-maintenance.js';
import {openMaintenanceClient} from '../source/maintenance/maintenance-connection.js';
import {DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS} from '../source/maintenance/maintenance-limits.js';
import {OBSERVER_LIMITS, PgSession} from '../source/sources/postgres/pg-session.js';
import {ensureBenchStore} from './bench-store.js';
import {logsIndexStates} from './maintenance-indexes.js';

// The two index states the scale benchmark times every query in, on each engine:
// - "no time index": the table without any index that leads with its time column (created_at,
//   timestamp_ms), as an old or hand-made deployment has it; every other index stays;
// - "advisor": what relaytop's index advisor proposes for that table, built through its own API
//   (adviseIndexes, then applyProposal: CREATE INDEX CONCURRENTLY on PostgreSQL).
// SQLite stores are cached in bench/.cache/ and changed only in a temporary copy; the PostgreSQL
// tables are the cached ones of pg-logs-table.ts, given upstream's index set back afterwards.

export const INDEX_STATES = ['no time index', 'advisor'] as const;
export type IndexState = (typeof INDEX_STATES)[number];

export type SqliteSchema = 'new-api' | 'cpa-manager';

export interface BuiltIndex {
	readonly name: string;
	readonly sql: string;
	readonly buildS: number;
	readonly estimateS: number;
}

/** The table's name and its time column, per store. */
const TABLES: Record<'postgres' | SqliteSchema, {table: string; timeColumn: string}> = {
	postgres: {table: 'logs', timeColumn: 'created_at'},
	'new-api': {table: 'logs', timeColumn: 'created_at'},
	'cpa-manager': {table: 'usage_events', timeColumn: 'timestamp_ms'},
};

/** Drops every index of public.logs that leads with created_at; returns their names. */
export async function dropPostgresTimeIndexes(admin: pg.ClientBase): Promise<string[]> {
	const dropped: string[] = [];
	for (const index of await logsIndexStates(admin)) {
		if (!index.primary && index.columns[0] === TABLES.postgres.timeColumn) {
			await admin.query(`DROP INDEX public."${index.name}"`);
			dropped.push(index.name);
		}
	}
	return dropped;
}

/** The indexes of a SQLite table whose first column is the time column. */
function sqliteTimeIndexes(db: Database.Database, schema: SqliteSchema): string[] {
	const {table, timeColumn} = TABLES[schema];
	const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").pluck().all(table) as string[];
	return names.filter(name => (db.prepare('SELECT name FROM pragma_index_info(?) WHERE seqno = 0').pluck().get(name) as string | undefined) === timeColumn);
}

export function dropSqliteTimeIndexes(path: string, schema: SqliteSchema): string[] {
	const db = new Database(path, {fileMustExist: true});
	try {
		const names = sqliteTimeIndexes(db, schema);
		for (const name of names) {
			db.exec(`DROP INDEX "${name}"`);
		}
		return names;
	} finally {
		db.close();
	}
}

/** Asks the advisor and builds every index it proposes, one after another; a build that does not finish fails the store. */
async function buildProposals(target: IndexTarget): Promise<BuiltIndex[]> {
	const advice = await adviseIndexes(target);
	const built: BuiltIndex[] = [];
	for (const proposal of advice.proposals) {
		const result = await applyProposal(target, proposal);
		if (result.status !== 'done') {
			throw new Error(`the advisor's ${proposal.name} was not built (${result.status}): ${result.error ?? 'no error given'}`);
		}
		built.push({name: proposal.name, sql: proposal.sql, buildS: Number(result.seconds.toFixed(2)), estimateS: proposal.estimateSeconds});
	}
	return built;
}

export async function applyPostgresAdvisor(url: string): Promise<BuiltIndex[]> {
	const observer = new PgSession({connectionString: url}, OBSERVER_LIMITS);
	const maintenance = await openMaintenanceClient({connectionString: url}, {lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, statementTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS});
	try {
		return await buildProposals({engine: 'postgres', observer, maintenance});
	} finally {
		await maintenance.end();
		await observer.close();
	}
}

export const applySqliteAdvisor = (path: string): Promise<BuiltIndex[]> => buildProposals({engine: 'sqlite', path});

export interface SqliteStore {
	/** Rows of the table (requests and, for new-api, its few bookkeeping rows). */
	readonly rows: number;
	readonly sizeMb: number;
	/** The cached store's build, when it was built by this run. */
	readonly buildS: number | null;
	/** A temporary copy to change: remove() deletes it. */
	readonly path: string;
	/** Requests with a time in [startMs, endMs], by the store's own columns. */
	requestsBetween(startMs: number, endMs: number): number;
	remove(): void;
}

const newApiStorePath = (requests: number): string => join(packageRoot(), 'bench', '.cache', `newapi-${requests}-requests.sqlite`);

/** The cached store of `requests` requests, then a temporary copy of it. */
export function sqliteStoreCopy(schema: SqliteSchema, requests: number, log: (line: string) => void): SqliteStore {
	const started = performance.now();
	let cached: string;
	let built: boolean;
	if (schema === 'cpa-manager') {
		const store = ensureBenchStore(requests, path => log(`building ${requests.toLocaleString('en')} CPA-Manager events into ${path} (once)…`));
		cached = store.path;
		built = store.buildMs !== null;
	} else {
		cached = newApiStorePath(requests);
		built = ensureStore(cached, partial => {
			log(`building ${requests.toLocaleString('en')} new-api requests into ${cached} (once)…`);
			writeNewApiFixture(partial, {requests});
		});
	}
	const buildS = built ? Number(((performance.now() - started) / 1000).toFixed(1)) : null;
	const folder = mkdtempSync(join(tmpdir(), 'relaytop-scale-'));
	const remove = () => rmSync(folder, {recursive: true, force: true});
	const path = join(folder, 'store.sqlite');
	const read = <T>(query: (db: Database.Database) => T): T => {
		const db = new Database(path, {readonly: true, fileMustExist: true});
		try {
			return query(db);
		} finally {
			db.close();
		}
	};
	try {
		copyFileSync(cached, path);
		const rows = read(db => db.prepare(`SELECT count(*) FROM ${TABLES[schema].table}`).pluck().get() as number);
		// new-api: requests are types 2 and 5, in unix seconds (the source's own bounds); CPA-Manager: every event, in ms.
		const between =
			schema === 'new-api'
				? (startMs: number, endMs: number) => ['SELECT count(*) FROM logs WHERE type IN (2, 5) AND created_at BETWEEN ? AND ?', Math.ceil(startMs / 1000), Math.floor(endMs / 1000)] as const
				: (startMs: number, endMs: number) => ['SELECT count(*) FROM usage_events WHERE timestamp_ms BETWEEN ? AND ?', startMs, endMs] as const;
		return {
			rows,
			sizeMb: Number((statSync(path).size / 1_048_576).toFixed(1)),
			buildS,
			path,
			requestsBetween: (startMs, endMs) => {
				const [statement, from, to] = between(startMs, endMs);
				return read(db => db.prepare(statement).pluck().get(from, to) as number);
			},
			remove,
		};
	} catch (error) {
		remove(); // the copy of a 1M-event store is over a gigabyte
		throw error;
	}
}
