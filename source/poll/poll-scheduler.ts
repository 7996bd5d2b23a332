import {errorBackoffMs, nextDelayMs} from './backoff.js';
import {systemClock, type Clock} from './clock.js';
import {connectionFailure} from './connection-failure.js';
import {errorLine} from './error-line.js';

export type {Clock} from './clock.js';

export interface PanelSpec<T> {
	readonly id: string;
	/** Cadence as a multiple of the base interval: 1 for rates, 3 for summaries, 5 for pages (pages also reload on invalidate). */
	readonly every: number;
	readonly load: (signal: AbortSignal) => Promise<T>;
}

/**
 * A panel as the UI shows it. Immutable: a new object replaces it on every change and only then, so
 * `useSyncExternalStore(scheduler.subscribe, () => scheduler.state(id))` is safe.
 */
export interface PanelState<T> {
	/** Last good data, kept on error. */
	readonly data: T | undefined;
	/** One line, from the last failed load; cleared by a success. */
	readonly error: string | undefined;
	/**
	 * The last load failed because the server could not be reached: why, in a few words
	 * ("connection refused", "server starting up"; see connection-failure.ts). Cleared by a success.
	 */
	readonly disconnected: string | undefined;
	/** The last load failed, or the data answers a query that has since been invalidated. */
	readonly stale: boolean;
	readonly loading: boolean;
	readonly lastSuccessAt: number | undefined;
	/** How long the last load that counted took, success or failure. */
	readonly lastDurationMs: number | undefined;
	/** Consecutive failures. */
	readonly failures: number;
	/** When the next load is due; undefined while loading, paused or stopped. */
	readonly nextAt: number | undefined;
}

/** What the status bar shows. Replaced on every change, like PanelState. */
export interface SchedulerStatus {
	readonly paused: boolean;
	readonly baseIntervalMs: number;
	/** Some panel is loading right now. */
	readonly loading: boolean;
	/** When the most recent successful load of any panel finished, and how long it took. */
	readonly lastRefreshAt: number | undefined;
	readonly lastRefreshMs: number | undefined;
	/** Ids of the panels whose last load failed. */
	readonly failing: readonly string[];
}

export interface PollSchedulerOptions {
	readonly baseIntervalMs: number;
	readonly clock?: Clock;
	/** Longest wait after errors (60 s by default); never shorter than the panel's own cadence. */
	readonly maxBackoffMs?: number;
	/** Longest wait after a failure to reach the server (10 s by default, and never more than maxBackoffMs). */
	readonly maxReconnectBackoffMs?: number;
}

const DEFAULT_BASE_INTERVAL_MS = 2000;
const MIN_BASE_INTERVAL_MS = 100;
const DEFAULT_MAX_BACKOFF_MS = 60_000;
/**
 * A server that refuses connections does no work for them, so trying again costs it nothing; and a
 * restart is back within seconds. Waiting a minute would leave the screen stale long after that.
 */
const DEFAULT_MAX_RECONNECT_BACKOFF_MS = 10_000;

const IDLE: PanelState<never> = Object.freeze({
	data: undefined,
	error: undefined,
	disconnected: undefined,
	stale: false,
	loading: false,
	lastSuccessAt: undefined,
	lastDurationMs: undefined,
	failures: 0,
	nextAt: undefined,
});

type Outcome = {readonly ok: true; readonly value: unknown} | {readonly ok: false; readonly error: unknown};

interface Entry {
	spec: PanelSpec<unknown>;
	every: number;
	state: PanelState<unknown>;
	timer: {readonly handle: unknown} | undefined;
	/** Set while a load runs, until it settles, even after it was aborted. */
	controller: AbortController | undefined;
	/** Bumped to disown the running load: its outcome is then ignored. */
	generation: number;
	/** Load as soon as possible (never loaded, invalidated, refresh asked), not at the cadence. */
	dirty: boolean;
	/** Load no later than this: the next try at the server, shared by the panels that could not reach it. */
	retryAt: number | undefined;
	lastLoad: {readonly finishedAt: number; readonly durationMs: number} | undefined;
}

