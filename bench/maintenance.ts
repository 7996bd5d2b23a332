import {writeFileSync} from 'node:fs';
import {loadavg} from 'node:os';
import {join} from 'node:path';
import pg from 'pg';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS} from '../source/maintenance/maintenance-limits.js';
import {startEmbeddedPostgres} from '../source/postgres/embedded/embedded-server.js';
import {QUERIES, QUERY_LABELS, RARE_USER_FIRST_ID, RARE_USER_ROWS, USER_PAGE_SQL, runIndexBenchmark, type IndexBenchResults, type IndexBenchSettings, type QueryFigures} from './maintenance-indexes.js';
import {cpuShare, cpuSnapshot, idleSample, startOthersSampler, type CpuShare, type IdleSample, type OtherProcess} from './maintenance-machine.js';
import type {WriterPhase} from './maintenance-latency.js';
import {runRetentionBenchmark, type RetentionResults, type RetentionSettings} from './maintenance-retention.js';
import {runSqliteRetentionBenchmark, type SqliteRetentionResults, type SqliteRetentionSettings} from './maintenance-sqlite.js';
import {databaseUrl, ensureLogsTable, GENERATOR_VERSION, SPAN_DAYS, topUp, type LogsTable} from './pg-logs-table.js';
import {textTable} from './text-table.js';

// `maintenance`: what relaytop's maintenance actions buy and cost on new-api's `logs`.
// - Indexes (maintenance-indexes.ts): on the cached 10M-row table of the pgqueries benchmark (same
//   embedded PostgreSQL 18, data folder pg18-pgqueries), the 60 s rpm/tpm query and new-api's user
//   log page with an old database's index set, then with the index advisor's indexes built through
//   its API; the ratio before/after; each build's time against the advisor's estimate. Upstream's
//   index set is put back at the end.
// - Retention (maintenance-retention.ts): on a throwaway copy (schema maintenance_bench), relaytop's
//   batched retention with lock_timeout 1 s: rows/s, and a concurrent gateway writer's latency
//   against its own baseline; then upstream's one unbounded DELETE on a fresh copy, as the contrast.
// - SQLite (maintenance-sqlite.ts): the same retention pair on a new-api SQLite file.
// Minutes at full size; not part of the default run (`--only=maintenance`). Figures are reported,
// never asserted; the checks (the writer's rows all kept, no young row deleted, the writer's longest
// wait within lock_timeout) are reported as true/false.

export interface MaintenanceSettings {
	readonly quick: boolean;
	readonly rows: number;
	readonly database: string;
	readonly index: IndexBenchSettings;
	readonly retention: RetentionSettings;
	readonly sqlite: SqliteRetentionSettings;
	readonly resultsName: string;
}

export function maintenanceSettings(quick: boolean): MaintenanceSettings {
	const rows = quick ? 1_000_000 : 10_000_000;
	const writer = {writerRatePerSecond: 200, writerUpdateEvery: 10, baselineS: quick ? 5 : 20, afterS: quick ? 2 : 5, lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS};
	return {
		quick,
		rows,
		database: quick ? 'newapi_logs_1m' : 'newapi_logs_10m',
		index: {rows, warmUpRuns: quick ? 2 : 3, runs: quick ? 8 : 25},
		retention: {
			rows: quick ? 200_000 : 4_000_000,
			spanDays: 60,
			keep: '30d',
			...writer,
			statementTimeoutMs: DEFAULT_STATEMENT_TIMEOUT_MS,
			unboundedLimitS: 180,
		},
		sqlite: {rows: quick ? 100_000 : 1_000_000, spanDays: 60, keep: '30d', ...writer, writerBusyTimeoutMs: 5000},
		resultsName: quick ? 'maintenance-quick' : 'maintenance',
	};
}

