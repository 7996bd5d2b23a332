import {leadingMatch, matchIndexNeeds, type IndexLike, type IndexNeed, type IndexNeedVerdict} from '../postgres/monitor/index-needs.js';

// The index advisor's decisions, pure: from what a table has to what to build or repair, with the
// exact SQL. Reading the catalog and running the SQL are in postgres-index-advisor.ts and
// sqlite-index-advisor.ts; index-maintenance.ts drives either the same way.

export type IndexEngine = 'postgres' | 'sqlite';

/** An index as the advisor sees it. */
export interface AdvisedIndex extends IndexLike {
	/** Its CREATE INDEX statement (pg_get_indexdef / sqlite_master.sql); null when unknown. */
	readonly definition: string | null;
}

/** Everything the advisor decides from. */
export interface IndexAdvisorState {
	readonly engine: IndexEngine;
	/** PostgreSQL: the table's schema (every name is qualified with it); SQLite: null. */
	readonly schema: string | null;
	readonly table: string;
	readonly indexes: readonly AdvisedIndex[];
	/** Names an index cannot take: the relations of the schema (PostgreSQL), the schema objects (SQLite). */
	readonly takenNames: readonly string[];
	readonly needs: readonly IndexNeed[];
	/** What a build reads: the table's own data, indexes left out. */
	readonly tableBytes: number;
	/** The table with its indexes (and TOAST). */
	readonly totalBytes: number;
	/** An estimate (statistics, or the rowid range on SQLite). */
	readonly rows: number;
	/** server_version_num; null for SQLite. */
	readonly versionNum: number | null;
}

export interface IndexProposal {
	/** The need (IndexNeed.name) it serves. */
	readonly need: string;
	readonly name: string;
	readonly columns: readonly string[];
	/** The statement that will run (sent with relaytop's marker comment on PostgreSQL). */
	readonly sql: string;
	readonly estimateSeconds: number;
	readonly reason: string;
}

/** drop: the INVALID index copies a valid one (e.g. a failed REINDEX CONCURRENTLY's `_ccnew`): rebuilding it would be a duplicate. */
export type IndexRepairKind = 'drop-and-rebuild' | 'reindex' | 'drop';

export interface IndexRepairOption {
	readonly kind: IndexRepairKind;
	/** Statements that run one by one, each alone and outside any transaction. */
	readonly sql: readonly string[];
}

export interface IndexRepair {
	/** An INVALID index no build is working on. */
	readonly index: string;
	readonly reason: string;
	/** What rebuilding it takes; 0 when the only option is to drop it. */
	readonly estimateSeconds: number;
	readonly options: readonly IndexRepairOption[];
}

export interface IndexAdvice {
	readonly engine: IndexEngine;
	readonly schema: string | null;
	readonly table: string;
	readonly tableBytes: number;
	readonly totalBytes: number;
	readonly rows: number;
	readonly verdicts: readonly IndexNeedVerdict[];
	readonly proposals: readonly IndexProposal[];
	readonly repairs: readonly IndexRepair[];
	/** Indexes of the table being built right now: nothing is proposed or repaired for them. */
	readonly building: readonly string[];
	/** How estimateSeconds is computed, to show next to it. */
	readonly estimateBasis: string;
}

/** Live progress of a build (PostgreSQL 12+: pg_stat_progress_create_index); null where unknown. */
export interface IndexBuildProgress {
	readonly phase: string | null;
	readonly blocksDone: number | null;
	readonly blocksTotal: number | null;
	readonly tuplesDone: number | null;
	readonly tuplesTotal: number | null;
	readonly lockersDone: number | null;
	readonly lockersTotal: number | null;
	/** In the "waiting for …" phases: the session the build waits for. */
	readonly currentLockerPid: number | null;
}

export interface IndexJobOptions {
	readonly onProgress?: (progress: IndexBuildProgress) => void;
	/** Stops the job: a PostgreSQL build is cancelled and what it left behind is dropped. */
	readonly signal?: AbortSignal;
}

export interface IndexJobResult {
	/** The index built or repaired. */
	readonly index: string;
	/**
	 * done: it exists, valid and ready; aborted: the signal stopped the job and its leftovers were
	 * dropped; failed: see error, and `leftovers` for the INVALID indexes it left (advise again to repair them).
	 */
	readonly status: 'done' | 'aborted' | 'failed';
	/** The index is valid and ready in the catalog afterwards. */
	readonly valid: boolean;
	/** The statements it ran (or started), in order. */
	readonly statements: readonly string[];
	/** INVALID indexes the job left behind. */
	readonly leftovers: readonly string[];
	/** Leftovers it dropped after an abort. */
	readonly dropped: readonly string[];
	readonly error: string | null;
	readonly seconds: number;
}

/** `"name"`, doubling inner quotes: an identifier for PostgreSQL and SQLite alike. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** The table (or an index of its schema) as SQL names it: schema-qualified on PostgreSQL. */
export const qualifiedName = (schema: string | null, name: string): string => (schema === null ? quoteIdent(name) : `${quoteIdent(schema)}.${quoteIdent(name)}`);

