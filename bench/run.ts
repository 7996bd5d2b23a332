// `npm run bench`, each benchmark with its results file in bench/results/ and a table at the end:
// - accounts: the accounts page sorted by cost over a 1M-event CPA-Manager store, answered by
//   relaytop's SQL push-down and by in-memory grouping (CPA-Manager's phase-one approach), each in
//   its own process;
// - render: the dashboard's time per frame at 200×60, overview and a 52-row table, in memory;
// - cpu: the real `relaytop` demo's CPU at the default 2 s interval over a minute, in tmux;
// - rss: the real `relaytop` demo's resident memory over ten minutes, in tmux;
// - pgqueries: relaytop's own server time per dashboard refresh on a 10M-row new-api `logs` table on
//   the embedded PostgreSQL, with upstream's indexes and with an advisor's, and the plan of every query;
// - rollups: the 7d and 30d views refreshed every 2 s while a writer appends 20 rows/s, on the 10M-row
//   logs table and a 1M-event CPA-Manager store: direct queries over the range against the range
//   rollups' first load and refreshes, with server time per refresh and the rollups' memory;
// - cpa-http: bytes and time of one full refresh from a CPA-Manager over HTTP holding 50,000
//   requests, through the paged endpoints and through the legacy payload (the manager's API replica);
// - tokens: exact token counting (js-tiktoken, and gpt-tokenizer as a reference) against the
//   estimate in both encodings: time per 10k/100k/1M-character text of each sample kind, the
//   estimate's error per kind, and each encoder's first-use load time and memory, each in its own process;
// - observer: what watching a server costs, relaytop's PostgreSQL view against pg_activity under one
//   pgbench load at a 2 s refresh: client CPU and RSS, server time and queries per refresh;
// - doctor: `relaytop doctor` wall time in a fresh process on the demo and on the live PostgreSQL
//   demo, against `relaytop --json` on the same target;
// - scale: every query of a refresh (rates, each range's summary, models, both pages by every sort
//   key, realtime, search) timed on new-api logs on PostgreSQL at 100k/1M/10M rows and on both
//   SQLite schemas at 100k/1M, without an index on the time column and with the advisor's indexes;
// - maintenance (only when asked: --only=maintenance; minutes, and it rebuilds indexes of the cached
//   10M-row table, putting upstream's set back at the end): the index advisor's indexes (query time
//   before/after, build time vs estimate) and batched retention (rows/s, a concurrent writer's
//   latency, against upstream's one unbounded DELETE), on PostgreSQL and SQLite.
// - soak (only when asked: --only=soak; 30 minutes): the real `relaytop` demo at a 1 s refresh,
//   cycling its views, in tmux: RSS growth after the warm-up, and its open fds, threads, TCP sockets
//   and server connections, which should stay constant.
// `--quick`: sizes for CI, about 5 minutes on 2 cores with the caches built from scratch (100k events,
// 20 frames per view, 6 s of CPU, 10 s of memory, 100k logs rows and one measured cycle, no
// 1M-character texts, 2 doctor runs, one 8 s observer round, a 60 s soak, 100k rows and 100k events
// for the rollups), written to *-quick.json.
// `--only=render,cpu` runs some; without it, every benchmark but maintenance, and the soak only at
// its quick size.
// Figures are reported, never asserted.
import {APPROACH_LABELS, APPROACHES, type Approach, type WorkerReport} from './accounts-page.js';
import {ensureBenchStore} from './bench-store.js';
import {pageDifference} from './compare-pages.js';
import {renderResultsFile, renderSettings, renderTable, runRenderBenchmark} from './dashboard-render.js';
import {cpaHttpResultsFile, cpaHttpSettings, cpaHttpTable, runCpaHttpBenchmark} from './cpa-http.js';
import {observerResultsFile, observerSettings, observerTable, runObserverBenchmark} from './observer-cost.js';
import {doctorResultsFile, doctorSettings, doctorTable, runDoctorBenchmark} from './doctor.js';
import {cpuResultsFile, cpuSettings, cpuTable, runCpuBenchmark} from './demo-cpu.js';
import {rssResultsFile, rssSettings, rssTable, runRssBenchmark} from './demo-rss.js';
import {maintenanceResultsFile, maintenanceSettings, maintenanceTable, runMaintenanceBenchmark, writeMaintenanceText} from './maintenance.js';
import {pgQueriesResultsFile, pgQueriesSettings, pgQueriesTable, runPgQueriesBenchmark} from './pgqueries.js';
import {procAvailable} from './proc-stats.js';
import {rollupsResultsFile, rollupsSettings, rollupsTable, runRollupsBenchmark} from './range-rollups.js';
import {tmuxAvailable} from './relaytop-in-tmux.js';
import {checkResultsPath} from './results-check.js';
import {describeMachine, machine, writeResults} from './results-file.js';
import {distSourceBuiltAt, sourceVersion} from './source-version.js';
import {runWorker} from './spawn-worker.js';
import {runScaleBenchmark, scaleResultsFile, scaleSettings, scaleTable} from './scale.js';
import {runSoak, soakResultsFile, soakSettings, soakTable} from './soak.js';
import {runTokensBenchmark, tokensResultsFile, tokensSettings, tokensTable} from './tokens.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const BENCHMARKS = ['accounts', 'render', 'cpu', 'rss', 'pgqueries', 'rollups', 'cpa-http', 'tokens', 'doctor', 'observer', 'scale', 'maintenance', 'soak'] as const;
type Benchmark = (typeof BENCHMARKS)[number];

