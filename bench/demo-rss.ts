import {memoryOf} from './proc-stats.js';
import {startRelaytop, type StopReport} from './relaytop-in-tmux.js';
import {textTable} from './text-table.js';

// The resident memory of the real `relaytop` demo (no target) left running, as an operator leaves
// it: VmRSS of its process (main thread and worker threads together) every 10 s.

export interface RssSettings {
	readonly durationS: number;
	readonly sampleEveryS: number;
}

export const rssSettings = (quick: boolean): RssSettings => (quick ? {durationS: 10, sampleEveryS: 5} : {durationS: 600, sampleEveryS: 10});

export interface RssSample {
	/** Seconds since the dashboard first showed data. */
	readonly tS: number;
	readonly rssMb: number;
	/** The demo's traffic simulator, a process of its own (not counted in rssMb); null when none runs. */
	readonly simulatorRssMb: number | null;
}

export interface RssResults {
	readonly command: string;
	readonly readyAfterS: number;
	readonly finalRssMb: number;
	readonly maxSampledRssMb: number;
	/** VmHWM at the last sample: the kernel's peak, between samples too. */
	readonly peakRssMb: number;
	/** The simulator process's RSS at the last sample, when it runs as a process of its own. */
	readonly simulatorFinalRssMb: number | null;
	readonly samples: readonly RssSample[];
	readonly stop: StopReport;
}

const mb = (kb: number): number => Number((kb / 1024).toFixed(1));
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

function simulatorRss(pid: number): number | null {
	try {
		return mb(memoryOf(pid).rssKb);
	} catch {
		return null; // it exited between the listing and the read
	}
}

export async function runRssBenchmark(settings: RssSettings, log: (line: string) => void): Promise<RssResults> {
	log(`relaytop demo RSS: ${settings.durationS} s in tmux, a sample every ${settings.sampleEveryS} s…`);
	const run = await startRelaytop([]);
	let measured: Omit<RssResults, 'stop'>;
	try {
		const started = performance.now();
		const samples: RssSample[] = [];
		let peakKb = 0;
		for (let next = 0; next <= settings.durationS; next += settings.sampleEveryS) {
			await sleep(Math.max(0, started + next * 1000 - performance.now()));
			const memory = memoryOf(run.pid);
			const simulator = run.children().find(child => /traffic-/u.test(child.command));
			samples.push({tS: next, rssMb: mb(memory.rssKb), simulatorRssMb: simulator === undefined ? null : simulatorRss(simulator.pid)});
			peakKb = memory.hwmKb;
		}
		if (!/requests\/min/u.test(run.screen())) {
			throw new Error(`relaytop no longer shows the overview; the screen:\n${run.screen()}`);
		}
		measured = {
			command: run.command,
			readyAfterS: Number((run.readyAfterMs / 1000).toFixed(2)),
			finalRssMb: samples.at(-1)!.rssMb,
			maxSampledRssMb: Math.max(...samples.map(sample => sample.rssMb)),
			peakRssMb: mb(peakKb),
			simulatorFinalRssMb: samples.at(-1)!.simulatorRssMb,
			samples,
		};
	} catch (error) {
		await run.stop();
		throw error;
	}
	return {...measured, stop: await run.stop()};
}

export const rssResultsFile = (settings: RssSettings, results: RssResults) => ({
	benchmark: 'resident memory of the relaytop demo process (no target) left running in a 200×60 tmux pane, overview view, default 2 s interval',
	target: 'RSS ≤ 120 MB after ten minutes',
	sizes: {durationS: settings.durationS, sampleEveryS: settings.sampleEveryS},
	method: "VmRSS from /proc/<pid>/status of relaytop's node process under the tmux pane, every sampleEveryS from the first screen with data; VmHWM at the end. The demo's traffic simulator, a child process standing in for the gateway, is sampled apart and not counted",
	...results,
});

export const rssTable = (settings: RssSettings, results: RssResults): string =>
	textTable(
		['relaytop demo RSS', 'after s', 'final MB', 'max sampled MB', 'peak (VmHWM) MB', 'simulator process MB'],
		[
			[
				'overview, --interval 2',
				String(settings.durationS),
				results.finalRssMb.toFixed(1),
				results.maxSampledRssMb.toFixed(1),
				results.peakRssMb.toFixed(1),
				results.simulatorFinalRssMb === null ? '-' : results.simulatorFinalRssMb.toFixed(1),
			],
		],
	);
