import {describe, expect, it} from 'vitest';
import {localTime} from '../source/output/format.js';
import type {PanelState} from '../source/poll/poll-scheduler.js';
import {StatusBar} from '../source/ui/components/status-bar.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {renderInk} from './support/render-ink.js';

// The status bar redraws only when its text changes: the clock time of an update that is on time,
// a ticking age once the data is late.

const source = {kind: 'newapi-sqlite'} as UsageSource;

const panel = (lastSuccessAt: number | undefined, error?: string): PanelState<unknown> => ({
	data: undefined,
	error,
	stale: error !== undefined,
	loading: false,
	lastSuccessAt,
	lastDurationMs: 42,
	failures: error === undefined ? 0 : 1,
	nextAt: undefined,
});

function show(panels: Array<PanelState<unknown>>, paused = false) {
	const state = {...initialState(['user']), intervalMs: 2000, paused};
	return renderInk(<StatusBar source={source} state={state} panels={panels} width={120} />, {columns: 120, rows: 3});
}

describe('status bar', () => {
	it('names the clock time of an update that is on time', async () => {
		const at = Date.now() - 1000;
		const bar = show([panel(at - 5000), panel(at)]);
		const frame = await bar.until(screen => screen.includes('updated'));
		expect(frame).toContain(`● live · new-api (SQLite) · updated ${localTime(at).slice(11)} in 42 ms · every 2 s`);
		bar.unmount();
	});

	it('counts the age of late data, and goes on counting', async () => {
		const at = Date.now() - 20_000;
		const bar = show([panel(at)]);
		const first = await bar.until(screen => /updated \d+ s ago/u.test(screen));
		const age = Number(/updated (\d+) s ago/u.exec(first)![1]);
		expect(age).toBeGreaterThanOrEqual(20);
		const later = await bar.until(screen => Number(/updated (\d+) s ago/u.exec(screen)?.[1]) > age, 5000);
		expect(later).toMatch(/in 42 ms · every 2 s/u);
		bar.unmount();
	});

	it('does not count while paused, and names a failing panel', async () => {
		const at = Date.now() - 60_000;
		const bar = show([panel(at), panel(undefined, 'database is locked')], true);
		const frame = await bar.until(screen => screen.includes('PAUSED'));
		expect(frame).toContain(`‖ PAUSED · new-api (SQLite) · updated ${localTime(at).slice(11)}`);
		expect(frame).toContain('stale: database is locked');
		bar.unmount();
	});
});