/**
 * What runs without --only: maintenance takes minutes and rebuilds the cached table's indexes, and
 * the soak takes half an hour, so they run only when named; a quick run's soak is a minute.
 */
const defaultBenchmarks = (quick: boolean): readonly Benchmark[] => BENCHMARKS.filter(name => name !== 'maintenance' && (quick || name !== 'soak'));

interface Settings {
	readonly quick: boolean;
	readonly only: ReadonlySet<Benchmark>;
}

interface AccountsSettings {
	readonly events: number;
	readonly runs: number;
	readonly resultsName: string;
}

class UsageError extends Error {}

function settingsFrom(argv: readonly string[]): Settings {
	const quick = argv.includes('--quick');
	let only = new Set<Benchmark>(defaultBenchmarks(quick));
	for (const arg of argv) {
		if (arg.startsWith('--only=')) {
			const names = arg.slice('--only='.length).split(',');
			const unknown = names.find(name => !BENCHMARKS.includes(name as Benchmark));
			if (unknown !== undefined) {
				throw new UsageError(`unknown benchmark "${unknown}" in --only; the benchmarks are ${BENCHMARKS.join(', ')}`);
			}
			only = new Set(names as Benchmark[]);
		} else if (arg !== '--quick') {
			throw new UsageError(`unknown argument "${arg}"; the options are --quick and --only=${BENCHMARKS.join(',')}`);
		}
	}
	return {quick, only};
}

// A quick run writes its own results files, so CI never overwrites the committed full-size figures.
const resultsName = (name: string, quick: boolean): string => (quick ? `${name}-quick` : name);

const accountsSettings = (quick: boolean): AccountsSettings =>
	quick ? {events: 100_000, runs: 3, resultsName: resultsName('accounts-total-cost', true)} : {events: 1_000_000, runs: 5, resultsName: resultsName('accounts-total-cost', false)};

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));
const mb = (kb: number): number => kb / 1024;

