import {once} from 'node:events';
import {copyFileSync, mkdtempSync, renameSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {Worker} from 'node:worker_threads';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath, packageRoot} from '../source/fixtures/fixture-files.js';
import {openTarget} from '../source/sources/open-target.js';
import {FORWARDED_METHODS} from '../source/sources/worker/protocol.js';
import {SOURCE_CLOSED, WORKER_STOPPED, connectToWorker, openTargetInWorker, startQueryWorker} from '../source/sources/worker/worker-source.js';
import {InputError} from '../source/usage/input-error.js';
import type {SortedPageRequest, UsageQuery, UsageSource} from '../source/usage/types.js';

// The worker runs the compiled entry in dist/: `npm test` builds it before vitest starts.

const DAY = 86_400_000;
const byCost: SortedPageRequest = {page: 1, pageSize: 500, sortKey: 'totalCost', sortDirection: 'desc'};
const byCalls: SortedPageRequest = {page: 2, pageSize: 7, sortKey: 'totalCalls', sortDirection: 'asc'};

/** What a promise settles to, so that a rejection can be compared like a value. */
const settled = (promise: Promise<unknown>): Promise<unknown> => promise.catch((error: unknown) => error);

async function newestMs(kind: 'newapi' | 'cpa'): Promise<number> {
	const source = openTarget(fixturePath(kind));
	try {
		return (await source.newestRequestMs())!;
	} finally {
		await source.close();
	}
}

describe.each(['newapi', 'cpa'] as const)('the %s fixture through the worker', kind => {
	let direct: UsageSource;
	let worker: UsageSource;
	let all: UsageQuery;
	let failedLastWeek: UsageQuery;

	beforeAll(async () => {
		direct = openTarget(fixturePath(kind));
		worker = await openTargetInWorker(fixturePath(kind));
		const endMs = (await direct.newestRequestMs())!;
		all = {range: {startMs: null, endMs}, filters: {}};
		failedLastWeek = {range: {startMs: endMs - 7 * DAY, endMs}, filters: {status: 'failed'}};
	});

	afterAll(async () => {
		await direct.close();
		await worker.close();
	});

	it('describes the source as openTarget does, and offers every method', () => {
		expect({kind: worker.kind, target: worker.target, capabilities: worker.capabilities}).toStrictEqual({
			kind: direct.kind,
			target: direct.target,
			capabilities: direct.capabilities,
		});
		for (const method of [...FORWARDED_METHODS, 'close'] as const) {
			expect(typeof worker[method], method).toBe('function');
		}
	});

	it('answers every query exactly as openTarget does', async () => {
		for (const query of [all, failedLastWeek]) {
			expect(await worker.summary(query)).toStrictEqual(await direct.summary(query));
			expect(await worker.facets(query)).toStrictEqual(await direct.facets(query));
			expect(await worker.rate(query)).toStrictEqual(await direct.rate(query));
			expect(await worker.models(query)).toStrictEqual(await direct.models(query));
			for (const dimension of direct.capabilities.dimensions) {
				for (const page of [byCost, byCalls]) {
					expect(await worker.groups(query, dimension, page)).toStrictEqual(await direct.groups(query, dimension, page));
				}
			}
			expect(await worker.apiKeys(query, byCalls)).toStrictEqual(await direct.apiKeys(query, byCalls));
			expect(await worker.realtime(query, {page: 3, pageSize: 25})).toStrictEqual(await direct.realtime(query, {page: 3, pageSize: 25}));
			// Added to UsageSource after the worker: forwarded without any worker code of its own.
			expect(await worker.timeline(query, 3_600_000, 48)).toStrictEqual(await direct.timeline(query, 3_600_000, 48));
		}
		const newest = await worker.newestRequestMs();
		expect(typeof newest).toBe('number');
		expect(newest).toBe(await direct.newestRequestMs());
	});

	it('rejects with the same InputError for a bad page', async () => {
		const pageError = await settled(worker.realtime(all, {page: 1, pageSize: 0}));
		expect(pageError).toBeInstanceOf(InputError);
		expect(pageError).toStrictEqual(await settled(direct.realtime(all, {page: 1, pageSize: 0})));
		const dimension = direct.capabilities.dimensions[0]!;
		const groupError = await settled(worker.groups(all, dimension, {...byCost, page: 0}));
		expect(groupError).toBeInstanceOf(InputError);
		expect(groupError).toStrictEqual(await settled(direct.groups(all, dimension, {...byCost, page: 0})));
	});

	it('rejects with a plain Error, first line of its message, for anything else', async () => {
		const broken = {filters: {}} as unknown as UsageQuery;
		const error = await settled(worker.summary(broken));
		expect(error).toBeInstanceOf(Error);
		expect(error).not.toBeInstanceOf(InputError);
		expect((error as Error).message).toBe(((await settled(direct.summary(broken))) as Error).message.split('\n')[0]);
	});

	it('matches each answer to its call when many are in flight', async () => {
		const calls = (source: UsageSource) => [
			...[1, 2, 3, 4, 5].map(page => source.realtime(all, {page, pageSize: 40})),
			source.realtime(all, {page: 1, pageSize: 10_000}),
			...source.capabilities.dimensions.map(dimension => source.groups(all, dimension, byCalls)),
			source.summary(failedLastWeek),
			source.models(all),
			source.newestRequestMs(),
		];
		const expected = [];
		for (const call of calls(direct)) {
			expected.push(await settled(call));
		}
		const answers = await Promise.all(calls(worker).map(settled));
		expect(answers).toStrictEqual(expected);
		expect(answers[5]).toBeInstanceOf(InputError);
	});
});

