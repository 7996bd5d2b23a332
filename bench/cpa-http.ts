// Bytes and time of one full dashboard refresh from a CPA-Manager over HTTP holding 50,000
// requests: through the paged usage endpoints, and through the legacy payload (a manager without
// them), both served by the replica of the manager's API from the same store.
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {FIXTURE_MANAGEMENT_KEY, writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {FIXTURE_END_MS} from '../source/fixtures/newapi-fixture.js';
import type {CpaHttpSource} from '../source/sources/cpa-http/cpa-http-source.js';
import {openSource} from '../source/sources/open-target.js';
import {takeSnapshot} from '../source/usage/take-snapshot.js';
import {startCpaManagerReplica} from './cpa-manager-replica.js';
import {median} from './timing.js';
import {textTable} from './text-table.js';

export interface CpaHttpSettings {
	readonly events: number;
	readonly runs: number;
}

export const cpaHttpSettings = (quick: boolean): CpaHttpSettings => ({events: quick ? 10_000 : 50_000, runs: quick ? 3 : 7});

const APIS = ['paged', 'legacy'] as const;
type Api = (typeof APIS)[number];

export interface CycleFigures {
	readonly requests: number;
	readonly bytes: number;
	readonly ms: number;
}

export interface ApiFigures {
	readonly mode: string;
	readonly requestsPerCycle: number;
	readonly bytesPerCycle: number;
	/** What the server says it sent, as a check on the client's count. */
	readonly serverBytesPerCycle: number;
	readonly medianMs: number;
	readonly runs: readonly CycleFigures[];
}

export interface CpaHttpResults {
	readonly events: number;
	readonly apis: Record<Api, ApiFigures>;
	readonly bytesRatio: number;
	readonly timeRatio: number;
}

const DAY_MS = 86_400_000;

/** One refresh of everything the dashboard and --json show: a new source each time, so nothing is reused from the last cycle. */
async function cycle(url: string): Promise<{source: CpaHttpSource; ms: number}> {
	const started = performance.now();
	const source = (await openSource(url, {managementKey: FIXTURE_MANAGEMENT_KEY})) as CpaHttpSource;
	const query = {range: {startMs: FIXTURE_END_MS - DAY_MS, endMs: FIXTURE_END_MS}, filters: {}};
	await takeSnapshot(source, {query, dimension: 'account', groupPage: {page: 1, pageSize: 20, sortKey: 'totalCalls', sortDirection: 'desc'}, requestPage: {page: 1, pageSize: 20}});
	await source.timeline(query, 60_000, 30);
	const ms = performance.now() - started;
	await source.close();
	return {source, ms};
}

export async function runCpaHttpBenchmark(settings: CpaHttpSettings, log: (line: string) => void): Promise<CpaHttpResults> {
	const folder = mkdtempSync(join(tmpdir(), 'relaytop-bench-cpa-http-'));
	try {
		const store = join(folder, 'usage.sqlite');
		log(`cpa-http: building a store of ${settings.events} requests…`);
		writeCpaFixture(store, {requests: settings.events});
		const replicas = {
			paged: await startCpaManagerReplica({dbPath: store, managementKey: FIXTURE_MANAGEMENT_KEY}),
			legacy: await startCpaManagerReplica({dbPath: store, managementKey: FIXTURE_MANAGEMENT_KEY, flavour: 'pre-paged'}),
		};
		try {
			const runs: Record<Api, CycleFigures[]> = {paged: [], legacy: []};
			const served: Record<Api, number[]> = {paged: [], legacy: []};
			const modes: Record<Api, string> = {paged: '', legacy: ''};
			for (let run = 0; run <= settings.runs; run++) {
				for (const api of APIS) {
					const replica = replicas[api];
					const before = replica.requests.reduce((total, request) => total + request.bytes, 0);
					const {source, ms} = await cycle(replica.url);
					const after = replica.requests.reduce((total, request) => total + request.bytes, 0);
					modes[api] = source.mode;
					if (run === 0) continue; // warm-up: the store's pages into the cache, the JIT warm
					runs[api].push({...source.traffic, ms});
					served[api].push(after - before);
					log(`cpa-http: ${api} run ${run}: ${source.traffic.requests} requests, ${source.traffic.bytes} bytes, ${ms.toFixed(0)} ms`);
				}
			}
			const figures = (api: Api): ApiFigures => ({
				mode: modes[api],
				requestsPerCycle: median(runs[api].map(run => run.requests)),
				bytesPerCycle: median(runs[api].map(run => run.bytes)),
				serverBytesPerCycle: median(served[api]),
				medianMs: median(runs[api].map(run => run.ms)),
				runs: runs[api],
			});
			const apis = {paged: figures('paged'), legacy: figures('legacy')};
			return {events: settings.events, apis, bytesRatio: apis.legacy.bytesPerCycle / apis.paged.bytesPerCycle, timeRatio: apis.legacy.medianMs / apis.paged.medianMs};
		} finally {
			await Promise.all(Object.values(replicas).map(replica => replica.close()));
		}
	} finally {
		rmSync(folder, {recursive: true, force: true});
	}
}

export const cpaHttpResultsFile = (settings: CpaHttpSettings, results: CpaHttpResults): object => ({
	benchmark: 'CPA-Manager over HTTP: one full refresh (snapshot + 30-minute timeline), paged endpoints vs the legacy payload',
	settings,
	...results,
});

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

export function cpaHttpTable(results: CpaHttpResults): string {
	return [
		textTable(
			['API', 'requests/refresh', 'bytes/refresh', 'median ms/refresh'],
			APIS.map(api => {
				const figures = results.apis[api];
				return [`${api} (${figures.mode})`, String(figures.requestsPerCycle), kb(figures.bytesPerCycle), figures.medianMs.toFixed(1)];
			}),
		),
		`legacy / paged, ${results.events} requests in the store: ${results.bytesRatio.toFixed(1)}× the bytes, ${results.timeRatio.toFixed(1)}× the time`,
	].join('\n');
}
