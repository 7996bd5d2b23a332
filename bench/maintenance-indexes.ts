import pg from 'pg';
import {adviseIndexes, applyProposal} from '../source/maintenance/index-maintenance.js';
import type {IndexBuildProgress} from '../source/maintenance/index-advisor.js';
import {openMaintenanceClient} from '../source/maintenance/maintenance-connection.js';
import {DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS} from '../source/maintenance/maintenance-limits.js';
import {markSql} from '../source/postgres/monitor/queryable.js';
import {DEFAULT_QUOTA_PER_UNIT, logsColumnsOf} from '../source/sources/newapi/newapi-source.js';
import {requestRows, timeConditions} from '../source/sources/newapi/newapi-sql.js';
import {numberedPlaceholders} from '../source/sources/postgres/pg-placeholders.js';
import {OBSERVER_LIMITS, PgSession} from '../source/sources/postgres/pg-session.js';
import {openSource} from '../source/sources/open-target.js';
import {rateSql} from '../source/sources/sql/usage-aggregates.js';
import {RATE_WINDOW_S, type UsageSource} from '../source/usage/types.js';
import {topUp, upstreamDdl} from './pg-logs-table.js';
import {describeScan, scansOf} from './pg-plans.js';
import {distribution, type Distribution} from './percentiles.js';

// The index half of the maintenance benchmark, on the cached 10M-row `logs` (pg-logs-table.ts):
// 1. the "before" set of an old one-api / new-api database (reference new-api-logs.md §1.2):
//    idx_created_at_id still on (id, created_at) as gorm's swapped priorities made it, no
//    idx_created_at_type, no idx_user_id_id; idx_logs_user_id and the single-column indexes kept;
// 2. the queries timed: relaytop's 60 s rpm/tpm (the real NewApiSource.rate on its own PgSession),
//    and new-api's GetUserLogs page (`WHERE user_id = ? ORDER BY id DESC LIMIT 10`, reference §2.2)
//    for the heaviest user, a median one and a rare one, on a gateway-like connection; each with
//    EXPLAIN (ANALYZE, BUFFERS). The rare user is made for the run: RARE_USER_ROWS of the oldest rows
//    (ids from RARE_USER_FIRST_ID) moved to an unused user id, so that walking logs_pkey backwards
//    filters nearly the whole table before it finds them, the case (user_id, id) is for; their user
//    ids are remembered in a side table and put back at the end (or at the next run's start, after a
//    run cut short);
// 3. the advisor through its API (adviseIndexes, then applyProposal for each proposal: CREATE INDEX
//    CONCURRENTLY on a maintenance connection, with its progress), its build time against its estimate;
// 4. the same queries again; 5. upstream's set back, whatever happened (pgqueries depends on it).

export const QUERIES = ['rate60s', 'userPageHeavy', 'userPageTypical', 'userPageRare'] as const;
export type QueryId = (typeof QUERIES)[number];

export const QUERY_LABELS: Record<QueryId, string> = {
	rate60s: "relaytop's rpm/tpm (last 60 s)",
	userPageHeavy: 'user log page, heaviest user',
	userPageTypical: 'user log page, median user',
	userPageRare: 'user log page, rare user (old rows)',
};

/** The rare user's rows: this many, the first ids from RARE_USER_FIRST_ID (among the oldest rows). */
export const RARE_USER_ROWS = 20;
export const RARE_USER_FIRST_ID = 1000;
/** The rare user's id: this far past the largest user id (new-api's generator uses 1..200). */
const RARE_USER_OFFSET = 1000;
/** The rows moved to the rare user, with the user id each had: the way back, even after a crash. */
const RARE_USER_TABLE = 'maintenance_bench_rare_user';

/** new-api's GetUserLogs, first page of 10 (reference new-api-logs.md §2.2). */
export const USER_PAGE_SQL = 'SELECT * FROM logs WHERE user_id = $1 ORDER BY id DESC LIMIT 10 OFFSET 0';

