import {spawn} from 'node:child_process';
import {join} from 'node:path';
import {createInterface} from 'node:readline';
import {setTimeout as delay} from 'node:timers/promises';
import {setFlagsFromString} from 'node:v8';
import {runInNewContext} from 'node:vm';
import Database from 'better-sqlite3';
import pg from 'pg';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {startEmbeddedPostgres} from '../source/postgres/embedded/embedded-server.js';
import {DEFAULT_ROLLUP_POLICY} from '../source/sources/rollup/range-rollups.js';
import {keyColumn, UsageRollup} from '../source/sources/rollup/usage-rollup.js';
import {openSource, openTarget} from '../source/sources/open-target.js';
import type {Aggregation, Dimension, UsageQuery, UsageSource} from '../source/usage/types.js';
import {APPENDED} from './appended-rows.js';
import {ensureBenchStore} from './bench-store.js';
import {databaseUrl, ensureLogsTable, topUp} from './pg-logs-table.js';
import {distribution, type Distribution} from './percentiles.js';
import {textTable} from './text-table.js';

// The 7-day and 30-day views of a live dashboard, refreshed every 2 s while a gateway appends 20
// requests a second: answered by direct queries over the range (each refresh scans it) and by the
// range rollups (source/sources/rollup: one load, then only the rows that changed), in the same run.
//
// - Stores: new-api `logs` on the embedded PostgreSQL, 10M rows over 90 days with upstream's
//   indexes (pg-logs-table.ts, shared with pgqueries); CPA-Manager's SQLite store of 1M events
//   (bench-store.ts, shared with accounts). A writer appends at the rate given: a client of its own
//   on PostgreSQL, a process of its own on SQLite.
// - One refresh: what the dashboard's range panels ask, each with the clock read at its call:
//   summary, models, accounts (first dimension, a 52-row page by calls), API keys (by cost).
// - Direct: a source without rollups, `directRuns` refreshes; on PostgreSQL a call past the 10 s
//   statement timeout counts its 10 s (a lower bound), and two plain direct queries (the quota
//   sum and the top-20 users page over the range) are timed without a timeout. Rollups: a fresh source with the
//   dashboard's policy; its first refresh is the first load, then `refreshes` refreshes 2 s apart.
// - Server time (PostgreSQL): pg_stat_statements total_exec_time + total_plan_time of the role the
//   source connects as, per refresh. Memory: the heap after a full collection, with the rollup
//   loaded and after the source is closed.
// Figures are reported, never asserted.

export interface RollupsSettings {
	readonly pgRows: number;
	readonly pgDatabase: string;
	readonly cpaEvents: number;
	readonly writerRowsPerS: number;
	readonly intervalMs: number;
	readonly refreshes: number;
	readonly directRuns: number;
	readonly resultsName: string;
}

export const rollupsSettings = (quick: boolean): RollupsSettings =>
	quick
		? {pgRows: 100_000, pgDatabase: 'newapi_logs_100k', cpaEvents: 100_000, writerRowsPerS: 20, intervalMs: 2000, refreshes: 4, directRuns: 1, resultsName: 'range-rollups-quick'}
		: {pgRows: 10_000_000, pgDatabase: 'newapi_logs_10m', cpaEvents: 1_000_000, writerRowsPerS: 20, intervalMs: 2000, refreshes: 15, directRuns: 3, resultsName: 'range-rollups'};

const RANGES = [
	{name: '7d', ms: 7 * 86_400_000},
	{name: '30d', ms: 30 * 86_400_000},
] as const;

const PAGE = {page: 1, pageSize: 52} as const;
const ROLE = 'relaytop_rollups';

interface RefreshTimes {
	readonly totalMs: number;
	readonly perCallMs: Record<string, number>;
	/** Calls cut short by the statement timeout: their time is a lower bound of what they would take. */
	readonly timedOut: number;
}

const TIMED_OUT = /statement timeout|canceling statement/iu;

export interface RangeFigures {
	readonly range: string;
	/** relaytop without rollups; on PostgreSQL a refresh may end at the 10 s statement timeout (timedOut). */
	readonly direct: {readonly refreshMs: Distribution; readonly timedOut: number; readonly serverMsPerRefresh: number | null};
	/** Two plain direct queries (PostgreSQL): the quota sum over the range and the top-20 users page, no timeout. */
	readonly plainQueries: {readonly quotaSumMs: number; readonly userPageMs: number} | null;
	readonly rollup: {
		readonly firstLoadMs: number;
		readonly refreshMs: Distribution;
		readonly perCallMedianMs: Record<string, number>;
		readonly serverMsPerRefresh: number | null;
		readonly groups: number;
		readonly heapMb: number;
		readonly aggregation: Aggregation | undefined;
	};
	/** Median direct refresh ÷ median rollup refresh (a lower bound when direct refreshes timed out). */
	readonly speedup: number;
	/** The two plain direct queries together ÷ median rollup refresh. */
	readonly speedupOverPlainQueries: number | null;
}

