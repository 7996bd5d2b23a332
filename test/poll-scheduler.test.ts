import {createServer, type AddressInfo} from 'node:net';
import pg from 'pg';
import {beforeAll, describe, expect, it} from 'vitest';
import {errorBackoffMs, nextDelayMs} from '../source/poll/backoff.js';
import {errorLine} from '../source/poll/error-line.js';
import {PollScheduler, type Clock, type PanelSpec} from '../source/poll/poll-scheduler.js';
import {refusedConnection} from './support/net.js';

/** Lets every pending promise callback run (setImmediate comes after the microtask queue drains). */
const flush = async (): Promise<void> =>
	new Promise((resolve) => {
		setImmediate(resolve);
	});

/** A clock that only moves when told to; timers fire in due order, with promise callbacks run between them. */
class FakeClock implements Clock {
	private time = 0;
	private nextHandle = 1;
	private readonly timers = new Map<number, {readonly at: number; readonly fn: () => void}>();

	now(): number {
		return this.time;
	}

	setTimeout(fn: () => void, ms: number): unknown {
		const handle = this.nextHandle++;
		this.timers.set(handle, {at: this.time + Math.max(0, ms), fn});
		return handle;
	}

	clearTimeout(handle: unknown): void {
		this.timers.delete(handle as number);
	}

	get pendingTimers(): number {
		return this.timers.size;
	}

	async advance(ms: number): Promise<void> {
		const end = this.time + ms;
		for (;;) {
			await flush();
			const due = [...this.timers].filter(([, timer]) => timer.at <= end).sort(([, a], [, b]) => a.at - b.at)[0];
			if (!due) break;
			const [handle, timer] = due;
			this.timers.delete(handle);
			this.time = timer.at;
			timer.fn();
		}
		this.time = end;
		await flush();
	}
}

interface Call<T> {
	readonly startedAt: number;
	readonly signal: AbortSignal;
	resolve(value: T): void;
	reject(error: unknown): void;
}

/** A panel whose loads settle only when the test says so. */
function manualPanel<T>(clock: Clock, id: string, every = 1): {spec: PanelSpec<T>; calls: Array<Call<T>>} {
	const calls: Array<Call<T>> = [];
	const load = async (signal: AbortSignal): Promise<T> =>
		new Promise<T>((resolve, reject) => {
			calls.push({startedAt: clock.now(), signal, resolve, reject});
		});
	return {spec: {id, every, load}, calls};
}

/** A panel whose every load takes `durationMs` of clock time, then returns its call number or throws `fail`. */
function timedPanel(
	clock: FakeClock,
	id: string,
	every: number,
	durationMs: number,
	fail?: () => Error | undefined,
): {spec: PanelSpec<number>; starts: number[]} {
	const starts: number[] = [];
	const load = async (): Promise<number> => {
		starts.push(clock.now());
		const n = starts.length;
		await new Promise<void>((resolve) => clock.setTimeout(resolve, durationMs));
		const error = fail?.();
		if (error) throw error;
		return n;
	};
	return {spec: {id, every, load}, starts};
}

const abortError = (): Error => new DOMException('This operation was aborted', 'AbortError');

describe('cadence', () => {
	it('schedules the next load every × base after the previous one finishes, not starts', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const rates = timedPanel(clock, 'rates', 1, 200);
		const summary = timedPanel(clock, 'summary', 3, 200);
		scheduler.add(rates.spec);
		scheduler.add(summary.spec);
		scheduler.start();
		await clock.advance(3500);
		expect(rates.starts).toEqual([0, 1200, 2400]);
		expect(summary.starts).toEqual([0, 3200]);
		expect(scheduler.state('rates').nextAt).toBe(3600);
		expect(scheduler.state('rates').lastDurationMs).toBe(200);
		scheduler.stop();
	});

	it('loads nothing before start, and a panel added after start right away', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const early = timedPanel(clock, 'early', 1, 0);
		scheduler.add(early.spec);
		await clock.advance(5000);
		expect(early.starts).toEqual([]);
		scheduler.start();
		const late = timedPanel(clock, 'late', 5, 0);
		await clock.advance(100);
		scheduler.add(late.spec);
		await clock.advance(0);
		expect(early.starts).toEqual([5000]);
		expect(late.starts).toEqual([5100]);
		scheduler.stop();
	});

	it('applies a new base interval to the pending timers, counted from the last load', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = timedPanel(clock, 'rates', 1, 0);
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(100);
		scheduler.setBaseInterval(5000);
		expect(scheduler.baseIntervalMs).toBe(5000);
		expect(scheduler.state('rates').nextAt).toBe(5000);
		await clock.advance(4800);
		expect(panel.starts).toEqual([0]);
		await clock.advance(100);
		expect(panel.starts).toEqual([0, 5000]);
		scheduler.setBaseInterval(Number.NaN);
		scheduler.setBaseInterval(1);
		expect(scheduler.baseIntervalMs).toBe(100);
		scheduler.stop();
	});
});