/**
 * Runs each panel's load on its own cadence, one load per panel at a time, with backoff after
 * errors and slow loads. Nothing it does throws: failures end up in the panel's state.
 */
export class PollScheduler {
	private readonly clock: Clock;
	private readonly maxBackoffMs: number;
	private readonly maxReconnectBackoffMs: number;
	private base: number;
	private started = false;
	private isPaused = false;
	private readonly entries = new Map<string, Entry>();
	/** Removed panels whose aborted load has not settled yet: a panel re-added under the same id waits for it. */
	private readonly draining = new Map<string, Entry>();
	private readonly listeners = new Set<() => void>();
	private lastRefresh: {readonly at: number; readonly ms: number} | undefined;
	private snapshot: SchedulerStatus;

	constructor(options: PollSchedulerOptions) {
		this.clock = options.clock ?? systemClock;
		this.base = clampInterval(options.baseIntervalMs, DEFAULT_BASE_INTERVAL_MS);
		const maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
		this.maxBackoffMs = Number.isFinite(maxBackoffMs) && maxBackoffMs >= 0 ? maxBackoffMs : DEFAULT_MAX_BACKOFF_MS;
		const maxReconnectBackoffMs = options.maxReconnectBackoffMs ?? DEFAULT_MAX_RECONNECT_BACKOFF_MS;
		this.maxReconnectBackoffMs = Math.min(this.maxBackoffMs, Number.isFinite(maxReconnectBackoffMs) && maxReconnectBackoffMs >= 0 ? maxReconnectBackoffMs : DEFAULT_MAX_RECONNECT_BACKOFF_MS);
		this.snapshot = this.computeStatus();
	}

	get paused(): boolean {
		return this.isPaused;
	}

	get baseIntervalMs(): number {
		return this.base;
	}

	/** Adding an id that exists replaces its loader (a new query) and invalidates it. */
	add<T>(spec: PanelSpec<T>): void {
		const existing = this.entries.get(spec.id);
		if (existing) {
			existing.spec = spec;
			existing.every = sanitizeEvery(spec.every);
			this.invalidate(spec.id);
			return;
		}
		const entry: Entry = {
			spec,
			every: sanitizeEvery(spec.every),
			state: IDLE,
			timer: undefined,
			controller: undefined,
			generation: 0,
			dirty: true,
			retryAt: undefined,
			lastLoad: undefined,
		};
		this.entries.set(spec.id, entry);
		this.plan(entry);
		this.notify();
	}

	remove(id: string): void {
		const entry = this.entries.get(id);
		if (!entry) return;
		this.entries.delete(id);
		this.clearTimer(entry);
		if (entry.controller) {
			this.disown(entry);
			this.draining.set(id, entry);
		}
		this.notify();
	}

	/** Loads every panel now, then keeps each on its cadence. */
	start(): void {
		this.started = true;
		this.refreshNow();
	}

	/** Aborts every load (their outcomes are ignored) and clears every timer. */
	stop(): void {
		this.started = false;
		for (const entry of this.entries.values()) {
			if (entry.controller) this.disown(entry);
		}
		this.replanAll();
		this.notify();
	}

	/**
	 * Stops the cadence; loads in flight finish and are shown. Explicit requests (refreshNow,
	 * invalidate, a newly added panel) still load once, so paging works while paused.
	 */
	pause(): void {
		this.isPaused = true;
		this.replanAll();
		this.notify();
	}

	/** Restarts the cadence; a panel already overdue loads now. */
	resume(): void {
		this.isPaused = false;
		this.replanAll();
		this.notify();
	}

	/** Every panel, now; a panel in flight reruns once when it settles. */
	refreshNow(): void {
		for (const entry of this.entries.values()) entry.dirty = true;
		this.replanAll();
		this.notify();
	}