export interface IndexState {
	readonly name: string;
	readonly columns: readonly string[];
	readonly predicate: string | null;
	readonly usable: boolean;
	readonly primary: boolean;
	readonly mb: number;
}

export interface PlanFigures {
	readonly executionMs: number | null;
	readonly planningMs: number | null;
	/** Every plan node, outermost first, as EXPLAIN names it (e.g. "Index Scan Backward using logs_pkey on logs"). */
	readonly nodes: readonly string[];
	/** The scans with their rows, filters and buffers (pg-plans.ts describeScan). */
	readonly scans: readonly string[];
	readonly text: string;
}

export interface QueryFigures {
	readonly label: string;
	/** Client wall time of each timed run, ms. */
	readonly ms: Distribution;
	readonly resultRows: number;
	readonly plan: PlanFigures;
}

export interface ProposalFigures {
	readonly need: string;
	readonly name: string;
	readonly sql: string;
	readonly reason: string;
	readonly estimateSeconds: number;
	readonly status: string;
	readonly error: string | null;
	readonly buildSeconds: number;
	/** buildSeconds / estimateSeconds. */
	readonly ofEstimate: number;
	readonly sizeMb: number;
	/** When each build phase was first seen (pg_stat_progress_create_index), seconds from the start. */
	readonly phases: ReadonlyArray<{readonly phase: string; readonly atS: number}>;
	readonly progressSamples: number;
}

export interface IndexBenchResults {
	readonly upstreamRepairedAtStart: readonly string[];
	readonly before: {readonly indexes: readonly IndexState[]; readonly setupS: number; readonly actions: readonly string[]};
	readonly users: {
		readonly heavy: {readonly userId: number; readonly rows: number};
		readonly typical: {readonly userId: number; readonly rows: number};
		readonly rare: RareUser;
		readonly users: number;
		readonly countS: number;
	};
	readonly rateCheck: string;
	readonly measuredBefore: Readonly<Record<QueryId, QueryFigures>>;
	readonly advisor: {
		readonly estimateBasis: string;
		readonly verdictsBefore: ReadonlyArray<{readonly need: string; readonly status: string}>;
		readonly proposals: readonly ProposalFigures[];
		readonly verdictsAfter: ReadonlyArray<{readonly need: string; readonly status: string; readonly servedBy: readonly string[]}>;
		readonly proposalsLeft: number;
	};
	readonly after: {readonly indexes: readonly IndexState[]};
	readonly measuredAfter: Readonly<Record<QueryId, QueryFigures>>;
	readonly ratios: Readonly<Record<QueryId, {readonly median: number; readonly p95: number}>>;
	readonly restore: {readonly actions: readonly string[]; readonly seconds: number; readonly indexes: readonly IndexState[]};
}

export interface RareUser {
	readonly userId: number;
	readonly rows: number;
	/** The ids moved to it, and their created_at range (unix seconds) and original user ids. */
	readonly ids: {readonly first: number; readonly last: number};
	readonly createdAt: {readonly first: number; readonly last: number};
	readonly originalUserIds: readonly number[];
	/** Rows in logs with a larger id: what a backward walk of logs_pkey filters out before reaching them. */
	readonly newerRows: number;
	/** Whether the rows were put back (user ids as remembered) at the end. */
	restored: boolean;
	/** Rows put back at the start, left over by a run cut short. */
	readonly leftoverRestored: number;
}

