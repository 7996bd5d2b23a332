import {createDemoStore} from './demo-store.js';
import {type TrafficSimulator, startTrafficSimulator} from './traffic-simulator.js';

export interface RunningDemo {
	/** The temporary new-api store the dashboard should open. */
	readonly path: string;
	/** Stops the traffic and deletes the store; safe to call more than once. */
	stop(): Promise<void>;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * The moving demo: a temporary copy of the new-api fixture, ending now, with live traffic. The
 * copy is removed however the process ends: stop(), exit (a crash included) or a signal.
 */
export async function startDemo(): Promise<RunningDemo> {
	const store = createDemoStore();
	let simulator: TrafficSimulator;
	try {
		simulator = startTrafficSimulator(store.path);
	} catch (error) {
		store.remove();
		throw error;
	}

	// Exit listeners must be synchronous; the simulator's process follows when our IPC channel closes.
	const onExit = () => store.remove();
	const onSignal = (signal: NodeJS.Signals) => {
		unregister();
		store.remove();
		// Listening replaced the signal's default action: die by it as intended, unless another listener handles it.
		if (process.listenerCount(signal) === 0) {
			process.kill(process.pid, signal);
		}
	};
	const unregister = () => {
		process.off('exit', onExit);
		for (const signal of SIGNALS) {
			process.off(signal, onSignal);
		}
	};
	process.on('exit', onExit);
	for (const signal of SIGNALS) {
		process.on(signal, onSignal);
	}

	let stopping: Promise<void> | undefined;
	return {
		path: store.path,
		stop: () =>
			(stopping ??= (async () => {
				await simulator.stop();
				store.remove();
				unregister(); // only now: a signal while stopping must still remove the copy
			})()),
	};
}