	/**
	 * The panel's query changed: abort its running load, ignore that load's outcome, and load again as
	 * soon as it has settled (so two loads of one panel never run at once).
	 */
	invalidate(id: string): void {
		const entry = this.entries.get(id);
		if (!entry) return;
		if (entry.controller) this.disown(entry);
		entry.dirty = true;
		// What is on screen answers the previous query until the reload lands.
		if (entry.state.lastSuccessAt !== undefined) this.update(entry, {stale: true});
		this.plan(entry);
		this.notify();
	}

	/** Takes effect on the pending timers right away, counted from each panel's last load. */
	setBaseInterval(ms: number): void {
		this.base = clampInterval(ms, this.base);
		this.replanAll();
		this.notify();
	}

	state<T>(id: string): PanelState<T> {
		return (this.entries.get(id)?.state ?? IDLE) as PanelState<T>;
	}

	status(): SchedulerStatus {
		return this.snapshot;
	}

	/** Called after any state change; returns unsubscribe. A bound function, safe to pass around. */
	readonly subscribe = (listener: () => void): (() => void) => {
		this.listeners.add(listener);
		return () => {
			this.listeners.delete(listener);
		};
	};

	private replanAll(): void {
		for (const entry of this.entries.values()) this.plan(entry);
	}

	/** The one place that decides when a panel loads next: now, on a timer, or not until something changes. */
	private plan(entry: Entry): void {
		this.clearTimer(entry);
		const busy = entry.controller !== undefined || this.draining.has(entry.spec.id);
		if (!this.started || busy || (this.isPaused && !entry.dirty)) {
			this.update(entry, {nextAt: undefined});
			return;
		}
		const now = this.clock.now();
		const dueAt = entry.dirty || !entry.lastLoad ? now : Math.min(entry.lastLoad.finishedAt + this.delayAfter(entry, entry.lastLoad), entry.retryAt ?? Number.POSITIVE_INFINITY);
		if (dueAt <= now) {
			this.launch(entry);
			return;
		}
		entry.timer = {handle: this.clock.setTimeout(() => this.onTimer(entry), dueAt - now)};
		this.update(entry, {nextAt: dueAt});
	}

	private delayAfter(entry: Entry, lastLoad: {readonly durationMs: number}): number {
		const input = {cadenceMs: this.base * entry.every, failures: entry.state.failures, durationMs: lastLoad.durationMs};
		if (entry.state.disconnected === undefined) return nextDelayMs({...input, maxBackoffMs: this.maxBackoffMs});
		// Time spent failing to reach the server (a connect timeout) cost it nothing: no slow-load wait.
		return errorBackoffMs({...input, maxBackoffMs: this.maxReconnectBackoffMs});
	}

	private onTimer(entry: Entry): void {
		entry.timer = undefined;
		this.launch(entry);
		this.notify();
	}

	private launch(entry: Entry): void {
		const controller = new AbortController();
		const generation = entry.generation;
		const startedAt = this.clock.now();
		entry.controller = controller;
		entry.dirty = false;
		entry.retryAt = undefined;
		this.update(entry, {loading: true, nextAt: undefined});
		void settle(entry.spec.load, controller.signal).then((outcome) => {
			this.finish(entry, generation, startedAt, outcome);
		});
	}

	private finish(entry: Entry, generation: number, startedAt: number, outcome: Outcome): void {
		entry.controller = undefined;
		const id = entry.spec.id;
		if (this.draining.get(id) === entry) {
			this.draining.delete(id);
			const successor = this.entries.get(id);
			if (successor) this.plan(successor);
		} else if (generation === entry.generation) {
			const reconnected = outcome.ok && entry.state.disconnected !== undefined;
			this.record(entry, startedAt, outcome);
			this.plan(entry);
			if (reconnected) this.retryDisconnected();
			else if (entry.state.disconnected !== undefined) this.retryTogether(entry);
		} else {
			// Disowned by invalidate or stop: whatever it returned answers an old question.
			this.update(entry, {loading: false});
			this.plan(entry);
		}
		this.notify();
	}

