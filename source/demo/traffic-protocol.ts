// What the traffic simulator and its process exchange. Kept apart from traffic-process.ts, whose
// top level runs the simulator: importing it in the dashboard would start one there.

export interface TrafficSettings {
	readonly path: string;
	readonly requestsPerMinute: number;
	readonly seed: number;
}

export const STOP_MESSAGE = 'stop';
