import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {Worker} from 'node:worker_threads';
import {packageRoot} from '../../fixtures/fixture-files.js';
import type {UsageSource} from '../../usage/types.js';
import type {OpenOptions} from '../open-target.js';
import {otherStoreKind} from '../sqlite/reopening-source.js';
import {
	FORWARDED_METHODS,
	SOURCE_CLOSED,
	firstLine,
	fromWire,
	type ForwardedMethod,
	type FromWorker,
	type Request,
	type SourceDescription,
	type WorkerInput,
} from './protocol.js';

export {SOURCE_CLOSED};

// Always the compiled entry under dist/: a worker thread cannot run the .ts source. Under vitest
// this module itself runs from source/, so the path starts at the package root, not at this file;
// `npm test` builds dist/ before vitest starts.
const WORKER_SCRIPT = join(packageRoot(), 'dist', 'source', 'sources', 'worker', 'source-worker.js');

export const WORKER_STOPPED = 'the query worker stopped';

/** A worker that keeps stopping is started again at most this often, however many calls ask. */
export const RESTART_SPACING_MS = 1000;

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
	connectToWorker(() => startQueryWorker(target, options));

/**
 * A UsageSource answered by a worker that `start` makes. A worker that stops (a crash, its memory
 * limit) fails the calls it was answering, and the next call starts another: the dashboard
 * outlives it.
 */
export async function connectToWorker(start: () => Worker): Promise<UsageSource> {
	let startedAt = Date.now();
	let connection = await connect(start());
	const {description} = connection;
	let restarting: Promise<Connection> | undefined;
	let closing: Promise<void> | undefined;

	const restart = async (): Promise<Connection> => {
		await sleep(startedAt + RESTART_SPACING_MS - Date.now()); // a worker that dies at once never spins
		startedAt = Date.now();
		const next = await connect(start());
		if (next.description.kind !== description.kind) {
			await next.end();
			throw new Error(otherStoreKind(description.target, description.kind, next.description.kind));
		}
		return next;
	};

	/** The running worker; concurrent calls after a stop share one restart. */
	const running = async (): Promise<Connection> => {
		if (connection.stopped === undefined) {
			return connection;
		}
		restarting ??= restart()
			.then(next => (connection = next))
			.finally(() => {
				restarting = undefined;
			});
		return restarting;
	};

	const forward =
		(method: ForwardedMethod) =>
		async (...args: unknown[]): Promise<unknown> => {
			if (closing !== undefined) {
				throw new Error(SOURCE_CLOSED);
			}
			const worker = await running();
			if (closing !== undefined) {
				throw new Error(SOURCE_CLOSED); // closed while a restart was under way
			}
			return worker.call(method, args);
		};

	const close = async () => {
		await restarting?.catch(() => undefined);
		await connection.end();
	};

	const methods = Object.fromEntries(FORWARDED_METHODS.map(method => [method, forward(method)])) as Pick<UsageSource, ForwardedMethod>;
	return {...description, ...methods, close: () => (closing ??= close())};
}

/** One worker, as its description and the calls it answers. */
interface Connection {
	readonly description: SourceDescription;
	/** Why the worker stopped; undefined while it runs. */
	readonly stopped: Error | undefined;
	call(method: ForwardedMethod, args: unknown[]): Promise<unknown>;
	/** Closes the source, failing the calls still unanswered, and ends the worker. */
	end(): Promise<void>;
}

interface Pending {
	resolve(value: unknown): void;
	reject(error: Error): void;
}

/** Waits for the worker to open its source, then forwards calls to it, matched by id. */
function connect(worker: Worker): Promise<Connection> {
	const pending = new Map<number, Pending>();
	let nextId = 0;
	let stopped: Error | undefined;
	let crash = '';

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

	const end = async () => {
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
					const {description} = message;
					resolveOpen({
						description,
						get stopped() {
							return stopped;
						},
						call: request,
						end,
					});
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
