import {useSyncExternalStore} from 'react';
import {describe, expect, it} from 'vitest';
import {localTime} from '../source/output/format.js';
import type {PanelState} from '../source/poll/poll-scheduler.js';
import {StatusBar} from '../source/ui/components/status-bar.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {renderInk} from './support/render-ink.js';

// The status bar redraws only when its text changes: the clock time of an update that is on time,
// a ticking age once the data is late, and a ticking countdown to the next try while a panel fails.
// The bar reads a clock the test moves by hand, so the figures it shows are exactly the test's.

const source = {kind: 'newapi-sqlite'} as UsageSource;
const postgres = {kind: 'newapi-postgres'} as UsageSource;
const http = {kind: 'cpa-http'} as UsageSource;

const panel = (lastSuccessAt: number | undefined, failure: Partial<PanelState<unknown>> = {}): PanelState<unknown> => ({
	data: undefined,
	error: undefined,
	disconnected: undefined,
	stale: failure.error !== undefined,
	loading: false,
	lastSuccessAt,
	lastDurationMs: 42,
	failures: failure.error === undefined ? 0 : 1,
	nextAt: undefined,
	...failure,
});

const refused = (nextAt: number | undefined, loading = false): Partial<PanelState<unknown>> => ({
	error: 'connect ECONNREFUSED 127.0.0.1:5432',
	disconnected: 'connection refused',
	nextAt,
	loading,
});

/** Time that moves only when the test says so. */
function handClock() {
	let time = Date.now();
	return {
		now: () => time,
		advance(ms: number) {
			time += ms;
		},
	};
}

function show(panels: Array<PanelState<unknown>>, clock: {now: () => number}, options: {paused?: boolean; on?: UsageSource; width?: number} = {}) {
	const {paused = false, on = source, width = 120} = options;
	const state = {...initialState(['user']), intervalMs: 2000, paused};
	return renderInk(<StatusBar source={on} state={state} panels={panels} width={width} now={clock.now} />, {columns: width, rows: 3});
}

/** Panels the test replaces while the bar is on screen, as the scheduler does. */
function livePanels(initial: Array<PanelState<unknown>>, clock: {now: () => number}) {
	let panels = initial;
	const listeners = new Set<() => void>();
	const subscribe = (listener: () => void) => {
		listeners.add(listener);
		return () => listeners.delete(listener);
	};
	function Bar() {
		const current = useSyncExternalStore(subscribe, () => panels);
		return <StatusBar source={postgres} state={{...initialState(['user']), intervalMs: 2000}} panels={current} width={120} now={clock.now} />;
	}
	return {
		Bar,
		set(next: Array<PanelState<unknown>>) {
			panels = next;
			for (const listener of listeners) listener();
		},
	};
}

const countdown = (frame: string): number => Number(/retry in (\d+) s/u.exec(frame)?.[1]);