describe('opening in the worker', () => {
	const openError = (target: string, options = {}) => {
		try {
			openTarget(target, options);
		} catch (error) {
			return error;
		}
		throw new Error(`${target} opened`);
	};

	it.each([
		['a missing file', join(packageRoot(), 'fixtures', 'no-such-store.sqlite'), {}],
		['a file that is not SQLite', join(packageRoot(), 'package.json'), {}],
		['a CPA store with --quota-per-unit', fixturePath('cpa'), {quotaPerUnit: 1000}],
	])('rejects with the InputError of openTarget for %s', async (_name, target, options) => {
		const error = await settled(openTargetInWorker(target, options));
		expect(error).toBeInstanceOf(InputError);
		expect(error).toStrictEqual(openError(target, options));
	});
});

describe('the worker thread', () => {
	it('closes the source, stops the thread, and refuses calls after close', async () => {
		const thread = startQueryWorker(fixturePath('cpa'));
		const exited = once(thread, 'exit');
		const source = await connectToWorker(() => thread);
		const endMs = (await source.newestRequestMs())!;
		const pending = settled(source.groups({range: {startMs: null, endMs}, filters: {}}, 'account', byCost));
		await source.close();
		await exited;
		expect(thread.threadId).toBe(-1);
		expect(String(await pending)).toContain(SOURCE_CLOSED);
		expect(String(await settled(source.summary({range: {startMs: null, endMs}, filters: {}})))).toBe(`Error: ${SOURCE_CLOSED}`);
		await source.close();
	});

	/** A source whose workers are kept, in the order they were started. */
	async function restartable(target: string) {
		const threads: Worker[] = [];
		const source = await connectToWorker(() => {
			const thread = startQueryWorker(target);
			threads.push(thread);
			return thread;
		});
		return {source, threads};
	}

	it('fails the calls a stopped thread was answering, and starts another on the next call', async () => {
		const direct = openTarget(fixturePath('newapi'));
		const {source, threads} = await restartable(fixturePath('newapi'));
		try {
			const all: UsageQuery = {range: {startMs: null, endMs: (await source.newestRequestMs())!}, filters: {}};
			const pending = settled(source.groups(all, 'user', byCost));
			await threads[0]!.terminate();
			expect(String(await pending)).toBe(`Error: ${WORKER_STOPPED}`);
			expect(await source.summary(all)).toStrictEqual(await direct.summary(all));
			expect(threads).toHaveLength(2);
			expect(threads[0]!.threadId).toBe(-1);
			// A thread that dies of an error of its own (here a message it cannot read) is replaced too.
			const died = new Promise(resolve => threads[1]!.once('exit', resolve)); // once() would reject on its 'error'
			threads[1]!.postMessage(null);
			await died;
			expect(await source.groups(all, 'user', byCost)).toStrictEqual(await direct.groups(all, 'user', byCost));
			expect(threads).toHaveLength(3);
		} finally {
			await direct.close();
			await source.close();
		}
	});

	it('starts one thread for all the calls waiting on it, and tries again on a later call when it cannot open', async () => {
		const folder = mkdtempSync(join(tmpdir(), 'relaytop-worker-'));
		const path = join(folder, 'store.sqlite');
		copyFileSync(fixturePath('cpa'), path);
		const {source, threads} = await restartable(path);
		try {
			const all: UsageQuery = {range: {startMs: null, endMs: (await source.newestRequestMs())!}, filters: {}};
			const expected = await source.summary(all);
			renameSync(path, `${path}.away`);
			await threads[0]!.terminate();
			const failures = await Promise.all([1, 2, 3, 4].map(() => settled(source.summary(all))));
			expect(threads).toHaveLength(2);
			for (const failure of failures) {
				expect(failure).toBeInstanceOf(InputError);
				expect((failure as Error).message).toBe(`${path}: no such file`);
			}
			renameSync(`${path}.away`, path);
			expect(await source.summary(all)).toStrictEqual(expected);
			expect(threads).toHaveLength(3);
		} finally {
			await source.close();
			rmSync(folder, {recursive: true, force: true});
		}
	});

	it('keeps this thread responsive while a long query runs', async () => {
		const endMs = await newestMs('newapi');
		const all: UsageQuery = {range: {startMs: null, endMs}, filters: {}};
		const direct = openTarget(fixturePath('newapi'));
		const worker = await openTargetInWorker(fixturePath('newapi'));
		const heavy = (source: UsageSource) => Promise.all(source.capabilities.dimensions.map(dimension => source.groups(all, dimension, byCost)));
		let ticks = 0;
		const timer = setInterval(() => ticks++, 1);
		try {
			// On this thread the queries hold the event loop: not one tick gets through.
			await heavy(direct);
			expect(ticks).toBe(0);
			await heavy(worker);
			expect(ticks).toBeGreaterThan(0);
		} finally {
			clearInterval(timer);
			await direct.close();
			await worker.close();
		}
	});
});
