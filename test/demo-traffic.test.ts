import {spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {once} from 'node:events';
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {pathToFileURL} from 'node:url';
import Database from 'better-sqlite3';
import {afterAll, describe, expect, it} from 'vitest';
import {startDemo} from '../source/demo/demo.js';
import {createDemoStore} from '../source/demo/demo-store.js';
import {startTrafficSimulator} from '../source/demo/traffic-simulator.js';
import {fixturePath, packageRoot} from '../source/fixtures/fixture-files.js';
import {GROUP_RATIOS, MODELS} from '../source/fixtures/newapi-fixture.js';

// The simulator's process runs from dist/ (see traffic-simulator.ts): build before these tests.

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-demo-traffic-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Polls until `check` returns a value, failing after a deadline generous enough for a slow machine. */
async function waitFor<T>(what: string, check: () => T | undefined, deadlineMs = 30_000): Promise<T> {
	const end = Date.now() + deadlineMs;
	for (;;) {
		const value = check();
		if (value !== undefined) {
			return value;
		}
		if (Date.now() > end) {
			throw new Error(`timed out waiting for ${what}`);
		}
		await sleep(100);
	}
}

interface Row {
	id: number;
	user_id: number;
	created_at: number;
	type: number;
	content: string;
	username: string;
	token_id: number;
	token_name: string;
	model_name: string;
	channel_id: number;
	group: string;
	quota: number;
	prompt_tokens: number;
	completion_tokens: number;
	other: string | null;
}

/** Reads on a short-lived connection, so no reader holds the store open between polls. */
function query<T>(path: string, sql: string, ...params: unknown[]): T[] {
	const db = new Database(path, {readonly: true, timeout: 5000});
	try {
		return db.prepare(sql).all(...params) as T[];
	} finally {
		db.close();
	}
}

const lastId = (path: string) => query<{id: number}>(path, 'SELECT max(id) AS id FROM logs')[0]!.id;

describe('traffic simulator', () => {
	it('appends consume and error rows timed now, from the fixture users, keys and models, billed by its formula', async () => {
		const store = createDemoStore({directory: scratch});
		const startId = lastId(store.path);
		const startSeconds = Math.floor(Date.now() / 1000);
		const simulator = startTrafficSimulator(store.path, {requestsPerMinute: 1200, seed: 42});
		try {
			const rows = await waitFor('40 new rows of both types', () => {
				const found = query<Row>(store.path, 'SELECT * FROM logs WHERE id > ? ORDER BY id', startId);
				return found.length >= 40 && found.some(r => r.type === 2) && found.some(r => r.type === 5) ? found : undefined;
			});
			const endSeconds = Math.ceil(Date.now() / 1000);
			for (const row of rows) {
				expect(row.created_at).toBeGreaterThanOrEqual(startSeconds - 1);
				expect(row.created_at).toBeLessThanOrEqual(endSeconds);
			}

			const keys = new Set(query<{key: string}>(store.path, "SELECT u.id || '/' || u.username || '/' || u.`group` || '/' || t.id || '/' || t.name AS key FROM users u JOIN tokens t ON t.user_id = u.id").map(r => r.key));
			for (const row of rows) {
				expect(keys.has(`${row.user_id}/${row.username}/${row.group}/${row.token_id}/${row.token_name}`), row.username).toBe(true);
				expect(MODELS.find(m => m.name === row.model_name)?.channels, row.model_name).toContain(row.channel_id);
			}

			let checked = 0;
			for (const row of rows.filter(r => r.type === 2)) {
				let other: Record<string, number>;
				try {
					other = JSON.parse(row.other ?? '') as Record<string, number>;
				} catch {
					continue; // the fixture's deliberately broken `other` values
				}
				if (Array.isArray(other)) {
					continue;
				}
				expect(other.group_ratio).toBe(GROUP_RATIOS[row.group]);
				const cached = other.cache_tokens ?? 0;
				const expected = other.model_price! > 0
					? Math.round(other.model_price! * 500_000 * other.group_ratio!)
					: row.prompt_tokens + row.completion_tokens === 0
						? 0
						: Math.max(1, Math.round((row.prompt_tokens - cached + cached * (other.cache_ratio ?? 1) + row.completion_tokens * other.completion_ratio!) * other.model_ratio! * other.group_ratio!));
				expect(row.quota, JSON.stringify(row)).toBe(expected);
				checked++;
			}
			expect(checked).toBeGreaterThan(20);
			for (const row of rows.filter(r => r.type === 5)) {
				expect(row.quota).toBe(0);
				expect(row.content).not.toBe('');
			}
		} finally {
			await simulator.stop();
			store.remove();
		}
	});

	it('never makes a reader wait, and a long read never holds up the writer', async () => {
		const store = createDemoStore({directory: scratch});
		const simulator = startTrafficSimulator(store.path, {requestsPerMinute: 1200});
		// No busy timeout: any lock conflict throws SQLITE_BUSY at once.
		const reader = new Database(store.path, {readonly: true, timeout: 0});
		const longRead = new Database(store.path, {readonly: true, timeout: 0});
		try {
			const count = (db: Database.Database) => (db.prepare('SELECT count(*) AS n FROM logs WHERE type IN (2, 5)').get() as {n: number}).n;
			longRead.exec('BEGIN');
			const snapshot = count(longRead); // the read transaction now holds its snapshot
			let reads = 0;
			await waitFor('rows written while a read transaction is open', () => {
				reads++;
				return count(reader) >= snapshot + 30 ? true : undefined;
			});
			expect(count(longRead)).toBe(snapshot);
			longRead.exec('COMMIT');
			expect(reads).toBeGreaterThan(1);
		} finally {
			reader.close();
			longRead.close();
			await simulator.stop();
			store.remove();
		}
	});

	it('writes nothing once stop() resolves, and closes its connection', async () => {
		const store = createDemoStore({directory: scratch});
		const startId = lastId(store.path);
		const simulator = startTrafficSimulator(store.path, {requestsPerMinute: 1200});
		try {
			await waitFor('the first rows', () => (lastId(store.path) > startId ? true : undefined));
			await simulator.stop();
			// The last connection to close checkpoints and deletes the WAL: the simulator's is closed.
			expect(existsSync(`${store.path}-wal`)).toBe(false);
			const stoppedAt = lastId(store.path);
			await sleep(2500); // several of the writer's ticks
			expect(lastId(store.path)).toBe(stoppedAt);
			await simulator.stop();
		} finally {
			store.remove();
		}
	});

	it('reports a store it cannot write to through onError, without crashing the host', async () => {
		const path = join(scratch, 'not-newapi.sqlite');
		const db = new Database(path);
		db.exec('CREATE TABLE usage_events (id integer)');
		db.close();
		const errors: Error[] = [];
		const simulator = startTrafficSimulator(path, {requestsPerMinute: 1200, onError: error => errors.push(error)});
		const error = await waitFor('an error', () => errors[0]);
		expect(error.message).toMatch(/no such table: logs/);
		expect(error).toMatchObject({code: 'SQLITE_ERROR'});
		await simulator.stop();
		expect(() => startTrafficSimulator(path, {requestsPerMinute: 0})).toThrow(RangeError);
	});
});

describe('demo', () => {
	it('serves a moving copy until stop(), which removes it', async () => {
		const signalListeners = process.listenerCount('SIGINT');
		const fixtureHash = sha256(fixturePath('newapi'));
		const demo = await startDemo();
		try {
			expect(dirname(demo.path).startsWith(join(tmpdir(), 'relaytop-demo-'))).toBe(true);
			expect(process.listenerCount('SIGINT')).toBe(signalListeners + 1);
			const newest = () => query<{t: number}>(demo.path, 'SELECT max(created_at) AS t FROM logs')[0]!.t;
			expect(Math.abs(newest() - Date.now() / 1000)).toBeLessThan(5);
			const startId = lastId(demo.path);
			await waitFor('new requests at the default rate', () => (lastId(demo.path) > startId ? true : undefined));
		} finally {
			await demo.stop();
		}
		expect(existsSync(dirname(demo.path))).toBe(false);
		expect(process.listenerCount('SIGINT')).toBe(signalListeners);
		expect(sha256(fixturePath('newapi'))).toBe(fixtureHash);
		await demo.stop();
	});

	const demoModule = pathToFileURL(join(packageRoot(), 'dist', 'source', 'demo', 'demo.js')).href;
	const ending = {
		SIGINT: 'process.kill(process.pid, "SIGINT")',
		SIGTERM: 'process.kill(process.pid, "SIGTERM")',
		SIGHUP: 'process.kill(process.pid, "SIGHUP")',
		crash: 'throw new Error("the UI crashed")',
	};
	it.each(Object.entries(ending))('removes the copy when the process ends by %s', async (how, end) => {
		const script = `const {startDemo} = await import(${JSON.stringify(demoModule)}); const demo = await startDemo(); console.log(demo.path); setInterval(() => {}, 1000); setTimeout(() => { ${end}; }, 300);`;
		const child = spawn(process.execPath, ['--input-type=module', '-e', script], {stdio: ['ignore', 'pipe', 'pipe']});
		let stdout = '';
		child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
		child.stderr.resume();
		const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
		const path = stdout.trim();
		expect(path).toMatch(/relaytop-demo-.*newapi\.sqlite$/);
		expect(existsSync(dirname(path))).toBe(false);
		if (end.startsWith('throw')) {
			expect(code).toBe(1);
		} else {
			expect(signal).toBe(how);
		}
	});
});
