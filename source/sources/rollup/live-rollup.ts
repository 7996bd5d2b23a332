import type {TimeRange} from '../../usage/types.js';
import {num, type Row} from '../sql/decode.js';
import {feedCheckSql, feedRowsSql, marginalsSql, type FeedBounds, type RollupFeed} from './rollup-feed.js';
import {UsageRollup} from './usage-rollup.js';

// One range's rollup, kept in step with a window that moves with the clock. The rows it counts are
// those of the window whose id it has taken: every id up to `base`, and the ids above it in
// `taken`, each with its time. A refresh reads only what changes that set:
// - the rows leaving the window at its old end, through the time index (subtracted);
// - the rows entering it at its new end that it had taken when they were dated in the future (added);
// - the rows with an id above what it has read (added if their time is in the window, whenever
//   they are dated: a row's created_at may lag its id);
// - its newest ids again, by a count and sums of ids and times over them: an id it read past while its
//   transaction was still open (a late commit) is added, and a row deleted or an id used again
//   (SQLite reuses the largest rowid once it is deleted) makes it load again.
// Ids stay among the newest for OVERLAP_MS, then join `base`: a change to them after that, or to
// any older row, waits for the next full load.
// Everything is read before anything is applied, so a failed refresh leaves the rollup as it was.

/** How long an id stays among the newest, open to a late commit or a deletion. */
export const OVERLAP_MS = 30_000;
/** A load reads this many of the newest ids one by one, as a refresh would: they start as the newest. */
export const RECENT_IDS = 1000;
/** A first load reads the window one slice at a time: short statements, each a range scan of the time index. */
export const LOAD_SLICE_MS = 86_400_000;

/** Why a rollup cannot follow a window and must be loaded again (or answered by direct queries). */
export type Stale = 'rebuild' | 'behind';

export interface RollupProgress {
	/** When the rollup was last loaded in full: its figures are a reconciliation plus what it merged since. */
	readonly loadedAtMs: number;
	/** Rows added or subtracted since that load. */
	readonly mergedRows: number;
}

interface Probe {
	readonly maxId: number;
	readonly oldestMs: number | null;
}

async function probe(feed: RollupFeed): Promise<Probe> {
	const row = await feed.runner.one(feed.probe());
	return {maxId: num(row.max_id), oldestMs: row.oldest_ms === null || row.oldest_ms === undefined ? null : num(row.oldest_ms)};
}

const inWindow = (tsMs: number, window: TimeRange): boolean => (window.startMs === null || tsMs >= window.startMs) && tsMs <= window.endMs;

export class LiveRollup {
	private mergedRows = 0;
	/** How long its load took: what loading it again will cost. */
	loadMs = 0;
	/**
	 * The ids above `base` that were read, with their times; and the sums of those ids and times
	 * (from loadedAtMs, so that thousands of millisecond times stay exact in a double).
	 */
	private readonly taken = new Map<number, number>();
	private takenIdSum = 0;
	private takenTsSum = 0;
	/** When the largest id read so far was read: ids read OVERLAP_MS ago join `base`. */
	private readonly readMarks: {atMs: number; id: number}[] = [];

	private constructor(
		private readonly feed: RollupFeed,
		readonly rollup: UsageRollup,
		private window: TimeRange,
		private base: number,
		/** The largest id read: every id up to it is in `taken`, below `base`, or was not visible. */
		private high: number,
		private oldestMs: number | null,
		readonly loadedAtMs: number,
	) {}

	/**
	 * The window's figures: up to the newest RECENT_IDS ids, slice by slice, each slice grouped by
	 * the engine; those ids one by one. Cut short past `maxGroups`.
	 */
	static async load(feed: RollupFeed, window: TimeRange, nowMs: number, maxGroups: number): Promise<LiveRollup> {
		const started = performance.now();
		const {maxId, oldestMs} = await probe(feed);
		const base = Math.max(0, maxId - RECENT_IDS);
		const rollup = new UsageRollup(feed.axes);
		const from = window.startMs ?? oldestMs;
		// Past the cap the load stops: the caller sees more groups than it allows and queries directly.
		for (let start = from; start !== null && start <= window.endMs && rollup.groups <= maxGroups; start += LOAD_SLICE_MS) {
			const slice = {startMs: start, endMs: Math.min(start + LOAD_SLICE_MS - 1, window.endMs)};
			for (const row of await feed.runner.all(marginalsSql(feed, {range: slice, idAtMost: base}))) {
				rollup.applyMarginal(row);
			}
		}
		const loaded = new LiveRollup(feed, rollup, window, base, maxId, oldestMs, nowMs);
		for (const row of await feed.runner.all(feedRowsSql(feed, {idAbove: base, idAtMost: maxId}))) {
			loaded.take(row, window, false);
		}
		loaded.loadMs = performance.now() - started;
		return loaded;
	}

	get progress(): RollupProgress {
		return {loadedAtMs: this.loadedAtMs, mergedRows: this.mergedRows};
	}

