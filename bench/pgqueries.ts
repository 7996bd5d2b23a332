import {readFileSync, statSync, writeFileSync} from 'node:fs';
import {loadavg} from 'node:os';
import {join} from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import pg from 'pg';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {startEmbeddedPostgres, type EmbeddedPostgres} from '../source/postgres/embedded/embedded-server.js';
import {adviseIndexes} from '../source/maintenance/index-maintenance.js';
import {DEFAULT_ROLLUP_POLICY} from '../source/sources/rollup/range-rollups.js';
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
// one dashboard refresh sends, per view and per panel, with upstream's index set (which the index
// advisor rates complete: it proposes nothing more) and with a covering index added, which the
// advisor leaves out for what it costs the gateway's inserts; and the real plan of every query.
//
// - Server: the embedded PostgreSQL (source/postgres/embedded), data folder `pg<major>-pgqueries`,
//   kept between runs; the table is built once per size (pg-logs-table.ts) and topped up to now.
// - The queries: the real source opened as the dashboard opens it (openSource on a postgres:// URL,
//   with the dashboard's rollup policy: a range of 3 h or more is loaded once, then merged with the
//   rows that arrive and leave), asked by the real panel plans (source/ui/dashboard-panels.ts
//   planPanels: which panels a view polls, every how many refreshes, with which arguments), for the
//   default screen: range 24h, a 52-row page (a 200×60 terminal, as the render benchmark), sort by
//   calls, accounts by user. One steady-state cycle is the least common multiple of the panels'
//   cadences; panels run one after another, as they do on relaytop's one connection.
// - Live: each view gets a new source. Its first cycle is the warm-up; the first read of it (the
//   summary's) loads the range, and is reported as the load. Then the measured refreshes start `intervalMs` apart, each after a
//   top-up of the table to now (the rows a gateway would have written meanwhile, at the newest days'
//   density), so each refresh merges what a refresh on a live gateway merges.
// - Reloads: the rollup is loaded again in full every 10 minutes, or every 100 loads' time if that
//   is longer (DEFAULT_ROLLUP_POLICY); the load's server time spread over the refreshes in between
//   is added to the steady-state figure.
// - Server time: relaytop connects as its own role, and pg_stat_statements (which has no
//   application_name) is summed for that role: total_exec_time + total_plan_time (track_planning
//   on), after the warm-up, divided by the refreshes. Each panel load is bracketed by two reads of
//   the counters, so every statement is attributed to its panel.
// - Plans: a second role loads auto_explain for its sessions (session_preload_libraries, log_analyze,
//   log_buffers); a source on that role runs the overview's panels once (the range's load), then,
//   after a top-up, every panel once more (the refreshes), and the plans are read back from the
//   server log: the real statements, with their real parameters.
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

const INDEX_SETS = ['upstream', 'covering'] as const;
export type IndexSet = (typeof INDEX_SETS)[number];

/** The project's target: relaytop's own query time per refresh, with the indexes the advisor recommends. */
const TARGET_MS_PER_REFRESH = 10;

/** The dashboard's default refresh interval. */
const DASHBOARD_INTERVAL_MS = 2000;

/** The table a 200×60 terminal shows (app.tsx: 60 − 1 − 4 rows of frame, − 2 of table chrome, − 1). */
const PAGE_SIZE = 52;

const BENCH_ROLE = 'relaytop_bench';
const EXPLAIN_ROLE = 'relaytop_explain';

/**
 * An index beyond upstream's set that the advisor does not propose (index-needs.ts: every extra
 * index slows each of the gateway's inserts), measured to show what it would save. Every relaytop
 * query on `logs` is `type IN (2, 5) AND created_at BETWEEN …`. Upstream serves it with
 * idx_created_at_type (created_at, type), type checked in the index but every row read from the
 * heap. What a covering index can save is the heap visits of the per-refresh queries that read
 * only times and token counts (rate, timeline) and of the rollup's check of its newest ids.
 */
