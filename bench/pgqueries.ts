import {readFileSync, statSync, writeFileSync} from 'node:fs';
import {loadavg} from 'node:os';
import {join} from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import pg from 'pg';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {startEmbeddedPostgres, type EmbeddedPostgres} from '../source/postgres/embedded/embedded-server.js';
import {openSource} from '../source/sources/open-target.js';
import {planPanels, type PanelPlan} from '../source/ui/dashboard-panels.js';
import {initialState, type DashboardState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {restoreUpstreamIndexes} from './maintenance-indexes.js';
import {databaseUrl, ensureLogsTable, GENERATOR_VERSION, SPAN_DAYS, topUp, type LogsTable} from './pg-logs-table.js';
import {accessTo, describeScan, parseAutoExplain, scansOf, type Access, type LoggedPlan} from './pg-plans.js';
import {distribution, type Distribution} from './percentiles.js';
import {textTable} from './text-table.js';

// relaytop's own cost on a big new-api `logs` table on PostgreSQL: the server time of the queries
// one dashboard refresh sends, per view and per panel, with upstream's index set and with the
// indexes an advisor would add for those queries; and the real plan of every query.
//
// - Server: the embedded PostgreSQL (source/postgres/embedded), data folder `pg<major>-pgqueries`,
//   kept between runs; the table is built once per size (pg-logs-table.ts) and topped up to now.
// - The queries: the real source (openSource on a postgres:// URL) asked by the real panel plans
//   (source/ui/dashboard-panels.ts planPanels: which panels a view polls, every how many refreshes,
//   with which arguments), for the default screen: range 24h, a 52-row page (a 200×60 terminal, as
//   the render benchmark), sort by calls, accounts by user. One steady-state cycle is the least
//   common multiple of the panels' cadences; panels run one after another, as they do on relaytop's
//   one connection.
// - Server time: relaytop connects as its own role, and pg_stat_statements (which has no
//   application_name) is summed for that role: total_exec_time + total_plan_time (track_planning
//   on), after a warm-up cycle, divided by the refreshes. Each panel load is bracketed by two reads
//   of the counters, so every statement is attributed to its panel.
// - Plans: a second role loads auto_explain for its sessions (session_preload_libraries, log_analyze,
//   log_buffers); a second source on that role runs each panel once, and its plans are read back from
//   the server log: the real statements, with their real parameters.
// Figures are reported, never asserted.

const VIEWS = ['overview', 'accounts', 'apiKeys', 'realtime', 'filters'] as const;
export type View = (typeof VIEWS)[number];

const VIEW_LABELS: Record<View, string> = {
	overview: 'overview',
	accounts: 'accounts (by user)',
	apiKeys: 'API keys',
	realtime: 'realtime',
	filters: 'overview + filter menu',
};

const INDEX_SETS = ['upstream', 'advisor'] as const;
export type IndexSet = (typeof INDEX_SETS)[number];

/** The project's target: relaytop's own query time per refresh, with the advisor's indexes. */
const TARGET_MS_PER_REFRESH = 10;

/** The table a 200×60 terminal shows (app.tsx: 60 − 1 − 4 rows of frame, − 2 of table chrome, − 1). */
const PAGE_SIZE = 52;

const BENCH_ROLE = 'relaytop_bench';
const EXPLAIN_ROLE = 'relaytop_explain';

/**
 * The advisor's additions to upstream's set, from the upstream plans (pgqueries-plans.txt). Every
 * relaytop query on `logs` is `type IN (2, 5) AND created_at BETWEEN …`. Upstream serves it with
 * idx_created_at_type (created_at, type), type checked in the index but every row read from the
 * heap, or with idx_created_at_id (created_at, id) and type as a Filter. No query seq-scans; what
 * an index can still save is the heap visits of the small per-refresh queries and the width of the
 * index the realtime total counts. The 24 h aggregates read `other`, `quota`, names and tokens of
 * every request of the day: no index of reasonable size covers them, so none is proposed for them.
 */
const ADVISOR_INDEXES: ReadonlyArray<{readonly name: string; readonly sql: string; readonly reason: string}> = [
	{
		name: 'idx_logs_requests_created_at_tokens',
		sql: 'CREATE INDEX idx_logs_requests_created_at_tokens ON logs (created_at) INCLUDE (prompt_tokens, completion_tokens) WHERE type IN (2, 5)',
		reason:
			'rate (60 s, every refresh) and timeline (30 min, every refresh) read only created_at and the token counts of requests, and the realtime totals (count(*) over the range, twice every 2 refreshes) only created_at: ' +
			'upstream answers them with Index Scans on idx_created_at_type that visit the heap for every row (timeline) or Index Only Scans over all types (count). ' +
			'Partial on the request types (the predicate relaytop always writes), keyed on created_at, with the tokens as INCLUDE columns, all of them become Index Only Scans of requests only.',
	},
];

export interface PgQueriesSettings {
	readonly quick: boolean;
	readonly rows: number;
	readonly database: string;
	readonly warmUpCycles: number;
	readonly cycles: number;
	readonly pageSize: number;
	readonly resultsName: string;
	readonly plansName: string;
}

export const pgQueriesSettings = (quick: boolean): PgQueriesSettings => ({
	quick,
	// Quick: CI-sized, on the 100k-row table the scale benchmark's quick run caches too.
	rows: quick ? 100_000 : 10_000_000,
	database: quick ? 'newapi_logs_100k' : 'newapi_logs_10m',
	warmUpCycles: 1,
	cycles: quick ? 1 : 3,
	pageSize: PAGE_SIZE,
	resultsName: quick ? 'pgqueries-quick' : 'pgqueries',
	plansName: quick ? 'pgqueries-plans-quick.txt' : 'pgqueries-plans.txt',
});

export interface PanelFigures {
	readonly every: number;
	readonly loads: number;
	readonly failures: number;
	readonly error: string | null;
	readonly statementsPerLoad: number;
	readonly serverMsPerLoad: number;
	/** serverMsPerLoad / every: its share of each refresh. */
	readonly serverMsPerRefresh: number;
	/** Wall time of the source's call, as the panel sees it. */
	readonly clientMs: Distribution | null;
}

export interface StatementFigures {
	readonly panels: readonly string[];
	readonly query: string;
	readonly calls: number;
	readonly meanMs: number;
	readonly meanExecMs: number;
	readonly meanPlanMs: number;
	readonly rowsPerCall: number;
	readonly sharedHitPerCall: number;
	readonly sharedReadPerCall: number;
}

export interface ViewFigures {
	readonly label: string;
	/** Refreshes in one steady-state cycle: the least common multiple of the panels' cadences. */
	readonly cycleRefreshes: number;
	readonly refreshes: number;
	readonly serverMsPerRefresh: number;
	readonly execMsPerRefresh: number;
	readonly planMsPerRefresh: number;
	readonly statementsPerRefresh: number;
	readonly clientMsPerRefresh: number;
	readonly panels: Readonly<Record<string, PanelFigures>>;
	readonly statements: readonly StatementFigures[];
}

export interface PlanFigures {
	readonly view: View;
	readonly panel: string;
	readonly every: number;
	readonly query: string;
	/** auto_explain's duration, with EXPLAIN ANALYZE's own overhead. */
	readonly durationMs: number;
	readonly logsAccess: Access;
	/** Parallel workers launched (Workers Launched), summed over the plan's Gather nodes. */
	readonly parallelWorkers: number;
	readonly scans: readonly string[];
}

export interface AdvisorIndexFigures {
	readonly name: string;
	readonly sql: string;
	readonly reason: string;
	readonly buildS: number;
	readonly sizeMb: number;
}

export interface IndexSetFigures {
	readonly indexes: readonly AdvisorIndexFigures[];
	readonly views: Readonly<Record<View, ViewFigures>>;
	readonly plans: readonly PlanFigures[];
	/** idx_scan of each index of logs during the measured cycles (not the EXPLAIN pass). */
	readonly indexScans: Readonly<Record<string, number>>;
	readonly loadAverage: readonly number[];
}

export interface PgQueriesResults {
	readonly server: {readonly version: string; readonly dataDir: string; readonly settings: Readonly<Record<string, string>>};
	readonly table: LogsTable & {
		readonly sizes: {readonly heapMb: number; readonly indexesMb: number; readonly totalMb: number};
		readonly last24h: {readonly requests: number; readonly rows: number};
		readonly topUp: {readonly rows: number; readonly s: number; readonly vacuumAnalyzeS: number};
	};
	readonly sets: Readonly<Record<IndexSet, IndexSetFigures>>;
	readonly loadAverage: {readonly start: readonly number[]; readonly end: readonly number[]};
	readonly plansFile: string;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const loadAverage = (): number[] => loadavg().map(value => round(value));
const mb = (bytes: number | string): number => round(Number(bytes) / 1_048_576, 1);
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (values: readonly number[]): number => values.reduce((a, b) => (a * b) / gcd(a, b), 1);

function stateOf(view: View, base: DashboardState): DashboardState {
	switch (view) {
		case 'filters':
			return {...base, overlay: 'filters'};
		case 'overview':
			return base;
		default:
			return {...base, view};
	}
}

/**
 * Panels that send the server nothing: the tokenizer panel times this machine's tokenizer, every
 * 600 refreshes; counted, it would stretch a cycle from 15 refreshes to 600.
 */
const NOT_QUERIES = new Set(['tokenizer']);

const plansOf = (source: UsageSource, view: View, pageSize: number): Record<string, PanelPlan> =>
	Object.fromEntries(Object.entries(planPanels(source, stateOf(view, initialState(source.capabilities.dimensions)), pageSize, Date.now)).filter(([id]) => !NOT_QUERIES.has(id)));

/** A statement as pg_stat_statements or the log has it, short: its CTE's name and the final SELECT. */
function shortStatement(text: string): string {
	const flat = (value: string) => value.replaceAll(/\s+/gu, ' ').trim();
	// relaytop marks its statements with a leading comment (/* relaytop */); a CTE name follows it.
	const cte = /^WITH\s+(?:\/\*.*?\*\/\s*)?(\w+) AS \(/u.exec(text);
	const bodyAt = text.lastIndexOf(')\nSELECT ');
	if (cte !== null && bodyAt !== -1) {
		const where = /\nWHERE ([^\n]*)\)\nSELECT /u.exec(text)?.[1];
		const groupKey = /AS \(SELECT (.*?) AS group_key,/u.exec(text)?.[1];
		const grouped = groupKey === undefined || /^(?:NULL|\$\d+)$/u.test(groupKey) ? '' : ` by ${groupKey}`;
		return `${cte[1]}${grouped} [${flat(where ?? '')}] → ${flat(text.slice(bodyAt + 2))}`.slice(0, 240);
	}
	return flat(text).slice(0, 240);
}

interface Counters {
	readonly calls: number;
	readonly execMs: number;
	readonly planMs: number;
}

interface Role {
	readonly oid: number;
	readonly url: string;
}

async function countersOf(admin: pg.Client, role: Role, dbid: number): Promise<Map<string, Counters>> {
	const {rows} = await admin.query<{queryid: string; calls: string; exec: number; plan: number}>(
		'SELECT queryid::text AS queryid, calls, total_exec_time AS exec, total_plan_time AS plan FROM pg_stat_statements(false) WHERE userid = $1 AND dbid = $2',
		[role.oid, dbid],
	);
	return new Map(rows.map(row => [row.queryid, {calls: Number(row.calls), execMs: row.exec, planMs: row.plan}]));
}

function difference(before: ReadonlyMap<string, Counters>, after: ReadonlyMap<string, Counters>): Map<string, Counters> {
	const changed = new Map<string, Counters>();
	for (const [queryid, now] of after) {
		const then = before.get(queryid) ?? {calls: 0, execMs: 0, planMs: 0};
		if (now.calls !== then.calls) {
			changed.set(queryid, {calls: now.calls - then.calls, execMs: now.execMs - then.execMs, planMs: now.planMs - then.planMs});
		}
	}
	return changed;
}

interface PanelTally {
	every: number;
	loads: number;
	failures: number;
	error: string | null;
	calls: number;
	execMs: number;
	planMs: number;
	clientMs: number[];
}

/** One view: a warm-up, then `cycles` steady-state cycles, each panel load bracketed by counters. */
async function measureView(source: UsageSource, view: View, settings: PgQueriesSettings, admin: pg.Client, role: Role, dbid: number): Promise<ViewFigures> {
	const plans = plansOf(source, view, settings.pageSize);
	const ids = Object.keys(plans);
	const cycle = lcm(ids.map(id => plans[id]!.every));
	const run = async (id: string): Promise<{ms: number; error: string | null}> => {
		const started = performance.now();
		try {
			await plans[id]!.load();
			return {ms: performance.now() - started, error: null};
		} catch (error) {
			return {ms: performance.now() - started, error: error instanceof Error ? error.message.split('\n')[0]! : String(error)};
		}
	};
	for (let tick = 0; tick < settings.warmUpCycles * cycle; tick++) {
		for (const id of ids.filter(id => tick % plans[id]!.every === 0)) {
			await run(id);
		}
	}
	await admin.query('SELECT pg_stat_statements_reset($1::oid, $2::oid, 0)', [role.oid, dbid]);
	const tallies = new Map<string, PanelTally>(ids.map(id => [id, {every: plans[id]!.every, loads: 0, failures: 0, error: null, calls: 0, execMs: 0, planMs: 0, clientMs: []}]));
	const panelsOfStatement = new Map<string, Set<string>>();
	let counters = await countersOf(admin, role, dbid);
	for (let tick = 0; tick < settings.cycles * cycle; tick++) {
		for (const id of ids.filter(id => tick % plans[id]!.every === 0)) {
			const outcome = await run(id);
			const after = await countersOf(admin, role, dbid);
			const tally = tallies.get(id)!;
			tally.loads += 1;
			if (outcome.error === null) {
				tally.clientMs.push(outcome.ms);
			} else {
				tally.failures += 1;
				tally.error = outcome.error;
			}
			for (const [queryid, delta] of difference(counters, after)) {
				tally.calls += delta.calls;
				tally.execMs += delta.execMs;
				tally.planMs += delta.planMs;
				panelsOfStatement.set(queryid, (panelsOfStatement.get(queryid) ?? new Set()).add(id));
			}
			counters = after;
		}
	}
	const refreshes = settings.cycles * cycle;
	const {rows} = await admin.query<{queryid: string; query: string; calls: string; exec: number; plan: number; rows: string; hit: string; read: string}>(
		`SELECT queryid::text AS queryid, query, calls, total_exec_time AS exec, total_plan_time AS plan, rows, shared_blks_hit AS hit, shared_blks_read AS read
FROM pg_stat_statements WHERE userid = $1 AND dbid = $2 ORDER BY total_exec_time + total_plan_time DESC`,
		[role.oid, dbid],
	);
	const statements = rows.map((row): StatementFigures => {
		const calls = Number(row.calls);
		return {
			panels: [...(panelsOfStatement.get(row.queryid) ?? [])],
			query: shortStatement(row.query),
			calls,
			meanMs: round((row.exec + row.plan) / calls, 3),
			meanExecMs: round(row.exec / calls, 3),
			meanPlanMs: round(row.plan / calls, 3),
			rowsPerCall: round(Number(row.rows) / calls, 1),
			sharedHitPerCall: round(Number(row.hit) / calls, 1),
			sharedReadPerCall: round(Number(row.read) / calls, 1),
		};
	});
	const panels = Object.fromEntries(
		[...tallies].map(([id, tally]): [string, PanelFigures] => {
			const serverMsPerLoad = tally.loads === 0 ? 0 : (tally.execMs + tally.planMs) / tally.loads;
			return [
				id,
				{
					every: tally.every,
					loads: tally.loads,
					failures: tally.failures,
					error: tally.error,
					statementsPerLoad: round(tally.calls / Math.max(1, tally.loads), 2),
					serverMsPerLoad: round(serverMsPerLoad, 3),
					serverMsPerRefresh: round(serverMsPerLoad / tally.every, 3),
					clientMs: tally.clientMs.length === 0 ? null : distribution(tally.clientMs, 2),
				},
			];
		}),
	);
	const sum = (pick: (tally: PanelTally) => number) => [...tallies.values()].reduce((total, tally) => total + pick(tally), 0);
	return {
		label: VIEW_LABELS[view],
		cycleRefreshes: cycle,
		refreshes,
		serverMsPerRefresh: round(sum(tally => tally.execMs + tally.planMs) / refreshes, 3),
		execMsPerRefresh: round(sum(tally => tally.execMs) / refreshes, 3),
		planMsPerRefresh: round(sum(tally => tally.planMs) / refreshes, 3),
		statementsPerRefresh: round(sum(tally => tally.calls) / refreshes, 2),
		clientMsPerRefresh: round(sum(tally => tally.clientMs.reduce((total, ms) => total + ms, 0)) / refreshes, 3),
		panels,
		statements,
	};
}

interface CapturedPlan {
	readonly view: View;
	readonly panel: string;
	readonly every: number;
	readonly plan: LoggedPlan;
}

/** Each panel once, on the auto_explain role's source; its plans from the server log. */
async function capturePlans(source: UsageSource, logFile: string, pageSize: number): Promise<CapturedPlan[]> {
	const captured: CapturedPlan[] = [];
	const done = new Set<string>();
	for (const view of VIEWS) {
		const plans = plansOf(source, view, pageSize);
		for (const [panel, plan] of Object.entries(plans)) {
			if (done.has(panel)) {
				continue; // summary and rate are the same queries in every view
			}
			done.add(panel);
			const offset = statSync(logFile).size;
			await plan.load();
			const logged = readFileSync(logFile).subarray(offset).toString('utf8');
			for (const entry of parseAutoExplain(logged)) {
				captured.push({view, panel, every: plan.every, plan: entry});
			}
		}
	}
	return captured;
}

async function logsIndexes(admin: pg.Client): Promise<Set<string>> {
	const {rows} = await admin.query<{name: string}>("SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'logs'::regclass");
	return new Set(rows.map(row => row.name));
}

async function indexScans(admin: pg.Client): Promise<Map<string, number>> {
	const {rows} = await admin.query<{name: string; scans: string}>("SELECT indexrelname AS name, idx_scan AS scans FROM pg_stat_user_indexes WHERE relname = 'logs'");
	return new Map(rows.map(row => [row.name, Number(row.scans)]));
}

async function ensureRoles(admin: pg.Client, serverUrl: string, database: string): Promise<{bench: Role; explain: Role}> {
	const password = `bench-${Math.random().toString(36).slice(2)}`;
	const role = async (name: string): Promise<Role> => {
		const {rows} = await admin.query<{found: boolean}>('SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS found', [name]);
		await admin.query(`${rows[0]?.found ? 'ALTER' : 'CREATE'} ROLE ${name} LOGIN PASSWORD '${password}'`);
		await admin.query(`GRANT SELECT ON logs, users, tokens, channels TO ${name}`);
		const oid = (await admin.query<{oid: number}>('SELECT oid FROM pg_roles WHERE rolname = $1', [name])).rows[0]!.oid;
		return {oid, url: databaseUrl(serverUrl, database, {user: name, password})};
	};
	const bench = await role(BENCH_ROLE);
	const explain = await role(EXPLAIN_ROLE);
	// Loaded here too, so that the server knows the settings it is asked to store for the role.
	await admin.query("LOAD 'auto_explain'");
	for (const [name, value] of [
		['session_preload_libraries', "'auto_explain'"],
		['auto_explain.log_min_duration', '0'],
		['auto_explain.log_analyze', 'on'],
		['auto_explain.log_buffers', 'on'],
		['auto_explain.log_timing', 'on'],
		['auto_explain.log_format', "'text'"],
		['auto_explain.log_level', "'log'"],
	] as const) {
		await admin.query(`ALTER ROLE ${EXPLAIN_ROLE} SET ${name} = ${value}`);
	}
	return {bench, explain};
}

async function measureSet(
	set: IndexSet,
	context: {admin: pg.Client; roles: {bench: Role; explain: Role}; dbid: number; settings: PgQueriesSettings; server: EmbeddedPostgres; rows: number},
	log: (line: string) => void,
): Promise<{figures: IndexSetFigures; captured: CapturedPlan[]}> {
	const {admin, roles, dbid, settings} = context;
	const indexes: AdvisorIndexFigures[] = [];
	if (set === 'advisor') {
		await admin.query("SET maintenance_work_mem = '256MB'");
		for (const index of ADVISOR_INDEXES) {
			const started = performance.now();
			await admin.query(index.sql);
			const buildS = round((performance.now() - started) / 1000, 1);
			const size = (await admin.query<{bytes: string}>('SELECT pg_relation_size($1::regclass) AS bytes', [index.name])).rows[0]!.bytes;
			indexes.push({...index, buildS, sizeMb: mb(size)});
			log(`  advisor index ${index.name}: ${buildS} s, ${mb(size)} MB`);
		}
		await admin.query('RESET maintenance_work_mem');
	}
	const source = await openSource(roles.bench.url);
	const scansBefore = await indexScans(admin);
	const views = {} as Record<View, ViewFigures>;
	try {
		for (const view of VIEWS) {
			await topUp(admin, context.rows);
			views[view] = await measureView(source, view, settings, admin, roles.bench, dbid);
			log(`  ${set}: ${VIEW_LABELS[view]}: ${views[view].serverMsPerRefresh.toFixed(2)} ms of server time per refresh`);
		}
	} finally {
		await source.close();
	}
	await delay(1500); // the backend's statistics reach pg_stat_user_indexes when it exits
	const scansAfter = await indexScans(admin);
	const usedIndexes = Object.fromEntries([...scansAfter].map(([name, scans]) => [name, scans - (scansBefore.get(name) ?? 0)]).filter(([, scans]) => (scans as number) > 0));

	const explainSource = await openSource(roles.explain.url);
	let captured: CapturedPlan[];
	try {
		await topUp(admin, context.rows);
		captured = await capturePlans(explainSource, context.server.logFile, settings.pageSize);
	} finally {
		await explainSource.close();
	}
	const ofLogs = await logsIndexes(admin);
	const plans = captured.map(({view, panel, every, plan}): PlanFigures => {
		const scans = scansOf(plan.plan);
		return {
			view,
			panel,
			every,
			query: shortStatement(plan.queryText),
			durationMs: round(plan.durationMs, 3),
			logsAccess: accessTo(scans, 'logs', ofLogs),
			parallelWorkers: [...plan.plan.matchAll(/Workers Launched: (\d+)/gu)].reduce((sum, match) => sum + Number(match[1]), 0),
			scans: scans.map(describeScan),
		};
	});
	if (set === 'advisor') {
		for (const index of ADVISOR_INDEXES) {
			await admin.query(`DROP INDEX IF EXISTS ${index.name}`);
		}
	}
	return {figures: {indexes, views, plans, indexScans: usedIndexes, loadAverage: loadAverage()}, captured};
}

function plansText(sets: Record<IndexSet, {captured: CapturedPlan[]; figures: IndexSetFigures}>, header: string[]): string {
	const out = [...header.map(line => `# ${line}`), ''];
	for (const set of INDEX_SETS) {
		const {captured, figures} = sets[set];
		out.push(`${'='.repeat(100)}`, `index set: ${set}${figures.indexes.length === 0 ? '' : ` (upstream + ${figures.indexes.map(index => index.name).join(', ')})`}`, '='.repeat(100), '');
		for (const {view, panel, every, plan} of captured) {
			out.push(`--- ${set} · ${VIEW_LABELS[view]} · panel ${panel} (every ${every} refresh${every === 1 ? '' : 'es'}) · ${plan.durationMs.toFixed(3)} ms`);
			out.push(`Query Text: ${plan.queryText}`);
			if (plan.parameters !== null) {
				out.push(`Query Parameters: ${plan.parameters}`);
			}
			out.push(plan.plan, '');
		}
	}
	return `${out.join('\n')}\n`;
}

export async function runPgQueriesBenchmark(settings: PgQueriesSettings, log: (line: string) => void): Promise<PgQueriesResults> {
	const startLoad = loadAverage();
	const serverSettings = {'pg_stat_statements.track_planning': 'on', max_wal_size: '2GB'};
	log(`pgqueries: ${settings.rows.toLocaleString('en')} logs rows on the embedded PostgreSQL (data folder pgqueries, kept)…`);
	const server = await startEmbeddedPostgres({name: 'pgqueries', persistent: true, settings: serverSettings});
	try {
		const table = await ensureLogsTable(server.url, settings.database, settings.rows, log);
		log(table.reused ? `table: reused (built ${table.build.builtAt} in ${table.build.totalS} s)` : `table: built in ${table.build.totalS} s`);
		const admin = new pg.Client({connectionString: databaseUrl(server.url, settings.database)});
		await admin.connect();
		try {
			await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
			// A run killed half-way (this one, scale or maintenance) may have left another index set.
			const repaired = await restoreUpstreamIndexes(admin, log);
			if (repaired.length > 0) {
				log(`upstream's index set restored: ${repaired.join('; ')}`);
			}
			const topUpStarted = performance.now();
			const initial = await topUp(admin, settings.rows);
			const topUpS = round((performance.now() - topUpStarted) / 1000, 1);
			const vacuumStarted = performance.now();
			await admin.query('VACUUM (ANALYZE) logs');
			const vacuumAnalyzeS = round((performance.now() - vacuumStarted) / 1000, 1);
			log(`topped up ${initial.rows.toLocaleString('en')} rows to now (${topUpS} s), VACUUM (ANALYZE) ${vacuumAnalyzeS} s`);

			const roles = await ensureRoles(admin, server.url, settings.database);
			const dbid = (await admin.query<{oid: number}>('SELECT oid FROM pg_database WHERE datname = current_database()')).rows[0]!.oid;
			const version = (await admin.query<{v: string}>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
			const shown = (
				await admin.query<{name: string; setting: string}>(
					`SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost',
	'max_parallel_workers_per_gather', 'jit', 'pg_stat_statements.track', 'pg_stat_statements.track_planning', 'track_io_timing') ORDER BY name`,
				)
			).rows;
			const jitAvailable = (await admin.query<{ok: boolean}>('SELECT pg_jit_available() AS ok')).rows[0]!.ok;
			const sizes = (
				await admin.query<{heap: string; indexes: string; total: string}>("SELECT pg_relation_size('logs') AS heap, pg_indexes_size('logs') AS indexes, pg_total_relation_size('logs') AS total")
			).rows[0]!;
			const day = (
				await admin.query<{requests: string; rows: string}>(
					"SELECT count(*) FILTER (WHERE type IN (2, 5)) AS requests, count(*) AS rows FROM logs WHERE created_at >= extract(epoch FROM now())::bigint - 86400",
				)
			).rows[0]!;

			const context = {admin, roles, dbid, settings, server, rows: settings.rows};
			const measured = {} as Record<IndexSet, {figures: IndexSetFigures; captured: CapturedPlan[]}>;
			for (const set of INDEX_SETS) {
				log(`index set ${set}: ${settings.warmUpCycles} warm-up + ${settings.cycles} steady-state cycles per view, then EXPLAIN of each panel…`);
				measured[set] = await measureSet(set, context, log);
			}
			const rowsNow = Number((await admin.query<{rows: string}>('SELECT rows FROM pgqueries_bench_meta')).rows[0]!.rows);
			const plansPath = join(packageRoot(), 'bench', 'results', settings.plansName);
			writeFileSync(
				plansPath,
				plansText(measured, [
					"relaytop's dashboard queries on new-api `logs`: EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) of each, from auto_explain",
					`(log_analyze, log_buffers, log_timing; loaded for the ${EXPLAIN_ROLE} role only). Written by bench/pgqueries.ts (npm run bench -- --only=pgqueries${settings.quick ? ' --quick' : ''}).`,
					`database ${settings.database}: ${rowsNow.toLocaleString('en')} rows over ${SPAN_DAYS} days ending now (generator v${GENERATOR_VERSION}), PostgreSQL ${version}, ${new Date().toISOString()}`,
					`range 24h, page size ${settings.pageSize}, sort by calls, accounts by user; each panel run once per index set, in view order (summary and rate only in the first view)`,
				]),
			);
			return {
				server: {version, dataDir: server.dataDir, settings: {...Object.fromEntries(shown.map(row => [row.name, row.setting])), jit_available: String(jitAvailable)}},
				table: {
					...table,
					rows: rowsNow,
					sizes: {heapMb: mb(sizes.heap), indexesMb: mb(sizes.indexes), totalMb: mb(sizes.total)},
					last24h: {requests: Number(day.requests), rows: Number(day.rows)},
					topUp: {rows: initial.rows, s: topUpS, vacuumAnalyzeS},
				},
				sets: {upstream: measured.upstream.figures, advisor: measured.advisor.figures},
				loadAverage: {start: startLoad, end: loadAverage()},
				plansFile: plansPath,
			};
		} finally {
			await admin.end();
		}
	} finally {
		await server.stop();
	}
}

/** What goes into bench/results/pgqueries.json beside the run header. */
export function pgQueriesResultsFile(settings: PgQueriesSettings, results: PgQueriesResults): object {
	const overTarget = (set: IndexSet) =>
		VIEWS.filter(view => results.sets[set].views[view].serverMsPerRefresh > TARGET_MS_PER_REFRESH).map(view => {
			const panels = results.sets[set].views[view].panels;
			const worst = Object.entries(panels).sort(([, a], [, b]) => b.serverMsPerRefresh - a.serverMsPerRefresh)[0]!;
			return {view, serverMsPerRefresh: results.sets[set].views[view].serverMsPerRefresh, mainCause: `${worst[0]} (${worst[1].serverMsPerRefresh} ms per refresh)`};
		});
	const notIndexScans = (set: IndexSet) =>
		results.sets[set].plans.filter(plan => plan.logsAccess === 'seq' || plan.logsAccess === 'bitmap').map(plan => ({panel: plan.panel, access: plan.logsAccess, query: plan.query}));
	return {
		benchmark: "relaytop's own query cost per dashboard refresh on a new-api logs table on PostgreSQL (server time from pg_stat_statements, plans from auto_explain)",
		loadAverage: results.loadAverage,
		server: results.server,
		table: results.table,
		method: {
			source: 'openSource(postgres URL) → NewApiSource on PostgreSQL, asked by planPanels (source/ui/dashboard-panels.ts) for each view',
			screen: {range: '24h', pageSize: settings.pageSize, sort: 'totalCalls desc', dimension: 'user', intervalMs: 2000},
			cycles: {warmUp: settings.warmUpCycles, measured: settings.cycles, note: 'a cycle is the least common multiple of the panel cadences (15 refreshes, 6 for realtime); panels run back to back, one connection'},
			serverTime: `pg_stat_statements total_exec_time + total_plan_time of role ${BENCH_ROLE}, reset after the warm-up; per panel by reading the counters around each load`,
			plans: `auto_explain (log_analyze, log_buffers) for role ${EXPLAIN_ROLE}, each panel once, after the measured cycles of each index set`,
			state: 'VACUUM (ANALYZE) after the initial top-up; before each view the table is topped up to now (rows not yet vacuumed, as on a live table)',
		},
		target: {
			msPerRefresh: TARGET_MS_PER_REFRESH,
			metWithAdvisor: overTarget('advisor').length === 0 && notIndexScans('advisor').length === 0,
			viewsOverTarget: {upstream: overTarget('upstream'), advisor: overTarget('advisor')},
			queriesNotIndexScans: {upstream: notIndexScans('upstream'), advisor: notIndexScans('advisor')},
		},
		sets: results.sets,
	};
}

export function pgQueriesTable(results: PgQueriesResults): string {
	const {upstream, advisor} = results.sets;
	const views = textTable(
		['view (server ms per refresh)', 'upstream', 'advisor', 'client ms/refresh (up)', 'statements/refresh'],
		VIEWS.map(view => [
			upstream.views[view].label,
			upstream.views[view].serverMsPerRefresh.toFixed(2),
			advisor.views[view].serverMsPerRefresh.toFixed(2),
			upstream.views[view].clientMsPerRefresh.toFixed(2),
			upstream.views[view].statementsPerRefresh.toFixed(2),
		]),
	);
	// Every panel once, from the first view that polls it.
	const seen = new Set<string>();
	const rows: string[][] = [];
	for (const view of VIEWS) {
		for (const [panel, figures] of Object.entries(upstream.views[view].panels)) {
			if (seen.has(panel)) continue;
			seen.add(panel);
			const other = advisor.views[view].panels[panel]!;
			const access = (set: IndexSetFigures) => [...new Set(set.plans.filter(plan => plan.panel === panel && plan.logsAccess !== 'none').map(plan => plan.logsAccess))].join('+') || '-';
			const workers = Math.max(0, ...upstream.plans.filter(plan => plan.panel === panel).map(plan => plan.parallelWorkers));
			rows.push([
				panel,
				String(figures.every),
				figures.serverMsPerLoad.toFixed(2),
				other.serverMsPerLoad.toFixed(2),
				figures.serverMsPerRefresh.toFixed(2),
				other.serverMsPerRefresh.toFixed(2),
				access(upstream),
				access(advisor),
				String(workers),
				...(figures.failures + other.failures > 0 ? [`${figures.failures + other.failures} failed: ${figures.error ?? other.error}`] : []),
			]);
		}
	}
	const panels = textTable(['panel', 'every', 'ms/load up', 'ms/load adv', 'ms/refresh up', 'ms/refresh adv', 'access up', 'access adv', 'workers up'], rows);
	const t = results.table;
	return [
		`relaytop's queries on new-api logs (PostgreSQL ${results.server.version}, ${t.rows.toLocaleString('en')} rows, ${t.last24h.requests.toLocaleString('en')} requests in the last 24 h)`,
		views,
		panels,
		`advisor indexes: ${advisor.indexes.map(index => `${index.name} (${index.sizeMb} MB, ${index.buildS} s)`).join(', ') || 'none'}`,
		`table build: ${t.reused ? `cached, built ${t.build.builtAt} in` : ''} ${t.build.totalS} s (rows ${t.build.loadS} s, indexes ${t.build.indexesS} s, vacuum ${t.build.vacuumAnalyzeS} s)`,
		`load average: ${results.loadAverage.start.join(' ')} at start, ${results.loadAverage.end.join(' ')} at end`,
		`plans: ${results.plansFile}`,
	].join('\n');
}