describe('one load per panel at a time', () => {
	it('does not start a panel again while its load is still running, however overdue', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = manualPanel<string>(clock, 'rates');
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(30_000);
		expect(panel.calls).toHaveLength(1);
		expect(scheduler.state('rates').loading).toBe(true);
		scheduler.stop();
	});

	it('reruns a panel once after its load when refreshNow came during it, never in parallel', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = manualPanel<string>(clock, 'rates');
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(100);
		scheduler.refreshNow();
		scheduler.refreshNow();
		await clock.advance(0);
		expect(panel.calls).toHaveLength(1);
		panel.calls[0]!.resolve('first');
		await clock.advance(0);
		expect(panel.calls).toHaveLength(2);
		expect(panel.calls[1]!.startedAt).toBe(100);
		panel.calls[1]!.resolve('second');
		await clock.advance(999);
		expect(panel.calls).toHaveLength(2);
		expect(scheduler.state('rates').data).toBe('second');
		scheduler.stop();
	});

	it('refreshNow on idle panels loads each of them now', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const rates = timedPanel(clock, 'rates', 1, 0);
		const summary = timedPanel(clock, 'summary', 3, 0);
		scheduler.add(rates.spec);
		scheduler.add(summary.spec);
		scheduler.start();
		await clock.advance(400);
		scheduler.refreshNow();
		await clock.advance(0);
		expect(rates.starts).toEqual([0, 400]);
		expect(summary.starts).toEqual([0, 400]);
		scheduler.stop();
	});
});

describe('backoff', () => {
	it('doubles the wait after each consecutive error, up to the cap, and resets on success', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock, maxBackoffMs: 5000});
		let failing = true;
		const panel = timedPanel(clock, 'rates', 1, 0, () => (failing ? new Error('connection refused') : undefined));
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(16_000);
		// Gaps 2 s, 4 s, then 8 s capped at 5 s.
		expect(panel.starts).toEqual([0, 2000, 6000, 11_000, 16_000]);
		expect(scheduler.state('rates').failures).toBe(5);
		failing = false;
		await clock.advance(5000);
		expect(panel.starts.at(-1)).toBe(21_000);
		expect(scheduler.state('rates').failures).toBe(0);
		expect(scheduler.state('rates').nextAt).toBe(22_000);
		failing = true;
		await clock.advance(3000);
		expect(panel.starts.slice(-2)).toEqual([22_000, 24_000]);
		scheduler.stop();
	});

	it('uses cadence × 2^failures, capped by maxBackoffMs but never below the cadence', () => {
		const base = {durationMs: 0, maxBackoffMs: 60_000};
		expect(errorBackoffMs({...base, cadenceMs: 3000, failures: 0})).toBe(3000);
		expect(errorBackoffMs({...base, cadenceMs: 3000, failures: 1})).toBe(6000);
		expect(errorBackoffMs({...base, cadenceMs: 3000, failures: 3})).toBe(24_000);
		expect(errorBackoffMs({...base, cadenceMs: 3000, failures: 50})).toBe(60_000);
		expect(errorBackoffMs({...base, cadenceMs: 90_000, failures: 2})).toBe(90_000);
	});

	it('stretches the wait after a load slower than half its cadence to twice its duration', async () => {
		expect(nextDelayMs({cadenceMs: 1000, failures: 0, durationMs: 400, maxBackoffMs: 60_000})).toBe(1000);
		expect(nextDelayMs({cadenceMs: 1000, failures: 0, durationMs: 800, maxBackoffMs: 60_000})).toBe(1600);
		// A timed-out query is both a failure and slow: the longer wait wins, beyond the error cap.
		expect(nextDelayMs({cadenceMs: 1000, failures: 1, durationMs: 40_000, maxBackoffMs: 60_000})).toBe(80_000);

		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const slow = timedPanel(clock, 'slow', 1, 800);
		scheduler.add(slow.spec);
		scheduler.start();
		await clock.advance(60_000);
		expect(slow.starts.slice(0, 3)).toEqual([0, 2400, 4800]);
		const busyMs = slow.starts.reduce((sum, start) => sum + Math.min(800, 60_000 - start), 0);
		expect(busyMs / 60_000).toBeLessThanOrEqual(0.34);
		scheduler.stop();
	});
});