	private record(entry: Entry, startedAt: number, outcome: Outcome): void {
		const finishedAt = this.clock.now();
		const durationMs = Math.max(0, finishedAt - startedAt);
		entry.lastLoad = {finishedAt, durationMs};
		if (outcome.ok) {
			this.lastRefresh = {at: finishedAt, ms: durationMs};
			this.update(entry, {
				data: outcome.value,
				error: undefined,
				disconnected: undefined,
				stale: false,
				loading: false,
				lastSuccessAt: finishedAt,
				lastDurationMs: durationMs,
				failures: 0,
			});
		} else {
			this.update(entry, {
				error: errorLine(outcome.error),
				disconnected: connectionFailure(outcome.error) ?? undefined,
				stale: true,
				loading: false,
				lastDurationMs: durationMs,
				failures: entry.state.failures + 1,
			});
		}
	}

	/**
	 * A panel that could not reach the server just did: the others waiting out such a failure try now
	 * rather than at the end of their backoff, and the whole screen is live again at once. Only that
	 * panel's success tells: any other may have been served without the server (a file of this
	 * machine's, an answer kept from before), and would defeat the backoff while it is down. Only
	 * those waiting on a timer: none waits while paused, and a load under way will tell soon enough.
	 */
	private retryDisconnected(): void {
		for (const entry of this.entries.values()) {
			if (entry.state.disconnected === undefined || entry.timer === undefined) continue;
			entry.dirty = true;
			this.plan(entry);
		}
	}

	/**
	 * The server is still out of reach: the other panels that could not reach it try again with this
	 * one, when that is sooner than their own backoff. One try tells for all of them, and the status
	 * bar counts down to one time rather than to whichever panel happens to be next.
	 */
	private retryTogether(entry: Entry): void {
		const at = entry.state.nextAt;
		if (at === undefined) return;
		for (const other of this.entries.values()) {
			if (other === entry || other.state.disconnected === undefined || other.timer === undefined || (other.state.nextAt ?? 0) <= at) continue;
			other.retryAt = at;
			this.plan(other);
		}
	}

	/** Aborts the running load and makes sure its outcome, whatever it is, is ignored. */
	private disown(entry: Entry): void {
		entry.generation += 1;
		entry.controller?.abort();
	}

	private clearTimer(entry: Entry): void {
		if (!entry.timer) return;
		this.clock.clearTimeout(entry.timer.handle);
		entry.timer = undefined;
	}

	/** Replaces the state object only when something changed, so its identity means "unchanged". */
	private update(entry: Entry, patch: Partial<PanelState<unknown>>): void {
		const changed = (Object.keys(patch) as Array<keyof PanelState<unknown>>).some(
			(key) => entry.state[key] !== patch[key],
		);
		if (changed) entry.state = {...entry.state, ...patch};
	}

	private notify(): void {
		this.snapshot = this.computeStatus();
		for (const listener of [...this.listeners]) {
			try {
				listener();
			} catch {
				// A broken view must not stop the polling that could let it recover.
			}
		}
	}

	private computeStatus(): SchedulerStatus {
		const entries = [...this.entries.values()];
		return {
			paused: this.isPaused,
			baseIntervalMs: this.base,
			loading: entries.some((entry) => entry.state.loading),
			lastRefreshAt: this.lastRefresh?.at,
			lastRefreshMs: this.lastRefresh?.ms,
			failing: entries.filter((entry) => entry.state.error !== undefined).map((entry) => entry.spec.id),
		};
	}
}

/** Never rejects: a load that throws, synchronously or not, becomes a failed outcome. */
async function settle(load: (signal: AbortSignal) => Promise<unknown>, signal: AbortSignal): Promise<Outcome> {
	try {
		return {ok: true, value: await load(signal)};
	} catch (error) {
		return {ok: false, error};
	}
}

function clampInterval(ms: number, fallback: number): number {
	return Number.isFinite(ms) ? Math.max(MIN_BASE_INTERVAL_MS, ms) : fallback;
}

function sanitizeEvery(every: number): number {
	return Number.isFinite(every) && every > 0 ? every : 1;
}
