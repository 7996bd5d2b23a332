import {setTimeout as sleep} from 'node:timers/promises';
import {parentPort, workerData} from 'node:worker_threads';
import Database from 'better-sqlite3';
import pg from 'pg';

// A gateway's log writer, in its own thread (its own event loop, so the retention driver on the main
// thread cannot delay it): one INSERT per request on its own connection, at a steady rate, and every
// `updateEvery` inserts an UPDATE of the row it inserted a second earlier. Each statement's latency
// (sent → answered) is recorded with its wall-clock start, so the main thread can split them by
// phase. No catch-up: a tick missed while a statement ran is not made up (like the reference's
// insert loop), so a stall shows as one long statement, not as a burst after it.
// Started by maintenance-writers.ts; `stop` ends the loop after the statement in flight.

export interface WriterConfig {
	readonly engine: 'postgres' | 'sqlite';
	/** postgres: a connection URL; sqlite: the file. */
	readonly target: string;
	/** The table as SQL names it (quoted, maybe schema-qualified). */
	readonly table: string;
	readonly ratePerSecond: number;
	/** An UPDATE of a recent row after every this many inserts; 0 for none. */
	readonly updateEvery: number;
	/** Marks the rows: request_id = `${tag}-${n}`. */
	readonly tag: string;
	/** SQLite: the gateway's busy timeout (new-api's SQLITE_PATH default `?_busy_timeout=5000`). */
	readonly busyTimeoutMs: number;
}

export type WriterMessage =
	| {readonly type: 'ready'}
	| {readonly type: 'done'; readonly samples: WriterSamples; readonly insertedIds: number[]; readonly errors: string[]}
	| {readonly type: 'failed'; readonly error: string};

/** Parallel arrays, one entry per statement. */
export interface WriterSamples {
	/** Wall-clock start, epoch ms (Date.now()). */
	readonly at: number[];
	readonly ms: number[];
	/** 0 insert, 1 update. */
	readonly kind: number[];
	readonly ok: boolean[];
	/** Ticks that came while a statement still ran (skipped, not made up). */
	readonly lateTicks: number;
}

interface Statements {
	insert(n: number, nowS: number): Promise<number>;
	update(id: number): Promise<void>;
	close(): Promise<void>;
}

const INSERT_COLUMNS = `user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens,
	use_time, is_stream, channel_id, channel_name, token_id, "group", ip, request_id, upstream_request_id, other`;
const OTHER = '{"admin_info":{"use_channel":["5"]},"cache_ratio":0.1,"cache_tokens":0,"completion_ratio":4,"frt":300,"group_ratio":1,"model_price":-1,"model_ratio":1.25,"user_group_ratio":-1}';
/** A consume row as new-api writes one, its time and request id aside. */
const ROW_VALUES = [7, 2, '', 'user7', 'user7-key2', 'gpt-4o-mini', 5400, 1234, 800, 3, true, 5, null, 26, 'default', '10.7.26.1'] as const;

async function postgresStatements(config: WriterConfig): Promise<Statements> {
	// The gateway's connection: default settings (no lock_timeout, no statement_timeout).
	const client = new pg.Client({connectionString: config.target, application_name: 'gateway writer (bench)'});
	client.on('error', () => undefined);
	await client.connect();
	const insert = `INSERT INTO ${config.table} (${INSERT_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) RETURNING id`;
	const update = `UPDATE ${config.table} SET use_time = use_time + 1, content = 'updated' WHERE id = $1`;
	return {
		async insert(n, nowS) {
			const [user, type, content, username, tokenName, model, quota, prompt, completion, useTime, stream, channel, channelName, tokenId, group, ip] = ROW_VALUES;
			const {rows} = await client.query<{id: string}>(insert, [
				user, nowS, type, content, username, tokenName, model, quota, prompt, completion, useTime, stream, channel, channelName, tokenId, group, ip, `${config.tag}-${n}`, 'chatcmpl-bench', OTHER,
			]);
			return Number(rows[0]!.id);
		},
		async update(id) {
			await client.query(update, [id]);
		},
		close: () => client.end(),
	};
}

function sqliteStatements(config: WriterConfig): Statements {
	const db = new Database(config.target, {timeout: config.busyTimeoutMs});
	const insert = db.prepare(`INSERT INTO ${config.table} (${INSERT_COLUMNS}) VALUES (${Array.from({length: 20}, () => '?').join(', ')})`);
	const update = db.prepare(`UPDATE ${config.table} SET use_time = use_time + 1, content = 'updated' WHERE id = ?`);
	return {
		async insert(n, nowS) {
			const [user, type, content, username, tokenName, model, quota, prompt, completion, useTime, stream, channel, channelName, tokenId, group, ip] = ROW_VALUES;
			const result = insert.run(user, nowS, type, content, username, tokenName, model, quota, prompt, completion, useTime, stream ? 1 : 0, channel, channelName, tokenId, group, ip, `${config.tag}-${n}`, 'chatcmpl-bench', OTHER);
			return Number(result.lastInsertRowid);
		},
		async update(id) {
			update.run(id);
		},
		close: async () => void db.close(),
	};
}

async function run(config: WriterConfig): Promise<void> {
	const port = parentPort!;
	let stopping = false;
	port.on('message', (message: unknown) => {
		if (message === 'stop') stopping = true;
	});
	const statements = config.engine === 'postgres' ? await postgresStatements(config) : sqliteStatements(config);
	const samples = {at: [] as number[], ms: [] as number[], kind: [] as number[], ok: [] as boolean[], lateTicks: 0};
	const insertedIds: number[] = [];
	const errors: string[] = [];
	const timed = async (kind: number, work: () => Promise<unknown>): Promise<void> => {
		const at = Date.now();
		const started = performance.now();
		let ok = true;
		try {
			await work();
		} catch (error) {
			ok = false;
			if (errors.length < 20) errors.push(error instanceof Error ? error.message : String(error));
		}
		samples.at.push(at);
		samples.ms.push(performance.now() - started);
		samples.kind.push(kind);
		samples.ok.push(ok);
	};
	port.postMessage({type: 'ready'} satisfies WriterMessage);
	const periodMs = 1000 / config.ratePerSecond;
	let next = performance.now();
	for (let n = 0; !stopping; n++) {
		await timed(0, async () => insertedIds.push(await statements.insert(n, Math.floor(Date.now() / 1000))));
		if (config.updateEvery > 0 && n % config.updateEvery === config.updateEvery - 1) {
			// The row inserted about a second ago: a gateway finishing a request it logged earlier.
			const recent = insertedIds[Math.max(0, insertedIds.length - 1 - Math.round(config.ratePerSecond))];
			if (recent !== undefined) await timed(1, () => statements.update(recent));
		}
		next += periodMs;
		const wait = next - performance.now();
		if (wait > 0) {
			await sleep(wait);
		} else {
			samples.lateTicks += Math.floor(-wait / periodMs);
			next = performance.now();
		}
	}
	await statements.close();
	port.postMessage({type: 'done', samples, insertedIds, errors} satisfies WriterMessage);
}

run(workerData as WriterConfig).catch((error: unknown) => {
	parentPort!.postMessage({type: 'failed', error: error instanceof Error ? error.message : String(error)} satisfies WriterMessage);
});
