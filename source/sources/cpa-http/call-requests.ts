import {unlessAborted} from './unless-aborted.js';

/**
 * The requests of one call, each with a signal of its own, all aborted when the call's signal
 * aborts or the call stops them. The call's signal carries one listener however many requests the
 * call sends (a timeline sends one per bucket, and Node reports more than ten listeners on a signal
 * as a leak), and a request's signal is let go as soon as the request settles.
 */
export class CallRequests {
	private readonly open = new Set<AbortController>();
	private stopped: {readonly reason: unknown} | undefined;
	private readonly onAbort = (): void => this.stop(this.signal?.reason);

	constructor(private readonly signal: AbortSignal | undefined) {
		if (signal?.aborted) this.stop(signal.reason);
		else signal?.addEventListener('abort', this.onAbort, {once: true});
	}

	/** One request, with a signal that aborts when the call stops (at once, if it has). */
	send<T>(request: (signal: AbortSignal) => Promise<T>): Promise<T> {
		const controller = new AbortController();
		if (this.stopped === undefined) this.open.add(controller);
		else controller.abort(this.stopped.reason);
		return request(controller.signal).finally(() => this.open.delete(controller));
	}

	/** Shared work (a lookup other calls want too): the call stops waiting for it, and it goes on. */
	waitFor<T>(promise: Promise<T>): Promise<T> {
		return this.send(signal => unlessAborted(promise, signal));
	}

	/** Aborts every request still open, and any sent from now on. */
	stop(reason: unknown): void {
		if (this.stopped !== undefined) return;
		this.stopped = {reason};
		for (const controller of this.open) controller.abort(reason);
		this.open.clear();
		this.end();
	}

	/** The call is over: its signal loses the listener. */
	end(): void {
		this.signal?.removeEventListener('abort', this.onAbort);
	}
}
