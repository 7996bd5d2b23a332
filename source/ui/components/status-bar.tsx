import {Text} from 'ink';
import {useEffect, useState} from 'react';
import {localTime, milliseconds, truncate} from '../../output/format.js';
import {terminalSafe} from '../../output/terminal-safe.js';
import type {PanelState} from '../../poll/poll-scheduler.js';
import type {UsageSource} from '../../usage/types.js';
import type {DashboardState} from '../dashboard-state.js';
import {THEME} from '../theme.js';

const SOURCE_NAMES: Record<UsageSource['kind'], string> = {
	'cpa-sqlite': 'CPA-Manager (SQLite)',
	'cpa-http': 'CPA-Manager (HTTP)',
	'newapi-sqlite': 'new-api (SQLite)',
	'newapi-postgres': 'new-api (PostgreSQL)',
};

/** Data older than two refreshes (and at least this) is late: the bar then counts its age. */
const LATE_AFTER_MS = 5000;

const lateAfterMs = (intervalMs: number): number => Math.max(LATE_AFTER_MS, 2 * intervalMs);

/**
 * Seconds since the last update once it is late, else null. Every frame redraws the whole screen,
 * so the bar changes state only when its text changes: on time, the clock time of the update says
 * enough, and a ticking age would cost a frame a second.
 */
function useLateSeconds(lastSuccessAt: number | undefined, intervalMs: number, paused: boolean): number | null {
	const lateSeconds = (): number | null => {
		if (lastSuccessAt === undefined || paused) {
			return null;
		}
		const age = Date.now() - lastSuccessAt;
		return age > lateAfterMs(intervalMs) ? Math.round(age / 1000) : null;
	};
	const [seconds, setSeconds] = useState(lateSeconds);
	useEffect(() => {
		setSeconds(lateSeconds());
		const timer = setInterval(() => setSeconds(lateSeconds()), 1000);
		return () => clearInterval(timer);
	}, [lastSuccessAt, intervalMs, paused]);
	return seconds;
}

interface Props {
	readonly source: UsageSource;
	readonly state: DashboardState;
	/** The panels that feed what is on screen. */
	readonly panels: ReadonlyArray<PanelState<unknown>>;
	readonly width: number;
}

export function StatusBar({source, state, panels, width}: Props) {
	const freshest = panels.filter(p => p.lastSuccessAt !== undefined).sort((a, b) => b.lastSuccessAt! - a.lastSuccessAt!)[0];
	const failed = panels.find(p => p.error !== undefined);
	const lateSeconds = useLateSeconds(freshest?.lastSuccessAt, state.intervalMs, state.paused);
	const took = milliseconds(freshest?.lastDurationMs ?? null);
	const age =
		freshest?.lastSuccessAt === undefined
			? 'loading…'
			: lateSeconds === null
				? `updated ${localTime(freshest.lastSuccessAt).slice(11)} in ${took}`
				: `updated ${lateSeconds} s ago in ${took}`;
	const parts = [state.paused ? 'PAUSED' : 'live', SOURCE_NAMES[source.kind], age, `every ${state.intervalMs / 1000} s`];
	return (
		<Text wrap="truncate-end">
			<Text color={state.paused ? THEME.warn : THEME.ok}>{state.paused ? '‖ ' : '● '}</Text>
			{truncate(parts.join(' · '), Math.max(10, width - 2 - (failed === undefined ? 0 : 30)))}
			{failed === undefined ? null : <Text color={THEME.error}> · stale: {terminalSafe(failed.error!)}</Text>}
		</Text>
	);
}
