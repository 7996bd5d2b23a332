import {existsSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {Worker} from 'node:worker_threads';
import {packageRoot} from '../fixtures/fixture-files.js';
import {STOP_MESSAGE, type TrafficWorkerData} from './traffic-protocol.js';

export interface TrafficSimulatorOptions {
	/** Mean request rate; bursts raise it for a few seconds now and then. 40 by default. */
	readonly requestsPerMinute?: number;
	/** Fixes the sequence of generated rows (not their times); random by default. */
	readonly seed?: number;
	/** A failure other than a locked database, after which the simulator has stopped writing. */
	readonly onError?: (error: Error) => void;
}

export interface TrafficSimulator {
	/** Resolves once the worker has exited: no row is written after that. */
	stop(): Promise<void>;
}

/** The worker may be stuck in SQLite's busy wait (5 s) before it reads the stop message. */
const STOP_GRACE_MS = 10_000;

/**
 * The compiled worker script. Built, it sits next to this module. Under vitest this module runs
 * from its .ts source, and Node 20 cannot start a Worker on TypeScript without a loader, so the
 * script is taken from dist/, which `npm test` builds before running the tests.
 */
function workerScript(): URL {
	if (!import.meta.url.endsWith('.ts')) {
		return new URL('./traffic-worker.js', import.meta.url);
	}
	const built = join(packageRoot(), 'dist', 'source', 'demo', 'traffic-worker.js');
	if (!existsSync(built)) {
		throw new Error(`${built} is missing: run \`npm run build\` first`);
	}
	return pathToFileURL(built);
}

/**
 * Appends realistic new-api requests to the store at `path`, timed now, from a worker thread with
 * its own connection. The store should be in WAL mode so readers and the writer never wait.
 */
export function startTrafficSimulator(path: string, options: TrafficSimulatorOptions = {}): TrafficSimulator {
	const requestsPerMinute = options.requestsPerMinute ?? 40;
	if (!(requestsPerMinute > 0 && Number.isFinite(requestsPerMinute))) {
		throw new RangeError(`requestsPerMinute must be a positive number, not ${requestsPerMinute}`);
	}
	const workerData: TrafficWorkerData = {path, requestsPerMinute, seed: options.seed ?? Math.floor(Math.random() * 2 ** 32)};
	const worker = new Worker(workerScript(), {workerData});
	worker.on('error', error => options.onError?.(error));
	const exited = new Promise<void>(resolve => worker.once('exit', () => resolve()));
	// A demo's traffic never keeps the process alive by itself.
	worker.unref();

	let stopping: Promise<void> | undefined;
	return {
		stop: () =>
			(stopping ??= (async () => {
				worker.ref(); // keep the process up until the worker is gone
				worker.postMessage(STOP_MESSAGE);
				const fallback = setTimeout(() => void worker.terminate(), STOP_GRACE_MS);
				await exited;
				clearTimeout(fallback);
			})()),
	};
}
