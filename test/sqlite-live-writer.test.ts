import {execFile, spawn, type ChildProcess} from 'node:child_process';
import {copyFileSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createInterface} from 'node:readline';
import {setTimeout as sleep} from 'node:timers/promises';
import {promisify} from 'node:util';
import {afterEach, describe, expect, it} from 'vitest';
import {fixturePath, packageRoot} from '../source/fixtures/fixture-files.js';
import {openTargetInWorker, SOURCE_CLOSED} from '../source/sources/worker/worker-source.js';
import type {UsageSource} from '../source/usage/types.js';
import {expectFigures, rowsOf, upTo, type StoreKind} from './support/store-oracle.js';

// A gateway process writes the store while the dashboard's source (its worker thread) reads it.
// The worker runs the compiled entry in dist/: `npm test` builds it before vitest starts.

const WRITER = join(packageRoot(), 'test', 'support', 'sqlite-writer.mjs');
const CLI = join(packageRoot(), 'dist', 'source', 'cli.js');
const execFileAsync = promisify(execFile);
/** A budget, not a measure: the CPA store's figures take seconds each on a busy machine. */
const SLOW_TEST_MS = 240_000;

interface Writer {
	/** Sends one command and waits for its answer. */
	send(command: string): Promise<string>;
	/** Sends a command that is never answered (the writer exits). */
	tell(command: string): void;
	readonly ended: Promise<void>;
}

const children: ChildProcess[] = [];
const folders: string[] = [];
const sources: UsageSource[] = [];

afterEach(async () => {
	for (const source of sources.splice(0)) {
		await source.close();
	}
	for (const child of children.splice(0)) {
		if (child.exitCode === null && child.signalCode === null) {
			child.kill();
		}
	}
	for (const folder of folders.splice(0)) {
		rmSync(folder, {recursive: true, force: true});
	}
});

async function startWriter(path: string, journal: 'wal' | 'delete', firstMs: number): Promise<Writer> {
	const child = spawn(process.execPath, [WRITER, path, journal, String(firstMs)], {stdio: ['pipe', 'pipe', 'inherit']});
	children.push(child);
	const ended = new Promise<void>(resolve => child.once('exit', () => resolve()));
	const lines = createInterface({input: child.stdout})[Symbol.asyncIterator]();
	const next = async () => {
		const line = await lines.next();
		if (line.done === true) {
			throw new Error('the writer ended without answering');
		}
		return line.value as string;
	};
	expect(await next()).toBe('ready');
	return {
		send: command => {
			child.stdin.write(`${command}\n`);
			return next();
		},
		tell: command => child.stdin.write(`${command}\n`),
		ended,
	};
}

/** A copy of the fixture store, read through the worker as the dashboard does. */
async function liveStore(kind: StoreKind) {
	const folder = mkdtempSync(join(tmpdir(), 'relaytop-live-'));
	folders.push(folder);
	const path = join(folder, kind === 'newapi' ? 'one-api.db' : 'usage.db');
	copyFileSync(fixturePath(kind), path);
	const source = await openTargetInWorker(path);
	sources.push(source);
	// The writer's requests start a minute after the fixture's newest and all fall in the rate window.
	const firstMs = (await source.newestRequestMs())! + 60_000;
	const endMs = firstMs + 30_000;
	const initial = (await source.summary(upTo(endMs))).totalRequests;
	return {path, source, firstMs, endMs, initial};
}

const answered = (promise: Promise<unknown>): Promise<unknown> => promise.catch((error: unknown) => error);

/** Transactions of every size, a long one that holds its transaction open for seconds, and a checkpoint. */
const PLAN = ['insert 1', 'insert 10', 'insert 200', 'insert 3', 'insert 1000', 'slow 1500 3000', 'insert 5', 'checkpoint', 'insert 50', 'insert 2000', 'insert 1', 'slow 200 1000', 'insert 20'];

/**
 * Runs the plan while a reader polls summary, rate, a group page and the request log without a
 * pause; after each commit the next summary must count it. Returns what the reader saw.
 */
async function writeWhileReading(store: Awaited<ReturnType<typeof liveStore>>, writer: Writer, plan: readonly string[]) {
	const {source, endMs, initial} = store;
	const query = upTo(endMs);
	const committed = [0];
	const seen: number[] = [];
	const failures: unknown[] = [];
	let writing = true;
	const reader = (async () => {
		while (writing) {
			const results = await Promise.all(
				[
					source.summary(query).then(summary => seen.push(summary.totalRequests)),
					source.rate(query),
					source.groups(query, source.capabilities.dimensions[0]!, {page: 1, pageSize: 20, sortKey: 'totalCalls', sortDirection: 'desc'}),
					source.realtime(query, {page: 1, pageSize: 50}),
				].map(answered),
			);
			const errors = results.filter(result => result instanceof Error);
			failures.push(...errors);
			// Closed under it: every further call would fail at once, and this loop would never yield.
			if (errors.some(error => error.message.startsWith(SOURCE_CLOSED))) return;
		}
	})();
	try {
		for (const command of plan) {
			if (command.startsWith('pause')) {
				await sleep(Number(command.split(' ')[1]));
				continue;
			}
			const answer = await writer.send(command);
			if (answer.startsWith('committed ')) {
				const total = Number(answer.slice('committed '.length));
				committed.push(total);
				// The figures keep up: the first read after a commit counts it.
				expect((await source.summary(query)).totalRequests).toBe(initial + total);
			}
		}
	} finally {
		writing = false;
		await reader;
	}
	return {committed, seen, failures};
}

