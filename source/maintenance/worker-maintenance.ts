import {join} from 'node:path';
import {Worker} from 'node:worker_threads';
import {packageRoot} from '../fixtures/fixture-files.js';
import type {HealthResult} from '../health/postgres-health.js';
import type {MaintenanceOutcome, MaintenanceOverview, MaintenanceService} from './maintenance-service.js';
import type {FromMaintenanceWorker, ToMaintenanceWorker} from './maintenance-worker.js';

// The compiled entry under dist/, as for the query worker (see sources/worker/worker-source.ts).
const WORKER_SCRIPT = join(packageRoot(), 'dist', 'source', 'maintenance', 'maintenance-worker.js');

interface Pending {
	resolve(value: unknown): void;
	reject(error: Error): void;
	progress?: (line: string) => void;
}

/** The maintenance service on a SQLite file, run in a worker thread started on first use. */
export function workerMaintenance(path: string): MaintenanceService {
	let worker: Worker | undefined;
	const pending = new Map<number, Pending>();
	let nextId = 0;
	const started = (): Worker => {
		if (worker !== undefined) return worker;
		const thread = new Worker(WORKER_SCRIPT, {workerData: {path}, stdout: true, stderr: true});
		thread.stdout.resume(); // the terminal belongs to the dashboard
		thread.stderr.resume();
		thread.on('message', (message: FromMaintenanceWorker) => {
			const call = pending.get(message.id);
			if (call === undefined) return;
			if (message.type === 'progress') {
				call.progress?.(message.line);
				return;
			}
			pending.delete(message.id);
			if (message.type === 'result') call.resolve(message.value);
			else call.reject(new Error(message.message));
		});
		const stopped = (error: Error) => {
			for (const call of pending.values()) call.reject(error);
			pending.clear();
			worker = undefined;
		};
		thread.on('error', stopped);
		thread.on('exit', () => stopped(new Error('the maintenance worker stopped')));
		worker = thread;
		return thread;
	};
	const call = (message: ToMaintenanceWorker, progress?: (line: string) => void) =>
		new Promise<unknown>((resolve, reject) => {
			pending.set(message.id, {resolve, reject, progress});
			started().postMessage(message);
		});
	return {
		overview: async keep => (await call({op: 'overview', id: nextId++, keep})) as MaintenanceOverview,
		health: async options => (await call({op: 'health', id: nextId++, options})) as HealthResult,
		run: async (action, onProgress, signal) => {
			const id = nextId++;
			const onAbort = () => worker?.postMessage({op: 'stop', id} satisfies ToMaintenanceWorker);
			signal.addEventListener('abort', onAbort, {once: true});
			try {
				return (await call({op: 'run', id, action}, onProgress)) as MaintenanceOutcome;
			} finally {
				signal.removeEventListener('abort', onAbort);
			}
		},
		close: async () => {
			await worker?.terminate();
			worker = undefined;
		},
	};
}
