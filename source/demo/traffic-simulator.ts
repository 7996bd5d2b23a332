import {fork} from 'node:child_process';
import {existsSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {packageRoot} from '../fixtures/fixture-files.js';
import {STOP_MESSAGE, type SettingsMessage, type TrafficSettings} from './traffic-protocol.js';

export interface TrafficSimulatorOptions {
	/** Mean request rate; bursts raise it for a few seconds now and then. 40 by default. */
	readonly requestsPerMinute?: number;
	/** Fixes the sequence of generated rows (not their times); random by default. */
	readonly seed?: number;
	/** A failure other than a locked database, after which the simulator has stopped writing. */
	readonly onError?: (error: Error) => void;
}

export interface TrafficSimulator {
	/** Resolves once the simulator's process has exited: no row is written after that. */
	stop(): Promise<void>;
}

/** The simulator may be stuck in SQLite's busy wait (5 s) before it reads the stop message. */
const STOP_GRACE_MS = 10_000;

/**
 * The compiled script of a simulator's process. Built, it sits next to this module. Under vitest
 * this module runs from its .ts source, and Node 20 cannot run TypeScript without a loader, so
 * the script is taken from dist/, which `npm test` builds before running the tests.
 */
function processScript(name: string): string {
	if (!import.meta.url.endsWith('.ts')) {
		return fileURLToPath(new URL(`./${name}`, import.meta.url));
	}
	const built = join(packageRoot(), 'dist', 'source', 'demo', name);
	if (!existsSync(built)) {
		throw new Error(`${built} is missing: run \`npm run build\` first`);
	}
	return built;
}

/**
 * Appends realistic new-api requests to the store at `path`, timed now, from a child process with
 * its own connection, as a gateway would. The store should be in WAL mode so readers and the
 * writer never wait.
 */
export function startTrafficSimulator(path: string, options: TrafficSimulatorOptions = {}): TrafficSimulator {
	return startTrafficProcess('traffic-process.js', seed => ({path, requestsPerMinute: requestsPerMinuteOf(options), seed}) satisfies TrafficSettings, options);
}

export function requestsPerMinuteOf(options: TrafficSimulatorOptions): number {
	const requestsPerMinute = options.requestsPerMinute ?? 40;
	if (!(requestsPerMinute > 0 && Number.isFinite(requestsPerMinute))) {
		throw new RangeError(`requestsPerMinute must be a positive number, not ${requestsPerMinute}`);
	}
	return requestsPerMinute;
}

/** A simulator's child process (`script`, next to this module), given its settings as JSON. */
export function startTrafficProcess(script: string, settings: (seed: number) => object, options: TrafficSimulatorOptions): TrafficSimulator {
	const data = settings(options.seed ?? Math.floor(Math.random() * 2 ** 32));
	// No terminal for it: the dashboard owns the screen; errors arrive as messages.
	const child = fork(processScript(script), [], {stdio: ['ignore', 'ignore', 'ignore', 'ipc'], execArgv: []});
	child.send({settings: data} satisfies SettingsMessage);
	child.on('message', message => {
		const {error, code} = message as {error?: unknown; code?: unknown};
		if (typeof error === 'string') {
			options.onError?.(Object.assign(new Error(error), {code}));
		}
	});
	const exited = new Promise<void>(resolve => child.once('exit', () => resolve()));
	// A demo's traffic never keeps the dashboard's process alive by itself.
	child.unref();
	child.channel?.unref();

	let stopping: Promise<void> | undefined;
	return {
		stop: () =>
			(stopping ??= (async () => {
				if (child.exitCode !== null || child.signalCode !== null) {
					return;
				}
				child.ref(); // keep the dashboard's process up until the simulator is gone
				// The child may be exiting on its own already (its store failed): its channel can close
				// before 'exit' arrives, and a send without a callback would then throw ERR_IPC_CHANNEL_CLOSED
				// as an unhandled 'error'. The fallback below ends it either way.
				child.send(STOP_MESSAGE, () => undefined);
				const fallback = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
				await exited;
				clearTimeout(fallback);
			})()),
	};
}
