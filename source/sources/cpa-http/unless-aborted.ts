/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts. The work behind
 * the promise goes on: it is shared, and a later call will want its result.
 */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
	if (signal === undefined) return promise;
	if (signal.aborted) return Promise.reject(signal.reason as Error);
	return new Promise<T>((resolve, reject) => {
		const giveUp = () => reject(signal.reason as Error);
		signal.addEventListener('abort', giveUp, {once: true});
		void promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', giveUp));
	});
}
