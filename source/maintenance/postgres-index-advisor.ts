import {InputError} from '../usage/input-error.js';
import {NEWAPI_LOGS_INDEX_NEEDS, type IndexNeed} from '../postgres/monitor/index-needs.js';
import {readIndexes} from '../postgres/monitor/index-list.js';
import {markSql, numberOrNull, queryRows, type Queryable} from '../postgres/monitor/queryable.js';
import {
	deriveIndexAdvice,
	qualifiedName,
	quoteIdent,
	type IndexAdvice,
	type IndexAdvisorState,
	type IndexBuildProgress,
	type IndexJobOptions,
	type IndexJobResult,
	type IndexProposal,
	type IndexRepair,
	type IndexRepairKind,
} from './index-advisor.js';

/** A new-api `logs` table (or another, with its needs) on PostgreSQL. */
export interface PostgresIndexTarget {
	readonly engine: 'postgres';
	/** Reads the catalog, follows a build's progress and cancels it: not the maintenance connection (the observer's). */
	readonly observer: Queryable;
	/** Runs the DDL: a client from openMaintenanceClient. Only applying and repairing need it. */
	readonly maintenance?: Queryable;
	/** Default 'logs'. */
	readonly table?: string;
	/** Default: the schema search_path finds the table in. */
	readonly schema?: string;
	/** Default NEWAPI_LOGS_INDEX_NEEDS. */
	readonly needs?: readonly IndexNeed[];
}

/** Rows per heap byte when the statistics know none (never analyzed): ~260 B a row (reference baselines-measured.md). */
const ROW_BYTES_WHEN_UNKNOWN = 260;
const PROGRESS_INTERVAL_MS = 500;

interface TableRow {
	schema: string;
	table: string;
	table_bytes: number;
	total_bytes: number;
	reltuples: number;
	version_num: number;
	taken: string[];
	concurrent_build_index: string | null;
}

/**
 * The table, its size and row estimate, the names its schema holds, and for servers before 12, which
 * have no pg_stat_progress_create_index, the index a CREATE INDEX CONCURRENTLY builds: INVALID until it
 * ends, it must not be taken for a leftover. While such a build holds its session lock on the table,
 * that is the newest INVALID index: one build at a time per table, and every leftover is older. A lock
 * holder whose query this role may not see counts as a build: better wait than drop a build's index.
 */
const TABLE_SQL = `SELECT n.nspname AS schema, c.relname AS table,
	pg_relation_size(c.oid)::float8 AS table_bytes,
	pg_total_relation_size(c.oid)::float8 AS total_bytes,
	c.reltuples::float8 AS reltuples,
	current_setting('server_version_num')::int AS version_num,
	ARRAY(SELECT o.relname::text FROM pg_class o WHERE o.relnamespace = c.relnamespace) AS taken,
	CASE WHEN EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.relation = c.oid AND l.mode = 'ShareUpdateExclusiveLock' AND l.granted AND a.pid <> pg_backend_pid()
			AND (a.query ~* 'index\\s+concurrently' OR a.query IS NULL OR a.query = '<insufficient privilege>'))
	THEN (SELECT ci.relname::text FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
		WHERE i.indrelid = c.oid AND NOT (i.indisvalid AND i.indisready) ORDER BY i.indexrelid DESC LIMIT 1) END AS concurrent_build_index
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass($1::text)`;

async function readTable(target: PostgresIndexTarget): Promise<TableRow> {
	const table = target.table ?? 'logs';
	const requested = target.schema === undefined ? quoteIdent(table) : qualifiedName(target.schema, table);
	const [row] = await queryRows<TableRow>(target.observer, TABLE_SQL, [requested]);
	if (row === undefined) throw new InputError(`table ${requested} not found: is this new-api's logs database (--logs-db when logs live apart)?`);
	return row;
}

/** What the advisor decides from, read through the observer connection. */
export async function readPostgresIndexState(target: PostgresIndexTarget): Promise<IndexAdvisorState> {
	const table = await readTable(target);
	const {indexes} = await readIndexes(target.observer, table.version_num, qualifiedName(table.schema, table.table));
	const tableBytes = Number(table.table_bytes);
	const reltuples = Number(table.reltuples);
	const unknownRows = reltuples < 0 || (reltuples === 0 && tableBytes > 0);
	const lockedBuild = table.version_num < 120_000 ? table.concurrent_build_index : null;
	return {
		engine: 'postgres',
		schema: table.schema,
		table: table.table,
		indexes: indexes.map(index => ({
			name: index.name,
			method: index.method,
			keyColumns: index.keyColumns,
			valid: index.valid,
			ready: index.ready,
			building: index.building || index.name === lockedBuild,
			predicate: index.predicate,
			definition: index.definition,
		})),
		takenNames: table.taken,
		needs: target.needs ?? NEWAPI_LOGS_INDEX_NEEDS,
		tableBytes,
		totalBytes: Number(table.total_bytes),
		rows: unknownRows ? Math.round(tableBytes / ROW_BYTES_WHEN_UNKNOWN) : reltuples,
		versionNum: table.version_num,
	};
}

