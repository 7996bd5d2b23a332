import type {Aggregation, Filters, UsageQuery} from '../../usage/types.js';
import {SHORT_RANGE} from '../../usage/aggregation.js';
import {LiveRollup} from './live-rollup.js';
import type {RollupFeed} from './rollup-feed.js';
import type {UsageRollup} from './usage-rollup.js';

// The rollups of one source, one per set of filters and search, and the policy around them: which
// ranges they serve, how often they are reloaded in full, and how big they may grow.

export interface RollupPolicy {
	/** Shorter ranges are index range scans that cost little: they are queried directly. */
	readonly minSpanMs: number;
	/** A rollup is loaded again in full this often, catching whatever merging cannot see... */
	readonly reconcileMs: number;
	/**
	 * ...but no oftener than keeps its loads under this share of the time: a range whose load takes
	 * 48 s (30 days of 10M rows) is loaded again every 80 minutes at 0.01, not every 10.
	 */
	readonly maxLoadShare: number;
	/** A range whose start moved further than this since the last refresh is loaded again, not merged. */
	readonly maxSlideMs: number;
	/** The groups (over every axis) one rollup may hold; past it, its range is queried directly. */
	readonly maxGroups: number;
	/** The rollups kept at once; the least recently used goes first. */
	readonly maxRollups: number;
}

export const DEFAULT_ROLLUP_POLICY: RollupPolicy = {minSpanMs: 3 * 3_600_000, reconcileMs: 10 * 60_000, maxLoadShare: 0.01, maxSlideMs: 3_600_000, maxGroups: 200_000, maxRollups: 4};

/** A value read from a rollup, or none (undefined) with the reason it was queried directly. */
export interface RollupRead<T> {
	readonly value: T | undefined;
	readonly aggregation: Aggregation;
}

interface Entry {
	rollup: LiveRollup | null;
	/** Set when the rollup grew past the cap: direct queries until the next reconciliation is due. */
	overCapUntilMs: number;
	/** When the next full load is due: every reconcileMs, or at once when asked for. */
	reloadDueAtMs: number;
	/** A full load running beside the rollup in service, which it replaces once done. */
	reloading: Promise<void> | null;
	/** Its result, until the next read swaps it in. */
	reloaded: LiveRollup | null;
	/** Every load and refresh of one entry runs after the one before. */
	queue: Promise<unknown>;
}

/**
 * One rollup per set of filters and search and per kind of range (all, or its length in hours):
 * switching between 7 d and 30 d keeps both, and a range that grows by the hour (today) moves on.
 */
function keyOf(query: UsageQuery): string {
	const {startMs, endMs} = query.range;
	const filters = Object.entries(query.filters)
		.filter(([, value]) => value !== undefined)
		.sort(([a], [b]) => a.localeCompare(b));
	return JSON.stringify([filters, startMs === null ? 'all' : Math.round((endMs - startMs) / 3_600_000)]);
}

const NOT_KEPT = 'no rollup of this range is kept';

export class RangeRollups {
	private readonly entries = new Map<string, Entry>();

	constructor(
		/** The feed of a set of filters and search. */
		private readonly feedFor: (filters: Filters) => Promise<RollupFeed>,
		private readonly policy: RollupPolicy = DEFAULT_ROLLUP_POLICY,
		private readonly now: () => number = Date.now,
	) {}

	/** Whether a range is long enough to be worth a rollup. */
	serves(query: UsageQuery): boolean {
		const {startMs, endMs} = query.range;
		return startMs === null || endMs - startMs >= this.policy.minSpanMs;
	}

	/** Reads the query's rollup brought up to its range, or says why not (value undefined). */
	async read<T>(query: UsageQuery, use: (rollup: UsageRollup) => T): Promise<RollupRead<T>> {
		if (!this.serves(query)) {
			return {value: undefined, aggregation: {mode: 'direct', reason: SHORT_RANGE}};
		}
		const key = keyOf(query);
		let entry = this.entries.get(key);
		if (entry === undefined) {
			entry = {rollup: null, overCapUntilMs: 0, reloadDueAtMs: 0, reloading: null, reloaded: null, queue: Promise.resolve()};
			this.entries.set(key, entry);
			this.evict();
		} else {
			this.entries.delete(key); // most recently used last
			this.entries.set(key, entry);
		}
		return this.queued(entry, () => this.bringUp(entry, query, use, true));
	}