describe('errors', () => {
	it('keeps the last good data, marks it stale, reports one line, and clears all that on success', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = manualPanel<string>(clock, 'summary');
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(50);
		panel.calls[0]!.resolve('good');
		await clock.advance(0);
		expect(scheduler.state('summary')).toMatchObject({data: 'good', stale: false, error: undefined, lastSuccessAt: 50});

		await clock.advance(1000);
		panel.calls[1]!.reject(new Error('canceling statement due to statement timeout\n    at Parser.parseErrorMessage'));
		await clock.advance(0);
		expect(scheduler.state('summary')).toMatchObject({
			data: 'good',
			stale: true,
			error: 'canceling statement due to statement timeout',
			lastSuccessAt: 50,
			failures: 1,
			loading: false,
		});
		expect(scheduler.status().failing).toEqual(['summary']);

		await clock.advance(2000);
		panel.calls[2]!.resolve('better');
		await clock.advance(0);
		expect(scheduler.state('summary')).toMatchObject({data: 'better', stale: false, error: undefined, failures: 0});
		expect(scheduler.status().failing).toEqual([]);
		scheduler.stop();
	});

	it('turns a load that throws synchronously, or rejects with a non-Error, into a reported failure', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		scheduler.add({
			id: 'sync',
			every: 1,
			load: () => {
				throw new TypeError('source is closed');
			},
		});
		scheduler.add({id: 'string', every: 1, load: async () => Promise.reject('no such table: logs\nmore')});
		scheduler.start();
		await clock.advance(0);
		expect(scheduler.state('sync')).toMatchObject({error: 'source is closed', stale: true, failures: 1});
		expect(scheduler.state('string')).toMatchObject({error: 'no such table: logs', failures: 1});
		scheduler.stop();
	});

	it('makes one line out of anything thrown', () => {
		expect(errorLine(new Error('first\r\nsecond'))).toBe('first');
		expect(errorLine(new Error('\n  \n  indented first  \nsecond'))).toBe('indented first');
		expect(errorLine(new RangeError(''))).toBe('RangeError');
		expect(errorLine(new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:5432')], ''))).toBe(
			'connect ECONNREFUSED 127.0.0.1:5432',
		);
		expect(errorLine(42)).toBe('42');
		expect(errorLine(undefined)).toBe('undefined');
		expect(errorLine('')).toBe('unknown error');
		const hostile = {
			toString(): string {
				throw new Error('nope');
			},
		};
		expect(errorLine(hostile)).toBe('unknown error');
	});
});