export async function advisePostgresIndexes(target: PostgresIndexTarget): Promise<IndexAdvice> {
	return deriveIndexAdvice(await readPostgresIndexState(target));
}

/** The maintenance backend a job runs on: cancelled by pid only while it is still that session. */
interface Backend {
	pid: number;
	backend_start: string;
	statement_timeout: string;
	lock_timeout: string;
}

interface IndexState {
	oid: string;
	name: string;
	usable: boolean;
}

const indexStates = async (observer: Queryable, table: string): Promise<IndexState[]> =>
	queryRows<IndexState>(
		observer,
		`SELECT i.indexrelid::text AS oid, c.relname AS name, i.indisvalid AND i.indisready AS usable
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = to_regclass($1::text)`,
		[table],
	);

interface ProgressRow {
	phase: string | null;
	blocks_done: number | null;
	blocks_total: number | null;
	tuples_done: number | null;
	tuples_total: number | null;
	lockers_done: number | null;
	lockers_total: number | null;
	current_locker_pid: number | null;
}

async function readBuildProgress(observer: Queryable, pid: number): Promise<IndexBuildProgress | undefined> {
	const [row] = await queryRows<ProgressRow>(
		observer,
		`SELECT phase, blocks_done::float8 AS blocks_done, blocks_total::float8 AS blocks_total, tuples_done::float8 AS tuples_done,
	tuples_total::float8 AS tuples_total, lockers_done::float8 AS lockers_done, lockers_total::float8 AS lockers_total,
	nullif(current_locker_pid, 0)::int AS current_locker_pid
FROM pg_stat_progress_create_index WHERE pid = $1`,
		[pid],
	);
	return row === undefined
		? undefined
		: {
				phase: row.phase,
				blocksDone: numberOrNull(row.blocks_done),
				blocksTotal: numberOrNull(row.blocks_total),
				tuplesDone: numberOrNull(row.tuples_done),
				tuplesTotal: numberOrNull(row.tuples_total),
				lockersDone: numberOrNull(row.lockers_done),
				lockersTotal: numberOrNull(row.lockers_total),
				currentLockerPid: row.current_locker_pid,
			};
}

/** Resolves after `ms`, or as soon as the statement settles or the signal aborts. */
function pause(ms: number, settled: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
	return new Promise(resolve => {
		const done = (): void => {
			clearTimeout(timer);
			signal?.removeEventListener('abort', done);
			resolve();
		};
		const timer = setTimeout(done, ms);
		signal?.addEventListener('abort', done, {once: true});
		void settled.then(done);
	});
}

/**
 * Runs one statement alone on the maintenance connection while the observer reports its progress
 * (PostgreSQL 12+) and, once the signal aborts, cancels it, again on every tick: a cancel that reaches
 * the backend before the statement starts is lost.
 */
async function runWatched(target: PostgresIndexTarget, maintenance: Queryable, backend: Backend, statement: string, versionNum: number, options: IndexJobOptions): Promise<void> {
	const running = maintenance.query(markSql(statement));
	let finished = false;
	const settled = running.then(
		() => void (finished = true),
		() => void (finished = true),
	);
	const watching = (async () => {
		while (!finished) {
			try {
				if (options.signal?.aborted === true) {
					await queryRows(target.observer, 'SELECT pg_cancel_backend(pid) AS sent FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2::timestamptz', [
						backend.pid,
						backend.backend_start,
					]);
				} else if (options.onProgress !== undefined && versionNum >= 120_000) {
					const progress = await readBuildProgress(target.observer, backend.pid);
					if (progress !== undefined && !finished) options.onProgress(progress);
				}
			} catch {
				// The observer failing must not fail the build; the next tick tries again.
			}
			await pause(PROGRESS_INTERVAL_MS, settled, options.signal);
		}
	})();
	try {
		await running;
	} finally {
		await watching;
	}
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Runs a job's statements one by one, each alone (never in a transaction: CREATE INDEX CONCURRENTLY,
 * DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY refuse one), with statement_timeout and lock_timeout
 * off: a timeout in a concurrent build's waits for older transactions leaves an INVALID index, and its
 * SHARE UPDATE EXCLUSIVE lock holds back no insert or update while it waits. Both are restored after.
 * On abort, the INVALID indexes the job made are dropped. The outcome is read back from pg_index.
 */
