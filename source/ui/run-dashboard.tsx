import {render} from 'ink';
import type {RangePreset} from '../usage/time-range.js';
import type {UsageSource} from '../usage/types.js';
import {App} from './app.js';
import {initialState} from './dashboard-state.js';

const ENTER_ALTERNATE_SCREEN = '\u001b[?1049h';
const LEAVE_ALTERNATE_SCREEN = '\u001b[?1049l';
const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];

export interface DashboardOptions {
	readonly altScreen: boolean;
	readonly intervalMs?: number;
	readonly range?: RangePreset;
}

/**
 * The interactive dashboard until the user quits. The alternate screen (Ink 6 has no option for
 * it) is left on every path: quit, a crash, exit, a signal.
 */
export async function runDashboard(source: UsageSource, options: DashboardOptions): Promise<void> {
	let restored = !options.altScreen;
	const restore = () => {
		if (!restored) {
			restored = true;
			process.stdout.write(LEAVE_ALTERNATE_SCREEN);
		}
	};
	if (options.altScreen) {
		process.stdout.write(ENTER_ALTERNATE_SCREEN);
	}
	process.once('exit', restore);
	const app = render(<App source={source} initial={initialState(source.capabilities.dimensions, options)} />, {
		exitOnCtrlC: false, // the app quits on Ctrl-C itself, through the same path as q
		patchConsole: false, // console output would vanish in the alternate screen
		maxFps: 15,
	});
	const onSignal = () => app.unmount();
	for (const signal of SIGNALS) {
		process.once(signal, onSignal);
	}
	try {
		await app.waitUntilExit();
	} finally {
		for (const signal of SIGNALS) {
			process.off(signal, onSignal);
		}
		restore();
		process.off('exit', restore);
	}
}