describe('a server out of reach', () => {
	/** What a source's query throws while its server is down. */
	let refused: Error;
	beforeAll(async () => {
		refused = await refusedConnection();
	});

	it('says why, and retries at most every 10 s while errors of the server itself back off to the minute', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const down = timedPanel(clock, 'down', 1, 0, () => refused);
		const broken = timedPanel(clock, 'broken', 1, 0, () => new Error('relation "logs" does not exist'));
		scheduler.add(down.spec);
		scheduler.add(broken.spec);
		scheduler.start();
		await clock.advance(70_000);
		// Gaps 2, 4, 8 s, then 16 s capped at 10 s; the other 2, 4, 8, 16, 32, then 60 s.
		expect(down.starts.slice(0, 7)).toEqual([0, 2000, 6000, 14_000, 24_000, 34_000, 44_000]);
		expect(broken.starts).toEqual([0, 2000, 6000, 14_000, 30_000, 62_000]);
		expect(scheduler.state('down')).toMatchObject({disconnected: 'connection refused', error: expect.stringContaining('ECONNREFUSED'), stale: true});
		expect(scheduler.state('broken')).toMatchObject({disconnected: undefined, error: 'relation "logs" does not exist'});
		scheduler.stop();
	});

	it('does not stretch the wait after a connect that timed out, as it does after a slow query', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const timedOut = await new Promise<Error>((resolve) => {
			// A listener that never answers, and pg's connection timeout against it.
			const silent = createServer(() => undefined);
			silent.listen(0, '127.0.0.1', () => {
				const {port} = silent.address() as AddressInfo;
				new pg.Client({host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 100}).connect().catch((error: Error) => {
					silent.close();
					resolve(error);
				});
			});
		});
		const black = timedPanel(clock, 'black', 1, 5000, () => timedOut);
		scheduler.add(black.spec);
		scheduler.start();
		await clock.advance(60_000);
		// Each try takes 5 s, then waits 2, 4, 8, then 10 s: not twice its 5 s.
		expect(black.starts.slice(0, 6)).toEqual([0, 7000, 16_000, 29_000, 44_000, 59_000]);
		expect(scheduler.state('black').disconnected).toBe('connect timed out');
		scheduler.stop();
	});

	it('takes a shorter reconnect cap, but never one longer than maxBackoffMs', async () => {
		const clock = new FakeClock();
		const short = new PollScheduler({baseIntervalMs: 1000, clock, maxReconnectBackoffMs: 3000});
		const down = timedPanel(clock, 'down', 1, 0, () => refused);
		short.add(down.spec);
		short.start();
		await clock.advance(12_000);
		expect(down.starts).toEqual([0, 2000, 5000, 8000, 11_000]);
		short.stop();

		const capped = new PollScheduler({baseIntervalMs: 1000, clock, maxBackoffMs: 4000, maxReconnectBackoffMs: 30_000});
		const other = timedPanel(clock, 'other', 1, 0, () => refused);
		capped.add(other.spec);
		capped.start();
		const from = clock.now();
		await clock.advance(14_000);
		expect(other.starts.map((at) => at - from)).toEqual([0, 2000, 6000, 10_000, 14_000]);
		capped.stop();
	});

	it('tries the panels that could not reach the server together, at the soonest of their next tries', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const rates = timedPanel(clock, 'rates', 1, 0, () => refused);
		const pages = timedPanel(clock, 'pages', 5, 0, () => refused);
		const broken = timedPanel(clock, 'broken', 5, 0, () => new Error('permission denied for table logs'));
		for (const panel of [rates, pages, broken]) scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(2500);
		// rates failed again at 2 s and tries next at 6 s; pages (10 s on its own) comes along.
		expect(scheduler.state('rates').nextAt).toBe(6000);
		expect(scheduler.state('pages').nextAt).toBe(6000);
		expect(scheduler.state('broken').nextAt).toBe(10_000);
		await clock.advance(4000);
		expect(pages.starts).toEqual([0, 6000]);
		expect(broken.starts).toEqual([0]);
		scheduler.stop();
	});

	it('once one of them reaches the server, tries the others at once, and clears their reason when they do', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		let serverUp = false;
		const fails = () => (serverUp ? undefined : refused);
		const rates = timedPanel(clock, 'rates', 1, 0, fails);
		const pages = timedPanel(clock, 'pages', 5, 0, fails);
		const broken = timedPanel(clock, 'broken', 5, 0, () => new Error('permission denied for table logs'));
		for (const panel of [rates, pages, broken]) scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(3000);
		expect(scheduler.state('rates').nextAt).toBe(6000);
		serverUp = true;
		// A new question (the next page, say) loads at once and finds the server back: the others follow.
		scheduler.invalidate('pages');
		await clock.advance(0);
		expect(pages.starts).toEqual([0, 3000]);
		expect(rates.starts).toEqual([0, 2000, 3000]);
		expect(broken.starts).toEqual([0]);
		expect(scheduler.state('rates')).toMatchObject({disconnected: undefined, error: undefined, stale: false, failures: 0, nextAt: 4000});
		scheduler.stop();
	});

	it('is not hurried by the successes of panels that never failed to reach it: they may not have asked it', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const rates = timedPanel(clock, 'rates', 1, 0, () => refused);
		// A figure of this machine's, or an answer kept from before the server went away.
		const local = timedPanel(clock, 'local', 1, 0);
		scheduler.add(rates.spec);
		scheduler.add(local.spec);
		scheduler.start();
		await clock.advance(12_000);
		expect(local.starts.length).toBeGreaterThan(10);
		expect(rates.starts).toEqual([0, 2000, 6000]);
		expect(scheduler.state('rates').disconnected).toBe('connection refused');
		scheduler.stop();
	});

	it('does not hurry them while paused', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const down = timedPanel(clock, 'down', 5, 0, () => refused);
		const page = manualPanel<string>(clock, 'page');
		scheduler.add(down.spec);
		scheduler.start();
		await clock.advance(100);
		scheduler.pause();
		scheduler.add(page.spec); // a new page still loads while paused
		await clock.advance(0);
		page.calls[0]!.resolve('rows');
		await clock.advance(30_000);
		expect(down.starts).toEqual([0]);
		expect(scheduler.state('down').disconnected).toBe('connection refused');
		scheduler.stop();
	});
});

