import {spawnSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {APPROACH_LABELS, type Approach, type WorkerReport} from './accounts-page.js';

const WORKER = fileURLToPath(new URL('./accounts-page-worker.js', import.meta.url));

/** Runs one approach in a fresh node process and returns its report; throws with the worker's error line. */
export function runWorker(approach: Approach, path: string, endMs: number, runs: number): WorkerReport {
	const child = spawnSync(process.execPath, ['--expose-gc', WORKER, approach, path, String(endMs), String(runs)], {
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	if (child.error !== undefined) {
		throw new Error(`${APPROACH_LABELS[approach]} worker did not start: ${child.error.message}`);
	}
	if (child.status !== 0) {
		const reason = child.stderr.trim().split('\n').pop() || `exit ${child.status ?? child.signal}`;
		throw new Error(`${APPROACH_LABELS[approach]} worker failed: ${reason}`);
	}
	return JSON.parse(child.stdout) as WorkerReport;
}
