import {copyFileSync, mkdtempSync, renameSync, rmSync, statSync, truncateSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {writeNewApiFixture} from '../source/fixtures/newapi-fixture.js';
import {connectToWorker, startQueryWorker} from '../source/sources/worker/worker-source.js';
import type {UsageSource} from '../source/usage/types.js';
import type {OracleRow} from './support/oracle.js';
import {expectFigures, expectSummary, newestOf, rowsOf, upTo, type StoreKind} from './support/store-oracle.js';

// The file under a running dashboard is renamed over (a backup restored, a store created afresh),
// truncated, deleted, or swapped for another gateway's store. The dashboard's source (its worker
// thread) must say so in one line and read the store again once a good one is there.
// The worker runs the compiled entry in dist/: `npm test` builds it before vitest starts.

const HOUR = 3_600_000;
const WRITE: Record<StoreKind, typeof writeNewApiFixture> = {newapi: writeNewApiFixture, cpa: writeCpaFixture};

interface Store {
	readonly path: string;
	readonly rows: OracleRow[];
	readonly endMs: number;
}

/** What a promise settles to, so that a rejection can be looked at like a value. */
const settled = (promise: Promise<unknown>): Promise<unknown> => promise.catch((error: unknown) => error);

/** One line that names the file, in words: none of SQLite's codes or its "malformed" alone. */
function expectClearError(error: unknown, path: string): string {
	expect(error).toBeInstanceOf(Error);
	const {message} = error as Error;
	expect(message).toContain(path);
	expect(message).not.toMatch(/[\r\n]|SQLITE_|malformed|database is locked|no such table/u);
	return message;
}

describe.each(['newapi', 'cpa'] as const)('a %s store changed under a running dashboard', kind => {
	let folder: string;
	let first: Store;
	let second: Store;
	let otherKind: string;
	let path: string;
	let source: UsageSource;
	let starts: number;

	const generated = (name: string, write: typeof writeNewApiFixture, options: {requests: number; seed?: number; endMs?: number}): Store => {
		const file = join(folder, name);
		write(file, options);
		const rows = rowsOf(kind, file);
		return {path: file, rows, endMs: newestOf(rows)};
	};
	/** Puts a store's file at the path: by rename (another file) or by copying into the file there. */
	const place = (store: Store | string, how: 'rename' | 'copy') => {
		const from = typeof store === 'string' ? store : store.path;
		if (how === 'copy') {
			copyFileSync(from, path);
		} else {
			copyFileSync(from, `${path}.incoming`);
			renameSync(`${path}.incoming`, path);
		}
	};
	const expectStore = (store: Store) => expectFigures(source, store.rows, store.endMs);

	beforeAll(() => {
		folder = mkdtempSync(join(tmpdir(), 'relaytop-replaced-'));
		first = generated('first.db', WRITE[kind], {requests: 3000});
		second = generated('second.db', WRITE[kind], {requests: 2000, seed: 99, endMs: first.endMs - 5 * HOUR});
		otherKind = join(folder, 'other-kind.db');
		WRITE[kind === 'newapi' ? 'cpa' : 'newapi'](otherKind, {requests: 300});
	});

	afterAll(() => {
		rmSync(folder, {recursive: true, force: true});
	});

	beforeEach(async () => {
		path = join(folder, 'store.db');
		rmSync(path, {force: true});
		copyFileSync(first.path, path);
		starts = 0;
		source = await connectToWorker(() => {
			starts++;
			return startQueryWorker(path);
		});
		await expectStore(first);
	});

	afterEach(async () => {
		await source.close();
		// The errors were told, not crashed on: the first worker answered them all.
		expect(starts).toBe(1);
	});

	it('reads the new store when another file is renamed over it', async () => {
		place(second, 'rename');
		// The file is looked at before every call: the very first one reads the new store.
		expectSummary(await source.summary(upTo(second.endMs)), second.rows, second.endMs);
		await expectStore(second);
		place(first, 'rename');
		await expectStore(first);
	});

	it('tells a file truncated to nothing in one line, and reads it again once it is restored in place', async () => {
		truncateSync(path, 0);
		for (const call of [source.summary(upTo(first.endMs)), source.rate(upTo(first.endMs)), source.realtime(upTo(first.endMs), {page: 1, pageSize: 50})]) {
			expect(expectClearError(await settled(call), path)).toBe(`${path} is empty, not a SQLite database`);
		}
		place(first, 'copy');
		await expectStore(first);
	});

	it('tells a file truncated to half in one line, and reads it again once a good copy is renamed in', async () => {
		truncateSync(path, Math.floor(statSync(path).size / 2));
		for (const call of [source.summary(upTo(first.endMs)), source.newestRequestMs()]) {
			expect(expectClearError(await settled(call), path)).toMatch(/ is truncated or damaged: /u);
		}
		place(first, 'rename');
		await expectStore(first);
	});

	it('tells a deleted file in one line, and reads it again once it is back', async () => {
		rmSync(path);
		expect(expectClearError(await settled(source.summary(upTo(first.endMs))), path)).toBe(`${path} is gone: it was deleted or moved away`);
		place(second, 'copy');
		await expectStore(second);
	});

	it('refuses the store of another gateway renamed over it, in one line, until its own kind is back', async () => {
		place(otherKind, 'rename');
		expect(expectClearError(await settled(source.summary(upTo(first.endMs))), path)).toMatch(/ now holds a .+ store, not the .+ store relaytop opened; restart relaytop to read it$/u);
		place(first, 'rename');
		await expectStore(first);
	});
});