describe('pause', () => {
	it('stops new loads, lets the one in flight land, and resumes with an overdue panel loading at once', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = manualPanel<string>(clock, 'rates');
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(10);
		scheduler.pause();
		expect(scheduler.paused).toBe(true);
		expect(scheduler.status().paused).toBe(true);
		panel.calls[0]!.resolve('landed');
		await clock.advance(0);
		expect(scheduler.state('rates')).toMatchObject({data: 'landed', loading: false, nextAt: undefined});
		expect(clock.pendingTimers).toBe(0);
		await clock.advance(20_000);
		expect(panel.calls).toHaveLength(1);

		scheduler.resume();
		expect(scheduler.paused).toBe(false);
		await clock.advance(0);
		expect(panel.calls).toHaveLength(2);
		expect(panel.calls[1]!.startedAt).toBe(20_010);
		scheduler.stop();
	});

	it('resumes a panel that is not yet due at its due time', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = timedPanel(clock, 'summary', 3, 0);
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(1000);
		scheduler.pause();
		await clock.advance(500);
		scheduler.resume();
		expect(scheduler.state('summary').nextAt).toBe(3000);
		await clock.advance(2000);
		expect(panel.starts).toEqual([0, 3000]);
		scheduler.stop();
	});

	it('still honours an invalidation while paused, once, without restarting the cadence', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = timedPanel(clock, 'accounts', 5, 0);
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(100);
		scheduler.pause();
		scheduler.invalidate('accounts');
		await clock.advance(60_000);
		expect(panel.starts).toEqual([0, 100]);
		scheduler.stop();
	});
});

describe('invalidate', () => {
	it('aborts the running load, ignores its late result, and reloads once it has settled', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = manualPanel<string>(clock, 'accounts', 5);
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(0);
		panel.calls[0]!.resolve('page 1');
		await clock.advance(5000);
		expect(panel.calls).toHaveLength(2);

		scheduler.invalidate('accounts');
		expect(panel.calls[1]!.signal.aborted).toBe(true);
		expect(scheduler.state('accounts')).toMatchObject({data: 'page 1', stale: true, loading: true});
		await clock.advance(0);
		// The aborted load has not settled yet: no second load of the same panel beside it.
		expect(panel.calls).toHaveLength(2);

		// A source that ignores the signal answers the old query anyway.
		panel.calls[1]!.resolve('page 1 again');
		await clock.advance(0);
		expect(panel.calls).toHaveLength(3);
		expect(scheduler.state('accounts').data).toBe('page 1');

		panel.calls[2]!.resolve('page 2');
		await clock.advance(0);
		expect(scheduler.state('accounts')).toMatchObject({data: 'page 2', stale: false, loading: false});
		scheduler.stop();
	});

	it('does not report the AbortError of a load it aborted', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = manualPanel<string>(clock, 'accounts', 5);
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(0);
		scheduler.invalidate('accounts');
		panel.calls[0]!.reject(abortError());
		await clock.advance(0);
		expect(scheduler.state('accounts')).toMatchObject({error: undefined, failures: 0, loading: true});
		expect(panel.calls).toHaveLength(2);
		expect(panel.calls[1]!.signal.aborted).toBe(false);
		scheduler.stop();
	});

	it('reports an AbortError it did not cause, such as a source timeout', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = manualPanel<string>(clock, 'rates');
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(0);
		panel.calls[0]!.reject(abortError());
		await clock.advance(0);
		expect(scheduler.state('rates')).toMatchObject({error: 'This operation was aborted', failures: 1});
		scheduler.stop();
	});

	it('treats re-adding a panel as a new query for it', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const first = manualPanel<string>(clock, 'accounts', 5);
		const second = manualPanel<string>(clock, 'accounts', 5);
		scheduler.add(first.spec);
		scheduler.start();
		await clock.advance(0);
		scheduler.add(second.spec);
		expect(first.calls[0]!.signal.aborted).toBe(true);
		first.calls[0]!.resolve('old query');
		await clock.advance(0);
		expect(second.calls).toHaveLength(1);
		second.calls[0]!.resolve('new query');
		await clock.advance(0);
		expect(scheduler.state('accounts').data).toBe('new query');
		scheduler.stop();
	});
});

