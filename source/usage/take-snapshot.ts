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
}

export async function takeSnapshot(source: UsageSource, request: SnapshotRequest): Promise<Snapshot> {
	const {query} = request;
	return {
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
}