const COVERING_INDEXES: ReadonlyArray<{readonly name: string; readonly sql: string; readonly reason: string}> = [
	{
		name: 'idx_logs_requests_created_at_tokens',
		sql: 'CREATE INDEX idx_logs_requests_created_at_tokens ON logs (created_at) INCLUDE (prompt_tokens, completion_tokens) WHERE type IN (2, 5)',
		reason:
			'rate (60 s, every refresh) and timeline (30 min, every refresh) read only created_at and the token counts of requests: ' +
			'upstream answers them with Index Scans on idx_created_at_type that visit the heap for every row. ' +
			'Partial on the request types (the predicate relaytop always writes), keyed on created_at, with the tokens as INCLUDE columns, they become Index Only Scans of requests only.',
	},
];

export interface PgQueriesSettings {
	readonly quick: boolean;
	readonly rows: number;
	readonly database: string;
	readonly warmUpCycles: number;
	readonly cycles: number;
	/** Between the starts of two measured refreshes: the dashboard's interval, or 0 (back to back) for a quick run. */
	readonly intervalMs: number;
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
	cycles: quick ? 1 : 2,
	intervalMs: quick ? 0 : DASHBOARD_INTERVAL_MS,
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
	/** The range's first load (the warm-up's first tick), and what its reloads add to each refresh. */
	readonly load: LoadFigures;
	/** serverMsPerRefresh + load.serverMsPerRefresh: the average over a reload period. */
	readonly serverMsPerRefreshWithReloads: number;
	readonly panels: Readonly<Record<string, PanelFigures>>;
	readonly statements: readonly StatementFigures[];
}

export interface LoadFigures {
	/** Server time of the first summary read on a new source: the range's load, and the summary. */
	readonly serverMs: number;
	readonly wallMs: number;
	readonly statements: number;
	/** How often the policy loads it again: every reconcileMs, or every wallMs / maxLoadShare if longer. */
	readonly reloadEveryS: number;
	/** serverMs spread over the refreshes (at the dashboard's 2 s) of one reload period. */
	readonly serverMsPerRefresh: number;
}