export interface StoreFigures {
	readonly store: string;
	readonly rows: number;
	readonly writerRowsPerS: number;
	readonly ranges: RangeFigures[];
}

export interface RollupsResults {
	readonly stores: StoreFigures[];
	/** The heap one group takes, from a rollup of GROUP_PROBE distinct API keys: what the cap bounds. */
	readonly bytesPerGroup: number;
	/** The cap of one rollup in groups, and the heap it stands for at bytesPerGroup. */
	readonly cap: {readonly groups: number; readonly mb: number};
}

const GROUP_PROBE = 100_000;

/** Heap bytes per group: GROUP_PROBE requests, each its own API key, merged into one rollup. */
function bytesPerGroup(): number {
	const before = heapMb();
	const rollup = new UsageRollup(['model', 'account', 'apiKeys']);
	for (let i = 0; i < GROUP_PROBE; i++) {
		const keys = {model: 'gpt-4o-mini', account: 'alice', apiKeys: `sk-${i.toString(16).padStart(12, '0')}`};
		rollup.applyRow({...Object.fromEntries(Object.entries(keys).map(([axis, key]) => [keyColumn(axis), key])), requests: 1, successes: 1, total_tokens: 1000, cost_usd: 0.001, last_ts_ms: i}, 1);
	}
	if (rollup.groups < GROUP_PROBE) throw new Error(`the probe's rows made ${rollup.groups} groups, not ${GROUP_PROBE}`);
	return Math.round(((heapMb() - before) * 1_048_576) / rollup.groups);
}

// A full collection before reading the heap, without asking `npm run bench` for --expose-gc.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;
const heapMb = (): number => {
	collect();
	collect();
	return process.memoryUsage().heapUsed / 1_048_576;
};

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

/** The store's clock: now, or now moved to the time of a store whose data ends in the past. */
type Clock = () => number;

async function refresh(source: UsageSource, rangeMs: number, dimension: Dimension, clock: Clock): Promise<RefreshTimes> {
	const query = (): UsageQuery => {
		const endMs = clock();
		return {range: {startMs: endMs - rangeMs, endMs}, filters: {}};
	};
	const perCallMs: Record<string, number> = {};
	let timedOut = 0;
	const call = async (name: string, work: () => Promise<unknown>) => {
		const started = performance.now();
		try {
			await work();
		} catch (error) {
			if (!TIMED_OUT.test(String(error))) throw error;
			timedOut++;
		}
		perCallMs[name] = performance.now() - started;
	};
	const started = performance.now();
	await call('summary', () => source.summary(query()));
	await call('models', () => source.models(query()));
	await call('accounts', () => source.groups(query(), dimension, {...PAGE, sortKey: 'totalCalls', sortDirection: 'desc'}));
	await call('apiKeys', () => source.apiKeys(query(), {...PAGE, sortKey: 'totalCost', sortDirection: 'desc'}));
	return {totalMs: performance.now() - started, perCallMs, timedOut};
}

/** The server time of the role's statements since the last reset, in ms. */
interface ServerClock {
	reset(): Promise<void>;
	read(): Promise<number>;
}

/** A store's way to open its source, its clock, and on PostgreSQL its server clock and the plain direct queries. */
interface Subject {
	open(rollups: boolean): Promise<UsageSource>;
	readonly clock: Clock;
	readonly server: ServerClock | null;
	readonly plainQueries: ((rangeMs: number) => Promise<{quotaSumMs: number; userPageMs: number}>) | null;
}

