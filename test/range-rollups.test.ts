// Range rollups (source/sources/rollup/) against the full recomputation and the raw rows: a source
// opened with `rollups` must answer every long range exactly as the same source without them
// does, while the store is written to, deleted from and the window moves with the clock.
import {copyFileSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import {openSource, openTarget} from '../source/sources/open-target.js';
import type {RollupPolicy} from '../source/sources/rollup/range-rollups.js';
import {SHORT_RANGE} from '../source/usage/aggregation.js';
import type {Aggregation, Dimension, Filters, GroupPage, ModelUsage, SortDirection, SortKey, Summary, TimeRange, UsageQuery, UsageSource} from '../source/usage/types.js';
import {cpaFilter, loadCpa} from './support/cpa-oracle.js';
import {loadNewApi, newApiFilter} from './support/newapi-oracle.js';
import {expectClose, groupBy, inRange, sortGroups, summarize, type OracleRow} from './support/oracle.js';
import {freshDatabase} from './support/postgres-server.js';
import {newestOf, type StoreKind} from './support/store-oracle.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Slides of days are merged here, so that rows leaving over hour and day boundaries go through the merge. */
const POLICY: RollupPolicy = {minSpanMs: 0, reconcileMs: HOUR, maxLoadShare: 1, maxSlideMs: 30 * DAY, maxGroups: 200_000, maxRollups: 4};

/** Small pages, so that page 2 exists on every axis and the order across pages is checked. */
const PAGE_SIZE = 7;
const SORTS: ReadonlyArray<readonly [SortKey, SortDirection]> = [
	['totalCalls', 'desc'],
	['totalCost', 'asc'],
	['successRate', 'asc'],
	['lastSeenAt', 'desc'],
];

// ---------------------------------------------------------------------------------------------
// The stores and their writers

/** The raw rows, read again only after a write: the oracle never asks the SQL under test. */
interface Oracle {
	readonly rows: readonly OracleRow[];
	select(filters: Filters): (row: OracleRow) => boolean;
	channelLabel(key: string): string;
}

function readOracle(kind: StoreKind, path: string): Oracle {
	if (kind === 'newapi') {
		const fixture = loadNewApi(path);
		return {rows: fixture.rows, select: filters => newApiFilter(fixture, filters), channelLabel: key => fixture.channels.get(key) ?? `#${key}`};
	}
	const fixture = loadCpa(path);
	return {rows: fixture.rows, select: filters => cpaFilter(fixture, filters), channelLabel: key => key};
}

type RawRow = Record<string, unknown>;

/** A row inserted on a PostgreSQL client, given to the oracle's copy once it is committed. */
interface Staged {
	readonly ids: number[];
	mirror(): void;
}

/** What only a PostgreSQL store can do: writes on clients of the test's own, and ending sessions. */
interface PostgresWrites {
	connect(): Promise<pg.Client>;
	insertOn(client: pg.Client, times: readonly number[]): Promise<Staged>;
	/** Ends every session relaytop holds on the database; returns how many. */
	terminateRelaytop(): Promise<number>;
	query(text: string): Promise<void>;
}

interface Store {
	readonly kind: StoreKind;
	readonly templateCount: number;
	open(rollups?: RollupPolicy): Promise<UsageSource>;
	oracle(): Oracle;
	/** Commits one copy of a request of the store's own per time (ms), cycling through the templates; returns the new ids. */
	insert(times: readonly number[]): Promise<number[]>;
	/** Every row older than `tsMs`, of any type, as a retention job deletes them. */
	deleteBefore(tsMs: number): Promise<void>;
	deleteIds(ids: readonly number[]): Promise<void>;
	/** Gives one row another model name: an edit in place, which no merge sees. */
	renameModel(id: number, model: string): Promise<void>;
	readonly postgres?: PostgresWrites;
	close(): Promise<void>;
}

const TABLE: Record<StoreKind, {table: string; requests: string; time: string; seconds: boolean}> = {
	newapi: {table: 'logs', requests: 'type IN (2, 5)', time: 'created_at', seconds: true},
	cpa: {table: 'usage_events', requests: '1 = 1', time: 'timestamp_ms', seconds: false},
};

/** A template's values dated `tsMs`, without its id; CPA-Manager's event_hash is unique, so each copy gets its own. */
function copyOf(kind: StoreKind, template: RawRow, tsMs: number, serial: number): RawRow {
	const {id: _id, ...row} = template;
	if (kind === 'newapi') {
		return {...row, created_at: Math.floor(tsMs / 1000)};
	}
	return {...row, timestamp_ms: tsMs, timestamp: new Date(tsMs).toISOString(), created_at_ms: tsMs, event_hash: `${String(template.event_hash)}-copy-${serial}`};
}

/** Requests spread over the whole table, so copies bring models, users and keys old and new. */
const templatesOf = (db: Database.Database, kind: StoreKind): RawRow[] =>
	db.prepare(`SELECT * FROM ${TABLE[kind].table} WHERE ${TABLE[kind].requests} AND id % 997 = 0 ORDER BY id`).all() as RawRow[];

const columnsOf = (db: Database.Database, table: string): string[] =>
	(db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as Array<{name: string}>).map(row => row.name).filter(name => name !== 'id');

const timeBound = (kind: StoreKind, tsMs: number): number => (TABLE[kind].seconds ? Math.ceil(tsMs / 1000) : tsMs);

/** A writable SQLite connection in WAL mode, so the read-only sources see each commit. */
function openWriter(path: string, kind: StoreKind) {
	const db = new Database(path);
	db.pragma('journal_mode = WAL');
	const {table} = TABLE[kind];
	const columns = columnsOf(db, table);
	const insert = (withId: boolean) =>
		db.prepare(`INSERT INTO ${table} (${[...(withId ? ['id'] : []), ...columns].map(name => `"${name}"`).join(', ')}) VALUES (${[...(withId ? ['id'] : []), ...columns].map(name => `@${name}`).join(', ')})`);
	return {db, columns, insertNew: insert(false), insertWithId: insert(true)};
}

function tempCopy(kind: StoreKind): {path: string; dir: string} {
	const dir = mkdtempSync(join(tmpdir(), 'relaytop-rollups-'));
	const path = join(dir, 'store.sqlite');
	copyFileSync(fixturePath(kind), path);
	return {path, dir};
}

/** The oracle read again only when something was written since. */
function cachedOracle(kind: StoreKind, path: string): {get: () => Oracle; written: () => void} {
	let oracle: Oracle | undefined;
	return {get: () => (oracle ??= readOracle(kind, path)), written: () => (oracle = undefined)};
}

function sqliteStore(kind: StoreKind): Store {
	const {path, dir} = tempCopy(kind);
	const writer = openWriter(path, kind);
	const templates = templatesOf(writer.db, kind);
	const {table, time} = TABLE[kind];
	const oracle = cachedOracle(kind, path);
	let serial = 0;
	const sources: UsageSource[] = [];
	return {
		kind,
		templateCount: templates.length,
		open: async rollups => {
			const source = openTarget(path, rollups === undefined ? {} : {rollups});
			sources.push(source);
			return source;
		},
		oracle: oracle.get,
		insert: async times => {
			oracle.written();
			return writer.db.transaction(() => times.map(tsMs => Number(writer.insertNew.run(copyOf(kind, templates[serial % templates.length]!, tsMs, serial++)).lastInsertRowid)))();
		},
		deleteBefore: async tsMs => {
			oracle.written();
			writer.db.prepare(`DELETE FROM ${table} WHERE ${time} < ?`).run(timeBound(kind, tsMs));
		},
		deleteIds: async ids => {
			oracle.written();
			const remove = writer.db.prepare(`DELETE FROM ${table} WHERE id = ?`);
			writer.db.transaction(() => ids.forEach(id => remove.run(id)))();
		},
		renameModel: async (id, model) => {
			oracle.written();
			writer.db.prepare(`UPDATE ${table} SET ${kind === 'newapi' ? 'model_name' : 'model'} = ? WHERE id = ?`).run(model, id);
		},
		close: async () => {
			for (const source of sources) await source.close();
			writer.db.close();
			rmSync(dir, {recursive: true, force: true});
		},
	};
}

/**
 * new-api's fixture on PostgreSQL, and a SQLite copy of it given the same writes (the same ids):
 * the oracle reads the copy, so nothing it knows comes through PostgreSQL.
 */
async function postgresStore(): Promise<Store> {
	const kind = 'newapi';
	const database = await freshDatabase('relaytop_range_rollups');
	const connect = async () => {
		const client = new pg.Client({connectionString: database.url});
		await client.connect();
		return client;
	};
	const writer = await connect();
	await loadNewApiIntoPostgres(writer, fixturePath(kind));
	const {path, dir} = tempCopy(kind);
	const mirror = openWriter(path, kind);
	const templates = templatesOf(mirror.db, kind);
	const oracle = cachedOracle(kind, path);
	const clients: pg.Client[] = [writer];
	const sources: UsageSource[] = [];
	let serial = 0;
	// SQLite keeps is_stream as 0/1.
	const pgValue = (column: string, value: unknown) => (column === 'is_stream' && value !== null ? value !== 0 : value);
	const insertSql = `INSERT INTO logs (${mirror.columns.map(name => `"${name}"`).join(', ')}) VALUES (${mirror.columns.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`;

	const insertOn = async (client: pg.Client, times: readonly number[]): Promise<Staged> => {
		const rows = times.map(tsMs => copyOf(kind, templates[serial % templates.length]!, tsMs, serial++));
		const ids: number[] = [];
		for (const row of rows) {
			const result = await client.query<{id: string}>(insertSql, mirror.columns.map(column => pgValue(column, row[column])));
			ids.push(Number(result.rows[0]!.id));
		}
		return {
			ids,
			mirror: () => {
				oracle.written();
				mirror.db.transaction(() => rows.forEach((row, i) => mirror.insertWithId.run({...row, id: ids[i]})))();
			},
		};
	};
	const both = async (text: string, params: readonly (number | string)[]) => {
		oracle.written();
		await writer.query(text.replace(/\?/gu, (_, offset: number) => `$${text.slice(0, offset).split('?').length}`), [...params]);
		mirror.db.prepare(text).run(...params);
	};

	return {
		kind,
		templateCount: templates.length,
		open: async rollups => {
			const source = await openSource(database.url, rollups === undefined ? {} : {rollups});
			sources.push(source);
			return source;
		},
		oracle: oracle.get,
		insert: async times => {
			const staged = await insertOn(writer, times);
			staged.mirror();
			return staged.ids;
		},
		deleteBefore: tsMs => both('DELETE FROM logs WHERE created_at < ?', [timeBound(kind, tsMs)]),
		deleteIds: async ids => {
			for (const id of ids) await both('DELETE FROM logs WHERE id = ?', [id]);
		},
		renameModel: (id, model) => both('UPDATE logs SET model_name = ? WHERE id = ?', [model, id]),
		postgres: {
			connect: async () => {
				const client = await connect();
				clients.push(client);
				return client;
			},
			insertOn,
			terminateRelaytop: async () => {
				const {rows} = await writer.query<{n: string}>(
					"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'relaytop' AND datname = current_database()",
				);
				return Number(rows[0]!.n);
			},
			query: async text => {
				await writer.query(text);
			},
		},
		close: async () => {
			for (const source of sources) await source.close();
			for (const client of clients) await client.end().catch(() => undefined);
			await database.drop();
			mirror.db.close();
			rmSync(dir, {recursive: true, force: true});
		},
	};
}

// ---------------------------------------------------------------------------------------------
// Comparisons

/** A source with rollups and the same store without them: the full recomputation. */
interface Pair {
	readonly rolled: UsageSource;
	readonly direct: UsageSource;
}

const withoutCost = <T extends {costUsd: number}>(value: T) => ({...value, costUsd: 0});

function expectSameSummary(actual: Summary, expected: Summary, what: string): void {
	const figures = (summary: Summary) => withoutCost({...summary, aggregation: undefined});
	expect(figures(actual), what).toEqual(figures(expected));
	expectClose(actual.costUsd, expected.costUsd, `${what}: cost`);
}

function expectSameModels(actual: readonly ModelUsage[], expected: readonly ModelUsage[], what: string): void {
	expect(actual.map(withoutCost), what).toEqual(expected.map(withoutCost));
	expected.forEach((model, i) => expectClose(actual[i]!.costUsd, model.costUsd, `${what}: cost of ${model.model}`));
}

function expectSamePage(actual: GroupPage, expected: GroupPage, what: string): void {
	expect({...actual, items: actual.items.map(withoutCost)}, what).toEqual({...expected, items: expected.items.map(withoutCost)});
	expected.items.forEach((group, i) => expectClose(actual.items[i]!.costUsd, group.costUsd, `${what}: cost of ${group.key}`));
}

/**
 * The summary, the models, pages 1 and 2 of every dimension and of the API keys under several
 * orders: the same from both sources, the rolled one answering as `mode` says. Returns its summary.
 */
async function expectSameFigures({rolled, direct}: Pair, query: UsageQuery, mode: Aggregation['mode'] = 'rollup'): Promise<Summary> {
	const where = `${JSON.stringify(query.filters)} ${new Date(query.range.startMs ?? 0).toISOString()} to ${new Date(query.range.endMs).toISOString()}`;
	const summary = await rolled.summary(query);
	expect(summary.aggregation?.mode, `${where}: ${JSON.stringify(summary.aggregation)}`).toBe(mode);
	expectSameSummary(summary, await direct.summary(query), `${where}: summary`);
	expectSameModels(await rolled.models(query), await direct.models(query), `${where}: models`);
	expect(await rolled.facets(query), `${where}: facets`).toEqual(await direct.facets(query));
	for (const axis of [...rolled.capabilities.dimensions, 'apiKeys'] as const) {
		const pageOf = (source: UsageSource, request: Parameters<UsageSource['apiKeys']>[1]) =>
			axis === 'apiKeys' ? source.apiKeys(query, request) : source.groups(query, axis, request);
		for (const [sortKey, sortDirection] of SORTS) {
			for (const page of [1, 2]) {
				const request = {page, pageSize: PAGE_SIZE, sortKey, sortDirection};
				expectSamePage(await pageOf(rolled, request), await pageOf(direct, request), `${where}: ${axis} by ${sortKey} ${sortDirection}, page ${page}`);
			}
		}
	}
	return summary;
}

const oracleRows = (store: Store, query: UsageQuery): OracleRow[] =>
	inRange(store.oracle().rows, query.range.startMs, query.range.endMs).filter(store.oracle().select(query.filters));

/** The summary and the channel table, as the raw rows say. */
async function expectAsOracle(source: UsageSource, store: Store, query: UsageQuery): Promise<void> {
	const rows = oracleRows(store, query);
	const what = JSON.stringify(query.filters);
	const summary = await source.summary(query);
	const oracle = summarize(rows);
	const {aggregation: _aggregation, ...figures} = summary;
	expect({...figures, costUsd: 0, latencyMsAvg: 0}, what).toEqual({...oracle, costUsd: 0, latencyMsAvg: 0});
	expectClose(summary.costUsd, oracle.costUsd, `${what}: cost`);
	// Sources round the average latency to 0.1 ms.
	expect(summary.latencyMsAvg, what).toBeCloseTo(oracle.latencyMsAvg!, 1);

	const groups = sortGroups(groupBy(rows, row => row.dims.channel!), 'totalCalls', 'desc');
	const page = await source.groups(query, 'channel' satisfies Dimension, {page: 1, pageSize: 500, sortKey: 'totalCalls', sortDirection: 'desc'});
	expect(page.totalItems, what).toBe(groups.length);
	expect(page.items.map(item => ({...item, costUsd: 0})), what).toEqual(groups.map(group => ({...group, label: store.oracle().channelLabel(group.key), costUsd: 0})));
	groups.forEach((group, i) => expectClose(page.items[i]!.costUsd, group.costUsd, `${what}: cost of channel ${group.key}`));
}

/** Both: the same figures as the full recomputation, and those of the raw rows. */
async function expectRight(pair: Pair, store: Store, query: UsageQuery, mode: Aggregation['mode'] = 'rollup'): Promise<Summary> {
	const summary = await expectSameFigures(pair, query, mode);
	await expectAsOracle(pair.rolled, store, query);
	return summary;
}

const idsIn = (store: Store, query: UsageQuery): Set<number> => new Set(oracleRows(store, query).map(row => row.id));

/** Guards a case's premise: these rows are (or are not) in the range, as the raw rows say. */
function expectInRange(store: Store, query: UsageQuery, ids: readonly number[], inside: boolean): void {
	const present = idsIn(store, query);
	expect(ids.map(id => present.has(id)), `${inside ? 'inside' : 'outside'} ${JSON.stringify(query.range)}`).toEqual(ids.map(() => inside));
}

/** The first call after the server ended a session may fail; the next must answer. */
async function afterReconnect<T>(call: () => Promise<T>): Promise<T> {
	try {
		return await call();
	} catch {
		return call();
	}
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Reads until the rollup in service is one loaded at or after `sinceMs` (a full load runs beside it). */
async function untilReloadedAfter(source: UsageSource, query: UsageQuery, sinceMs: number): Promise<void> {
	const deadline = Date.now() + 60_000;
	while (rollupOf(await source.summary(query)).reconciledAtMs < sinceMs) {
		if (Date.now() > deadline) throw new Error('no full load took over within 60 s');
		await sleep(20);
	}
}
const rollupOf = (summary: Summary) => {
	const {aggregation} = summary;
	if (aggregation?.mode !== 'rollup') throw new Error(`expected a rollup, got ${JSON.stringify(aggregation)}`);
	return aggregation;
};

// ---------------------------------------------------------------------------------------------
// The cases

interface Subject {
	readonly name: string;
	readonly open: () => Store | Promise<Store>;
	/** A search that selects some of the requests but not all. */
	readonly search: string;
	readonly postgres: boolean;
}

const SUBJECTS: Subject[] = [
	{name: 'new-api on SQLite', open: () => sqliteStore('newapi'), search: 'gpt', postgres: false},
	{name: 'CPA-Manager SQLite store', open: () => sqliteStore('cpa'), search: 'gem', postgres: false},
	{name: 'new-api on PostgreSQL', open: postgresStore, search: 'gpt', postgres: true},
];

describe.each(SUBJECTS)('range rollups: $name', {timeout: 240_000}, subject => {
	let store: Store;
	let pair: Pair;
	/** The dashboard's window: seven days up to "now", which the cases move forward. */
	let window: TimeRange;
	const query = (filters: Filters = {}): UsageQuery => ({range: window, filters});
	const slide = (ms: number) => {
		window = {startMs: window.startMs! + ms, endMs: window.endMs + ms};
	};
	const check = (filters: Filters = {}) => expectRight(pair, store, query(filters));

	beforeAll(async () => {
		store = await subject.open();
		pair = {rolled: await store.open(POLICY), direct: await store.open()};
		const newest = newestOf(store.oracle().rows);
		window = {startMs: newest - WEEK, endMs: newest};
	});

	afterAll(async () => {
		await store?.close();
	});

	it('1. loads a window as the full recomputation and the raw rows count it', async () => {
		const summary = await check();
		expect(rollupOf(summary)).toMatchObject({mergedRows: 0});
		expect(rollupOf(summary).groups).toBeGreaterThan(0);
		expect(summary.totalRequests).toBeGreaterThan(1000);
	});

	it('2. counts rows inserted at the head as the end moves forward', async () => {
		const ids = await store.insert(Array.from({length: 20}, (_, i) => window.endMs + (i + 1) * 2 * SECOND));
		slide(MINUTE);
		expectInRange(store, query(), ids, true);
		await check();
	});

	it('3. counts rows dated inside the window whenever they come, and a row dated past the end once the end reaches it', async () => {
		const {startMs, endMs} = window as {startMs: number; endMs: number};
		const inside = await store.insert([startMs, startMs + SECOND, startMs + 3 * DAY + 17 * SECOND, endMs - 5 * MINUTE, endMs]);
		const before = await store.insert([startMs - SECOND, startMs - HOUR]);
		const future = await store.insert([endMs + 30 * MINUTE, endMs + HOUR, endMs + HOUR + SECOND]);
		expectInRange(store, query(), inside, true);
		expectInRange(store, query(), [...before, ...future], false);
		await check();

		slide(HOUR);
		expectInRange(store, query(), future.slice(0, 2), true);
		expectInRange(store, query(), [...before, future[2]!], false);
		await check();
		slide(SECOND);
		expectInRange(store, query(), future, true);
		await check();
	});

	it('4. lets rows leave at the start as the window slides past hour and day boundaries', async () => {
		const steps = [13 * HOUR, 25 * HOUR, HOUR + 7 * SECOND, 2 * DAY + 30 * MINUTE];
		for (const [i, step] of steps.entries()) {
			// Rows on the next step's start: one that stays (the start is inclusive) and one just before it that leaves.
			const next = steps[i + 1];
			const edge = next === undefined ? [] : await store.insert([window.startMs! + step + next, window.startMs! + step + next - SECOND]);
			const head = await store.insert([window.endMs + step - MINUTE, window.endMs + step]);
			const leaving = oracleRows(store, query()).filter(row => row.tsMs < window.startMs! + step);
			slide(step);
			expect(leaving.length, `rows leaving over ${step / HOUR} h`).toBeGreaterThan(0);
			expectInRange(store, query(), [...edge, ...head], true);
			await check();
		}
	});

	it('5. follows deletes: before the window (no change), a retention delete inside it, a single recent row', async () => {
		const before = await check();
		await store.deleteBefore(window.startMs!);
		expectSameSummary(await check(), before, 'after deleting only rows older than the window');

		const retention = window.startMs! + 2 * DAY;
		expect(oracleRows(store, query()).some(row => row.tsMs < retention)).toBe(true);
		await store.deleteBefore(retention);
		await check();

		// The newest row, read once by the rollup: its id was the largest.
		const [newest] = await store.insert([window.endMs - SECOND]);
		await check();
		await store.deleteIds([newest!]);
		await check();

		// A recent row that is not the newest: ids above it remain.
		const recent = await store.insert([window.endMs - 3 * SECOND, window.endMs - 2 * SECOND, window.endMs - SECOND]);
		await check();
		await store.deleteIds([recent[1]!]);
		await check();
	});

	it('5c. notices a retention delete that reaches past the old start while the window slides', async () => {
		// Rows on both sides of the cutoff, counted before it runs: those before it are deleted, not leaving.
		await store.insert([window.startMs! + 10 * MINUTE, window.startMs! + 40 * MINUTE]);
		await check();
		await store.deleteBefore(window.startMs! + 30 * MINUTE);
		expect(oracleRows(store, query()).some(row => row.tsMs >= window.startMs! + 30 * MINUTE && row.tsMs < window.startMs! + HOUR)).toBe(true);
		slide(HOUR);
		await check();
	});

	it('5b. notices the newest row deleted and another inserted before its next read', async () => {
		// A rollup of its own: the main one never reads the deleted row, so it stays right for the cases after.
		const own: Pair = {rolled: await store.open(POLICY), direct: pair.direct};
		const [newest] = await store.insert([window.endMs - SECOND]);
		await expectRight(own, store, query());
		await store.deleteIds([newest!]);
		const reused = await store.insert([window.endMs - 40 * MINUTE]);
		// A SQLite table without AUTOINCREMENT (new-api's) gives the new row the deleted one's id.
		if (store.kind === 'newapi' && !subject.postgres) {
			expect(reused).toEqual([newest]);
		}
		await expectRight(own, store, query());
	});

	it('6. keeps rollups under a model filter, a status filter and a search, each as the direct source answers it', async () => {
		const counts = new Map<string, number>();
		for (const row of oracleRows(store, query())) counts.set(row.model, (counts.get(row.model) ?? 0) + 1);
		const model = [...counts].sort(([, a], [, b]) => b - a)[0]![0];
		const filtersList: Filters[] = [{model}, {status: 'failed'}, {search: subject.search}];
		const all = oracleRows(store, query()).length;
		for (const filters of filtersList) {
			const selected = oracleRows(store, query(filters)).length;
			expect(selected, JSON.stringify(filters)).toBeGreaterThan(0);
			expect(selected, JSON.stringify(filters)).toBeLessThan(all);
			await check(filters);
		}
		// Every template once, so that each filter gains rows as well as loses them.
		const ids = await store.insert(Array.from({length: store.templateCount}, (_, i) => window.endMs + (i + 1) * SECOND));
		slide(2 * HOUR);
		for (const filters of filtersList) {
			expect(ids.filter(id => idsIn(store, query(filters)).has(id)).length, JSON.stringify(filters)).toBeGreaterThan(0);
			await check(filters);
		}
		await check();
	});

	// Transactions and sessions: a server's, not a file's.
	if (subject.postgres) {
		it('7a. counts a row whose transaction commits after a later row, once it commits', async () => {
			const {postgres} = store;
			const [early, late] = [await postgres!.connect(), await postgres!.connect()];
			await check();
			await early.query('BEGIN');
			const first = await postgres!.insertOn(early, [window.endMs + 10 * SECOND]);
			const second = await postgres!.insertOn(late, [window.endMs + 20 * SECOND]);
			second.mirror();
			expect(second.ids[0]).toBeGreaterThan(first.ids[0]!);
			slide(MINUTE);
			await check();
			await early.query('COMMIT');
			first.mirror();
			expectInRange(store, query(), [...first.ids, ...second.ids], true);
			await check();
		});

		it('7b. counts a row whose transaction was still open when the rollup was first loaded, once it commits', async () => {
			const {postgres} = store;
			const [early, late] = [await postgres!.connect(), await postgres!.connect()];
			await early.query('BEGIN');
			const first = await postgres!.insertOn(early, [window.endMs + 10 * SECOND]);
			const second = await postgres!.insertOn(late, [window.endMs + 20 * SECOND]);
			second.mirror();
			slide(MINUTE);
			const fresh: Pair = {rolled: await store.open(POLICY), direct: pair.direct};
			await expectRight(fresh, store, query());
			await early.query('COMMIT');
			first.mirror();
			expectInRange(store, query(), [...first.ids, ...second.ids], true);
			await expectRight(fresh, store, query());
		});

		it('7c. reconnects after the server ends its session, and ignores a statistics reset', async () => {
			const {postgres} = store;
			await check();
			expect(await postgres!.terminateRelaytop()).toBeGreaterThan(0);
			const ids = await store.insert([window.endMs + 5 * SECOND, window.endMs + 6 * SECOND]);
			slide(MINUTE);
			await afterReconnect(() => pair.rolled.summary(query()));
			await afterReconnect(() => pair.direct.summary(query()));
			expectInRange(store, query(), ids, true);
			await check();

			await postgres!.query('SELECT pg_stat_reset()');
			await check();
		});
	}

	it('8. answers directly, with the cap as the reason, when a rollup would hold more groups than allowed', async () => {
		const capped: Pair = {rolled: await store.open({...POLICY, maxGroups: 5}), direct: pair.direct};
		// The second read comes before the next reconciliation is due: the cap still holds.
		for (const move of [0, MINUTE]) {
			slide(move);
			const {aggregation} = await expectRight(capped, store, query(), 'direct');
			expect(aggregation?.mode === 'direct' && aggregation.reason).toMatch(/cap/u);
		}
	});

	it('9. answers a range shorter than minSpanMs, and a window older than the rollup, directly', async () => {
		const shortFirst: Pair = {rolled: await store.open({...POLICY, minSpanMs: 2 * DAY}), direct: pair.direct};
		const day: UsageQuery = {range: {startMs: window.endMs - DAY, endMs: window.endMs}, filters: {}};
		expect((await expectRight(shortFirst, store, day, 'direct')).aggregation).toEqual({mode: 'direct', reason: SHORT_RANGE});
		await expectRight(shortFirst, store, query(), 'rollup');
		const earlier: UsageQuery = {range: {startMs: window.startMs! - HOUR, endMs: window.endMs - HOUR}, filters: {}};
		await expectRight(shortFirst, store, earlier, 'direct');
		await expectRight(shortFirst, store, query(), 'rollup');
	});

	it('4b. loads again, rather than reading the rows leaving one by one, when the start jumps past maxSlideMs', async () => {
		const jumping: Pair = {rolled: await store.open({...POLICY, maxSlideMs: HOUR}), direct: pair.direct};
		const loaded = rollupOf(await expectRight(jumping, store, query()));
		await store.insert([window.endMs + 30 * SECOND]);
		slide(MINUTE);
		const merged = rollupOf(await expectRight(jumping, store, query()));
		expect(merged.reconciledAtMs).toBe(loaded.reconciledAtMs);
		expect(merged.mergedRows).toBeGreaterThan(0);
		await sleep(5);
		slide(2 * HOUR);
		const reloaded = rollupOf(await expectRight(jumping, store, query()));
		expect(reloaded.reconciledAtMs).toBeGreaterThan(loaded.reconciledAtMs);
		expect(reloaded.mergedRows).toBe(0);
	});

	it('10a. with reconcileMs 0, loads the window in full again and again, beside the rollup in service', async () => {
		const always: Pair = {rolled: await store.open({...POLICY, reconcileMs: 0}), direct: pair.direct};
		const first = rollupOf(await expectRight(always, store, query()));
		expect(first.mergedRows).toBe(0);
		await sleep(5);
		// A row no merge could see go: neither the newest, nor the oldest, nor recently read.
		const middle = oracleRows(store, query()).find(row => row.tsMs > window.startMs! + DAY && row.tsMs < window.endMs - DAY)!;
		await store.deleteIds([middle.id]);
		await untilReloadedAfter(always.rolled, query(), Date.now());
		const second = rollupOf(await expectRight(always, store, query()));
		expect(second.reconciledAtMs).toBeGreaterThan(first.reconciledAtMs);
	});

	it('10c. loads the window in full on request (R in the dashboard), catching a change no merge sees', async () => {
		const asked: Pair = {rolled: await store.open(POLICY), direct: pair.direct};
		const first = rollupOf(await expectRight(asked, store, query()));
		const middle = oracleRows(store, query()).find(row => row.tsMs > window.startMs! + DAY && row.tsMs < window.endMs - DAY)!;
		await store.deleteIds([middle.id]);
		const unseen = await asked.rolled.summary(query());
		expect(unseen.totalRequests, 'a merge cannot see a row deleted in the middle').toBe(summarize(oracleRows(store, query())).totalRequests + 1);
		await sleep(5);
		const asking = Date.now();
		await asked.rolled.reconcile();
		// The figures in service stay on until the full load beside them is done, then it takes over.
		expect(rollupOf(await asked.rolled.summary(query())).reconciledAtMs).toBe(first.reconciledAtMs);
		await untilReloadedAfter(asked.rolled, query(), asking);
		const second = rollupOf(await expectRight(asked, store, query()));
		expect(second.reconciledAtMs).toBeGreaterThanOrEqual(asking);
	});

	it('10b. with a long reconcileMs, merges instead of reloading and counts the rows merged', async () => {
		const merging: Pair = {rolled: await store.open(POLICY), direct: pair.direct};
		const loaded = rollupOf(await merging.rolled.summary(query()));
		const before = idsIn(store, query());
		const oldest = Math.min(...oracleRows(store, query()).map(row => row.tsMs));
		const step = oldest - window.startMs! + 3 * HOUR; // the window's first 3 h of requests leave
		await store.insert([window.startMs! + HOUR, window.endMs - MINUTE, window.endMs + HOUR, window.endMs + step + HOUR, window.startMs! - MINUTE]);
		slide(step);
		const after = idsIn(store, query());
		const left = [...before].filter(id => !after.has(id)).length;
		const entered = [...after].filter(id => !before.has(id)).length;
		expect([left, entered].every(count => count > 0), `${left} left, ${entered} entered`).toBe(true);
		const merged = rollupOf(await expectRight(merging, store, query()));
		expect(merged).toMatchObject({mergedRows: left + entered, reconciledAtMs: loaded.reconciledAtMs});
	});

	it('10d. gives the filter menu its choices from the rollup of the range and search, whatever the filters', async () => {
		const asked: Pair = {rolled: await store.open(POLICY), direct: pair.direct};
		const searched: Filters = {search: subject.search};
		await expectRight(asked, store, query());
		await expectRight(asked, store, query(searched));
		const middle = oracleRows(store, query(searched)).find(row => row.tsMs > window.startMs! + DAY && row.tsMs < window.endMs - DAY)!;
		const renamed = `${subject.search}-renamed-in-place`;
		await store.renameModel(middle.id, renamed);
		const choices = async (source: UsageSource, filters: Filters) => (await source.facets(query(filters))).models.map(choice => choice.value);
		// The edit is one no merge sees: the direct source has the new name, a rollup cannot yet.
		expect(await choices(asked.direct, {})).toContain(renamed);
		expect(await choices(asked.direct, searched)).toContain(renamed);
		const fromRollup = store.kind === 'newapi';
		for (const filters of [{}, searched, {...searched, status: 'failed'}, {model: middle.model}] satisfies Filters[]) {
			expect((await choices(asked.rolled, filters)).includes(renamed), JSON.stringify(filters)).toBe(!fromRollup);
		}
		// A filter picked before the range was read without one: the choices are queried, and no
		// rollup is loaded for the menu (the range's own is loaded by its first read).
		const filteredFirst = await store.open(POLICY);
		const picked: Filters = {status: 'failed'};
		await filteredFirst.summary(query(picked));
		expect(await choices(filteredFirst, picked)).toContain(renamed);
		await sleep(5);
		const unfilteredRead = Date.now();
		expect(rollupOf(await filteredFirst.summary(query())).reconciledAtMs).toBeGreaterThanOrEqual(unfilteredRead);
		await sleep(5);
		const asking = Date.now();
		await asked.rolled.reconcile();
		await untilReloadedAfter(asked.rolled, query(), asking);
		await untilReloadedAfter(asked.rolled, query(searched), asking);
		expect(await choices(asked.rolled, {})).toContain(renamed);
		await expectRight(asked, store, query(searched));
	});
});
