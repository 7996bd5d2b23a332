// The query worker: owns the SQLite connection so that a long synchronous query blocks this thread,
// never the dashboard's. It never prints: every outcome goes back as a message.

import {parentPort, workerData} from 'node:worker_threads';
import type {UsageSource} from '../../usage/types.js';
import {openTarget} from '../open-target.js';
import {reopeningSource} from '../sqlite/reopening-source.js';
import {toWire, type FromWorker, type Request, type SourceDescription, type WorkerInput} from './protocol.js';

const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

async function answer(source: UsageSource, {id, method, args}: Request): Promise<void> {
	try {
		const call = source[method] as (...args: unknown[]) => Promise<unknown>;
		post({type: 'reply', id, ok: true, value: await call.apply(source, args)});
	} catch (error) {
		post({type: 'reply', id, ok: false, error: toWire(error)});
	}
}

function start({target, options}: WorkerInput): void {
	let source: UsageSource;
	try {
		// The dashboard runs for days while the gateway's store is restored, re-created or truncated.
		source = reopeningSource(target, () => openTarget(target, options));
	} catch (error) {
		post({type: 'failed', error: toWire(error)});
		return; // no listener on the port, so the worker ends here
	}
	const description: SourceDescription = {kind: source.kind, target: source.target, capabilities: source.capabilities};
	port.on('message', (request: Request) => void answer(source, request));
	post({type: 'ready', description});
}

start(workerData as WorkerInput);