describe('status bar', () => {
	it('names the clock time of an update that is on time', async () => {
		const clock = handClock();
		const at = clock.now() - 1000;
		const bar = show([panel(at - 5000), panel(at)], clock);
		const frame = await bar.until(screen => screen.includes('updated'));
		expect(frame).toContain(`● live · new-api (SQLite) · updated ${localTime(at).slice(11)} in 42 ms · every 2 s`);
		bar.unmount();
	});

	it('counts the age of late data, and goes on counting', async () => {
		const clock = handClock();
		const bar = show([panel(clock.now() - 20_000)], clock);
		try {
			await bar.until(screen => screen.includes('updated 20 s ago in 42 ms · every 2 s'));
			clock.advance(3000);
			await bar.until(screen => screen.includes('updated 23 s ago in 42 ms · every 2 s'));
		} finally {
			bar.unmount();
		}
	});

	it('does not count while paused, and names a failing panel', async () => {
		const clock = handClock();
		const at = clock.now() - 60_000;
		const bar = show([panel(at), panel(undefined, {error: 'database is locked'})], clock, {paused: true});
		const frame = await bar.until(screen => screen.includes('PAUSED'));
		expect(frame).toContain(`‖ PAUSED · stale: database is locked · new-api (SQLite) · updated ${localTime(at).slice(11)}`);
		expect(frame).not.toContain('retry');
		bar.unmount();
	});

	it('says the server is unreachable and counts down to the next try', async () => {
		const clock = handClock();
		const at = clock.now() - 30_000;
		const bar = show([panel(at), panel(at - 1000, refused(clock.now() + 7000))], clock, {on: postgres, width: 160});
		try {
			const first = await bar.until(screen => screen.includes('unreachable'));
			expect(first).toMatch(/^● live · PostgreSQL unreachable \(connection refused\) · retry in 7 s · new-api \(PostgreSQL\) · updated 30 s ago in 42 ms · every 2 s/u);
			expect(first).not.toContain('stale:');
			clock.advance(2000);
			const later = await bar.until(screen => countdown(screen) < 7);
			expect(later).toContain('PostgreSQL unreachable (connection refused) · retry in 5 s');
		} finally {
			bar.unmount();
		}
	});

	it('shows why the server is out of reach as inert text, whatever the server said', async () => {
		const clock = handClock();
		const bar = show([panel(clock.now(), {...refused(clock.now() + 3000), disconnected: 'server \u001b]0;owned\u0007\u001b[2Jstarting up'})], clock, {on: postgres, width: 160});
		try {
			const frame = await bar.until(screen => screen.includes('unreachable'));
			expect(frame).toContain('PostgreSQL unreachable (server ␛]0;owned␇␛[2Jstarting up) · retry in 3 s');
			expect(frame).not.toContain('\u001b');
		} finally {
			bar.unmount();
		}
	});

	it('names the server out of reach before any other failure, and says when a try is under way', async () => {
		const clock = handClock();
		const at = clock.now() - 10_000;
		const bar = show([panel(at, {error: 'relation "logs" does not exist', nextAt: clock.now() + 3000}), panel(at, refused(undefined, true))], clock, {on: postgres});
		const frame = await bar.until(screen => screen.includes('unreachable'));
		expect(frame).toContain('● live · PostgreSQL unreachable (connection refused) · retrying…');
		bar.unmount();
	});

	it('calls CPA-Manager over HTTP by its name', async () => {
		const clock = handClock();
		const bar = show([panel(clock.now() - 5000, {...refused(clock.now() + 4000), error: 'GET /v0/management/usage/summary: ECONNREFUSED'})], clock, {on: http});
		const frame = await bar.until(screen => screen.includes('unreachable'));
		expect(frame).toMatch(/CPA-Manager unreachable \(connection refused\) · retry in 4 s · CPA-Manager \(HTTP\)/u);
		bar.unmount();
	});

	it('keeps another failure one line, with when it is tried again', async () => {
		const clock = handClock();
		const at = clock.now() - 3000;
		const bar = show([panel(at, {error: 'canceling statement due to statement timeout', nextAt: clock.now() + 12_000})], clock, {on: postgres});
		const frame = await bar.until(screen => screen.includes('stale:'));
		expect(frame).toMatch(/^● live · stale: canceling statement due to statement timeout · retry in 12 s · new-api \(PostgreSQL\) · updated/u);
		bar.unmount();
	});

	it('shows what failed and the countdown even on a narrow terminal', async () => {
		const clock = handClock();
		const error = `could not read ${'x'.repeat(200)}`;
		const bar = show([panel(clock.now(), {error, nextAt: clock.now() + 5000})], clock, {on: postgres, width: 60});
		const frame = await bar.until(screen => screen.includes('stale:'));
		const line = frame.split('\n')[0]!;
		expect(line).toMatch(/^● live · stale: could not read x+… · retry in 5 s$/u);
		expect([...line].length).toBeLessThanOrEqual(60);
		bar.unmount();
	});

	it('goes back to live when the server answers again', async () => {
		const clock = handClock();
		const at = clock.now() - 20_000;
		const live = livePanels([panel(at, refused(clock.now() + 5000))], clock);
		const app = renderInk(<live.Bar />, {columns: 120, rows: 3});
		try {
			await app.until(screen => screen.includes('PostgreSQL unreachable (connection refused) · retry in 5 s'));
			live.set([panel(at, refused(undefined, true))]);
			await app.until(screen => screen.includes('retrying…'));
			const now = clock.now();
			const before = app.stdout.frames.length;
			live.set([panel(now)]);
			const frame = await app.until(screen => !screen.includes('unreachable'));
			expect(frame).toContain(`● live · new-api (PostgreSQL) · updated ${localTime(now).slice(11)} in 42 ms · every 2 s`);
			expect(frame).not.toMatch(/retry|stale/u);
			// Not even for a frame does the fresh update carry the age of the one before.
			for (const shown of app.stdout.frames.slice(before)) expect(shown).not.toContain('s ago');
		} finally {
			app.unmount();
		}
	});
});
