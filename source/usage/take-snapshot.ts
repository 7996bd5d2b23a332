import type {MonitorSnapshot} from '../postgres/monitor/postgres-monitor.js';
import type {Dimension, Facets, GroupPage, ModelUsage, PageRequest, Rate, RequestPage, SortedPageRequest, Summary, TimeRange, UsageQuery, UsageSource} from './types.js';

export interface SnapshotRequest {
	readonly query: UsageQuery;
	readonly dimension: Dimension;
	readonly groupPage: SortedPageRequest;
	readonly requestPage: PageRequest;
}

/** Every panel's figures for one moment, in the domain vocabulary. */
export interface Snapshot {
	readonly source: {readonly kind: UsageSource['kind']; readonly target: string};
	readonly range: TimeRange;
	readonly summary: Summary;
	readonly facets: Facets;
	readonly rate: Rate;
	readonly models: readonly ModelUsage[];
	readonly dimension: Dimension;
	readonly accounts: GroupPage;
	readonly apiKeys: GroupPage;
	readonly realtime: RequestPage;
	readonly newestRequestMs: number | null;
	/** The server under the source, when there is one. */
	readonly postgres?: MonitorSnapshot;
}

/** Rates (TPS, statements per second) are deltas: the server is sampled twice, this far apart at least. */
const RATE_SAMPLE_MS = 1000;

export async function takeSnapshot(source: UsageSource, request: SnapshotRequest): Promise<Snapshot> {
	const {query} = request;
	const primedAt = Date.now();
	await source.postgres?.snapshot(['database', 'statements']);
	const usage = {
		source: {kind: source.kind, target: source.target},
		range: query.range,
		summary: await source.summary(query),
		facets: await source.facets(query),
		rate: await source.rate(query),
		models: await source.models(query),
		dimension: request.dimension,
		accounts: await source.groups(query, request.dimension, request.groupPage),
		apiKeys: await source.apiKeys(query, request.groupPage),
		realtime: await source.realtime(query, request.requestPage),
		newestRequestMs: await source.newestRequestMs(),
	};
	if (source.postgres === undefined) {
		return usage;
	}
	await new Promise(resolve => setTimeout(resolve, Math.max(0, primedAt + RATE_SAMPLE_MS - Date.now())));
	return {...usage, postgres: await source.postgres.snapshot()};
}
