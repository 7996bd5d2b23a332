import {ManagementError, type ManagementClient} from './management-client.js';

// Every request the HTTP source sends goes through here: at most a few at once, a bad key stops
// all of them for a while, and panels asking for the same window within a second share one answer.
// A shared request is cancelled only when every caller waiting for it has given up.

export type Params = Readonly<Record<string, string | number | undefined>>;

export interface GetOptions {
	/** Gives up this call: it rejects at once, and its request is cancelled unless another call still waits for it. */
	readonly signal?: AbortSignal;
	/** The body limit of this path, when it is not the client's. */
	readonly maxBytes?: number;
}

export interface Traffic {
	readonly requests: number;
	readonly bytes: number;
}

/** Requests in flight at once: a slow manager gets a queue from relaytop, not a pile-up. */
const MAX_IN_FLIGHT = 4;
/** An answer fetched this recently, for the same window to within this much, is reused. */
const REUSE_MS = 1000;
/**
 * After 401/403 nothing is sent for this long: the key will not change by itself, and CPA bans
 * an address after a few failed keys.
 */
const REJECTED_KEY_PAUSE_MS = 5 * 60_000;

interface Reusable {
	readonly path: string;
	readonly params: string;
	readonly startMs: number | undefined;
	readonly endMs: number | undefined;
	readonly at: number;
	readonly body: Promise<unknown>;
	readonly cancel: AbortController;
	/** Calls that may still use the answer; one without a signal never gives up. */
	waiting: number;
}

const timeOf = (value: string | number | undefined): number | undefined => (value === undefined ? undefined : Number(value));
/**
 * The same window, moved by less than REUSE_MS and by less than its own length: an open start
 * matches an open start only; a bounded window must have exactly the same length.
 */
function sameWindow(a: Reusable, b: Pick<Reusable, 'startMs' | 'endMs'>): boolean {
	if (a.endMs === undefined || b.endMs === undefined) return a.endMs === b.endMs && a.startMs === b.startMs;
	const shift = Math.abs(a.endMs - b.endMs);
	if (a.startMs === undefined || b.startMs === undefined) return a.startMs === b.startMs && shift <= REUSE_MS;
	const length = a.endMs - a.startMs;
	return b.endMs - b.startMs === length && shift <= REUSE_MS && shift < length;
}

export class ManagementFetcher {
	private inFlight = 0;
	private readonly waiting: Array<() => void> = [];
	private reusable: Reusable[] = [];
	private rejected: {readonly until: number; readonly error: ManagementError} | undefined;
	private sent: Traffic = {requests: 0, bytes: 0};

	constructor(
		private readonly client: ManagementClient,
		private readonly now: () => number = Date.now,
	) {}

	/** Requests sent and body bytes received so far. */
	get traffic(): Traffic {
		return this.sent;
	}

	/** A GET whose answer may be shared with a call for the same path, filters and (nearly) the same window. */
	async get(path: string, params: Params = {}, {signal, maxBytes}: GetOptions = {}): Promise<unknown> {
		signal?.throwIfAborted();
		const {start_ms: start, end_ms: end, ...rest} = params;
		const entry = {path, params: JSON.stringify(rest), startMs: timeOf(start), endMs: timeOf(end)};
		const at = this.now();
		this.reusable = this.reusable.filter(old => at - old.at <= REUSE_MS);
		const shared = this.reusable.find(old => old.path === entry.path && old.params === entry.params && sameWindow(old, entry));
		if (shared !== undefined) {
			return this.follow(shared, signal);
		}
		const cancel = new AbortController();
		const body = this.send(path, params, cancel.signal, maxBytes);
		const reusable: Reusable = {...entry, at, body, cancel, waiting: 0};
		this.reusable.push(reusable);
		body.catch(() => this.forget(reusable));
		return this.follow(reusable, signal);
	}

	/** The shared answer for one more caller, who may give up on it before it comes. */
	private follow(entry: Reusable, signal: AbortSignal | undefined): Promise<unknown> {
		entry.waiting += 1;
		if (signal === undefined) return entry.body;
		return new Promise((resolve, reject) => {
			const giveUp = () => {
				reject(signal.reason);
				entry.waiting -= 1;
				if (entry.waiting === 0) {
					// Nobody wants it now: no later call may join it, and its connection is closed.
					this.forget(entry);
					entry.cancel.abort(signal.reason);
				}
			};
			signal.addEventListener('abort', giveUp, {once: true});
			void entry.body.then(resolve, reject).finally(() => signal.removeEventListener('abort', giveUp));
		});
	}

	private forget(entry: Reusable): void {
		this.reusable = this.reusable.filter(old => old !== entry);
	}

	private async send(path: string, params: Params, signal: AbortSignal, maxBytes: number | undefined): Promise<unknown> {
		await this.slot(signal);
		try {
			if (this.rejected !== undefined && this.now() < this.rejected.until) {
				throw this.rejected.error;
			}
			this.sent = {...this.sent, requests: this.sent.requests + 1};
			const {body, bytes} = await this.client.get<unknown>(path, params, {signal, maxBytes});
			this.sent = {...this.sent, bytes: this.sent.bytes + bytes};
			return body;
		} catch (error) {
			if (error instanceof ManagementError && error.kind === 'rejected-key' && this.rejected?.error !== error) {
				const pause = Math.round(REJECTED_KEY_PAUSE_MS / 60_000);
				this.rejected = {until: this.now() + REJECTED_KEY_PAUSE_MS, error: new ManagementError('rejected-key', `${error.message}; not retried for ${pause} minutes`, error.status)};
				throw this.rejected.error;
			}
			throw error;
		} finally {
			this.release();
		}
	}

	/** A place among the requests in flight; a request cancelled while it waits leaves the queue. */
	private async slot(signal: AbortSignal): Promise<void> {
		signal.throwIfAborted();
		if (this.inFlight < MAX_IN_FLIGHT) {
			this.inFlight += 1;
			return;
		}
		await new Promise<void>((resolve, reject) => {
			const take = () => {
				signal.removeEventListener('abort', leave);
				resolve();
			};
			const leave = () => {
				this.waiting.splice(this.waiting.indexOf(take), 1);
				reject(signal.reason);
			};
			signal.addEventListener('abort', leave, {once: true});
			this.waiting.push(take);
		});
	}

	/** Hands the slot straight to the next waiter, or frees it. */
	private release(): void {
		const next = this.waiting.shift();
		if (next === undefined) {
			this.inFlight -= 1;
		} else {
			next();
		}
	}
}