/** The reader only ever saw whole transactions, in the order they were committed. */
function expectWholeTransactions(seen: readonly number[], committed: readonly number[], initial: number): void {
	expect(seen.length).toBeGreaterThan(0);
	for (const total of seen) {
		expect(committed).toContain(total - initial);
	}
	expect([...seen].sort((a, b) => a - b)).toEqual(seen);
}

describe.each(['newapi', 'cpa'] as const)('a %s store written by its gateway while relaytop reads it', kind => {
	it('in WAL mode: no call fails while transactions of every size commit, and the figures follow each commit', async () => {
		const store = await liveStore(kind);
		const writer = await startWriter(store.path, 'wal', store.firstMs);
		const {committed, seen, failures} = await writeWhileReading(store, writer, PLAN);
		writer.tell('exit');
		await writer.ended;
		expect(failures).toEqual([]);
		expectWholeTransactions(seen, committed, store.initial);
		await expectFigures(store.source, rowsOf(kind, store.path), store.endMs);
	}, SLOW_TEST_MS);

	it('in rollback-journal mode: a read waits out a writer\'s lock of seconds, and no call fails', async () => {
		const store = await liveStore(kind);
		const writer = await startWriter(store.path, 'delete', store.firstMs);
		// In this mode a writer's exclusive lock keeps every reader out until it commits; none here
		// lasts near the busy timeout.
		const plan = [...PLAN.slice(0, 6), 'lock', 'pause 1500', 'unlock 30', ...PLAN.slice(6)];
		const {committed, seen, failures} = await writeWhileReading(store, writer, plan);
		writer.tell('exit');
		await writer.ended;
		expect(failures).toEqual([]);
		expectWholeTransactions(seen, committed, store.initial);
		await expectFigures(store.source, rowsOf(kind, store.path), store.endMs);
	}, SLOW_TEST_MS);

	it('tells a lock held past the busy timeout in one line naming the file, and counts the commit that ends it', async () => {
		const store = await liveStore(kind);
		const writer = await startWriter(store.path, 'delete', store.firstMs);
		expect(await writer.send('lock')).toBe('locked');
		// The lock is held until this read has given up.
		const error = await answered(store.source.summary(upTo(store.endMs)));
		expect(error).toBeInstanceOf(Error);
		expect((error as Error).message).toBe(`${store.path} is locked by a writer; it can be read once the write is done`);
		expect(await writer.send('unlock 7')).toBe('committed 7');
		expect((await store.source.summary(upTo(store.endMs))).totalRequests).toBe(store.initial + 7);
		writer.tell('exit');
		await writer.ended;
	}, SLOW_TEST_MS);

	it('tells a write a killed writer left unfinished in one line, and reads the store again once the gateway has rolled it back', async () => {
		const store = await liveStore(kind);
		const writer = await startWriter(store.path, 'delete', store.firstMs);
		expect(await writer.send('insert 20')).toBe('committed 20');
		writer.tell('crash');
		await writer.ended;
		const error = await answered(store.source.summary(upTo(store.endMs)));
		expect(error).toBeInstanceOf(Error);
		expect((error as Error).message).toBe(
			`${store.path} holds a write its writer left unfinished; it is rolled back when the gateway opens the store again, or by relaytop maintain indexes ${store.path} --apply`,
		);
		// The gateway starts again: its first read rolls the unfinished write back.
		const restarted = await startWriter(store.path, 'delete', store.firstMs + 20);
		restarted.tell('exit');
		await restarted.ended;
		expect((await store.source.summary(upTo(store.endMs))).totalRequests).toBe(store.initial + 20);
		await expectFigures(store.source, rowsOf(kind, store.path), store.endMs);
	}, SLOW_TEST_MS);

	it('rolls a write a killed writer left unfinished back with the command its error names', async () => {
		const store = await liveStore(kind);
		const writer = await startWriter(store.path, 'delete', store.firstMs);
		expect(await writer.send('insert 20')).toBe('committed 20');
		writer.tell('crash');
		await writer.ended;
		const error = await answered(store.source.summary(upTo(store.endMs)));
		const command = /or by relaytop (maintain indexes .+ --apply)$/u.exec((error as Error).message)?.[1];
		expect(command).toBe(`maintain indexes ${store.path} --apply`);
		await execFileAsync(process.execPath, [CLI, 'maintain', 'indexes', store.path, '--apply'], {cwd: packageRoot()});
		expect((await store.source.summary(upTo(store.endMs))).totalRequests).toBe(store.initial + 20);
	}, SLOW_TEST_MS);
});