async function measureRange(subject: Subject, rangeName: string, rangeMs: number, settings: RollupsSettings, log: (line: string) => void): Promise<RangeFigures> {
	const {server} = subject;
	const direct = await subject.open(false);
	const dimension = direct.capabilities.dimensions[0]!;
	const directTimes: number[] = [];
	let timedOut = 0;
	await server?.reset();
	try {
		for (let run = 0; run < settings.directRuns; run++) {
			const times = await refresh(direct, rangeMs, dimension, subject.clock);
			directTimes.push(times.totalMs);
			timedOut += times.timedOut;
			log(`  ${rangeName} direct refresh ${run + 1}: ${times.totalMs.toFixed(0)} ms${times.timedOut > 0 ? ` (${times.timedOut} of 4 calls cut at the statement timeout)` : ''}`);
		}
	} finally {
		await direct.close();
	}
	const plainRuns: Array<{quotaSumMs: number; userPageMs: number}> = [];
	for (let run = 0; subject.plainQueries !== null && run < settings.directRuns; run++) {
		plainRuns.push(await subject.plainQueries(rangeMs));
	}
	const plainQueries =
		plainRuns.length === 0 ? null : {quotaSumMs: round(distribution(plainRuns.map(r => r.quotaSumMs)).median), userPageMs: round(distribution(plainRuns.map(r => r.userPageMs)).median)};
	const directServer = server === null ? null : (await server.read()) / settings.directRuns;

	const heapBefore = heapMb();
	const rolled = await subject.open(true);
	try {
		const first = await refresh(rolled, rangeMs, dimension, subject.clock);
		log(`  ${rangeName} rollup first load: ${first.totalMs.toFixed(0)} ms`);
		const heapLoaded = heapMb();
		await server?.reset();
		const times: RefreshTimes[] = [];
		for (let run = 0; run < settings.refreshes; run++) {
			await delay(settings.intervalMs);
			times.push(await refresh(rolled, rangeMs, dimension, subject.clock));
		}
		const rolledServer = server === null ? null : (await server.read()) / settings.refreshes;
		const endMs = subject.clock();
		const summary = await rolled.summary({range: {startMs: endMs - rangeMs, endMs}, filters: {}});
		const refreshMs = distribution(times.map(time => time.totalMs));
		const perCallMedianMs = Object.fromEntries(Object.keys(first.perCallMs).map(name => [name, round(distribution(times.map(time => time.perCallMs[name]!)).median, 2)]));
		log(`  ${rangeName} rollup refresh median ${refreshMs.median.toFixed(1)} ms (${JSON.stringify(perCallMedianMs)}), ${summary.aggregation?.mode === 'rollup' ? summary.aggregation.groups : '?'} groups`);
		const directMs = distribution(directTimes);
		return {
			range: rangeName,
			direct: {refreshMs: directMs, timedOut, serverMsPerRefresh: directServer === null ? null : round(directServer, 2)},
			plainQueries,
			rollup: {
				firstLoadMs: round(first.totalMs),
				refreshMs,
				perCallMedianMs,
				serverMsPerRefresh: rolledServer === null ? null : round(rolledServer, 2),
				groups: summary.aggregation?.mode === 'rollup' ? summary.aggregation.groups : 0,
				heapMb: round(heapLoaded - heapBefore, 2),
				aggregation: summary.aggregation,
			},
			speedup: round(directMs.median / refreshMs.median),
			speedupOverPlainQueries: plainQueries === null ? null : round((plainQueries.quotaSumMs + plainQueries.userPageMs) / refreshMs.median),
		};
	} finally {
		await rolled.close();
	}
}

async function measureRanges(subject: Subject, settings: RollupsSettings, log: (line: string) => void): Promise<RangeFigures[]> {
	const ranges: RangeFigures[] = [];
	for (const range of RANGES) {
		ranges.push(await measureRange(subject, range.name, range.ms, settings, log));
	}
	return ranges;
}

/** Appends copies of recent rows at `perSecond`, one in flight at a time; `stop` deletes them and (again and again) says how many it wrote. */
function postgresWriter(client: pg.Client, perSecond: number): {stop(): Promise<{rows: number; seconds: number}>} {
	const started = Date.now();
	let written = 0;
	let running = true;
	let stoppedAt: number | undefined;
	let firstId = 0;
	const loop = (async () => {
		const columns = (await client.query<{name: string}>("SELECT attname AS name FROM pg_attribute WHERE attrelid = 'logs'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'id'")).rows.map(row => `"${row.name}"`);
		// Dated now, and marked in `content` (which relaytop never reads) so that the run can take them out again.
		const copied = columns.map(column => (column === '"created_at"' ? 'extract(epoch FROM now())::bigint' : column === '"content"' ? `'${APPENDED}'` : column)).join(', ');
		const {max} = (await client.query<{max: string}>('SELECT max(id) AS max FROM logs')).rows[0]!;
		firstId = Number(max);
		while (running) {
			const due = Math.floor(((Date.now() - started) * perSecond) / 1000);
			if (written >= due) {
				await delay(1000 / perSecond);
				continue;
			}
			const template = Number(max) - Math.floor(Math.random() * 10_000);
			await client.query(`INSERT INTO logs (${columns.join(', ')}) SELECT ${copied} FROM logs WHERE id = $1`, [template]);
			written++;
		}
	})();
	return {
		async stop() {
			running = false;
			await loop;
			if (stoppedAt === undefined) {
				stoppedAt = Date.now();
				// The table is cached between runs and checked by its row count: the run leaves it as it found it.
				await client.query('DELETE FROM logs WHERE id > $1 AND content = $2', [firstId, APPENDED]);
			}
			return {rows: written, seconds: (stoppedAt - started) / 1000};
		},
	};
}

