import type {MonitorSnapshot, PanelName} from '../postgres/monitor/postgres-monitor.js';
import type {SignalKind, SignalOutcome, SignalTarget} from '../postgres/backend-signal.js';
// The one vocabulary every source maps onto; views and output never see source specifics.

export type SourceKind = 'cpa-sqlite' | 'cpa-http' | 'newapi-sqlite' | 'newapi-postgres';

export const SORT_KEYS = [
	'totalCalls',
	'successCalls',
	'failureCalls',
	'successRate',
	'totalTokens',
	'totalCost',
	'inputTokens',
	'outputTokens',
	'cachedTokens',
	'lastSeenAt',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export const SORT_DIRECTIONS = ['asc', 'desc'] as const;
export type SortDirection = (typeof SORT_DIRECTIONS)[number];

export const STATUSES = ['success', 'failed'] as const;
export type Status = (typeof STATUSES)[number];

/** Group-by choices for the accounts table. Which ones a source offers is in its capabilities. */
export const DIMENSIONS = ['account', 'provider', 'channel', 'user', 'group'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const FILTER_NAMES = ['account', 'provider', 'channel', 'group', 'model', 'apiKey', 'status', 'search'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];

/** Inclusive at both ends; `startMs` null means "from the beginning". */
export interface TimeRange {
	readonly startMs: number | null;
	readonly endMs: number;
}

export interface Filters {
	readonly account?: string;
	readonly provider?: string;
	readonly channel?: string;
	readonly group?: string;
	readonly model?: string;
	readonly apiKey?: string;
	readonly status?: Status;
	readonly search?: string;
}

export interface UsageQuery {
	readonly range: TimeRange;
	readonly filters: Filters;
}

export interface PageRequest {
	readonly page: number;
	readonly pageSize: number;
}

export interface SortedPageRequest extends PageRequest {
	readonly sortKey: SortKey;
	readonly sortDirection: SortDirection;
}

export interface TokenTotals {
	readonly input: number;
	readonly output: number;
	readonly reasoning: number;
	readonly cached: number;
}

export interface Choice {
	readonly value: string;
	readonly label: string;
}

/** Filter choices. They honour only the time range and search, never the other filters. */
export interface Facets {
	readonly accounts: readonly Choice[];
	readonly providers: readonly Choice[];
	readonly channels: readonly Choice[];
	readonly groups: readonly Choice[];
	readonly models: readonly Choice[];
	readonly apiKeys: readonly Choice[];
}

export interface Summary {
	readonly totalRequests: number;
	readonly successCount: number;
	readonly failureCount: number;
	readonly totalTokens: number;
	readonly tokens: TokenTotals;
	readonly latencyMsAvg: number | null;
	readonly costUsd: number;
	readonly unpricedRequests: number;
	/** How a long range's figures were reached, for a source that keeps them in memory (the live dashboard). */
	readonly aggregation?: Aggregation;
}

/**
 * `rollup`: from figures loaded in full at `reconciledAtMs`, then kept up to date with the rows
 * added and leaving since (`mergedRows`); `direct`: by queries over the whole range, and why.
 */
export type Aggregation =
	| {readonly mode: 'rollup'; readonly reconciledAtMs: number; readonly mergedRows: number; readonly groups: number}
	| {readonly mode: 'direct'; readonly reason: string};

export interface Rate {
	readonly windowS: number;
	readonly rpm: number;
	readonly tpm: number;
}

/** One timeline bucket: the requests and tokens with a timestamp in (startMs, startMs + bucket length]. */
export interface TimelineBucket {
	readonly startMs: number;
	readonly requests: number;
	readonly tokens: number;
}

export interface ModelUsage {
	readonly model: string;
	readonly totalRequests: number;
	readonly successCount: number;
	readonly failureCount: number;
	readonly totalTokens: number;
	readonly costUsd: number;
	readonly unpricedRequests: number;
}

export interface GroupUsage {
	readonly key: string;
	readonly label: string;
	readonly totalRequests: number;
	readonly successCount: number;
	readonly failureCount: number;
	readonly successRate: number;
	readonly inputTokens: number;
	readonly outputTokens: number;
	readonly cachedTokens: number;
	readonly totalTokens: number;
	readonly costUsd: number;
	readonly unpricedRequests: number;
	readonly lastSeenAtMs: number;
}

export interface GroupPage {
	readonly page: number;
	readonly pageSize: number;
	readonly totalItems: number;
	readonly sortKey: SortKey;
	readonly sortDirection: SortDirection;
	readonly items: readonly GroupUsage[];
}

export interface RequestRecord {
	readonly timestampMs: number;
	readonly model: string;
	readonly account: string;
	readonly apiKey: string;
	readonly apiKeyLabel: string;
	readonly status: Status;
	readonly inputTokens: number;
	readonly outputTokens: number;
	readonly totalTokens: number;
	readonly latencyMs: number | null;
	/** null when the request's model has no price. */
	readonly costUsd: number | null;
}

export interface RequestPage {
	readonly page: number;
	readonly pageSize: number;
	readonly totalItems: number;
	readonly items: readonly RequestRecord[];
}

export interface SourceCapabilities {
	readonly dimensions: readonly Dimension[];
	readonly filters: readonly FilterName[];
}

/** One interface for every source; each call is one bounded query (or a few). */
export interface UsageSource {
	readonly kind: SourceKind;
	/** The target with any password or key removed, safe to print. */
	readonly target: string;
	readonly capabilities: SourceCapabilities;
	summary(query: UsageQuery): Promise<Summary>;
	/** Filter choices: they honour the time range and search, and no other filter. */
	facets(query: UsageQuery): Promise<Facets>;
	/** Requests and tokens in [range.endMs − 60 s, range.endMs]; range.startMs is ignored. */
	rate(query: UsageQuery): Promise<Rate>;
	/**
	 * Exactly `buckets` buckets of `bucketMs`, oldest first, empty ones as zeros: bucket i covers
	 * (endMs − (buckets − i)·bucketMs, endMs − (buckets − 1 − i)·bucketMs] with endMs = range.endMs,
	 * so a request on a boundary belongs to the older bucket. range.startMs is ignored; filters and
	 * search apply. bucketMs: a whole number ≥ 1; buckets: 1 to 1440 (else InputError). A source
	 * that cannot count arbitrary windows (CPA-Manager's paged API) aligns the buckets to multiples
	 * of bucketMs instead, the newest one counting up to endMs; each bucket's startMs says which.
	 */
	timeline(query: UsageQuery, bucketMs: number, buckets: number): Promise<TimelineBucket[]>;
	models(query: UsageQuery): Promise<ModelUsage[]>;
	groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest): Promise<GroupPage>;
	apiKeys(query: UsageQuery, page: SortedPageRequest): Promise<GroupPage>;
	realtime(query: UsageQuery, page: PageRequest): Promise<RequestPage>;
	/** When the newest request happened, whatever the range; null for an empty store. */
	newestRequestMs(): Promise<number | null>;
	/** Long ranges kept in memory are loaded again in full at their next call (nothing to do for a source that keeps none). */
	reconcile(): Promise<void>;
	/** The PostgreSQL server under the source, when there is one: the PostgreSQL view's data. */
	readonly postgres?: PostgresObserver;
	/**
	 * The same source with every call cut short when `signal` aborts (its requests cancelled), where
	 * calls can be; absent, a call runs to its end. A signal never crosses to a worker thread.
	 */
	withSignal?(signal: AbortSignal): UsageSource;
	close(): Promise<void>;
}

/** Samples of the server's activity, on a connection of its own (a second one at most). */
export interface PostgresObserver {
	snapshot(panels?: readonly PanelName[]): Promise<MonitorSnapshot>;
	/** Cancels a session's query or ends the session, guarded by what was on screen (backend-signal.ts). */
	signal(kind: SignalKind, target: SignalTarget): Promise<SignalOutcome>;
}

export const RATE_WINDOW_S = 60;
export const MAX_PAGE_SIZE = 500;