export interface PlanFigures {
	readonly phase: PlanPhase;
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

export interface CoveringIndexFigures {
	readonly name: string;
	readonly sql: string;
	readonly reason: string;
	readonly buildS: number;
	readonly sizeMb: number;
}

export interface IndexSetFigures {
	readonly indexes: readonly CoveringIndexFigures[];
	/** The index advisor on this set: each hot query's verdict, and what it would build. */
	readonly advisor: {readonly proposals: readonly string[]; readonly needs: ReadonlyArray<{readonly need: string; readonly status: string; readonly servedBy: readonly string[]}>};
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

const serverMsOf = (counters: ReadonlyMap<string, Counters>): {ms: number; calls: number} =>
	[...counters.values()].reduce((total, {calls, execMs, planMs}) => ({ms: total.ms + execMs + planMs, calls: total.calls + calls}), {ms: 0, calls: 0});

interface ViewContext {
	readonly open: () => Promise<UsageSource>;
	readonly settings: PgQueriesSettings;
	readonly admin: pg.Client;
	readonly role: Role;
	readonly dbid: number;
	/** The table's base size, for its top-ups. */
	readonly rows: number;
}

/**
 * One view on a new source: a warm-up whose first tick loads the range, then `cycles` steady-state
 * cycles, each refresh `intervalMs` after the one before and after a top-up of the table to now,
 * each panel load bracketed by counters.
 */
async function measureView(view: View, context: ViewContext): Promise<ViewFigures> {
	const source = await context.open();
	try {
		return await measureViewOn(source, view, context);
	} finally {
		await source.close();
	}
}

async function measureViewOn(source: UsageSource, view: View, {settings, admin, role, dbid, rows: baseRows}: ViewContext): Promise<ViewFigures> {
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
	await topUp(admin, baseRows);
	await admin.query('SELECT pg_stat_statements_reset($1::oid, $2::oid, 0)', [role.oid, dbid]);
	// Every view polls the summary; on a new source its first read loads the range.
	const loadStarted = performance.now();
	await run('summary');
	const loadWallMs = performance.now() - loadStarted;
	const loaded = serverMsOf(await countersOf(admin, role, dbid));
	for (const id of ids.filter(id => id !== 'summary')) {
		await run(id);
	}
	for (let tick = 1; tick < settings.warmUpCycles * cycle; tick++) {
		for (const id of ids.filter(id => tick % plans[id]!.every === 0)) {
			await run(id);
		}
	}
	await admin.query('SELECT pg_stat_statements_reset($1::oid, $2::oid, 0)', [role.oid, dbid]);
	const tallies = new Map<string, PanelTally>(ids.map(id => [id, {every: plans[id]!.every, loads: 0, failures: 0, error: null, calls: 0, execMs: 0, planMs: 0, clientMs: []}]));
	const panelsOfStatement = new Map<string, Set<string>>();
	const measuredStarted = performance.now();
	for (let tick = 0; tick < settings.cycles * cycle; tick++) {
		const wait = measuredStarted + tick * settings.intervalMs - performance.now();
		if (wait > 0) {
			await delay(wait);
		}
		await topUp(admin, baseRows);
		let counters = await countersOf(admin, role, dbid);
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
	const serverMsPerRefresh = sum(tally => tally.execMs + tally.planMs) / refreshes;
	const policy = DEFAULT_ROLLUP_POLICY;
	const reloadEveryMs = Math.max(policy.reconcileMs, loadWallMs / policy.maxLoadShare);
	const loadMsPerRefresh = loaded.ms / (reloadEveryMs / DASHBOARD_INTERVAL_MS);
	return {
		label: VIEW_LABELS[view],
		cycleRefreshes: cycle,
		refreshes,
		serverMsPerRefresh: round(serverMsPerRefresh, 3),
		execMsPerRefresh: round(sum(tally => tally.execMs) / refreshes, 3),
		planMsPerRefresh: round(sum(tally => tally.planMs) / refreshes, 3),
		statementsPerRefresh: round(sum(tally => tally.calls) / refreshes, 2),
		clientMsPerRefresh: round(sum(tally => tally.clientMs.reduce((total, ms) => total + ms, 0)) / refreshes, 3),
		load: {
			serverMs: round(loaded.ms, 1),
			wallMs: round(loadWallMs, 1),
			statements: loaded.calls,
			reloadEveryS: round(reloadEveryMs / 1000, 1),
			serverMsPerRefresh: round(loadMsPerRefresh, 3),
		},
		serverMsPerRefreshWithReloads: round(serverMsPerRefresh + loadMsPerRefresh, 3),
		panels,
		statements,
	};
}

/** load: the overview's first tick on a new source (the range's load); refresh: a later tick. */
type PlanPhase = 'load' | 'refresh';

interface CapturedPlan {
	readonly phase: PlanPhase;
	readonly view: View;
	readonly panel: string;
	readonly every: number;
	readonly plan: LoggedPlan;
}

/**
 * The auto_explain role's source: the overview's panels once (the range's load and its first
 * reads), then, after a top-up and one interval, each panel of every view once (summary and rate
 * are the same queries in every view); the plans of each from the server log.
 */
async function capturePlans(source: UsageSource, context: {logFile: string; pageSize: number; admin: pg.Client; rows: number}): Promise<CapturedPlan[]> {
	const captured: CapturedPlan[] = [];
	const capture = async (phase: PlanPhase, view: View, panel: string, plan: PanelPlan) => {
		const offset = statSync(context.logFile).size;
		await plan.load();
		const logged = readFileSync(context.logFile).subarray(offset).toString('utf8');
		for (const entry of parseAutoExplain(logged)) {
			captured.push({phase, view, panel, every: plan.every, plan: entry});
		}
	};
	for (const [panel, plan] of Object.entries(plansOf(source, 'overview', context.pageSize))) {
		await capture('load', 'overview', panel, plan);
	}
	await delay(DASHBOARD_INTERVAL_MS);
	await topUp(context.admin, context.rows);
	const done = new Set<string>();
	for (const view of VIEWS) {
		for (const [panel, plan] of Object.entries(plansOf(source, view, context.pageSize))) {
			if (!done.has(panel)) {
				done.add(panel);
				await capture('refresh', view, panel, plan);
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
	const indexes: CoveringIndexFigures[] = [];
	if (set === 'covering') {
		await admin.query("SET maintenance_work_mem = '256MB'");
		for (const index of COVERING_INDEXES) {
			const started = performance.now();
			await admin.query(index.sql);
			const buildS = round((performance.now() - started) / 1000, 1);
			const size = (await admin.query<{bytes: string}>('SELECT pg_relation_size($1::regclass) AS bytes', [index.name])).rows[0]!.bytes;
			indexes.push({...index, buildS, sizeMb: mb(size)});
			log(`  covering index ${index.name}: ${buildS} s, ${mb(size)} MB`);
		}
		await admin.query('RESET maintenance_work_mem');
	}
	// What `relaytop maintain indexes` would say of this set: the hot queries' verdicts and its proposals.
	const advice = await adviseIndexes({engine: 'postgres', observer: admin});
	const advisor = {
		proposals: advice.proposals.map(proposal => proposal.sql),
		needs: advice.verdicts.map(verdict => ({need: verdict.need, status: verdict.status, servedBy: verdict.servedBy})),
	};
	const scansBefore = await indexScans(admin);
	const views = {} as Record<View, ViewFigures>;
	const open = () => openSource(roles.bench.url, {rollups: DEFAULT_ROLLUP_POLICY});
	for (const view of VIEWS) {
		views[view] = await measureView(view, {open, settings, admin, role: roles.bench, dbid, rows: context.rows});
		const figures = views[view];
		log(
			`  ${set}: ${VIEW_LABELS[view]}: ${figures.serverMsPerRefresh.toFixed(2)} ms of server time per refresh, ` +
				`${figures.serverMsPerRefreshWithReloads.toFixed(2)} with reloads (load ${figures.load.serverMs.toFixed(0)} ms every ${figures.load.reloadEveryS} s)`,
		);
	}
	await delay(1500); // the backend's statistics reach pg_stat_user_indexes when it exits
	const scansAfter = await indexScans(admin);
	const usedIndexes = Object.fromEntries([...scansAfter].map(([name, scans]) => [name, scans - (scansBefore.get(name) ?? 0)]).filter(([, scans]) => (scans as number) > 0));

	const explainSource = await openSource(roles.explain.url, {rollups: DEFAULT_ROLLUP_POLICY});
	let captured: CapturedPlan[];
	try {
		await topUp(admin, context.rows);
		captured = await capturePlans(explainSource, {logFile: context.server.logFile, pageSize: settings.pageSize, admin, rows: context.rows});
	} finally {
		await explainSource.close();
	}
	const ofLogs = await logsIndexes(admin);
	const plans = captured.map(({phase, view, panel, every, plan}): PlanFigures => {
		const scans = scansOf(plan.plan);
		return {
			phase,
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
	if (set === 'covering') {
		for (const index of COVERING_INDEXES) {
			await admin.query(`DROP INDEX IF EXISTS ${index.name}`);
		}
	}
	return {figures: {indexes, advisor, views, plans, indexScans: usedIndexes, loadAverage: loadAverage()}, captured};
}

function plansText(sets: Record<IndexSet, {captured: CapturedPlan[]; figures: IndexSetFigures}>, header: string[]): string {
	const out = [...header.map(line => `# ${line}`), ''];
	for (const set of INDEX_SETS) {
		const {captured, figures} = sets[set];
		out.push(`${'='.repeat(100)}`, `index set: ${set}${figures.indexes.length === 0 ? '' : ` (upstream + ${figures.indexes.map(index => index.name).join(', ')})`}`, '='.repeat(100), '');
		for (const {phase, view, panel, every, plan} of captured) {
			out.push(`--- ${set} · ${phase} · ${VIEW_LABELS[view]} · panel ${panel} (every ${every} refresh${every === 1 ? '' : 'es'}) · ${plan.durationMs.toFixed(3)} ms`);
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
					`range 24h, page size ${settings.pageSize}, sort by calls, accounts by user, the dashboard's rollup policy; per index set: the overview's panels on a new source (phase load: the range's load),`,
					`then after a top-up each panel of every view once (phase refresh; summary and rate only in the first view)`,
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
				sets: {upstream: measured.upstream.figures, covering: measured.covering.figures},
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
		VIEWS.filter(view => results.sets[set].views[view].serverMsPerRefreshWithReloads > TARGET_MS_PER_REFRESH).map(view => {
			const figures = results.sets[set].views[view];
			const worst = Object.entries(figures.panels).sort(([, a], [, b]) => b.serverMsPerRefresh - a.serverMsPerRefresh)[0]!;
			return {
				view,
				serverMsPerRefresh: figures.serverMsPerRefresh,
				serverMsPerRefreshWithReloads: figures.serverMsPerRefreshWithReloads,
				mainCause: `${worst[0]} (${worst[1].serverMsPerRefresh} ms per refresh); reloads ${figures.load.serverMsPerRefresh} ms per refresh`,
			};
		});
	const notIndexScans = (set: IndexSet) =>
		results.sets[set].plans
			.filter(plan => plan.logsAccess === 'seq' || plan.logsAccess === 'bitmap')
			.map(plan => ({phase: plan.phase, panel: plan.panel, access: plan.logsAccess, query: plan.query}));
	const {advisor} = results.sets.upstream;
	return {
		benchmark: "relaytop's own query cost per dashboard refresh on a new-api logs table on PostgreSQL (server time from pg_stat_statements, plans from auto_explain)",
		loadAverage: results.loadAverage,
		server: results.server,
		table: results.table,
		method: {
			source: 'openSource(postgres URL, {rollups: DEFAULT_ROLLUP_POLICY}) → NewApiSource on PostgreSQL as the dashboard opens it, asked by planPanels (source/ui/dashboard-panels.ts) for each view; a new source per view',
			screen: {range: '24h', pageSize: settings.pageSize, sort: 'totalCalls desc', dimension: 'user', intervalMs: DASHBOARD_INTERVAL_MS},
			cycles: {
				warmUp: settings.warmUpCycles,
				measured: settings.cycles,
				intervalMs: settings.intervalMs,
				note: 'a cycle is the least common multiple of the panel cadences (15 refreshes, 6 for realtime); measured refreshes start intervalMs apart, each after a top-up of the table to now; panels run back to back, one connection',
			},
			serverTime: `pg_stat_statements total_exec_time + total_plan_time of role ${BENCH_ROLE}, reset after the warm-up; per panel by reading the counters around each load`,
			load: "the first summary read on a new source (the range's load); reloads every max(reconcileMs, load wall time / maxLoadShare) of DEFAULT_ROLLUP_POLICY, spread over the refreshes at 2 s",
			plans: `auto_explain (log_analyze, log_buffers) for role ${EXPLAIN_ROLE}: the overview's panels on a new source (load), then every panel once after a top-up (refresh), after the measured cycles of each index set`,
			state: 'VACUUM (ANALYZE) after the initial top-up; then topped up to now before each refresh (rows not yet vacuumed, as on a live table)',
			leftOut:
				'a reload runs beside the figures in service but on the same connection, so the refresh during it waits for its statements (about the load time once per reload period); ' +
				'a statement that fails or is cancelled never reaches pg_stat_statements (each panel counts its failures); ' +
				"the filter menu is measured without a filter, its choices read from the range's rollup; under a filter picked before the range was read without one they are queried",
		},
		target: {
			msPerRefresh: TARGET_MS_PER_REFRESH,
			indexes: `upstream's set; the index advisor proposes ${advisor.proposals.length === 0 ? 'nothing more' : advisor.proposals.join('; ')}`,
			met: overTarget('upstream').length === 0 && notIndexScans('upstream').length === 0,
			viewsOverTarget: {upstream: overTarget('upstream'), covering: overTarget('covering')},
			queriesNotIndexScans: {upstream: notIndexScans('upstream'), covering: notIndexScans('covering')},
		},
		sets: results.sets,
	};
}

export function pgQueriesTable(results: PgQueriesResults): string {
	const {upstream, covering} = results.sets;
	const views = textTable(
		['view (server ms per refresh)', 'upstream', '+ reloads', 'covering', '+ reloads', 'load ms (up)', 'reload every s', 'client ms/refresh (up)', 'statements/refresh'],
		VIEWS.map(view => {
			const up = upstream.views[view];
			const cov = covering.views[view];
			return [
				up.label,
				up.serverMsPerRefresh.toFixed(2),
				up.serverMsPerRefreshWithReloads.toFixed(2),
				cov.serverMsPerRefresh.toFixed(2),
				cov.serverMsPerRefreshWithReloads.toFixed(2),
				up.load.serverMs.toFixed(0),
				up.load.reloadEveryS.toFixed(0),
				up.clientMsPerRefresh.toFixed(2),
				up.statementsPerRefresh.toFixed(2),
			];
		}),
	);
	// Every panel once, from the first view that polls it.
	const seen = new Set<string>();
	const rows: string[][] = [];
	for (const view of VIEWS) {
		for (const [panel, figures] of Object.entries(upstream.views[view].panels)) {
			if (seen.has(panel)) continue;
			seen.add(panel);
			const other = covering.views[view].panels[panel]!;
			const access = (set: IndexSetFigures) =>
				[...new Set(set.plans.filter(plan => plan.panel === panel && plan.phase === 'refresh' && plan.logsAccess !== 'none').map(plan => plan.logsAccess))].join('+') || '-';
			rows.push([
				panel,
				String(figures.every),
				figures.statementsPerLoad.toFixed(1),
				figures.serverMsPerLoad.toFixed(2),
				other.serverMsPerLoad.toFixed(2),
				figures.serverMsPerRefresh.toFixed(2),
				other.serverMsPerRefresh.toFixed(2),
				access(upstream),
				access(covering),
				...(figures.failures + other.failures > 0 ? [`${figures.failures + other.failures} failed: ${figures.error ?? other.error}`] : []),
			]);
		}
	}
	const panels = textTable(['panel', 'every', 'statements', 'ms/load up', 'ms/load cov', 'ms/refresh up', 'ms/refresh cov', 'access up', 'access cov'], rows);
	const loadAccess = [...new Set(upstream.plans.filter(plan => plan.phase === 'load' && plan.logsAccess !== 'none').map(plan => plan.logsAccess))].join('+') || '-';
	const t = results.table;
	return [
		`relaytop's queries on new-api logs (PostgreSQL ${results.server.version}, ${t.rows.toLocaleString('en')} rows, ${t.last24h.requests.toLocaleString('en')} requests in the last 24 h)`,
		views,
		panels,
		`the range's load (upstream): ${loadAccess} on logs; the advisor proposes ${upstream.advisor.proposals.length === 0 ? 'nothing beyond upstream' : upstream.advisor.proposals.join('; ')}`,
		`covering indexes: ${covering.indexes.map(index => `${index.name} (${index.sizeMb} MB, ${index.buildS} s)`).join(', ') || 'none'}`,
		`table build: ${t.reused ? `cached, built ${t.build.builtAt} in` : ''} ${t.build.totalS} s (rows ${t.build.loadS} s, indexes ${t.build.indexesS} s, vacuum ${t.build.vacuumAnalyzeS} s)`,
		`load average: ${results.loadAverage.start.join(' ')} at start, ${results.loadAverage.end.join(' ')} at end`,
		`plans: ${results.plansFile}`,
	].join('\n');
}
