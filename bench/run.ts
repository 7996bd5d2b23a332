// `npm run bench`: the accounts page sorted by cost over a 1M-event CPA-Manager store, answered by
// relaytop's SQL push-down and by in-memory grouping (CPA-Manager's phase-one approach), each in
// its own process. `--quick`: 100k events, for CI. Figures are reported, never asserted.
import {APPROACH_LABELS, APPROACHES, type Approach, type WorkerReport} from './accounts-page.js';
import {ensureBenchStore} from './bench-store.js';
import {pageDifference} from './compare-pages.js';
import {describeMachine, machine, writeResults} from './results-file.js';
import {runWorker} from './spawn-worker.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

interface Settings {
	readonly events: number;
	readonly runs: number;
	readonly resultsName: string;
}

class UsageError extends Error {}

function settingsFrom(argv: readonly string[]): Settings {
	const unknown = argv.find(arg => arg !== '--quick');
	if (unknown !== undefined) {
		throw new UsageError(`unknown argument "${unknown}"; the only option is --quick`);
	}
	// A quick run writes its own results file, so CI never overwrites the committed full-size figures.
	return argv.includes('--quick')
		? {events: 100_000, runs: 3, resultsName: 'accounts-total-cost-quick'}
		: {events: 1_000_000, runs: 5, resultsName: 'accounts-total-cost'};
}

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

async function main(): Promise<void> {
	const settings = settingsFrom(process.argv.slice(2));
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
	const host = machine();
	const path = writeResults(settings.resultsName, {
		benchmark: 'CPA-Manager accounts page: sorted by totalCost desc, page 1 of 20, whole 30-day range',
		date: new Date().toISOString(),
		machine: host,
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

	console.log(`\n${table(reports)}`);
	console.log(`in-memory / push-down: ${timeRatio.toFixed(2)}× the median time, ${memoryRatio.toFixed(2)}× the peak RSS`);
	console.log(`top ${pushDown.page.length} accounts agree between approaches`);
	console.log(`machine: ${describeMachine(host)}`);
	console.log(`results: ${path}`);
}

main().catch((error: unknown) => {
	const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
	process.stderr.write(`bench: ${message}\n`);
	process.exit(error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE);
});
