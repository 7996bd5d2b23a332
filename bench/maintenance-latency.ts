import {fileURLToPath} from 'node:url';
import {Worker} from 'node:worker_threads';
import {percentile} from './percentiles.js';
import {median} from './timing.js';
import type {WriterConfig, WriterMessage, WriterSamples} from './maintenance-writer.js';

// The concurrent writer seen from the main thread: started in a worker thread, stopped, and its
// statements split into the phases the main thread marked (wall-clock epoch ms on both sides).

const WRITER = fileURLToPath(new URL('./maintenance-writer.js', import.meta.url));

export interface WriterRun {
	readonly samples: WriterSamples;
	readonly insertedIds: readonly number[];
	readonly errors: readonly string[];
}

export interface RunningWriter {
	/** Ends the loop after the statement in flight; resolves with every statement it ran. */
	stop(): Promise<WriterRun>;
}

/** Starts the writer; resolves once its connection is open and its first tick is due. */
export async function startWriter(config: WriterConfig): Promise<RunningWriter> {
	const worker = new Worker(WRITER, {workerData: config});
	let failure: Error | null = null;
	const finished = new Promise<WriterRun>((resolve, reject) => {
		worker.on('message', (message: WriterMessage) => {
			if (message.type === 'done') resolve({samples: message.samples, insertedIds: message.insertedIds, errors: message.errors});
			if (message.type === 'failed') reject(new Error(`the writer failed: ${message.error}`));
		});
		worker.on('error', error => reject(error));
		worker.on('exit', code => reject(new Error(`the writer exited (${code}) before it reported`)));
	});
	finished.catch((error: Error) => void (failure = error));
	await new Promise<void>((resolve, reject) => {
		worker.on('message', (message: WriterMessage) => message.type === 'ready' && resolve());
		finished.catch(reject);
	});
	return {
		async stop() {
			if (failure !== null) throw failure;
			worker.postMessage('stop');
			const run = await finished;
			await worker.terminate();
			return run;
		},
	};
}

export interface LatencyFigures {
	readonly statements: number;
	readonly failed: number;
	readonly p50Ms: number | null;
	readonly p95Ms: number | null;
	readonly p99Ms: number | null;
	readonly maxMs: number | null;
	readonly meanMs: number | null;
	/** Statements slower than 100 ms. */
	readonly over100Ms: number;
}

export interface WriterPhase {
	readonly seconds: number;
	readonly inserts: LatencyFigures;
	readonly updates: LatencyFigures;
	/** Inserts per second achieved. */
	readonly insertRate: number;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

function figures(ms: readonly number[], failed: number): LatencyFigures {
	if (ms.length === 0) {
		return {statements: 0, failed, p50Ms: null, p95Ms: null, p99Ms: null, maxMs: null, meanMs: null, over100Ms: 0};
	}
	return {
		statements: ms.length,
		failed,
		p50Ms: round(median(ms), 3),
		p95Ms: round(percentile(ms, 95), 3),
		p99Ms: round(percentile(ms, 99), 3),
		maxMs: round(Math.max(...ms), 3),
		meanMs: round(ms.reduce((sum, value) => sum + value, 0) / ms.length, 3),
		over100Ms: ms.filter(value => value > 100).length,
	};
}

/** The statements that started in [fromMs, toMs). */
export function phaseOf(run: WriterRun, fromMs: number, toMs: number): WriterPhase {
	const {at, ms, kind, ok} = run.samples;
	const pick = (wanted: number) => {
		const times: number[] = [];
		let failed = 0;
		for (let i = 0; i < at.length; i++) {
			if (kind[i] !== wanted || at[i]! < fromMs || at[i]! >= toMs) continue;
			times.push(ms[i]!);
			if (!ok[i]) failed++;
		}
		return figures(times, failed);
	};
	const seconds = Math.max(0.001, (toMs - fromMs) / 1000);
	const inserts = pick(0);
	return {seconds: round(seconds, 1), inserts, updates: pick(1), insertRate: round(inserts.statements / seconds, 1)};
}

/** The longest statement of the whole run, any phase. */
export const longestMs = (run: WriterRun): number => round(Math.max(0, ...run.samples.ms), 3);