export interface IndexBenchSettings {
	readonly rows: number;
	readonly warmUpRuns: number;
	readonly runs: number;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const seconds = (ms: number): number => round(ms / 1000, 1);

/** The indexes of public.logs with their key columns (INCLUDE columns left out). */
export async function logsIndexStates(client: pg.ClientBase): Promise<IndexState[]> {
	const {rows} = await client.query<{name: string; columns: string[]; predicate: string | null; usable: boolean; primary: boolean; bytes: string}>(
		`SELECT c.relname AS name, i.indisprimary AS primary, i.indisvalid AND i.indisready AS usable, pg_get_expr(i.indpred, i.indrelid) AS predicate,
	ARRAY(SELECT a.attname::text FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
	pg_relation_size(i.indexrelid) AS bytes
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'public.logs'::regclass ORDER BY c.relname`,
	);
	return rows.map(row => ({name: row.name, columns: row.columns, predicate: row.predicate, usable: row.usable, primary: row.primary, mb: round(Number(row.bytes) / 1_048_576, 1)}));
}

/** Upstream's indexes by name, with their key columns read from the DDL. */
function upstreamIndexes(): Array<{name: string; sql: string; columns: string[]}> {
	return upstreamDdl().indexes.map(index => {
		const list = /\(([^()]*)\)\s*$/u.exec(index.sql)?.[1];
		if (list === undefined) throw new Error(`cannot read the columns of ${index.sql}`);
		return {...index, columns: list.split(',').map(column => column.trim().replace(/^"|"$/gu, ''))};
	});
}

const sameColumns = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((column, position) => column === b[position]);

/**
 * Leaves public.logs with exactly upstream's index set and its primary key: drops any other index,
 * and builds again every upstream index that is missing, INVALID, partial or on other columns (a
 * run cut short may have left the "before" set). Plain CREATE INDEX, as the table was built.
 */
export async function restoreUpstreamIndexes(admin: pg.ClientBase, log: (line: string) => void): Promise<string[]> {
	const upstream = upstreamIndexes();
	const current = await logsIndexStates(admin);
	const actions: string[] = [];
	for (const index of current) {
		if (!index.primary && !upstream.some(wanted => wanted.name === index.name)) {
			await admin.query(`DROP INDEX public."${index.name}"`);
			actions.push(`dropped ${index.name} (${index.columns.join(', ')})`);
		}
	}
	await admin.query("SET maintenance_work_mem = '256MB'");
	try {
		for (const wanted of upstream) {
			const found = current.find(index => index.name === wanted.name);
			if (found !== undefined && found.usable && found.predicate === null && sameColumns(found.columns, wanted.columns)) continue;
			const started = performance.now();
			await admin.query(`DROP INDEX IF EXISTS public."${wanted.name}"`);
			await admin.query(wanted.sql);
			const what = found === undefined ? 'missing' : `was on (${found.columns.join(', ')})${found.usable ? '' : ', INVALID'}${found.predicate === null ? '' : ', partial'}`;
			actions.push(`built ${wanted.name} (${wanted.columns.join(', ')}) in ${seconds(performance.now() - started)} s: ${what}`);
			log(`  ${actions.at(-1)}`);
		}
	} finally {
		await admin.query('RESET maintenance_work_mem');
	}
	return actions;
}

/** The "before" set: idx_created_at_id swapped to (id, created_at), idx_created_at_type and idx_user_id_id gone. */
async function setBeforeIndexes(admin: pg.ClientBase, log: (line: string) => void): Promise<string[]> {
	const actions: string[] = [];
	for (const name of ['idx_created_at_type', 'idx_user_id_id']) {
		await admin.query(`DROP INDEX IF EXISTS public."${name}"`);
		actions.push(`dropped ${name}`);
	}
	const started = performance.now();
	await admin.query('DROP INDEX IF EXISTS public."idx_created_at_id"');
	await admin.query("SET maintenance_work_mem = '256MB'");
	try {
		await admin.query('CREATE INDEX "idx_created_at_id" ON public.logs ("id", "created_at")');
	} finally {
		await admin.query('RESET maintenance_work_mem');
	}
	actions.push(`rebuilt idx_created_at_id on (id, created_at), as before new-api PR #5191, in ${seconds(performance.now() - started)} s`);
	log(`  ${actions.at(-1)}`);
	return actions;
}

/** Puts back the user ids of the rows a run moved to the rare user, if any; drops the side table. Returns the rows put back. */
async function restoreRareUser(admin: pg.ClientBase): Promise<number> {
	const exists = (await admin.query<{found: boolean}>('SELECT to_regclass($1) IS NOT NULL AS found', [`public.${RARE_USER_TABLE}`])).rows[0]!.found;
	if (!exists) return 0;
	await admin.query('BEGIN');
	try {
		const result = await admin.query(`UPDATE logs SET user_id = r.user_id FROM ${RARE_USER_TABLE} r WHERE logs.id = r.id AND logs.user_id IS DISTINCT FROM r.user_id`);
		await admin.query(`DROP TABLE ${RARE_USER_TABLE}`);
		await admin.query('COMMIT');
		return result.rowCount ?? 0;
	} catch (error) {
		await admin.query('ROLLBACK');
		throw error;
	}
}

/** Moves RARE_USER_ROWS of the oldest rows to an unused user id, remembering their own in the side table. */
async function makeRareUser(admin: pg.ClientBase, leftoverRestored: number): Promise<RareUser> {
	const maxUser = Number((await admin.query<{max: string}>('SELECT max(user_id) AS max FROM logs')).rows[0]!.max);
	const userId = maxUser + RARE_USER_OFFSET;
	await admin.query('BEGIN');
	try {
		await admin.query(`CREATE TABLE ${RARE_USER_TABLE} (id bigint PRIMARY KEY, user_id bigint)`);
		await admin.query(`INSERT INTO ${RARE_USER_TABLE} SELECT id, user_id FROM logs WHERE id >= $1 ORDER BY id LIMIT $2`, [RARE_USER_FIRST_ID, RARE_USER_ROWS]);
		await admin.query(`UPDATE logs SET user_id = $1 FROM ${RARE_USER_TABLE} r WHERE logs.id = r.id`, [userId]);
		await admin.query('COMMIT');
	} catch (error) {
		await admin.query('ROLLBACK');
		throw error;
	}
	const moved = (
		await admin.query<{id: string; user_id: string; created_at: string}>(
			`SELECT r.id, r.user_id, l.created_at FROM ${RARE_USER_TABLE} r JOIN logs l ON l.id = r.id ORDER BY r.id`,
		)
	).rows;
	const last = Number(moved.at(-1)!.id);
	const newerRows = Number((await admin.query<{rows: string}>('SELECT count(*) AS rows FROM logs WHERE id > $1', [last])).rows[0]!.rows);
	return {
		userId,
		rows: moved.length,
		ids: {first: Number(moved[0]!.id), last},
		createdAt: {first: Number(moved[0]!.created_at), last: Number(moved.at(-1)!.created_at)},
		originalUserIds: moved.map(row => Number(row.user_id)),
		newerRows,
		restored: false,
		leftoverRestored,
	};
}

const EXPLAIN = 'EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) ';

function planFigures(lines: readonly string[]): PlanFigures {
	const text = lines.join('\n');
	const nodes = lines.filter(line => line.includes('(cost=')).map(line => line.replace(/^\s*(?:->\s+)?/u, '').replace(/\s+\(cost=.*$/u, ''));
	const time = (label: string) => {
		const match = new RegExp(`^${label} Time: ([\\d.]+) ms`, 'mu').exec(text);
		return match === null ? null : round(Number(match[1]), 3);
	};
	return {executionMs: time('Execution'), planningMs: time('Planning'), nodes, scans: scansOf(text).map(describeScan), text};
}

interface Runner {
	/** Runs the query once; returns the rows it gave. */
	run(): Promise<number>;
	/** Its EXPLAIN (ANALYZE, BUFFERS), as the same connection runs it. */
	explain(): Promise<PlanFigures>;
}

async function timedRuns(runner: Runner, label: string, settings: IndexBenchSettings): Promise<QueryFigures> {
	for (let run = 0; run < settings.warmUpRuns; run++) {
		await runner.run();
	}
	const ms: number[] = [];
	let resultRows = 0;
	for (let run = 0; run < settings.runs; run++) {
		const started = performance.now();
		resultRows = await runner.run();
		ms.push(performance.now() - started);
	}
	return {label, ms: distribution(ms, 3), resultRows, plan: await runner.explain()};
}

interface Connections {
	/** relaytop's source (NewApiSource on PostgreSQL) and a session like its own, for EXPLAIN. */
	readonly source: UsageSource;
	readonly session: PgSession;
	/** The gateway's connection for the user pages (default settings, as gorm's pool). */
	readonly gateway: pg.Client;
}

/** The statement NewApiSource.rate sends for a window ending at endMs, built by the same builders. */
function rateStatement(endMs: number, present: ReadonlySet<string>) {
	const rows = requestRows({conditions: timeConditions({startMs: endMs - RATE_WINDOW_S * 1000, endMs}), quotaPerUnit: DEFAULT_QUOTA_PER_UNIT}, logsColumnsOf(present));
	return rateSql(rows);
}

async function measureQueries(
	admin: pg.ClientBase,
	connections: Connections,
	users: IndexBenchResults['users'],
	present: ReadonlySet<string>,
	settings: IndexBenchSettings,
	log: (line: string) => void,
): Promise<{figures: Record<QueryId, QueryFigures>; check: string}> {
	// Rows up to now, so that the last 60 s hold what a live gateway's do; the window then stays put.
	await topUp(admin, settings.rows);
	const endMs = Date.now();
	const query = {range: {startMs: endMs - 86_400_000, endMs}, filters: {}};
	const statement = rateStatement(endMs, present);
	const rate: Runner = {
		async run() {
			const result = await connections.source.rate(query);
			return result.rpm;
		},
		async explain() {
			const {rows} = await connections.session.query<{'QUERY PLAN': string}>(EXPLAIN + markSql(numberedPlaceholders(statement.sql)), statement.params);
			return planFigures(rows.map(row => row['QUERY PLAN']));
		},
	};
	// The source's answer against the same statement run by hand: the EXPLAIN is of what it sends.
	const bySource = (await connections.source.rate(query)).rpm;
	const byHand = Number((await connections.session.one(statement)).requests);
	const check =
		bySource === byHand
			? `NewApiSource.rate and the statement explained agree: ${bySource} requests in the 60 s window`
			: `MISMATCH: NewApiSource.rate counted ${bySource} requests, the statement explained ${byHand}`;
	const page = (userId: number): Runner => ({
		async run() {
			return (await connections.gateway.query(USER_PAGE_SQL, [userId])).rowCount ?? 0;
		},
		async explain() {
			const {rows} = await connections.gateway.query<{'QUERY PLAN': string}>(EXPLAIN + USER_PAGE_SQL, [userId]);
			return planFigures(rows.map(row => row['QUERY PLAN']));
		},
	});
	const runners: Record<QueryId, Runner> = {
		rate60s: rate,
		userPageHeavy: page(users.heavy.userId),
		userPageTypical: page(users.typical.userId),
		userPageRare: page(users.rare.userId),
	};
	const figures = {} as Record<QueryId, QueryFigures>;
	for (const id of QUERIES) {
		figures[id] = await timedRuns(runners[id], QUERY_LABELS[id], settings);
		log(`    ${QUERY_LABELS[id]}: median ${figures[id].ms.median} ms, p95 ${figures[id].ms.p95} ms (${figures[id].plan.nodes.join(' → ')})`);
	}
	return {figures, check};
}

async function openConnections(url: string): Promise<Connections> {
	const source = await openSource(url);
	const session = new PgSession({connectionString: url}, OBSERVER_LIMITS);
	const gateway = new pg.Client({connectionString: url, application_name: 'gateway reader (bench)'});
	gateway.on('error', () => undefined);
	await gateway.connect();
	return {source, session, gateway};
}

async function closeConnections(connections: Connections): Promise<void> {
	await connections.source.close();
	await connections.session.close();
	await connections.gateway.end();
}

export async function runIndexBenchmark(url: string, admin: pg.Client, settings: IndexBenchSettings, log: (line: string) => void): Promise<IndexBenchResults> {
	const repaired = await restoreUpstreamIndexes(admin, log);
	if (repaired.length > 0) {
		log(`  upstream's index set was not intact (an earlier run cut short?): ${repaired.join('; ')}`);
	}
	const leftoverRestored = await restoreRareUser(admin);
	if (leftoverRestored > 0) {
		log(`  put back the user ids of ${leftoverRestored} rows an earlier run (cut short) had moved to its rare user`);
	}
	const present = new Set(
		(await admin.query<{name: string}>("SELECT attname AS name FROM pg_attribute WHERE attrelid = 'public.logs'::regclass AND attnum > 0 AND NOT attisdropped")).rows.map(row => row.name),
	);
	let restored = false;
	let rare: RareUser | null = null;
	const restoreNow = async (): Promise<IndexBenchResults['restore']> => {
		const started = performance.now();
		const actions = await restoreUpstreamIndexes(admin, log);
		restored = true;
		return {actions, seconds: seconds(performance.now() - started), indexes: await logsIndexStates(admin)};
	};
	const restoreRareNow = async (): Promise<void> => {
		const back = await restoreRareUser(admin);
		if (rare !== null) {
			rare.restored = back === rare.rows;
			log(`  rare user's ${back} rows given back their user ids${rare.restored ? '' : ` (expected ${rare.rows})`}`);
		}
	};
	try {
		log('  counting rows per user (heaviest and median user)…');
		const countStarted = performance.now();
		const counts = (await admin.query<{user_id: string; rows: string}>('SELECT user_id, count(*) AS rows FROM logs GROUP BY user_id ORDER BY count(*) DESC, user_id')).rows;
		const countS = seconds(performance.now() - countStarted);
		const pick = (row: {user_id: string; rows: string}) => ({userId: Number(row.user_id), rows: Number(row.rows)});
		rare = await makeRareUser(admin, leftoverRestored);
		const users = {heavy: pick(counts[0]!), typical: pick(counts[Math.floor(counts.length / 2)]!), rare, users: counts.length, countS};
		log(
			`  rare user ${rare.userId}: ids ${rare.ids.first}..${rare.ids.last} (from users ${[...new Set(rare.originalUserIds)].join(', ')}), ${rare.newerRows.toLocaleString('en')} newer rows above them`,
		);

		const setupStarted = performance.now();
		const actions = await setBeforeIndexes(admin, log);
		const before = {indexes: await logsIndexStates(admin), setupS: seconds(performance.now() - setupStarted), actions};

		let connections = await openConnections(url);
		let measuredBefore: Awaited<ReturnType<typeof measureQueries>>;
		try {
			log(`  before (old index set): ${settings.warmUpRuns} warm-up + ${settings.runs} timed runs per query…`);
			measuredBefore = await measureQueries(admin, connections, users, present, settings, log);
		} finally {
			await closeConnections(connections);
		}

		// The advisor, as the CLI drives it: the observer reads the catalog, a maintenance connection builds.
		const observer = new pg.Client({connectionString: url, application_name: 'relaytop'});
		observer.on('error', () => undefined);
		await observer.connect();
		const maintenance = await openMaintenanceClient({connectionString: url}, {lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS, statementTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS});
		let advisor: IndexBenchResults['advisor'];
		try {
			const target = {engine: 'postgres', observer, maintenance} as const;
			const advice = await adviseIndexes(target);
			log(`  advisor: ${advice.proposals.length} proposal(s): ${advice.proposals.map(proposal => `${proposal.name} (estimate ${proposal.estimateSeconds} s)`).join(', ') || 'none'}`);
			const proposals: ProposalFigures[] = [];
			for (const proposal of advice.proposals) {
				const started = performance.now();
				const phases: Array<{phase: string; atS: number}> = [];
				let samples = 0;
				const onProgress = (progress: IndexBuildProgress) => {
					samples++;
					const phase = progress.phase ?? 'unknown';
					if (phases.at(-1)?.phase !== phase) {
						phases.push({phase, atS: seconds(performance.now() - started)});
						log(`    ${proposal.name}: ${phase} at ${phases.at(-1)!.atS} s`);
					}
				};
				const result = await applyProposal(target, proposal, {onProgress});
				const size = (await admin.query<{bytes: string | null}>('SELECT pg_relation_size(to_regclass($1)) AS bytes', [`public."${proposal.name}"`])).rows[0]?.bytes ?? '0';
				const buildSeconds = round(result.seconds, 1);
				proposals.push({
					need: proposal.need,
					name: proposal.name,
					sql: proposal.sql,
					reason: proposal.reason,
					estimateSeconds: proposal.estimateSeconds,
					status: result.status,
					error: result.error,
					buildSeconds,
					ofEstimate: round(result.seconds / proposal.estimateSeconds, 2),
					sizeMb: round(Number(size) / 1_048_576, 1),
					phases,
					progressSamples: samples,
				});
				log(`  built ${proposal.name}: ${result.status} in ${buildSeconds} s (estimate ${proposal.estimateSeconds} s)${result.error === null ? '' : `: ${result.error}`}`);
			}
			const adviceAfter = await adviseIndexes(target);
			advisor = {
				estimateBasis: advice.estimateBasis,
				verdictsBefore: advice.verdicts.map(verdict => ({need: verdict.need, status: verdict.status})),
				proposals,
				verdictsAfter: adviceAfter.verdicts.map(verdict => ({need: verdict.need, status: verdict.status, servedBy: verdict.servedBy})),
				proposalsLeft: adviceAfter.proposals.length,
			};
		} finally {
			await maintenance.end().catch(() => undefined);
			await observer.end().catch(() => undefined);
		}
		const after = {indexes: await logsIndexStates(admin)};

		connections = await openConnections(url);
		let measuredAfter: Awaited<ReturnType<typeof measureQueries>>;
		try {
			log(`  after (the advisor's indexes): ${settings.warmUpRuns} warm-up + ${settings.runs} timed runs per query…`);
			measuredAfter = await measureQueries(admin, connections, users, present, settings, log);
		} finally {
			await closeConnections(connections);
		}
		const ratios = Object.fromEntries(
			QUERIES.map(id => [
				id,
				{
					median: round(measuredBefore.figures[id].ms.median / measuredAfter.figures[id].ms.median, 1),
					p95: round(measuredBefore.figures[id].ms.p95 / measuredAfter.figures[id].ms.p95, 1),
				},
			]),
		) as Record<QueryId, {median: number; p95: number}>;

		log("  putting upstream's index set back…");
		const restore = await restoreNow();
		await restoreRareNow();
		return {
			upstreamRepairedAtStart: repaired,
			before,
			users,
			rateCheck: [measuredBefore.check, measuredAfter.check].join('; '),
			measuredBefore: measuredBefore.figures,
			advisor,
			after,
			measuredAfter: measuredAfter.figures,
			ratios,
			restore,
		};
	} finally {
		if (!restored) {
			await restoreNow().catch((error: unknown) => log(`  could not put upstream's index set back: ${error instanceof Error ? error.message : String(error)}`));
		}
		if (rare === null || !rare.restored) {
			await restoreRareNow().catch((error: unknown) =>
				log(`  could not put back the rare user's rows (the next run does, from ${RARE_USER_TABLE}): ${error instanceof Error ? error.message : String(error)}`),
			);
		}
	}
}
