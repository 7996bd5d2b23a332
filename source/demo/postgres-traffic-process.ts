// Child process of the PostgreSQL demo's traffic (postgres-traffic.ts): a stand-in for new-api on
// its database, with the sessions an operator sees on a real one. Writers insert each request's
// log row and bill the user in one transaction; a batch updater settles quotas now and then while
// holding its row locks for a moment, so writers queue behind it; the admin pages read; an idle
// pool waits; and once a minute a report holds a snapshot open, idle in transaction.
import pg from 'pg';
import {drawRequest, newApiPickers, newApiUsers, requestLogRow, type LogRow} from '../fixtures/newapi-fixture.js';
import {Random} from '../fixtures/random.js';
import {Arrivals} from './arrivals.js';
import {receiveSettings, STOP_MESSAGE} from './traffic-protocol.js';

export interface PostgresTrafficSettings {
	readonly url: string;
	readonly requestsPerMinute: number;
	readonly seed: number;
}

const WRITERS = 3;
const READERS = 2;
const IDLE_POOL = 8;
const GATEWAY = 'new-api';

const LOG_COLUMNS = ['user_id', 'created_at', 'type', 'content', 'username', 'token_name', 'model_name', 'quota', 'prompt_tokens', 'completion_tokens', 'use_time', 'is_stream', 'channel_id', 'token_id', 'group', 'ip', 'request_id', 'other'] as const;
const INSERT_LOG = `INSERT INTO logs (${LOG_COLUMNS.map(column => `"${column}"`).join(', ')}) VALUES (${LOG_COLUMNS.map((_, index) => `$${index + 1}`).join(', ')})`;

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function connect(url: string, application: string): Promise<pg.Client> {
	const client = new pg.Client({connectionString: url, application_name: application});
	client.on('error', fail);
	await client.connect();
	return client;
}

async function writeRequest(client: pg.Client, row: LogRow): Promise<void> {
	await client.query('BEGIN');
	try {
		await client.query(INSERT_LOG, LOG_COLUMNS.map(column => (column === 'is_stream' ? row.is_stream !== 0 : row[column])));
		if (row.type === 2) {
			await client.query('UPDATE users SET used_quota = used_quota + $1, request_count = request_count + 1 WHERE id = $2', [row.quota, row.user_id]);
		}
		await client.query('COMMIT');
	} catch (error) {
		await client.query('ROLLBACK').catch(() => undefined);
		throw error;
	}
}

async function run({url, requestsPerMinute, seed}: PostgresTrafficSettings): Promise<void> {
	const rowRandom = new Random(seed);
	const clockRandom = new Random(seed ^ 0x9e37_79b9);
	const pickers = newApiPickers(newApiUsers());
	const arrivals = new Arrivals(requestsPerMinute, clockRandom, Date.now());
	const writers = await Promise.all(Array.from({length: WRITERS}, () => connect(url, GATEWAY)));
	const readers = await Promise.all(Array.from({length: READERS}, () => connect(url, `${GATEWAY}-admin`)));
	const idle = await Promise.all(Array.from({length: IDLE_POOL}, () => connect(url, GATEWAY)));
	const batch = await connect(url, `${GATEWAY}-batch`);
	let stopped = false;
	/** The pending timers only: one that fired is dropped, or a demo left running for hours would hold them all. */
	const timers = new Set<NodeJS.Timeout>();
	const every = (ms: () => number, work: () => Promise<void>) => {
		const schedule = () => {
			const timer = setTimeout(() => {
				timers.delete(timer);
				loop();
			}, ms());
			timers.add(timer);
		};
		const loop = () => {
			if (stopped) return;
			work().then(schedule, fail);
		};
		schedule();
	};

	// Requests: each arrival goes to the next writer, which may still be busy with its last one.
	const queues: LogRow[][] = writers.map(() => []);
	let turn = 0;
	writers.forEach((client, index) => {
		every(
			() => 100,
			async () => {
				for (let row = queues[index]!.shift(); row !== undefined && !stopped; row = queues[index]!.shift()) {
					await writeRequest(client, row);
				}
			},
		);
	});
	every(
		() => 500 + clockRandom.next() * 500,
		async () => {
			for (const t of arrivals.until(Date.now())) {
				queues[turn++ % WRITERS]!.push(requestLogRow(rowRandom, drawRequest(rowRandom, pickers), t));
			}
		},
	);
	// Quota settlement for the busiest users, holding their rows for a second and a half.
	every(
		() => 8000 + clockRandom.next() * 8000,
		async () => {
			await batch.query('BEGIN');
			await batch.query('UPDATE users SET quota = quota - 1 WHERE id IN (1, 2, 3)');
			await batch.query('SELECT pg_sleep(1.5)');
			await batch.query('COMMIT');
		},
	);
	// The admin's log pages and usage statistics.
	readers.forEach(client => {
		every(
			() => 3000 + clockRandom.next() * 3000,
			async () => {
				const user = 1 + Math.floor(clockRandom.next() * 12);
				await client.query('SELECT id, created_at, model_name, quota FROM logs WHERE user_id = $1 ORDER BY id DESC LIMIT 20', [user]);
				await client.query('SELECT sum(quota) AS quota FROM logs WHERE type = 2 AND created_at >= $1', [Math.floor(Date.now() / 1000) - 86_400]);
			},
		);
	});
	// A report that keeps a snapshot open while it waits: it holds back vacuum's xmin horizon.
	every(
		() => 45_000 + clockRandom.next() * 30_000,
		async () => {
			const report = readers[0]!;
			await report.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
			await report.query('SELECT count(*) FROM users');
			await sleep(15_000);
			await report.query('COMMIT');
		},
	);

	const stop = () => {
		stopped = true;
		for (const timer of timers) clearTimeout(timer);
		void Promise.allSettled([...writers, ...readers, ...idle, batch].map(client => client.end())).then(() => process.exit(0));
		setTimeout(() => process.exit(0), 3000).unref();
	};
	process.on('message', message => {
		if (message === STOP_MESSAGE) stop();
	});
	// The dashboard is gone (it quit, crashed or was killed): so is its demo's traffic.
	process.on('disconnect', stop);
}

function fail(error: unknown): never {
	process.send?.({error: error instanceof Error ? error.message : String(error)});
	process.exit(1);
}

process.on('uncaughtException', fail);
receiveSettings<PostgresTrafficSettings>().then(run).catch(fail);