	/**
	 * Reads the query's rollup only if one is already loaded and can be moved to its range: never
	 * loads, reloads or evicts one, nor counts as a use. For a panel that a rollup kept for others
	 * may serve, but that is not worth one of its own (the filter menu's choices under a filter).
	 */
	async peek<T>(query: UsageQuery, use: (rollup: UsageRollup) => T): Promise<RollupRead<T>> {
		const entry = this.serves(query) ? this.entries.get(keyOf(query)) : undefined;
		if (entry === undefined) {
			return {value: undefined, aggregation: {mode: 'direct', reason: NOT_KEPT}};
		}
		return this.queued(entry, () => this.bringUp(entry, query, use, false));
	}

	private queued<T>(entry: Entry, step: () => Promise<T>): Promise<T> {
		const next = entry.queue.then(step);
		entry.queue = next.catch(() => undefined);
		return next;
	}

	/** Every rollup is loaded again in full, beside the one in service, which it replaces once done. */
	reconcile(): void {
		for (const entry of this.entries.values()) {
			entry.reloadDueAtMs = 0;
			entry.overCapUntilMs = 0;
		}
	}

	private async bringUp<T>(entry: Entry, query: UsageQuery, use: (rollup: UsageRollup) => T, mayLoad: boolean): Promise<RollupRead<T>> {
		const nowMs = this.now();
		if (entry.overCapUntilMs > nowMs) {
			return {value: undefined, aggregation: this.overCap()};
		}
		if (entry.reloaded !== null) {
			entry.rollup = entry.reloaded; // it moves from its load's window to this one below, as any rollup does
			entry.reloaded = null;
		}
		let rollup = entry.rollup;
		const stale = rollup === null ? 'rebuild' : rollup.follows(query.range, this.policy.maxSlideMs);
		if (stale === 'behind') {
			return {value: undefined, aggregation: {mode: 'direct', reason: 'an earlier window than the rollup holds'}};
		}
		if (stale === null && (await rollup!.advance(query.range, nowMs)) === 'rebuild') {
			rollup = null;
		}
		if (stale === 'rebuild' || rollup === null) {
			if (!mayLoad) {
				entry.rollup = null; // what advance found needs a full load, which the next read does
				return {value: undefined, aggregation: {mode: 'direct', reason: NOT_KEPT}};
			}
			// Nothing to serve meanwhile: the read waits for the load. A load that fails leaves nothing half-built.
			entry.rollup = null;
			entry.reloaded = null;
			rollup = await this.load(query);
			entry.rollup = rollup;
			entry.reloadDueAtMs = this.nextLoadAt(rollup.loadedAtMs, rollup.loadMs);
		} else if (mayLoad && nowMs >= entry.reloadDueAtMs && entry.reloading === null) {
			this.reloadBeside(entry, query, nowMs);
		}
		if (rollup.rollup.groups > this.policy.maxGroups) {
			entry.rollup = null;
			entry.overCapUntilMs = nowMs + this.policy.reconcileMs;
			return {value: undefined, aggregation: this.overCap()};
		}
		const {loadedAtMs, mergedRows} = rollup.progress;
		return {value: use(rollup.rollup), aggregation: {mode: 'rollup', reconciledAtMs: loadedAtMs, mergedRows, groups: rollup.rollup.groups}};
	}

	private async load(query: UsageQuery): Promise<LiveRollup> {
		return LiveRollup.load(await this.feedFor(query.filters), query.range, this.now(), this.policy.maxGroups);
	}

	/**
	 * A full load of the query's window, run beside the rollup in service (its statements interleave
	 * with the refreshes'), and swapped in by the first read after it is done. One asked for while
	 * it runs is due again once it ends; one that fails is tried at the next due time.
	 */
	private reloadBeside(entry: Entry, query: UsageQuery, startedAtMs: number): void {
		entry.reloadDueAtMs = Number.POSITIVE_INFINITY;
		let loadMs = 0;
		entry.reloading = this.load(query)
			.then(
				loaded => {
					entry.reloaded = loaded;
					loadMs = loaded.loadMs;
				},
				() => undefined,
			)
			.finally(() => {
				entry.reloading = null;
				entry.reloadDueAtMs = entry.reloadDueAtMs === 0 ? 0 : this.nextLoadAt(startedAtMs, loadMs);
			});
	}

	private nextLoadAt(loadedAtMs: number, loadMs: number): number {
		return loadedAtMs + Math.max(this.policy.reconcileMs, loadMs / this.policy.maxLoadShare);
	}

	private overCap(): Aggregation {
		return {mode: 'direct', reason: `more than ${this.policy.maxGroups.toLocaleString('en-US')} groups, the cap of a rollup`};
	}

	private evict(): void {
		while (this.entries.size > this.policy.maxRollups) {
			this.entries.delete(this.entries.keys().next().value!);
		}
	}
}
