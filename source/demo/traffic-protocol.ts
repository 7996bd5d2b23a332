// What the traffic simulator and its process exchange. Kept apart from traffic-process.ts, whose
// top level runs the simulator: importing it in the dashboard would start one there.

export interface TrafficSettings {
	readonly path: string;
	readonly requestsPerMinute: number;
	readonly seed: number;
}

export const STOP_MESSAGE = 'stop';

/**
 * A simulator's settings travel over the IPC channel, not the command line: the PostgreSQL demo's
 * URL holds the server's password, and any local user can read another's command line.
 */
export interface SettingsMessage {
	readonly settings: unknown;
}

/** In the simulator's process: the settings its parent sends first. */
export function receiveSettings<T>(): Promise<T> {
	return new Promise(resolve => {
		const onMessage = (message: unknown) => {
			if (message !== null && typeof message === 'object' && 'settings' in message) {
				process.off('message', onMessage);
				resolve((message as SettingsMessage).settings as T);
			}
		};
		process.on('message', onMessage);
		// A parent gone before it could send them: nothing to simulate for.
		process.once('disconnect', () => process.exit(0));
	});
}
