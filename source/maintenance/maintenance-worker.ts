import {parentPort, workerData} from 'node:worker_threads';
import type {HealthOptions} from '../health/postgres-health.js';
import {localMaintenance, type MaintenanceAction} from './maintenance-service.js';
import {openMaintenanceTarget} from './maintenance-target.js';

// A worker thread running the maintenance service on a SQLite file: better-sqlite3 blocks the
// thread it runs on, and the dashboard's thread must keep drawing and taking keys meanwhile.

export type ToMaintenanceWorker =
	| {readonly op: 'overview'; readonly id: number; readonly keep: string}
	| {readonly op: 'run'; readonly id: number; readonly action: MaintenanceAction}
	| {readonly op: 'health'; readonly id: number; readonly options: HealthOptions}
	| {readonly op: 'stop'; readonly id: number};

export type FromMaintenanceWorker =
	| {readonly id: number; readonly type: 'result'; readonly value: unknown}
	| {readonly id: number; readonly type: 'error'; readonly message: string}
	| {readonly id: number; readonly type: 'progress'; readonly line: string};

const port = parentPort!;
const service = localMaintenance(await openMaintenanceTarget((workerData as {path: string}).path));
const running = new Map<number, AbortController>();

port.on('message', (message: ToMaintenanceWorker) => {
	if (message.op === 'stop') {
		running.get(message.id)?.abort();
		return;
	}
	const reply = (value: unknown) => port.postMessage({id: message.id, type: 'result', value} satisfies FromMaintenanceWorker);
	const fail = (error: unknown) =>
		port.postMessage({id: message.id, type: 'error', message: error instanceof Error ? error.message : String(error)} satisfies FromMaintenanceWorker);
	if (message.op === 'overview') {
		service.overview(message.keep).then(reply, fail);
		return;
	}
	if (message.op === 'health') {
		service.health(message.options).then(reply, fail);
		return;
	}
	const controller = new AbortController();
	running.set(message.id, controller);
	service
		.run(message.action, line => port.postMessage({id: message.id, type: 'progress', line} satisfies FromMaintenanceWorker), controller.signal)
		.then(reply, fail)
		.finally(() => running.delete(message.id));
});