/*
 * Build time: passes × (tableBytes / READ + rows / ENTRIES). A build reads the whole table, then sorts
 * and writes one entry per row; CREATE INDEX CONCURRENTLY does it twice (the build, then the validation
 * scan), SQLite once. Calibration (reference baselines-measured.md): a plain btree build of two bigint
 * columns over 10 M rows / 2.5 GB took 5.5–12 s on 2 vCPU with a warm cache, parallel workers and
 * maintenance_work_mem = 1 GB, where these constants give 22 s per pass; SQLite here built one over
 * 2 M rows / 512 MB in 1.1–2.1 s, where they give 4.5 s. They are set about 2× slower than measured,
 * for a 1 vCPU / 2 GB server with stock settings and a cold cache. Not counted: a concurrent build's
 * waits for older transactions, and the gateway's own load.
 */
const READ_BYTES_PER_SECOND = 200 * 1024 * 1024;
const ENTRIES_PER_SECOND = 1_000_000;
const PASSES: Record<IndexEngine, number> = {postgres: 2, sqlite: 1};

const PACE = `reading the table at ${READ_BYTES_PER_SECOND / 1024 / 1024} MiB/s and sorting ${ENTRIES_PER_SECOND / 1e6} M entries/s, a 1 vCPU server's pace`;

export const ESTIMATE_BASIS: Record<IndexEngine, string> = {
	postgres: `an estimate: ${PASSES.postgres} passes (CREATE INDEX CONCURRENTLY builds, then validates) of ${PACE}; waits for older transactions come on top`,
	sqlite: `an estimate: ${PACE}; the gateway's writes wait until it ends`,
};

/** Whole seconds, at least 1; never decreases as the table grows. */
export function estimateBuildSeconds(engine: IndexEngine, tableBytes: number, rows: number): number {
	const pass = Math.max(0, tableBytes) / READ_BYTES_PER_SECOND + Math.max(0, rows) / ENTRIES_PER_SECOND;
	return Math.max(1, Math.ceil(PASSES[engine] * pass));
}

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; a proposed name must not be cut. */
const MAX_NAME_BYTES = 63;

function truncateBytes(text: string, maxBytes: number): string {
	let result = '';
	for (const character of text) {
		if (Buffer.byteLength(result + character) > maxBytes) break;
		result += character;
	}
	return result;
}

/** `base` cut to fit, or with _2, _3, … until no relation has it. */
function freeName(base: string, taken: (name: string) => boolean): string {
	const fitted = truncateBytes(base, MAX_NAME_BYTES);
	if (!taken(fitted)) return fitted;
	for (let n = 2; ; n++) {
		const name = truncateBytes(base, MAX_NAME_BYTES - `_${n}`.length) + `_${n}`;
		if (!taken(name)) return name;
	}
}

const describeColumns = (columns: readonly (string | null)[]): string => `(${columns.map(column => column ?? '<expression>').join(', ')})`;

function describeLeading(need: IndexNeed): string {
	const required = need.columns.slice(0, need.requiredLeading ?? need.columns.length);
	return required.map(position => (typeof position === 'string' ? position : position.join(' or '))).join(', then ');
}

const createSql = (state: IndexAdvisorState, name: string, columns: readonly string[]): string =>
	`CREATE INDEX ${state.engine === 'postgres' ? 'CONCURRENTLY ' : ''}IF NOT EXISTS ${quoteIdent(name)} ON ${qualifiedName(state.schema, state.table)} (${columns.map(quoteIdent).join(', ')})`;

function proposalFor(state: IndexAdvisorState, need: IndexNeed, verdict: IndexNeedVerdict, taken: (name: string) => boolean): IndexProposal {
	const columns = need.columns.map(position => (typeof position === 'string' ? position : position[0]!));
	const base = need.indexName ?? `idx_${state.table}_${columns.join('_')}`.replace(/[^\w]/gu, '_');
	const name = freeName(base, taken);
	const wanted = truncateBytes(base, MAX_NAME_BYTES);
	const notes = [`no valid index leads with ${describeLeading(need)}`];
	if (verdict.partial.length > 0) notes.push(`partial ${verdict.partial.join(', ')} may not cover the query`);
	if (name !== wanted) {
		const holder = state.indexes.find(index => sameName(state.engine, index.name, wanted));
		notes.push(`${wanted} is taken${holder === undefined ? '' : ` by an index on ${describeColumns(holder.keyColumns)}`}, so: ${name}`);
	}
	notes.push(state.engine === 'postgres' ? 'built concurrently: the gateway keeps writing' : "SQLite holds the gateway's writes until it is built");
	return {need: need.name, name, columns, sql: createSql(state, name, columns), estimateSeconds: estimateBuildSeconds(state.engine, state.tableBytes, state.rows), reason: notes.join('; ')};
}

/** SQLite compares names without case. */
const sameName = (engine: IndexEngine, a: string, b: string): boolean => (engine === 'sqlite' ? a.toLowerCase() === b.toLowerCase() : a === b);

const shape = (index: IndexLike): string | null =>
	index.keyColumns.includes(null) ? null : JSON.stringify([index.method, index.keyColumns, index.predicate]);

