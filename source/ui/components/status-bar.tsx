import stringWidth from 'string-width';
import {Text} from 'ink';
import {useEffect, useState} from 'react';
import {localTime, milliseconds, truncate} from '../../output/format.js';
import {terminalSafe} from '../../output/terminal-safe.js';
import type {PanelState} from '../../poll/poll-scheduler.js';
import type {UsageSource} from '../../usage/types.js';
import type {DashboardState} from '../dashboard-state.js';
import {THEME} from '../theme.js';
import {ShapedText} from './shaped-text.js';

const SOURCE_NAMES: Record<UsageSource['kind'], string> = {
	'cpa-sqlite': 'CPA-Manager (SQLite)',
	'cpa-http': 'CPA-Manager (HTTP)',
	'newapi-sqlite': 'new-api (SQLite)',
	'newapi-postgres': 'new-api (PostgreSQL)',
};

/** What the bar calls the server when it cannot be reached. */
const SERVER_NAMES: Record<UsageSource['kind'], string> = {
	'cpa-sqlite': 'the store',
	'cpa-http': 'CPA-Manager',
	'newapi-sqlite': 'the database',
	'newapi-postgres': 'PostgreSQL',
};

/** Data older than two refreshes (and at least this) is late: the bar then counts its age. */
const LATE_AFTER_MS = 5000;

/** How often the retry countdown is checked; the bar redraws only when its whole seconds change. */
const COUNTDOWN_CHECK_MS = 250;

const lateAfterMs = (intervalMs: number): number => Math.max(LATE_AFTER_MS, 2 * intervalMs);

/**
 * `read()` as of this render, checked every `everyMs` while `ticking` and drawn again only when its
 * value changes. It is read afresh on every render, never taken from state: a frame after new
 * inputs (a fresh update, a try under way) never shows the figure of the old ones.
 */
function useTicking<T>(read: () => T, everyMs: number, ticking: boolean, inputs: readonly unknown[]): T {
	const [, setShown] = useState(read);
	useEffect(() => {
		setShown(read());
		if (!ticking) return;
		const timer = setInterval(() => setShown(read()), everyMs);
		return () => clearInterval(timer);
	}, inputs);
	return read();
}

/**
 * Seconds since the last update once it is late, else null. Every frame redraws the whole screen,
 * so the bar changes state only when its text changes: on time, the clock time of the update says
 * enough, and a ticking age would cost a frame a second.
 */
function useLateSeconds(lastSuccessAt: number | undefined, intervalMs: number, paused: boolean, now: () => number): number | null {
	const lateSeconds = (): number | null => {
		if (lastSuccessAt === undefined || paused) {
			return null;
		}
		const age = now() - lastSuccessAt;
		return age > lateAfterMs(intervalMs) ? Math.round(age / 1000) : null;
	};
	return useTicking(lateSeconds, 1000, true, [lastSuccessAt, intervalMs, paused, now]);
}

/**
 * When the failing panels try again: 'retrying…' while one is at it, else the seconds to the soonest
 * one's next load, counting down; null when none is due (paused, or nothing fails).
 */
function useRetryText(failing: ReadonlyArray<PanelState<unknown>>, now: () => number): string | null {
	const loading = failing.some(panel => panel.loading);
	const dueAt = Math.min(...failing.map(panel => panel.nextAt ?? Number.POSITIVE_INFINITY));
	const retryText = (): string | null => {
		if (loading) return 'retrying…';
		if (!Number.isFinite(dueAt)) return null;
		return `retry in ${Math.max(1, Math.ceil((dueAt - now()) / 1000))} s`;
	};
	return useTicking(retryText, COUNTDOWN_CHECK_MS, !loading && Number.isFinite(dueAt), [loading, dueAt, now]);
}

interface Props {
	readonly source: UsageSource;
	readonly state: DashboardState;
	/** The panels that feed what is on screen. */
	readonly panels: ReadonlyArray<PanelState<unknown>>;
	readonly width: number;
	/** The clock the ages and countdowns are read from. */
	readonly now?: () => number;
}

export function StatusBar({source, state, panels, width, now = Date.now}: Props) {
	const freshest = panels.filter(p => p.lastSuccessAt !== undefined).sort((a, b) => b.lastSuccessAt! - a.lastSuccessAt!)[0];
	const failing = panels.filter(p => p.error !== undefined);
	// A server out of reach explains every other failure: it is named first.
	const failed = failing.find(p => p.disconnected !== undefined) ?? failing[0];
	const retry = useRetryText(failing, now);
	const lateSeconds = useLateSeconds(freshest?.lastSuccessAt, state.intervalMs, state.paused, now);
	const took = milliseconds(freshest?.lastDurationMs ?? null);
	const age =
		freshest?.lastSuccessAt === undefined
			? 'loading…'
			: lateSeconds === null
				? `updated ${localTime(freshest.lastSuccessAt).slice(11)} in ${took}`
				: `updated ${lateSeconds} s ago in ${took}`;
	const mode = state.paused ? 'PAUSED' : 'live';
	const details = [SOURCE_NAMES[source.kind], age, `every ${state.intervalMs / 1000} s`].join(' · ');
	const mark = <Text color={failed !== undefined ? THEME.error : state.paused ? THEME.warn : THEME.ok}>{state.paused ? '‖ ' : '● '}</Text>;
	if (failed === undefined) {
		return (
			<ShapedText>
				{mark}
				{truncate(`${mode} · ${details}`, Math.max(10, width - 2))}
			</ShapedText>
		);
	}
	// What failed, then when it is tried again, before everything else: at any width the operator sees both.
	// Both can quote the server (a 57P03 names its state in its own words): never raw to the terminal.
	const what = failed.disconnected === undefined ? `stale: ${terminalSafe(failed.error!)}` : `${SERVER_NAMES[source.kind]} unreachable (${terminalSafe(failed.disconnected)})`;
	const when = retry === null ? '' : ` · ${retry}`;
	const lead = `${mode} · `;
	const alert = `${truncate(what, Math.max(10, width - 2 - stringWidth(lead) - stringWidth(when)))}${when}`;
	const room = width - 2 - stringWidth(lead) - stringWidth(alert) - 3;
	return (
		<ShapedText>
			{mark}
			{lead}
			<Text color={THEME.error}>{alert}</Text>
			{room < 10 ? null : ` · ${truncate(details, room)}`}
		</ShapedText>
	);
}
