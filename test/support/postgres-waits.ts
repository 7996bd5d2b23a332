import type pg from 'pg';

const sleep = async (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/** Reads until `done` says yes, or fails after `timeoutMs` showing the last value. */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await read();
		if (done(value)) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 2000)}`);
		await sleep(50);
	}
}

/** Makes this session's pending statistics visible to others (PG15+ at once; before, on the next report after 500 ms). */
export async function flushStats(client: pg.Client, versionNum: number): Promise<void> {
	if (versionNum >= 150_000) {
		await client.query('SELECT pg_stat_force_next_flush()');
		return;
	}
	await sleep(600);
	await client.query('SELECT 1');
}