export interface MaintenanceResults {
	readonly server: {readonly version: string; readonly dataDir: string; readonly settings: Readonly<Record<string, string>>};
	readonly table: LogsTable & {readonly sizes: {readonly heapMb: number; readonly indexesMb: number}; readonly topUp: {readonly rows: number; readonly vacuumAnalyzeS: number}};
	readonly indexes: IndexBenchResults;
	readonly retention: RetentionResults;
	readonly sqlite: SqliteRetentionResults | {readonly skipped: string};
	readonly machine: {
		readonly idleBefore: IdleSample | null;
		readonly idleAfter: IdleSample | null;
		readonly duringPostgres: CpuShare | null;
		/** The other commands that used the most CPU while the PostgreSQL part ran (sampled every 2 s). */
		readonly othersDuringPostgres: readonly OtherProcess[];
		readonly loadAverage: {readonly start: readonly number[]; readonly end: readonly number[]};
		readonly busyNote: string;
	};
	readonly wallS: number;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const loadAverage = (): number[] => loadavg().map(value => round(value));
const SERVER_SETTINGS = {'pg_stat_statements.track_planning': 'on', max_wal_size: '2GB'};

function busyNote(before: IdleSample | null, during: CpuShare | null, after: IdleSample | null, busiest: readonly OtherProcess[]): string {
	if (before === null || after === null) return 'unknown (no /proc)';
	const others = during?.othersPercentOfCore ?? 0;
	const idle = Math.max(before.machineBusyPercent, after.machineBusyPercent);
	const busy = others > 20 || idle > 10;
	const who = [...busiest, ...before.top, ...after.top].filter(entry => entry.percentOfCore >= 3).map(entry => `${entry.command.split(' ').slice(0, 4).join(' ')} ${entry.percentOfCore}%`);
	return `${busy ? 'BUSY' : 'quiet'}: other processes used ${others}% of a core on average while the PostgreSQL part ran${who.length === 0 ? '' : ` (the busiest seen: ${[...new Set(who)].join(', ')})`}; the machine was ${before.machineBusyPercent}% busy before it and ${after.machineBusyPercent}% after. Ratios compare figures of the same run.`;
}

export async function runMaintenanceBenchmark(settings: MaintenanceSettings, log: (line: string) => void): Promise<MaintenanceResults> {
	const started = performance.now();
	const startLoad = loadAverage();
	log('maintenance: sampling the idle machine for 3 s…');
	const idleBefore = await idleSample(3);
	log(`maintenance: ${settings.rows.toLocaleString('en')} logs rows on the embedded PostgreSQL (data folder pgqueries, kept)…`);
	const server = await startEmbeddedPostgres({name: 'pgqueries', persistent: true, settings: SERVER_SETTINGS});
	let indexes: IndexBenchResults;
	let retention: RetentionResults;
	let during: CpuShare | null;
	let others: OtherProcess[] = [];
	let serverFigures: MaintenanceResults['server'];
	let table: MaintenanceResults['table'];
	try {
		if (!server.dataDir.endsWith('-pgqueries')) {
			log(`warning: the data folder pgqueries is in use by another process; this run uses a private one (${server.dataDir}) and builds its own table`);
		}
		const cpuStart = cpuSnapshot(server.pid);
		const sampler = startOthersSampler(server.pid);
		const logsTable = await ensureLogsTable(server.url, settings.database, settings.rows, log);
		log(logsTable.reused ? `table: reused (built ${logsTable.build.builtAt} in ${logsTable.build.totalS} s)` : `table: built in ${logsTable.build.totalS} s`);
		const url = databaseUrl(server.url, settings.database);
		const admin = new pg.Client({connectionString: url, application_name: 'maintenance bench'});
		admin.on('error', () => undefined);
		await admin.connect();
		try {
			const initial = await topUp(admin, settings.rows);
			const vacuumStarted = performance.now();
			await admin.query('VACUUM (ANALYZE) logs');
			const vacuumAnalyzeS = round((performance.now() - vacuumStarted) / 1000, 1);
			log(`topped up ${initial.rows.toLocaleString('en')} rows to now, VACUUM (ANALYZE) ${vacuumAnalyzeS} s`);
			const version = (await admin.query<{v: string}>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
			const shown = (
				await admin.query<{name: string; setting: string}>(
					`SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'effective_cache_size',
	'random_page_cost', 'max_parallel_workers_per_gather', 'max_parallel_maintenance_workers', 'jit', 'fsync', 'synchronous_commit', 'full_page_writes', 'max_wal_size',
	'autovacuum', 'deadlock_timeout') ORDER BY name`,
				)
			).rows;
			serverFigures = {version, dataDir: server.dataDir, settings: Object.fromEntries(shown.map(row => [row.name, row.setting]))};

			log('indexes: the old index set, then the advisor\'s…');
			indexes = await runIndexBenchmark(url, admin, settings.index, log);
			const sizes = (await admin.query<{heap: string; indexes: string}>("SELECT pg_relation_size('logs') AS heap, pg_indexes_size('logs') AS indexes")).rows[0]!;
			const rowsNow = Number((await admin.query<{rows: string}>('SELECT rows FROM pgqueries_bench_meta')).rows[0]!.rows);
			table = {
				...logsTable,
				rows: rowsNow,
				sizes: {heapMb: round(Number(sizes.heap) / 1_048_576, 1), indexesMb: round(Number(sizes.indexes) / 1_048_576, 1)},
				topUp: {rows: initial.rows, vacuumAnalyzeS},
			};

			log('retention on PostgreSQL…');
			retention = await runRetentionBenchmark(url, admin, settings.retention, log);
		} finally {
			await admin.end();
		}
		during = cpuShare(cpuStart, cpuSnapshot(server.pid));
		others = sampler?.stop() ?? [];
	} finally {
		await server.stop();
	}

	let sqlite: MaintenanceResults['sqlite'];
	try {
		sqlite = await runSqliteRetentionBenchmark(settings.sqlite, log);
	} catch (error) {
		sqlite = {skipped: `failed: ${error instanceof Error ? error.message : String(error)}`};
		log(`  SQLite part ${sqlite.skipped}`);
	}
	log('maintenance: sampling the idle machine for 3 s…');
	const idleAfter = await idleSample(3);
	return {
		server: serverFigures,
		table,
		indexes,
		retention,
		sqlite,
		machine: {
			idleBefore,
			idleAfter,
			duringPostgres: during,
			othersDuringPostgres: others,
			loadAverage: {start: startLoad, end: loadAverage()},
			busyNote: busyNote(idleBefore, during, idleAfter, others),
		},
		wallS: round((performance.now() - started) / 1000, 1),
	};
}

/** What goes into bench/results/maintenance.json beside the run header. */
export function maintenanceResultsFile(settings: MaintenanceSettings, results: MaintenanceResults): object {
	const {indexes} = results;
	return {
		benchmark: "relaytop's maintenance on new-api logs: the index advisor's indexes (query time before/after, build time vs estimate) and batched retention (rows/s, a concurrent writer's latency), PostgreSQL and SQLite",
		command: `node dist/bench/run.js --only=maintenance${settings.quick ? ' --quick' : ''}`,
		machineLoad: results.machine,
		wallS: results.wallS,
		server: results.server,
		table: results.table,
		method: {
			indexSets: {
				before: "upstream's set as an old database has it (reference new-api-logs.md §1.2): idx_created_at_id on (id, created_at) (gorm's swapped priorities, before PR #5191), no idx_created_at_type, no idx_user_id_id; idx_logs_user_id, index_username_model_name and the single-column indexes kept",
				after: 'the before set plus what adviseIndexes proposed, built by applyProposal (CREATE INDEX CONCURRENTLY on a maintenance connection, progress from pg_stat_progress_create_index)',
				restored: "upstream's set (restoreUpstreamIndexes): the pgqueries benchmark's table is left as it found it",
			},
			queries: {
				rate60s:
					"NewApiSource.rate (relaytop's real source, openSource(postgres URL), its own PgSession: read-only, no parallel workers, marked statement), the window ending at the top-up; " +
					'EXPLAIN of the same statement built by the same builders (rateSql(requestRows(timeConditions(60 s)))), run on a PgSession with the same limits, its count checked against the source\'s',
				userPage: `${USER_PAGE_SQL} (new-api GetUserLogs, reference §2.2), on a plain connection with default settings as the gateway's; heaviest user and the median user by row count, and a rare user made for the run: the ${RARE_USER_ROWS} rows from id ${RARE_USER_FIRST_ID} (among the oldest) moved to an unused user id (largest + 1000) before the "before" measurement and given their user ids back at the end, no ANALYZE in between (the planner's statistics do not know the user)`,
				timing: `client wall time, ${settings.index.warmUpRuns} warm-up runs then ${settings.index.runs} timed runs per query, warm cache; EXPLAIN (ANALYZE, BUFFERS) once after`,
			},
			retention: {
				table: `a throwaway maintenance_bench.logs: upstream's DDL and indexes, the first ${settings.retention.rows.toLocaleString('en')} rows of the cached table spread evenly over ${settings.retention.spanDays} days ending now (ids rising with time); dropped at the end`,
				relaytop: `planPostgresRetention + applyPostgresRetention (keep ${settings.retention.keep}, default batch size, VACUUM (ANALYZE) after) on openMaintenanceClient (lock_timeout ${settings.retention.lockTimeoutMs} ms, statement_timeout ${settings.retention.statementTimeoutMs} ms)`,
				rowsPerSecond: 'rows deleted ÷ wall seconds from the start of applyPostgresRetention to its vacuum phase (the id-window lookups included); VACUUM (ANALYZE) timed on its own',
				contrast: `upstream new-api on PostgreSQL: one DELETE FROM logs WHERE created_at < cutoff (reference §2.3), on a fresh copy, on a connection with default settings and statement_timeout ${settings.retention.unboundedLimitS} s; then VACUUM (ANALYZE), timed apart (upstream leaves it to autovacuum)`,
				writer: `one INSERT per row (a new-api consume row, created_at now) at ${settings.retention.writerRatePerSecond}/s on its own connection (default settings) in its own thread, plus an UPDATE of the row inserted a second earlier every ${settings.retention.writerUpdateEvery} inserts; each statement's latency from send to answer; phases: baseline (${settings.retention.baselineS} s, nothing else running), deleting, vacuum/analyze, after (${settings.retention.afterS} s)`,
				checks: 'every row the writer inserted is there afterwards; no row older than the cutoff is left; the rows at or after the cutoff (the writer\'s aside) are the same count before and after; the longest writer statement ≤ lock_timeout',
				caveat: 'the embedded server runs with fsync off and synchronous_commit off: commit latency has no disk flush in it, on either side of the ratio',
			},
			sqlite: {
				file: `a new-api SQLite file (upstream's DDL and 14 indexes) of ${settings.sqlite.rows.toLocaleString('en')} rows over ${settings.sqlite.spanDays} days, built once into bench/.cache and copied for each run; keep ${settings.sqlite.keep} counted back from its newest row (an absolute cutoff)`,
				relaytop: `planSqliteRetention + applySqliteRetention on openSqliteWritable (busy timeout ${settings.sqlite.lockTimeoutMs} ms, lock_timeout's part), its defaults: id windows resized to ~200 ms per transaction with a gap for the writer after each (WriterPacing), no VACUUM, ANALYZE after with PRAGMA analysis_limit = 1000 (the writer's 'analyze' phase)`,
				contrast: "upstream's one DELETE FROM logs WHERE created_at < cutoff on a connection with the gateway's busy timeout",
				writer: `as on PostgreSQL, in its own thread with better-sqlite3, busy timeout ${settings.sqlite.writerBusyTimeoutMs} ms (new-api's SQLITE_PATH default ?_busy_timeout=5000), the file's journal mode (rollback journal, synchronous FULL: SQLite's defaults, as gorm's driver leaves them)`,
			},
		},
		indexes: {
			...indexes,
			summary: Object.fromEntries(
				QUERIES.map(id => [
					id,
					{
						label: QUERY_LABELS[id],
						beforeMedianMs: indexes.measuredBefore[id].ms.median,
						afterMedianMs: indexes.measuredAfter[id].ms.median,
						beforeP95Ms: indexes.measuredBefore[id].ms.p95,
						afterP95Ms: indexes.measuredAfter[id].ms.p95,
						ratioMedian: indexes.ratios[id].median,
						ratioP95: indexes.ratios[id].p95,
						explainExecutionMsBefore: indexes.measuredBefore[id].plan.executionMs,
						explainExecutionMsAfter: indexes.measuredAfter[id].plan.executionMs,
						planBefore: indexes.measuredBefore[id].plan.nodes,
						planAfter: indexes.measuredAfter[id].plan.nodes,
					},
				]),
			),
		},
		retention: results.retention,
		sqlite: results.sqlite,
	};
}

const ms = (value: number | null | undefined): string => (value === null || value === undefined ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1));

function writerRows(label: string, writer: {readonly phases: Readonly<Record<string, WriterPhase>>}): string[][] {
	return Object.entries(writer.phases).map(([phase, figures]) => [
		`${label} · ${phase}`,
		String(figures.inserts.statements),
		String(figures.inserts.failed),
		ms(figures.inserts.p50Ms),
		ms(figures.inserts.p99Ms),
		ms(figures.inserts.maxMs),
	]);
}

export function maintenanceTable(results: MaintenanceResults): string {
	const {indexes, retention, sqlite} = results;
	const queries = textTable(
		['query (ms, client)', 'before med', 'before p95', 'after med', 'after p95', 'ratio med', 'ratio p95', 'EXPLAIN exec before', 'after'],
		QUERIES.map(id => {
			const before: QueryFigures = indexes.measuredBefore[id];
			const after: QueryFigures = indexes.measuredAfter[id];
			return [
				QUERY_LABELS[id], ms(before.ms.median), ms(before.ms.p95), ms(after.ms.median), ms(after.ms.p95), `${indexes.ratios[id].median}×`, `${indexes.ratios[id].p95}×`,
				ms(before.plan.executionMs), ms(after.plan.executionMs),
			];
		}),
	);
	const plans = QUERIES.map(id => `  ${id}: ${indexes.measuredBefore[id].plan.nodes.join(' → ')}  ⇒  ${indexes.measuredAfter[id].plan.nodes.join(' → ')}`);
	const builds = indexes.advisor.proposals.map(
		proposal => `  ${proposal.name}: ${proposal.status}, ${proposal.buildSeconds} s built (CONCURRENTLY) vs ${proposal.estimateSeconds} s estimated (${proposal.ofEstimate}×), ${proposal.sizeMb} MB`,
	);
	const batched = retention.batched;
	const unbounded = retention.unbounded;
	const writerTable = textTable(
		['writer inserts (ms)', 'n', 'failed', 'p50', 'p99', 'max'],
		[
			...writerRows('PG relaytop', batched.writer),
			...('skipped' in unbounded ? [] : writerRows('PG unbounded', unbounded.writer)),
			...('skipped' in sqlite
				? []
				: [
						...writerRows('SQLite relaytop', sqlite.batched.writer),
						...writerRows('SQLite unbounded', sqlite.unbounded.writer),
					]),
		],
	);
	const check = (ok: boolean) => (ok ? 'ok' : 'FAILED');
	return [
		`maintenance on new-api logs (PostgreSQL ${results.server.version}, ${results.table.rows.toLocaleString('en')} rows; users ${indexes.users.heavy.userId} (${indexes.users.heavy.rows.toLocaleString('en')} rows), ${indexes.users.typical.userId} (${indexes.users.typical.rows.toLocaleString('en')} rows) and ${indexes.users.rare.userId} (${indexes.users.rare.rows} rows, ids ${indexes.users.rare.ids.first}..${indexes.users.rare.ids.last}, ${indexes.users.rare.newerRows.toLocaleString('en')} newer rows; user ids put back: ${indexes.users.rare.restored ? 'ok' : 'FAILED'}))`,
		queries,
		'plans (before ⇒ after):',
		...plans,
		`advisor: ${indexes.advisor.proposals.length} proposal(s), ${indexes.advisor.proposalsLeft} left after building`,
		...builds,
		`upstream's index set restored in ${indexes.restore.seconds} s (${indexes.restore.actions.length} action(s))`,
		`retention, PostgreSQL (${retention.table.rows.toLocaleString('en')} rows, ${retention.table.totalMb} MB, keep ${retention.settings.keep}, batch ${retention.settings.batchSize}, lock_timeout ${retention.settings.lockTimeoutMs} ms):`,
		`  relaytop: ${batched.deleted.toLocaleString('en')} rows in ${batched.deleteS} s = ${batched.rowsPerSecond.toLocaleString('en')} rows/s (${batched.batches} batches, ${batched.retries} retries), VACUUM (ANALYZE) ${batched.vacuumS} s (${batched.rowsPerSecondWithVacuum.toLocaleString('en')} rows/s with it), WAL ${batched.walMb} MB`,
		'skipped' in unbounded
			? `  unbounded DELETE: skipped (${unbounded.skipped})`
			: `  unbounded DELETE: ${unbounded.status}, ${unbounded.deleted.toLocaleString('en')} rows in ${unbounded.deleteS} s${unbounded.rowsPerSecond === null ? '' : ` = ${unbounded.rowsPerSecond.toLocaleString('en')} rows/s`}, VACUUM (ANALYZE) ${unbounded.vacuumS ?? '-'} s${unbounded.rowsPerSecondWithVacuum === null ? '' : ` (${unbounded.rowsPerSecondWithVacuum.toLocaleString('en')} rows/s with it)`}, WAL ${unbounded.walMb} MB`,
		'skipped' in sqlite
			? `retention, SQLite: ${sqlite.skipped}`
			: `retention, SQLite (${sqlite.file.rows.toLocaleString('en')} rows, ${sqlite.file.mb} MB, ${sqlite.settings.journalMode} journal): relaytop ${sqlite.batched.deleted.toLocaleString('en')} rows in ${sqlite.batched.deleteS} s = ${sqlite.batched.rowsPerSecond?.toLocaleString('en') ?? '-'} rows/s (${sqlite.batched.batches ?? '-'} batches, ${sqlite.batched.retries ?? '-'} retries), ANALYZE ${sqlite.batched.analyzeS ?? '-'} s; unbounded ${sqlite.unbounded.deleted.toLocaleString('en')} rows in ${sqlite.unbounded.deleteS} s`,
		writerTable,
		`writer p99 during the deletes ÷ baseline: PG relaytop ${batched.writer.p99RatioDeletingToBaseline ?? '-'}×${'skipped' in unbounded ? '' : `, PG unbounded ${unbounded.writer.p99RatioDeletingToBaseline ?? '-'}×`}${'skipped' in sqlite ? '' : `, SQLite relaytop ${sqlite.batched.writer.p99RatioDeletingToBaseline ?? '-'}×, SQLite unbounded ${sqlite.unbounded.writer.p99RatioDeletingToBaseline ?? '-'}×`}`,
		`checks: PG relaytop longest writer statement ${batched.writer.longestMs} ms ≤ lock_timeout ${retention.settings.lockTimeoutMs} ms: ${check(batched.writer.withinLockTimeout)}; writer rows kept ${batched.checks.writerRowsKept.found}/${batched.checks.writerRowsKept.inserted}: ${check(batched.checks.writerRowsKept.ok)}; old rows left ${batched.checks.oldRowsLeft}; young rows kept: ${check(batched.checks.youngRows.ok)}`,
		...('skipped' in unbounded
			? []
			: [
					`        PG unbounded longest writer statement ${unbounded.writer.longestMs} ms; writer rows kept ${unbounded.checks.writerRowsKept.found}/${unbounded.checks.writerRowsKept.inserted}: ${check(unbounded.checks.writerRowsKept.ok)}; old rows left ${unbounded.checks.oldRowsLeft}; young rows kept: ${check(unbounded.checks.youngRows.ok)}`,
				]),
		...('skipped' in sqlite
			? []
			: (['batched', 'unbounded'] as const).map(run => {
					const figures = sqlite[run];
					const label = run === 'batched' ? 'relaytop' : 'unbounded';
					return `        SQLite ${label}: longest writer statement ${figures.writer.longestMs} ms (≤ ${sqlite.settings.lockTimeoutMs} ms: ${check(figures.writer.withinLockTimeout)}), ${figures.writer.insertsFailed} inserts failed; writer rows kept ${figures.writer.writerRowsKept.found}/${figures.writer.writerRowsKept.inserted}: ${check(figures.writer.writerRowsKept.ok)}; old rows left ${figures.oldRowsLeft}; young rows kept: ${check(figures.youngRowsKept)}`;
				})),
		`machine: ${results.machine.busyNote}`,
	].join('\n');
}

/** bench/results/<name>.txt: the summary, then every plan before and after. */
export function writeMaintenanceText(settings: MaintenanceSettings, results: MaintenanceResults, header: {date: string}): string {
	const {indexes} = results;
	const out = [
		`# relaytop maintenance benchmark, ${header.date}: node dist/bench/run.js --only=maintenance${settings.quick ? ' --quick' : ''}`,
		`# database ${settings.database}: ${results.table.rows.toLocaleString('en')} rows over ${SPAN_DAYS} days ending now (generator v${GENERATOR_VERSION}), PostgreSQL ${results.server.version}; figures in ${settings.resultsName}.json`,
		'',
		maintenanceTable(results),
		'',
		`rate check: ${indexes.rateCheck}`,
		`before set: ${indexes.before.indexes.map(index => `${index.name} (${index.columns.join(', ')})`).join(', ')}`,
		`after set: ${indexes.after.indexes.map(index => `${index.name} (${index.columns.join(', ')})`).join(', ')}`,
		`advisor estimate basis: ${indexes.advisor.estimateBasis}`,
		...indexes.advisor.proposals.map(proposal => `  ${proposal.name}: ${proposal.sql}\n    phases: ${proposal.phases.map(phase => `${phase.phase} @${phase.atS}s`).join(', ')}`),
		'',
	];
	for (const [set, measured] of [
		['before', indexes.measuredBefore],
		['after', indexes.measuredAfter],
	] as const) {
		for (const id of QUERIES) {
			out.push(`--- ${set} · ${QUERY_LABELS[id]} · median ${measured[id].ms.median} ms, p95 ${measured[id].ms.p95} ms over ${measured[id].ms.count} runs`, measured[id].plan.text, '');
		}
	}
	const path = join(packageRoot(), 'bench', 'results', `${settings.resultsName}.txt`);
	writeFileSync(path, `${out.join('\n')}\n`);
	return path;
}