async function runJob(
	target: PostgresIndexTarget,
	table: TableRow,
	index: string,
	statements: readonly string[],
	expect: 'valid' | 'gone',
	options: IndexJobOptions,
): Promise<IndexJobResult> {
	const maintenance = target.maintenance;
	if (maintenance === undefined) throw new Error('applying an index change needs a maintenance connection (openMaintenanceClient)');
	const startedAt = performance.now();
	const tableName = qualifiedName(table.schema, table.table);
	const before = new Set((await indexStates(target.observer, tableName)).map(state => state.oid));
	const [backend] = await queryRows<Backend>(
		maintenance,
		`SELECT pg_backend_pid() AS pid, (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()) AS backend_start,
	current_setting('statement_timeout') AS statement_timeout, current_setting('lock_timeout') AS lock_timeout`,
	);
	if (backend === undefined) throw new Error('the maintenance connection does not say who it is');
	const ran: string[] = [];
	let failure: unknown = null;
	try {
		await maintenance.query(markSql('SET statement_timeout = 0'));
		await maintenance.query(markSql('SET lock_timeout = 0'));
		for (const statement of statements) {
			if (options.signal?.aborted === true) break;
			ran.push(statement);
			await runWatched(target, maintenance, backend, statement, table.version_num, options);
		}
	} catch (caught) {
		failure = caught;
	}
	const aborted = options.signal?.aborted === true && (failure !== null || ran.length < statements.length);
	const dropped: string[] = [];
	let cleanupFailure: unknown = null;
	if (aborted) {
		try {
			for (const leftover of (await indexStates(target.observer, tableName)).filter(state => !state.usable && !before.has(state.oid))) {
				await maintenance.query(markSql(`DROP INDEX CONCURRENTLY IF EXISTS ${qualifiedName(table.schema, leftover.name)}`));
				dropped.push(leftover.name);
			}
		} catch (caught) {
			cleanupFailure = caught;
		}
	}
	await queryRows(maintenance, "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)", [backend.statement_timeout, backend.lock_timeout]).catch(
		() => undefined, // a terminated session has nothing to restore
	);
	const after = await indexStates(target.observer, tableName);
	const valid = after.some(state => state.name === index && state.usable);
	const reached = expect === 'valid' ? valid : !after.some(state => state.name === index);
	const status = aborted ? 'aborted' : failure === null && reached ? 'done' : 'failed';
	const error = aborted ? cleanupFailure : (failure ?? (reached ? null : new Error(`${index} is not ${expect} afterwards`)));
	return {
		index,
		status,
		valid,
		statements: ran,
		leftovers: after.filter(state => !state.usable && !before.has(state.oid)).map(state => state.name),
		dropped,
		error: error === null ? null : messageOf(error),
		seconds: (performance.now() - startedAt) / 1000,
	};
}

/** Builds a proposed index; refuses when its name has been taken since the advice (advise again). */
export async function applyPostgresProposal(target: PostgresIndexTarget, proposal: IndexProposal, options: IndexJobOptions = {}): Promise<IndexJobResult> {
	const table = await readTable(target);
	if (table.taken.includes(proposal.name)) {
		return {index: proposal.name, status: 'failed', valid: false, statements: [], leftovers: [], dropped: [], error: `${proposal.name} exists now: advise again`, seconds: 0};
	}
	return runJob(target, table, proposal.name, [proposal.sql], 'valid', options);
}

/** Repairs an INVALID index the way `kind` names (one of repair.options). */
export async function repairPostgresIndex(target: PostgresIndexTarget, repair: IndexRepair, kind: IndexRepairKind, options: IndexJobOptions = {}): Promise<IndexJobResult> {
	const option = repair.options.find(candidate => candidate.kind === kind);
	if (option === undefined) throw new Error(`${repair.index}: no ${kind} repair (offered: ${repair.options.map(candidate => candidate.kind).join(', ')})`);
	return runJob(target, await readTable(target), repair.index, option.sql, kind === 'drop' ? 'gone' : 'valid', options);
}
