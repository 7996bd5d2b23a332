import {join} from 'node:path';
import {Worker} from 'node:worker_threads';
import {packageRoot} from '../../fixtures/fixture-files.js';
import type {UsageSource} from '../../usage/types.js';
import type {OpenOptions} from '../open-target.js';
import {FORWARDED_METHODS, firstLine, fromWire, type ForwardedMethod, type FromWorker, type Request, type WorkerInput} from './protocol.js';

// Always the compiled entry under dist/: a worker thread cannot run the .ts source. Under vitest
// this module itself runs from source/, so the path starts at the package root, not at this file;
// `npm test` builds dist/ before vitest starts.
const WORKER_SCRIPT = join(packageRoot(), 'dist', 'source', 'sources', 'worker', 'source-worker.js');

export const WORKER_STOPPED = 'the query worker stopped';
export const SOURCE_CLOSED = 'the source is closed';

/** A worker thread that opens `target`; `connectToWorker` makes it a UsageSource. */
export function startQueryWorker(target: string, options: OpenOptions = {}): Worker {
	const workerData: WorkerInput = {target, options};
	// Each refresh makes short-lived result objects; a small young generation collects them early,
	// keeping the dashboard's memory flat on a small server.
	const worker = new Worker(WORKER_SCRIPT, {workerData, stdout: true, stderr: true, resourceLimits: {maxYoungGenerationSizeMb: 4}});
	// The terminal belongs to the dashboard: anything a library in the worker writes is dropped.
	worker.stdout.resume();
	worker.stderr.resume();
	return worker;
}

/**
 * `openTarget` with every query run in a worker thread, so the caller's thread never waits on
 * SQLite. Rejects with the InputError of a target that cannot be opened.
 */
export const openTargetInWorker = (target: string, options: OpenOptions = {}): Promise<UsageSource> =>
	connectToWorker(startQueryWorker(target, options));

interface Pending {
	resolve(value: unknown): void;
	reject(error: Error): void;
}

/** Waits for the worker to open its source, then forwards calls to it, matched by id. */
export function connectToWorker(worker: Worker): Promise<UsageSource> {
	const pending = new Map<number, Pending>();
	let nextId = 0;
	let stopped: Error | undefined;
	let crash = '';
	let closing: Promise<void> | undefined;

	const rejectPending = (error: Error) => {
		for (const call of pending.values()) {
			call.reject(error);
		}
		pending.clear();
	};

	const request = (method: Request['method'], args: unknown[]) =>
		new Promise<unknown>((resolve, reject) => {
			if (stopped !== undefined) {
				reject(stopped);
				return;
			}
			const id = nextId++;
			pending.set(id, {resolve, reject});
			worker.postMessage({id, method, args} satisfies Request);
		});

	const forward =
		(method: ForwardedMethod) =>
		(...args: unknown[]) =>
			closing === undefined ? request(method, args) : Promise.reject(new Error(SOURCE_CLOSED));

	const close = async () => {
		rejectPending(new Error(`${SOURCE_CLOSED}: it was closed before this call was answered`));
		try {
			if (stopped === undefined) {
				await request('close', []);
			}
		} finally {
			await worker.terminate();
		}
	};

	return new Promise((resolveOpen, rejectOpen) => {
		worker.on('message', (message: FromWorker) => {
			switch (message.type) {
				case 'ready': {
					const methods = Object.fromEntries(FORWARDED_METHODS.map(method => [method, forward(method)])) as Pick<UsageSource, ForwardedMethod>;
					resolveOpen({...message.description, ...methods, close: () => (closing ??= close())});
					break;
				}
				case 'failed':
					rejectOpen(fromWire(message.error));
					void worker.terminate();
					break;
				case 'reply': {
					const call = pending.get(message.id);
					pending.delete(message.id);
					if (message.ok) {
						call?.resolve(message.value);
					} else {
						call?.reject(fromWire(message.error));
					}
				}
			}
		});
		// Without a listener an 'error' event would throw on this thread; its reason joins the exit's.
		worker.on('error', error => {
			crash = `: ${firstLine(error.message)}`;
		});
		worker.on('exit', () => {
			stopped = new Error(WORKER_STOPPED + crash);
			rejectPending(stopped);
			rejectOpen(stopped);
		});
	});
}