/** pg_get_indexdef's `CREATE [UNIQUE] INDEX name ON …` made concurrent and safe to rerun. */
function rebuildSql(definition: string | null): string | null {
	const match = /^CREATE (UNIQUE )?INDEX /u.exec(definition ?? '');
	return match === null ? null : `CREATE ${match[1] ?? ''}INDEX CONCURRENTLY IF NOT EXISTS ${definition!.slice(match[0].length)}`;
}

/** `kept`: the shapes a valid or an earlier-kept INVALID index has; this one's is added when it is kept. */
function repairFor(state: IndexAdvisorState, verdicts: readonly IndexNeedVerdict[], kept: Set<string | null>, index: AdvisedIndex): IndexRepair {
	const qualified = qualifiedName(state.schema, index.name);
	const drop = `DROP INDEX CONCURRENTLY IF EXISTS ${qualified}`;
	const indexShape = shape(index);
	const what = `INVALID (a failed concurrent build): queries ignore it${index.ready ? ', yet every write still updates it' : ''}`;
	if (indexShape !== null && kept.has(indexShape)) {
		return {index: index.name, reason: `${what}; it duplicates another index`, estimateSeconds: 0, options: [{kind: 'drop', sql: [drop]}]};
	}
	kept.add(indexShape);
	const rebuild = rebuildSql(index.definition);
	const options: IndexRepairOption[] = [];
	if (rebuild !== null) options.push({kind: 'drop-and-rebuild', sql: [drop, rebuild]});
	if ((state.versionNum ?? 0) >= 120_000) options.push({kind: 'reindex', sql: [`REINDEX INDEX CONCURRENTLY ${qualified}`]});
	if (options.length === 0) options.push({kind: 'drop', sql: [drop]});
	const served = verdicts.filter(verdict => verdict.invalid.includes(index.name)).map(verdict => verdict.need);
	const reason = served.length > 0 ? `${what}; it is the only index for: ${served.join('; ')}` : what;
	return {index: index.name, reason, estimateSeconds: estimateBuildSeconds(state.engine, state.tableBytes, state.rows), options};
}

/**
 * Repairs for the INVALID indexes no build works on, in the order of state.indexes. One that has the
 * shape (method, key columns, predicate) of a valid index, or of another INVALID one with a shorter name
 * (a failed REINDEX CONCURRENTLY's `_ccnew`), is only dropped: rebuilding it would make a duplicate. The
 * others: drop and build again, or REINDEX CONCURRENTLY (PostgreSQL 12+). SQLite has no INVALID indexes.
 */
function repairsFor(state: IndexAdvisorState, verdicts: readonly IndexNeedVerdict[]): IndexRepair[] {
	const invalid = state.indexes.filter(index => !(index.valid && index.ready) && !index.building);
	const byKeeping = [...invalid].sort((a, b) => a.name.length - b.name.length || a.name.localeCompare(b.name));
	const kept = new Set(state.indexes.filter(index => index.valid && index.ready).map(shape));
	const repairs = new Map(byKeeping.map(index => [index, repairFor(state, verdicts, kept, index)]));
	return invalid.map(index => repairs.get(index)!);
}

/** A proposal seen as the valid btree index it will be. */
const PROPOSED: IndexLike = {name: '', method: 'btree', keyColumns: [], valid: true, ready: true, building: false, predicate: null};

/**
 * What to build and what to repair for the table's hot queries:
 * - a need some valid index serves (whatever its name): nothing;
 * - one an index being built would serve: nothing, its build is listed in `building`;
 * - one only an INVALID index would serve: that index's repair, never a second index;
 * - one nothing serves: an index on the first alternative of each position, under the need's name
 *   or, when a relation already has that name (CREATE INDEX IF NOT EXISTS would then do nothing), a free one.
 */
export function deriveIndexAdvice(state: IndexAdvisorState): IndexAdvice {
	const verdicts = matchIndexNeeds(state.indexes, state.needs);
	const chosen: string[] = [];
	const taken = (name: string): boolean => [...state.takenNames, ...state.indexes.map(index => index.name), ...chosen].some(other => sameName(state.engine, other, name));
	const proposals: IndexProposal[] = [];
	for (const [position, verdict] of verdicts.entries()) {
		const need = state.needs[position]!;
		if (verdict.status !== 'missing') continue;
		// Two needs may want the same index: one proposal serves both.
		if (proposals.some(proposal => leadingMatch({...PROPOSED, keyColumns: proposal.columns}, need) >= (need.requiredLeading ?? need.columns.length))) continue;
		const proposal = proposalFor(state, need, verdict, taken);
		chosen.push(proposal.name);
		proposals.push(proposal);
	}
	return {
		engine: state.engine,
		schema: state.schema,
		table: state.table,
		tableBytes: state.tableBytes,
		totalBytes: state.totalBytes,
		rows: state.rows,
		verdicts,
		proposals,
		repairs: repairsFor(state, verdicts),
		building: state.indexes.filter(index => index.building).map(index => index.name),
		estimateBasis: ESTIMATE_BASIS[state.engine],
	};
}
