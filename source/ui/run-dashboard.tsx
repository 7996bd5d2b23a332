import {render} from 'ink';
import {Component, type ReactNode} from 'react';
import type {HealthOptions} from '../health/postgres-health.js';
import type {MaintenanceService} from '../maintenance/maintenance-service.js';
import {exitOnCrash, restoreBeforeCrashReport} from '../output/crash-report.js';
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
	/** Offer writes (each behind a y/N confirm); false with --read-only. */
	readonly writable: boolean;
	readonly maintenance?: MaintenanceService;
	/** What the Health view judges the server against: --ram and --cores when given. */
	readonly healthOptions?: HealthOptions;
}

/**
 * A failure while drawing ends the process as any crash does (one masked line, exit 70), before
 * Ink's own boundary can draw its overview of the error, which shows it raw.
 */
class CrashBoundary extends Component<{readonly children: ReactNode}, {readonly failed: boolean}> {
	override state = {failed: false};

	static getDerivedStateFromError(): {failed: boolean} {
		return {failed: true};
	}

	override componentDidCatch(error: unknown): void {
		exitOnCrash(error);
	}

	override render(): ReactNode {
		return this.state.failed ? null : this.props.children;
	}
}

/**
 * The interactive dashboard until the user quits, or until SIGTERM / SIGHUP, which it answers by
 * shutting down in order (the caller then closes the query worker before the process ends: dying
 * with a worker thread still inside SQLite crashes its teardown). Returns the signal, if one ended
 * it. The alternate screen (Ink 6 has no option for it) is left on every path, a crash's too:
 * before its report is printed, so the report stays on the screen.
 */
export async function runDashboard(source: UsageSource, options: DashboardOptions): Promise<NodeJS.Signals | undefined> {
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
	const unregisterCrashRestore = restoreBeforeCrashReport(restore);
	const app = render(
		<CrashBoundary>
			<App source={source} initial={initialState(source.capabilities.dimensions, options)} writable={options.writable} maintenance={options.maintenance} healthOptions={options.healthOptions} />
		</CrashBoundary>,
		{
			exitOnCtrlC: false, // the app quits on Ctrl-C itself, through the same path as q
			patchConsole: false, // console output would vanish in the alternate screen
			maxFps: 15,
		},
	);
	let received: NodeJS.Signals | undefined;
	// Kept registered until the end, so other handlers (the demo's) leave ending the process to us.
	const onSignal = (signal: NodeJS.Signals) => {
		received ??= signal;
		app.unmount();
	};
	for (const signal of SIGNALS) {
		process.on(signal, onSignal);
	}
	try {
		await app.waitUntilExit();
		return received;
	} finally {
		for (const signal of SIGNALS) {
			process.off(signal, onSignal);
		}
		restore();
		process.off('exit', restore);
		unregisterCrashRestore();
	}
}