describe('remove and stop', () => {
	it('remove aborts the load, reports nothing, and a panel re-added under the id waits for that load', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const old = manualPanel<string>(clock, 'postgres');
		scheduler.add(old.spec);
		scheduler.start();
		await clock.advance(0);
		scheduler.remove('postgres');
		expect(old.calls[0]!.signal.aborted).toBe(true);
		expect(scheduler.state('postgres')).toMatchObject({data: undefined, loading: false});

		const again = manualPanel<string>(clock, 'postgres');
		scheduler.add(again.spec);
		await clock.advance(0);
		expect(again.calls).toHaveLength(0);
		old.calls[0]!.reject(abortError());
		await clock.advance(0);
		expect(again.calls).toHaveLength(1);
		expect(scheduler.state('postgres').error).toBeUndefined();
		scheduler.stop();
	});

	it('stop aborts everything, reports nothing, leaves no timers, and start loads again', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const running = manualPanel<string>(clock, 'summary', 3);
		const idle = timedPanel(clock, 'rates', 1, 0);
		scheduler.add(running.spec);
		scheduler.add(idle.spec);
		scheduler.start();
		await clock.advance(500);
		expect(clock.pendingTimers).toBe(1);

		scheduler.stop();
		expect(clock.pendingTimers).toBe(0);
		expect(running.calls[0]!.signal.aborted).toBe(true);
		running.calls[0]!.reject(abortError());
		await clock.advance(10_000);
		expect(scheduler.state('summary')).toMatchObject({error: undefined, loading: false, nextAt: undefined});
		expect(idle.starts).toEqual([0]);
		expect(running.calls).toHaveLength(1);
		expect(clock.pendingTimers).toBe(0);

		scheduler.start();
		await clock.advance(0);
		expect(idle.starts).toEqual([0, 10_500]);
		expect(running.calls).toHaveLength(2);
		scheduler.stop();
	});
});

describe('listeners and state', () => {
	it('keeps polling and notifying the others when a listener throws', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = timedPanel(clock, 'rates', 1, 0);
		let calls = 0;
		scheduler.subscribe(() => {
			throw new Error('render bug');
		});
		const unsubscribe = scheduler.subscribe(() => {
			calls += 1;
		});
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(3000);
		expect(panel.starts).toEqual([0, 1000, 2000, 3000]);
		expect(scheduler.state('rates').data).toBe(4);
		expect(calls).toBeGreaterThan(0);
		const seen = calls;
		unsubscribe();
		await clock.advance(1000);
		expect(calls).toBe(seen);
		scheduler.stop();
	});

	it('replaces a panel state object only when it changes, and reports the last refresh', async () => {
		const clock = new FakeClock();
		const scheduler = new PollScheduler({baseIntervalMs: 1000, clock});
		const panel = timedPanel(clock, 'rates', 1, 120);
		scheduler.add(panel.spec);
		scheduler.start();
		await clock.advance(500);
		const before = scheduler.state('rates');
		const status = scheduler.status();
		expect(scheduler.state('rates')).toBe(before);
		expect(status).toBe(scheduler.status());
		expect(status).toMatchObject({lastRefreshAt: 120, lastRefreshMs: 120, baseIntervalMs: 1000, loading: false});
		scheduler.pause();
		expect(scheduler.state('rates')).not.toBe(before);
		expect(scheduler.state('rates').nextAt).toBeUndefined();
		expect(scheduler.state('unknown')).toMatchObject({data: undefined, loading: false, failures: 0});
		scheduler.stop();
	});
});