	/**
	 * Whether the window is this one's, or one it can move to: the same kind, ends that moved
	 * forward, a start that moved at most `maxSlideMs` (further, the rows leaving are better not
	 * read one by one: a shorter range picked, a dashboard paused for hours).
	 */
	follows(next: TimeRange, maxSlideMs: number): Stale | null {
		const {startMs, endMs} = this.window;
		if ((startMs === null) !== (next.startMs === null)) return 'rebuild';
		if (next.endMs < endMs) return 'behind'; // an older call, answered as it asked
		if (startMs !== null && next.startMs! < startMs) return 'rebuild'; // a longer range
		if (startMs !== null && next.startMs! - startMs > maxSlideMs) return 'rebuild';
		if (next.startMs !== null && next.startMs > endMs) return 'rebuild'; // nothing of the old window is left
		return null;
	}

	/**
	 * Moves the rollup to `next` (which `follows` accepted). Returns 'rebuild' when rows went away
	 * in a way only a full load can account for: a retention delete inside the window, a recent row
	 * deleted or its id used again, ids that went back (a table emptied or restored).
	 */
	async advance(next: TimeRange, nowMs: number): Promise<Stale | null> {
		const {startMs, endMs} = this.window;
		const now = await probe(this.feed);
		if (now.maxId < this.high) return 'rebuild';
		// The oldest request is newer than before and than the start of what is counted (the old start):
		// rows the rollup counts may have been deleted, and the rows leaving no longer show them.
		if (this.oldestMs !== null && (now.oldestMs === null || (now.oldestMs > this.oldestMs && (startMs === null || now.oldestMs > startMs)))) {
			return 'rebuild';
		}
		const rows = (bounds: FeedBounds): Promise<Row[]> => this.feed.runner.all(feedRowsSql(this.feed, bounds));
		const late = await this.lateRows(rows);
		if (late === 'rebuild') return 'rebuild';
		const leaving = startMs !== null && next.startMs! > startMs ? await rows({range: {startMs, endMs: next.startMs! - 1}, idAtMost: this.high}) : [];
		const entering = next.endMs > endMs ? await rows({range: {startMs: Math.max(endMs + 1, next.startMs ?? endMs + 1), endMs: next.endMs}, idAtMost: this.high}) : [];
		const fresh = now.maxId > this.high ? await rows({idAbove: this.high, idAtMost: now.maxId}) : [];

		const taken = (id: number) => id <= this.base || this.taken.has(id);
		for (const row of leaving) {
			if (taken(num(row.id))) this.merge(row, -1);
		}
		for (const row of entering) {
			if (taken(num(row.id))) this.merge(row, 1);
		}
		for (const row of [...late, ...fresh]) {
			this.take(row, next, true);
		}
		this.window = next;
		this.oldestMs = now.oldestMs;
		this.high = Math.max(this.high, now.maxId);
		this.settle(nowMs);
		return null;
	}

	/**
	 * The newest ids as they are now against what was read of them: the rows to add (late
	 * commits), or 'rebuild' when one of them was deleted or its id used again.
	 */
	private async lateRows(rows: (bounds: FeedBounds) => Promise<Row[]>): Promise<Row[] | 'rebuild'> {
		if (this.high <= this.base) return [];
		const newest = {idAbove: this.base, idAtMost: this.high};
		const check = await this.feed.runner.one(feedCheckSql(this.feed, newest, this.loadedAtMs));
		if (num(check.n) === this.taken.size && num(check.ts_sum) === this.takenTsSum && num(check.id_sum) === this.takenIdSum) return [];
		const present = await rows(newest);
		const seen = new Set<number>();
		for (const row of present) {
			const id = num(row.id);
			const tsMs = this.taken.get(id);
			if (tsMs !== undefined && tsMs !== num(row.ts_ms)) return 'rebuild';
			seen.add(id);
		}
		for (const id of this.taken.keys()) {
			if (!seen.has(id)) return 'rebuild';
		}
		return present.filter(row => !this.taken.has(num(row.id)));
	}

	/** A row read by its id: taken, and counted if its time is in the window. */
	private take(row: Row, window: TimeRange, merged: boolean): void {
		const id = num(row.id);
		if (id <= this.base || this.taken.has(id)) return;
		const tsMs = num(row.ts_ms);
		this.taken.set(id, tsMs);
		this.takenIdSum += id;
		this.takenTsSum += tsMs - this.loadedAtMs;
		if (!inWindow(tsMs, window)) return;
		if (merged) this.merge(row, 1);
		else this.rollup.applyRow(row, 1);
	}

	private merge(row: Row, sign: 1 | -1): void {
		this.rollup.applyRow(row, sign);
		this.mergedRows++;
	}

	/** Ids read at least OVERLAP_MS ago are no longer among the newest: they join `base`. */
	private settle(nowMs: number): void {
		this.readMarks.push({atMs: nowMs, id: this.high});
		let settled = this.base;
		while (this.readMarks.length > 0 && this.readMarks[0]!.atMs <= nowMs - OVERLAP_MS) {
			settled = Math.max(settled, this.readMarks.shift()!.id);
		}
		if (settled > this.base) {
			this.base = settled;
			for (const [id, tsMs] of this.taken) {
				if (id <= settled) {
					this.taken.delete(id);
					this.takenIdSum -= id;
					this.takenTsSum -= tsMs - this.loadedAtMs;
				}
			}
		}
	}
}