async function measurePostgres(settings: RollupsSettings, log: (line: string) => void): Promise<StoreFigures> {
	log(`rollups: ${settings.pgRows.toLocaleString('en')} new-api logs rows on the embedded PostgreSQL (data folder pgqueries, kept)…`);
	const server = await startEmbeddedPostgres({name: 'pgqueries', persistent: true, settings: {'pg_stat_statements.track_planning': 'on', max_wal_size: '2GB'}});
	try {
		await ensureLogsTable(server.url, settings.pgDatabase, settings.pgRows, log);
		const admin = new pg.Client({connectionString: databaseUrl(server.url, settings.pgDatabase)});
		const writerClient = new pg.Client({connectionString: databaseUrl(server.url, settings.pgDatabase)});
		await admin.connect();
		await writerClient.connect();
		try {
			await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
			await topUp(admin, settings.pgRows);
			await admin.query('VACUUM (ANALYZE) logs');
			const password = `bench-${Math.random().toString(36).slice(2)}`;
			const exists = (await admin.query<{found: boolean}>('SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS found', [ROLE])).rows[0]!.found;
			await admin.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ROLE} LOGIN PASSWORD '${password}'`);
			await admin.query(`GRANT SELECT ON logs, users, tokens, channels TO ${ROLE}`);
			const url = databaseUrl(server.url, settings.pgDatabase, {user: ROLE, password});
			const ids = (await admin.query<{role: number; db: number}>('SELECT (SELECT oid FROM pg_roles WHERE rolname = $1) AS role, (SELECT oid FROM pg_database WHERE datname = current_database()) AS db', [ROLE])).rows[0]!;
			const clock: ServerClock = {
				reset: async () => void (await admin.query('SELECT pg_stat_statements_reset($1::oid, $2::oid, 0)', [ids.role, ids.db])),
				read: async () =>
					Number((await admin.query<{ms: number}>('SELECT coalesce(sum(total_exec_time + total_plan_time), 0) AS ms FROM pg_stat_statements WHERE userid = $1 AND dbid = $2', [ids.role, ids.db])).rows[0]!.ms),
			};
			const rows = Number((await admin.query<{n: string}>("SELECT reltuples::bigint AS n FROM pg_class WHERE relname = 'logs'")).rows[0]!.n);
			const writer = postgresWriter(writerClient, settings.writerRowsPerS);
			const plainQueries = async (rangeMs: number) => {
				const since = Math.floor((Date.now() - rangeMs) / 1000);
				const time = async (text: string) => {
					const started = performance.now();
					await admin.query(text, [since]);
					return performance.now() - started;
				};
				return {
					quotaSumMs: await time('SELECT coalesce(sum(quota), 0) FROM logs WHERE type = 2 AND created_at >= $1'),
					userPageMs: await time(
						'SELECT username, count(*), sum(quota), sum(prompt_tokens + completion_tokens), max(created_at) FROM logs WHERE type IN (2, 5) AND created_at >= $1 GROUP BY username ORDER BY sum(quota) DESC LIMIT 20',
					),
				};
			};
			const subject: Subject = {open: async rollups => openSource(url, rollups ? {rollups: DEFAULT_ROLLUP_POLICY} : {}), clock: Date.now, server: clock, plainQueries};
			const ranges = await measureRanges(subject, settings, log).finally(() => writer.stop());
			const wrote = await writer.stop();
			log(`  the writer appended ${wrote.rows} rows in ${wrote.seconds.toFixed(0)} s`);
			return {store: 'new-api logs on PostgreSQL', rows, writerRowsPerS: round(wrote.rows / wrote.seconds, 1), ranges};
		} finally {
			await writerClient.end();
			await admin.end();
		}
	} finally {
		await server.stop();
	}
}

/** Deletes what earlier runs' writers appended (the store is cached between runs); returns the events left and the newest one's time. */
function withoutAppendedRows(path: string): {events: number; newestMs: number} {
	const db = new Database(path);
	try {
		db.prepare(`DELETE FROM usage_events WHERE event_hash LIKE '%${APPENDED}%'`).run();
		return db.prepare('SELECT count(*) AS events, max(timestamp_ms) AS newestMs FROM usage_events').get() as {events: number; newestMs: number};
	} finally {
		db.close();
	}
}

async function measureCpa(settings: RollupsSettings, log: (line: string) => void): Promise<StoreFigures> {
	const store = ensureBenchStore(settings.cpaEvents, path => log(`rollups: building ${path}…`));

	// The store's events end when it was first built: its clock runs on from its newest event, and
	// the writer dates its rows by the same clock.
	const {events, newestMs} = withoutAppendedRows(store.path);
	const offsetMs = newestMs - Date.now();
	log(`rollups: CPA-Manager store of ${events.toLocaleString('en')} events`);
	const writer = spawn(process.execPath, [join(packageRoot(), 'dist', 'bench', 'sqlite-append-writer.js'), store.path, String(settings.writerRowsPerS), String(offsetMs)], {
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	let written = 0;
	createInterface({input: writer.stdout}).on('line', line => (written = Number(line)));
	const started = Date.now();
	const subject: Subject = {open: async rollups => openTarget(store.path, rollups ? {rollups: DEFAULT_ROLLUP_POLICY} : {}), clock: () => Date.now() + offsetMs, server: null, plainQueries: null};
	const ranges = await measureRanges(subject, settings, log).finally(() => writer.kill());
	const seconds = (Date.now() - started) / 1000;
	log(`  the writer appended ${written} rows in ${seconds.toFixed(0)} s`);
	return {store: 'CPA-Manager SQLite store', rows: events, writerRowsPerS: round(written / seconds, 1), ranges};
}

export async function runRollupsBenchmark(settings: RollupsSettings, log: (line: string) => void): Promise<RollupsResults> {
	const perGroup = bytesPerGroup();
	log(`rollups: ${perGroup} bytes of heap per group`);
	const stores = [await measurePostgres(settings, log), await measureCpa(settings, log)];
	return {stores, bytesPerGroup: perGroup, cap: {groups: DEFAULT_ROLLUP_POLICY.maxGroups, mb: round((DEFAULT_ROLLUP_POLICY.maxGroups * perGroup) / 1_048_576)}};
}

export function rollupsResultsFile(settings: RollupsSettings, results: RollupsResults) {
	return {
		benchmark: 'range views (7d, 30d) refreshed every 2 s under a steady writer: direct queries over the range against range rollups (one load, then the rows that changed)',
		settings,
		method: {
			refresh: 'summary, models, accounts page (52 rows by calls), API keys page (52 rows by cost), each with the clock read at its call',
			serverTime: `pg_stat_statements total_exec_time + total_plan_time of role ${ROLE}, per refresh`,
			memory: 'heap used after a full collection, the rollup source loaded, minus before it was opened',
		},
		results,
	};
}

export function rollupsTable(results: RollupsResults): string {
	const rows = results.stores.flatMap(store =>
		store.ranges.map(range => [
			`${store.store} (${store.rows.toLocaleString('en')} rows, +${store.writerRowsPerS}/s)`,
			range.range,
			`${range.direct.refreshMs.median.toFixed(0)}${range.direct.timedOut > 0 ? ` (${range.direct.timedOut} timed out)` : ''}`,
			range.plainQueries === null ? '-' : `${range.plainQueries.quotaSumMs.toFixed(0)} + ${range.plainQueries.userPageMs.toFixed(0)}`,
			range.rollup.firstLoadMs.toFixed(0),
			range.rollup.refreshMs.median.toFixed(1),
			range.rollup.refreshMs.p95.toFixed(1),
			`${range.speedup}×`,
			range.speedupOverPlainQueries === null ? '-' : `${range.speedupOverPlainQueries}×`,
			range.direct.serverMsPerRefresh === null ? '-' : range.direct.serverMsPerRefresh.toFixed(0),
			range.rollup.serverMsPerRefresh === null ? '-' : range.rollup.serverMsPerRefresh.toFixed(2),
			String(range.rollup.groups),
			range.rollup.heapMb.toFixed(2),
		]),
	);
	const table = textTable(
		['store', 'range', 'direct refresh ms', 'quota sum + user page ms', 'first load ms', 'rollup refresh ms (median)', 'p95', 'speedup', 'over the two queries', 'direct server ms', 'rollup server ms', 'groups', 'heap MB'],
		rows,
	);
	return `${table}\n${results.bytesPerGroup} bytes of heap per group; the cap, ${results.cap.groups.toLocaleString('en')} groups, is ${results.cap.mb} MB`;
}
