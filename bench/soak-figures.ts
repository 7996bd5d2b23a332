import type {ViewId} from '../source/ui/keymap.js';
import type {Handles} from './process-handles.js';

// The soak's samples summed up, like with like. The samples fall into cycles through every view,
// the same number in each; the first cycle is the warm-up (a view opens what it needs on its first
// visit). Its last sample is the baseline, and the run's last sample, at the same point of the
// last cycle, is the end; whole cycles after the warm-up compare by their means and floors.
// A count may move within a cycle (a view's connection closes some time after the view is left,
// and opens again on its next visit), but it must move alike in every cycle: a leak does not.

export interface ProcessFigures {
	readonly rssKb: number;
	readonly handles: Handles;
	/** The PostgreSQL backends serving this process's connections. */
	readonly serverConnections: number;
}

export interface SoakSample {
	readonly tS: number;
	readonly view: ViewId;
	/** The view's own text was on screen. */
	readonly onView: boolean;
	/** The status bar's alert, when a panel had failed. */
	readonly alert: string | null;
	readonly relaytop: ProcessFigures;
	/** Processes relaytop started, still running. */
	readonly relaytopChildren: number;
	/** The demo's traffic process (new-api's sessions); null when none was found. */
	readonly traffic: ProcessFigures | null;
	/** The postmaster and every process under it; null when the demo runs on SQLite. */
	readonly postgresProcesses: number | null;
	/** Backends serving a client connection, whoever's. */
	readonly clientBackends: number | null;
}

const mb = (kb: number): number => Number((kb / 1024).toFixed(1));
const growthPct = (from: number, to: number): number => Number((((to - from) / from) * 100).toFixed(2));
const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;

/** The cycles after the warm-up, each a list of samples in the same order of views. */
const cyclesAfterWarmUp = <T>(values: readonly T[], perCycle: number): T[][] =>
	Array.from({length: values.length / perCycle - 1}, (_, index) => values.slice((index + 1) * perCycle, (index + 2) * perCycle));

export interface CountRange {
	/** At the first sample, before the warm-up. */
	readonly atStart: number;
	readonly atWarmUpEnd: number;
	readonly end: number;
	/** From the warm-up's end on. */
	readonly min: number;
	readonly max: number;
	/** min == max. */
	readonly constant: boolean;
	/** Each point of a cycle holds the same value in every cycle after the warm-up. */
	readonly samePerPhase: boolean;
}

/** A count from the warm-up's end on; null when it was missing at some sample (its process gone). */
export function countRange(samples: readonly SoakSample[], perCycle: number, count: (sample: SoakSample) => number | null): CountRange | null {
	const values = samples.map(count);
	if (values.some(value => value === null)) {
		return null;
	}
	const all = values as number[];
	const after = all.slice(perCycle - 1);
	const min = Math.min(...after);
	const max = Math.max(...after);
	const cycles = cyclesAfterWarmUp(all, perCycle);
	const samePerPhase = cycles.every(cycle => cycle.every((value, phase) => value === cycles[0]![phase]));
	return {atStart: all[0]!, atWarmUpEnd: after[0]!, end: after.at(-1)!, min, max, constant: min === max, samePerPhase};
}

export interface MemoryFigures {
	readonly atWarmUpEndMb: number;
	readonly endMb: number;
	/** From the warm-up's end to the end, both read at the same point of a cycle. */
	readonly growthPct: number;
	/** From the warm-up's end on. */
	readonly maxMb: number;
	readonly minMb: number;
	/** Each cycle's mean after the warm-up: every view's share alike. */
	readonly cycleMeansMb: readonly number[];
	/** From the first of those means to the last. */
	readonly cycleMeanGrowthPct: number;
	/** Each cycle's lowest after the warm-up: the floor garbage collection comes back to, which a leak raises. */
	readonly cycleFloorsMb: readonly number[];
	readonly cycleFloorGrowthPct: number;
}

export function memoryFigures(samples: readonly SoakSample[], perCycle: number, kb: (sample: SoakSample) => number): MemoryFigures {
	const all = samples.map(kb);
	const after = all.slice(perCycle - 1);
	const cycleMeansMb = cyclesAfterWarmUp(all, perCycle).map(cycle => mb(mean(cycle)));
	const cycleFloorsMb = cyclesAfterWarmUp(all, perCycle).map(cycle => mb(Math.min(...cycle)));
	const atWarmUpEndMb = mb(after[0]!);
	const endMb = mb(after.at(-1)!);
	return {
		atWarmUpEndMb,
		endMb,
		growthPct: growthPct(atWarmUpEndMb, endMb),
		maxMb: mb(Math.max(...after)),
		minMb: mb(Math.min(...after)),
		cycleMeansMb,
		cycleMeanGrowthPct: growthPct(cycleMeansMb[0]!, cycleMeansMb.at(-1)!),
		cycleFloorsMb,
		cycleFloorGrowthPct: growthPct(cycleFloorsMb[0]!, cycleFloorsMb.at(-1)!),
	};
}

/** One line per cycle, the warm-up's included: memory, and the highest of each count. */
export function cycleSummaries(samples: readonly SoakSample[], perCycle: number) {
	return Array.from({length: samples.length / perCycle}, (_, index) => {
		const cycle = samples.slice(index * perCycle, (index + 1) * perCycle);
		const relaytop = cycle.map(sample => sample.relaytop);
		const traffic = cycle.flatMap(sample => (sample.traffic === null ? [] : [sample.traffic]));
		const highest = (values: readonly number[]) => Math.max(...values);
		return {
			cycle: index + 1,
			fromS: cycle[0]!.tS,
			rssMeanMb: mb(mean(relaytop.map(figures => figures.rssKb))),
			rssMinMb: mb(Math.min(...relaytop.map(figures => figures.rssKb))),
			rssMaxMb: mb(highest(relaytop.map(figures => figures.rssKb))),
			anonRssMeanMb: mb(mean(relaytop.map(figures => figures.handles.anonRssKb))),
			fdsMax: highest(relaytop.map(figures => figures.handles.fds)),
			threadsMax: highest(relaytop.map(figures => figures.handles.threads)),
			tcpSocketsMax: highest(relaytop.map(figures => figures.handles.tcp.length)),
			serverConnectionsMax: highest(relaytop.map(figures => figures.serverConnections)),
			trafficRssMeanMb: traffic.length === 0 ? null : mb(mean(traffic.map(figures => figures.rssKb))),
			trafficServerConnectionsMax: traffic.length === 0 ? null : highest(traffic.map(figures => figures.serverConnections)),
			postgresProcessesMax: highest(cycle.map(sample => sample.postgresProcesses ?? 0)),
		};
	});
}

/** relaytop's counts that must not pile up, by name. */
export const HANDLE_COUNTS: ReadonlyArray<readonly [string, (sample: SoakSample) => number]> = [
	['fds', sample => sample.relaytop.handles.fds],
	['threads', sample => sample.relaytop.handles.threads],
	['tcpSockets', sample => sample.relaytop.handles.tcp.length],
	['serverConnections', sample => sample.relaytop.serverConnections],
	['childProcesses', sample => sample.relaytopChildren],
];

/** Every sample where one of relaytop's counts moved, with the view shown: when a handle came or went. */
export const handleChanges = (samples: readonly SoakSample[]) =>
	samples
		.filter((sample, index) => index > 0 && HANDLE_COUNTS.some(([, count]) => count(sample) !== count(samples[index - 1]!)))
		.map(sample => ({tS: sample.tS, view: sample.view, ...Object.fromEntries(HANDLE_COUNTS.map(([name, count]) => [name, count(sample)]))}));
