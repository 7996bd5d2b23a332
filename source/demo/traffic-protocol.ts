// What the traffic simulator and its worker thread exchange. Kept apart from traffic-worker.ts,
// whose top level runs the worker: importing it on the main thread would start one there.

export interface TrafficWorkerData {
	readonly path: string;
	readonly requestsPerMinute: number;
	readonly seed: number;
}

export const STOP_MESSAGE = 'stop';
