import type {Random} from '../fixtures/random.js';

const BURST_CHANCE = 1 / 150;
const BURST_FACTOR = 3;
/** Arrivals owed for longer than this (the machine slept) are dropped rather than written at once. */
const MAX_BACKLOG_MS = 60_000;

/**
 * Request arrival times: a Poisson process at `perMinute`, with an occasional burst at three times
 * that rate for 5–20 s, as a client's batch job or retry storm looks in rpm.
 */
export class Arrivals {
	private next: number;
	private burstUntil = Number.NEGATIVE_INFINITY;

	constructor(
		private readonly perMinute: number,
		private readonly random: Random,
		startMs: number,
	) {
		this.next = startMs + this.gap(startMs);
	}

	/** The arrivals up to `nowMs` not returned before, in order. */
	until(nowMs: number): number[] {
		this.next = Math.max(this.next, nowMs - MAX_BACKLOG_MS);
		const times: number[] = [];
		while (this.next <= nowMs) {
			times.push(Math.floor(this.next));
			if (this.random.chance(BURST_CHANCE)) {
				this.burstUntil = this.next + 5000 + this.random.next() * 15_000;
			}
			this.next += this.gap(this.next);
		}
		return times;
	}

	private gap(atMs: number): number {
		const perMs = (this.perMinute / 60_000) * (atMs < this.burstUntil ? BURST_FACTOR : 1);
		return -Math.log(1 - this.random.next()) / perMs;
	}
}