function table(reports: Record<Approach, WorkerReport>): string {
	const header = ['approach', 'median ms', 'min ms', 'first ms', 'peak RSS MB'];
	const rows = APPROACHES.map(approach => {
		const r = reports[approach];
		return [APPROACH_LABELS[approach], r.medianMs.toFixed(1), r.minMs.toFixed(1), r.firstMs.toFixed(1), mb(r.maxRssKb).toFixed(1)];
	});
	const widths = header.map((title, column) => Math.max(title.length, ...rows.map(row => row[column]!.length)));
	return [header, ...rows]
		.map(cells => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '))
		.join('\n');
}

/** The accounts-page benchmark; returns what it prints at the end. */
function accountsBenchmark(settings: AccountsSettings, header: () => object): {summary: string; path: string} {
	const store = ensureBenchStore(settings.events, path => console.log(`building ${settings.events.toLocaleString('en')} events into ${path} (once; minutes at 1M)…`));
	const storeMb = store.bytes / 1_048_576;
	console.log(
		store.buildMs === null
			? `store: ${store.path} (${storeMb.toFixed(0)} MB, reused)`
			: `store: built in ${(store.buildMs / 1000).toFixed(1)} s, ${storeMb.toFixed(0)} MB`,
	);

	const reports = {} as Record<Approach, WorkerReport>;
	for (const approach of APPROACHES) {
		console.log(`${APPROACH_LABELS[approach]}: 1 warm-up + ${settings.runs} timed runs…`);
		reports[approach] = runWorker(approach, store.path, store.endMs, settings.runs);
	}
	const pushDown = reports['push-down'];
	const inMemory = reports['in-memory'];
	const difference = pageDifference(pushDown.page, inMemory.page);
	if (difference !== null) {
		throw new Error(`the approaches disagree on the accounts page (push-down vs in-memory), ${difference}`);
	}

	const timeRatio = inMemory.medianMs / pushDown.medianMs;
	const memoryRatio = inMemory.maxRssKb / pushDown.maxRssKb;
	const path = writeResults(settings.resultsName, {
		...header(),
		benchmark: 'CPA-Manager accounts page: sorted by totalCost desc, page 1 of 20, whole 30-day range',
		sizes: {events: store.events, storeMb: round(storeMb)},
		storeBuildS: store.buildMs === null ? null : round(store.buildMs / 1000),
		warmUpRuns: 1,
		runs: settings.runs,
		approaches: Object.fromEntries(
			APPROACHES.map(approach => {
				const r = reports[approach];
				return [
					approach,
					{
						label: APPROACH_LABELS[approach],
						medianMs: round(r.medianMs),
						minMs: round(r.minMs),
						firstMs: round(r.firstMs),
						runsMs: r.runsMs.map(ms => round(ms)),
						peakRssMb: round(mb(r.maxRssKb)),
					},
				];
			}),
		),
		ratios: {medianTime: round(timeRatio, 2), peakRss: round(memoryRatio, 2)},
		pageCheck: `both approaches returned the same ${pushDown.page.length} accounts in the same order, with the same calls and cost`,
	});

	return {
		summary: [
			table(reports),
			`in-memory / push-down: ${timeRatio.toFixed(2)}× the median time, ${memoryRatio.toFixed(2)}× the peak RSS`,
			`top ${pushDown.page.length} accounts agree between approaches`,
		].join('\n'),
		path,
	};
}

/** Why a process benchmark cannot run here, or null. */
const processBenchmarkBlocker = (): string | null =>
	!procAvailable() ? 'needs Linux /proc' : !tmuxAvailable() ? 'needs tmux' : null;

async function main(): Promise<void> {
	const settings = settingsFrom(process.argv.slice(2));
	const host = machine();
	const header = () => ({date: new Date().toISOString(), machine: host, source: sourceVersion()});
	const summaries: string[] = [];
	const paths: string[] = [];
	const failures: string[] = [];
	const attempt = async (name: Benchmark, work: () => Promise<{summary: string; path: string}>) => {
		if (!settings.only.has(name)) {
			return;
		}
		// Wall time per benchmark, cache builds included: what a quick run's budget is spent on.
		const started = performance.now();
		try {
			const built = distSourceBuiltAt();
			const {summary, path} = await work();
			// Someone else's build during the run: a process started after it ran other code.
			const rebuilt = distSourceBuiltAt() === built ? [] : [`warning: dist/source was rebuilt while ${name} ran (${built} → ${distSourceBuiltAt()}); its figures may mix two builds`];
			summaries.push([summary, ...rebuilt].join('\n'));
			paths.push(path);
			// A results file missing a figure, or holding NaN, a negative time or a future date, fails the run.
			const problems = path.split(', ').filter(file => file.endsWith('.json')).flatMap(checkResultsPath);
			if (problems.length > 0) {
				throw new Error(`its results file does not pass bench/results-check.ts: ${problems.join('; ')}`);
			}
		} catch (error) {
			const message = error instanceof Error ? error.message : String(error);
			console.error(`bench: ${name} failed: ${message}`);
			failures.push(`${name}: ${message.split('\n')[0]}`);
		} finally {
			console.log(`bench: ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
		}
	};
	const log = (line: string) => console.log(line);

	await attempt('accounts', async () => accountsBenchmark(accountsSettings(settings.quick), header));
	await attempt('render', async () => {
		const render = renderSettings(settings.quick);
		const results = runRenderBenchmark(render, log);
		const path = writeResults(resultsName('dashboard-render', settings.quick), {...header(), ...renderResultsFile(render, results)});
		return {summary: renderTable(results), path};
	});
	// CPU first: a minute, where a disturbance shows most; then the ten minutes of memory.
	await attempt('cpu', async () => {
		const blocker = processBenchmarkBlocker();
		if (blocker !== null) return {summary: `relaytop demo CPU: skipped, ${blocker}`, path: '(none)'};
		const cpu = cpuSettings(settings.quick);
		const results = await runCpuBenchmark(cpu, log);
		const path = writeResults(resultsName('demo-cpu', settings.quick), {...header(), ...cpuResultsFile(cpu, results)});
		return {summary: [cpuTable(cpu, results), results.threadNote, ...stopWarnings(results.stop)].join('\n'), path};
	});
	await attempt('rss', async () => {
		const blocker = processBenchmarkBlocker();
		if (blocker !== null) return {summary: `relaytop demo RSS: skipped, ${blocker}`, path: '(none)'};
		const rss = rssSettings(settings.quick);
		const results = await runRssBenchmark(rss, log);
		const path = writeResults(resultsName('demo-rss', settings.quick), {...header(), ...rssResultsFile(rss, results)});
		return {summary: [rssTable(rss, results), ...stopWarnings(results.stop)].join('\n'), path};
	});
	await attempt('soak', async () => {
		const blocker = processBenchmarkBlocker();
		if (blocker !== null) return {summary: `relaytop demo soak: skipped, ${blocker}`, path: '(none)'};
		const soak = soakSettings(settings.quick);
		const results = soakResultsFile(soak, await runSoak(soak, log));
		const path = writeResults(resultsName('soak', settings.quick), {...header(), ...results});
		return {summary: [soakTable(results), ...stopWarnings(results.stop)].join('\n'), path};
	});
	await attempt('pgqueries', async () => {
		const pgqueries = pgQueriesSettings(settings.quick);
		const results = await runPgQueriesBenchmark(pgqueries, log);
		const path = writeResults(pgqueries.resultsName, {...header(), ...pgQueriesResultsFile(pgqueries, results)});
		return {summary: pgQueriesTable(results), path};
	});
	await attempt('rollups', async () => {
		const rollups = rollupsSettings(settings.quick);
		const results = await runRollupsBenchmark(rollups, log);
		const path = writeResults(rollups.resultsName, {...header(), ...rollupsResultsFile(rollups, results)});
		return {summary: rollupsTable(results), path};
	});
	await attempt('cpa-http', async () => {
		const cpaHttp = cpaHttpSettings(settings.quick);
		const results = await runCpaHttpBenchmark(cpaHttp, log);
		const path = writeResults(resultsName('cpa-http', settings.quick), {...header(), ...cpaHttpResultsFile(cpaHttp, results)});
		return {summary: cpaHttpTable(results), path};
	});
	await attempt('tokens', async () => {
		const tokens = tokensSettings(settings.quick);
		const results = await runTokensBenchmark(tokens, log);
		const path = writeResults(resultsName('tokens', settings.quick), {...header(), ...tokensResultsFile(tokens, results)});
		return {summary: tokensTable(results), path};
	});
	await attempt('doctor', async () => {
		const doctor = doctorSettings(settings.quick);
		const results = await runDoctorBenchmark(doctor, log);
		const path = writeResults(resultsName('doctor', settings.quick), {...header(), ...doctorResultsFile(doctor, results)});
		return {summary: doctorTable(results), path};
	});
	await attempt('observer', async () => {
		const observer = observerSettings(settings.quick);
		const results = await runObserverBenchmark(observer, log);
		const path = writeResults(resultsName('observer', settings.quick), {...header(), ...observerResultsFile(observer, results)});
		return {summary: observerTable(results), path};
	});
	await attempt('scale', async () => {
		const scale = scaleSettings(settings.quick);
		const results = await runScaleBenchmark(scale, log);
		const path = writeResults(scale.resultsName, {...header(), ...scaleResultsFile(scale, results)});
		return {summary: scaleTable(results), path};
	});
	await attempt('maintenance', async () => {
		const maintenance = maintenanceSettings(settings.quick);
		const results = await runMaintenanceBenchmark(maintenance, log);
		const head = header();
		const path = writeResults(maintenance.resultsName, {...head, ...maintenanceResultsFile(maintenance, results)});
		const text = writeMaintenanceText(maintenance, results, head);
		return {summary: maintenanceTable(results), path: `${path}, ${text}`};
	});

	console.log(`\n${summaries.join('\n\n')}`);
	console.log(`\nmachine: ${describeMachine(host)}`);
	console.log(`results: ${paths.filter(path => path !== '(none)').join(', ') || 'none'}`);
	if (failures.length > 0) {
		throw new Error(`${failures.length} benchmark(s) failed: ${failures.join('; ')}`);
	}
}

/** A demo that did not quit cleanly on q is worth a line under its figures. */
function stopWarnings(stop: {quitOnQ: boolean; exitCode: number | null; demoCopyRemoved: boolean; childrenLeftRunning: number}): string[] {
	return [
		...(stop.childrenLeftRunning === 0 ? [] : [`warning: ${stop.childrenLeftRunning} process(es) relaytop started outlived it (killed by the benchmark)`]),
		...(stop.quitOnQ && stop.exitCode === 0 ? [] : [`warning: relaytop did not quit cleanly on q (exit ${stop.exitCode ?? 'unknown'}); it was stopped by a signal`]),
		...(stop.demoCopyRemoved ? [] : ['warning: the demo left its temporary store copy behind (removed by the benchmark)']),
	];
}

main().catch((error: unknown) => {
	const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
	process.stderr.write(`bench: ${message}\n`);
	process.exit(error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
});
