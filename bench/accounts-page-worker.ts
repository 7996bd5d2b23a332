// One approach in its own process, so its peak RSS is its own: `node --expose-gc
// accounts-page-worker.js <approach> <store> <endMs> <runs>`. Prints a WorkerReport as JSON.
import {APPROACHES, type AccountsPage, type Approach, type WorkerReport} from './accounts-page.js';
import {inMemoryAccounts} from './in-memory-accounts.js';
import {pushDownAccounts} from './push-down-accounts.js';
import {median, timed} from './timing.js';

const OPENERS: Record<Approach, (path: string, endMs: number) => AccountsPage> = {
	'push-down': pushDownAccounts,
	'in-memory': inMemoryAccounts,
};

function parseArgs(argv: readonly string[]): {approach: Approach; path: string; endMs: number; runs: number} {
	const [approach, path, endMs, runs] = argv;
	if (!APPROACHES.includes(approach as Approach) || path === undefined || !Number.isSafeInteger(Number(endMs)) || !(Number(runs) >= 1)) {
		throw new Error(`usage: accounts-page-worker.js <${APPROACHES.join('|')}> <store> <endMs> <runs>; got: ${argv.join(' ')}`);
	}
	return {approach: approach as Approach, path, endMs: Number(endMs), runs: Number(runs)};
}

async function main(): Promise<void> {
	const {approach, path, endMs, runs} = parseArgs(process.argv.slice(2));
	const page = OPENERS[approach](path, endMs);
	try {
		const first = await timed(() => page.read());
		const runsMs: number[] = [];
		for (let run = 0; run < runs; run++) {
			runsMs.push((await timed(() => page.read())).ms);
		}
		const report: WorkerReport = {
			approach,
			firstMs: first.ms,
			runsMs,
			medianMs: median(runsMs),
			minMs: Math.min(...runsMs),
			maxRssKb: process.resourceUsage().maxRSS,
			page: first.result,
		};
		process.stdout.write(`${JSON.stringify(report)}\n`);
	} finally {
		await page.close();
	}
}

main().catch((error: unknown) => {
	process.stderr.write(`${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
	process.exit(1);
});
