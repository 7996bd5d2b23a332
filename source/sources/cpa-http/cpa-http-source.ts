import {createHash} from 'node:crypto';
import {byLabel} from '../../usage/choice-order.js';
import {InputError} from '../../usage/input-error.js';
import {checkedPage} from '../../usage/page-limits.js';
import {PriceBook} from '../../usage/price-book.js';
import {checkedRange, isEmptyRange} from '../../usage/time-range.js';
import type {
	Choice,
	Dimension,
	Facets,
	GroupPage,
	ModelUsage,
	PageRequest,
	Rate,
	RequestPage,
	SortedPageRequest,
	SourceCapabilities,
	Summary,
	TimeRange,
	TimelineBucket,
	UsageQuery,
	UsageSource,
} from '../../usage/types.js';
import {MAX_PAGE_SIZE, RATE_WINDOW_S} from '../../usage/types.js';
import {cachedPromise} from '../cached.js';
import {splitTerms} from '../sql/search-terms.js';
import {timelineWindow} from '../sql/timeline.js';
import {CallRequests} from './call-requests.js';
import {legacyEvents} from './legacy-payload.js';
import {LocalUsage} from './local-usage.js';
import {fallsBackToLegacy, ManagementError} from './management-client.js';
import {ManagementFetcher, type Params, type Traffic} from './management-fetcher.js';
import {unlessAborted} from './unless-aborted.js';
import {breakdownPage, keyAliases, LegacyBodyError, modelPrices, modelsPage, realtimePage, serverFacets, usageTotals, type BreakdownItem, type ModelTokens} from './paged-payloads.js';
import {object, text} from './payload-reader.js';
import {addCost, modelsOf, summaryOf} from './model-details.js';
import {costOf} from './token-cost.js';

const USAGE = '/v0/management/usage';

const CAPABILITIES: SourceCapabilities = {
	// The paged API groups by account and by API key only.
	dimensions: ['account'],
	filters: ['account', 'provider', 'channel', 'model', 'apiKey', 'status', 'search'],
};

/** Prices and aliases change rarely; the SQLite source reads them as often. */
const LOOKUPS_TTL_MS = 30_000;
/** The legacy payload is the whole store (up to 50,000 requests): read at most this often, shared by every panel. */
const LEGACY_TTL_MS = 5_000;
/** 50,000 requests (the manager's default cap) at about 0.7 kB each is some 35 MB: the only answer allowed past the client's limit. */
const LEGACY_MAX_BYTES = 64 * 1024 * 1024;
/** Parallel page requests of one model traversal. */
const TRAVERSAL_PARALLELISM = 3;
/** A traversal reads at most this many pages (the manager's own query limit is 50,000 rows). */
const MAX_TRAVERSAL_PAGES = 100;
/** A timeline bucket ended this long ago is settled: the manager has stored its requests (its queue lags seconds). */
const SETTLE_MS = 2 * 60_000;
const MAX_SETTLED_BUCKETS = 4096;

export type CpaHttpMode = 'paged' | 'legacy';

/** What a window that starts after it ends holds, which the manager refuses to be asked (400). */
const NO_REQUESTS = new LocalUsage([], new Map(), new PriceBook(new Map()));

/** The manager's filters as query parameters (§2.1); a pasted raw key is searched by its hash, as CPA-Manager's web does. */
function filterParams(query: UsageQuery): Params {
	const {filters, range} = query;
	const search = filters.search?.trim() ?? '';
	splitTerms(search); // the same limit on terms as every other source
	return {
		start_ms: range.startMs ?? undefined,
		end_ms: range.endMs,
		account: filters.account,
		provider: filters.provider,
		channel: filters.channel,
		model: filters.model,
		api_key_hash: filters.apiKey,
		status: filters.status,
		search: search === '' ? undefined : search,
		search_api_key_hash: search === '' ? undefined : createHash('sha256').update(search).digest('hex'),
	};
}

const onlyTimeAndSearch = (query: UsageQuery): UsageQuery => ({range: query.range, filters: query.filters.search === undefined ? {} : {search: query.filters.search}});

/** Pages of the manager's paged usage API, or, where it has none, the legacy payload read on the client. */
export class CpaHttpSource implements UsageSource {
	readonly kind = 'cpa-http' as const;
	readonly capabilities = CAPABILITIES;
	private currentMode: CpaHttpMode;
	private readonly prices: () => Promise<PriceBook>;
	private readonly aliases: () => Promise<Map<string, string>>;
	private readonly legacy: () => Promise<LocalUsage>;
	/** Totals of timeline buckets that can no longer change, by filters, bucket length and end. */
	private readonly settled = new Map<string, {requests: number; tokens: number}>();
	/** The newest request seen: later calls only look from there on. */
	private newestSeenMs: number | null = null;

	constructor(
		private readonly fetcher: ManagementFetcher,
		readonly target: string,
		mode: CpaHttpMode,
		private readonly now: () => number = Date.now,
	) {
		this.currentMode = mode;
		this.prices = cachedPromise(LOOKUPS_TTL_MS, async () => new PriceBook(await this.lookup('/v0/management/model-prices', modelPrices)), now);
		this.aliases = cachedPromise(LOOKUPS_TTL_MS, () => this.lookup('/v0/management/api-key-aliases', keyAliases), now);
		this.legacy = cachedPromise(LEGACY_TTL_MS, async () => {
			const [body, aliases, prices] = await Promise.all([this.fetcher.get(USAGE, {}, {maxBytes: LEGACY_MAX_BYTES}), this.aliases(), this.prices()]);
			return new LocalUsage(legacyEvents(body, `GET ${USAGE}`), aliases, prices);
		}, now);
	}

	/** paged until an endpoint turns out to be missing (404/405) or answers with a legacy body. */
	get mode(): CpaHttpMode {
		return this.currentMode;
	}

	get traffic(): Traffic {
		return this.fetcher.traffic;
	}

	/**
	 * This source with every call cut short when `signal` aborts: the call rejects at once, and the
	 * requests that only it waits for are cancelled (shared lookups go on, for the next call).
	 */
	withSignal(signal: AbortSignal): UsageSource {
		return {
			kind: this.kind,
			target: this.target,
			capabilities: this.capabilities,
			summary: query => this.summary(query, signal),
			facets: query => this.facets(query, signal),
			rate: query => this.rate(query, signal),
			timeline: (query, bucketMs, buckets) => this.timeline(query, bucketMs, buckets, signal),
			models: query => this.models(query, signal),
			groups: (query, dimension, page) => this.groups(query, dimension, page, signal),
			apiKeys: (query, page) => this.apiKeys(query, page, signal),
			realtime: (query, page) => this.realtime(query, page, signal),
			newestRequestMs: () => this.newestRequestMs(signal),
			reconcile: () => this.reconcile(),
			close: () => this.close(),
		};
	}

	async summary(query: UsageQuery, signal?: AbortSignal): Promise<Summary> {
		return this.paged(
			async scope => {
				const [details, prices] = await Promise.all([this.traverseModels(query, scope), scope.waitFor(this.prices())]);
				return summaryOf(details, prices);
			},
			local => local.summary(query),
			signal,
			query.range,
		);
	}

	/**
	 * The summary's facets, but models from a traversal: the summary lists resolved model names,
	 * which the model filter (the requested name) does not match (reference §2.1).
	 */
	async facets(query: UsageQuery, signal?: AbortSignal): Promise<Facets> {
		const facetQuery = onlyTimeAndSearch(query);
		return this.paged(
			async scope => {
				const [body, details, aliases] = await Promise.all([
					this.getPaged('summary', filterParams(facetQuery), scope),
					this.traverseModels(facetQuery, scope),
					scope.waitFor(this.aliases()),
				]);
				usageTotals(body, `GET ${USAGE}/summary`);
				const server = serverFacets(body, `GET ${USAGE}/summary`);
				const models = [...new Set(details.map(detail => detail.model).filter(model => model !== '-' && model !== ''))].map(model => ({value: model, label: model}));
				const sorted = (choices: readonly Choice[]) => [...choices].sort(byLabel);
				return {
					accounts: sorted(server.accounts.map(choice => ({value: choice.value, label: choice.value}))),
					providers: sorted(server.providers),
					channels: sorted(server.channels),
					groups: [],
					models: sorted(models),
					apiKeys: sorted(server.apiKeys.map(choice => ({value: choice.value, label: aliases.get(choice.value) ?? choice.value}))),
				};
			},
			local => local.facets(query),
			signal,
			query.range,
		);
	}

	async rate(query: UsageQuery, signal?: AbortSignal): Promise<Rate> {
		const window = {range: {startMs: query.range.endMs - RATE_WINDOW_S * 1000, endMs: query.range.endMs}, filters: query.filters};
		return this.paged(
			async scope => {
				const totals = usageTotals(await this.getPaged('summary', filterParams(window), scope), `GET ${USAGE}/summary`);
				return {windowS: RATE_WINDOW_S, rpm: totals.totalRequests, tpm: totals.totalTokens};
			},
			local => local.rate(query),
			signal,
			window.range,
		);
	}

	/**
	 * The paged API has no time buckets, so each bucket is one summary; to keep that to a couple of
	 * requests per refresh, buckets are aligned to multiples of `bucketMs` (the newest one ends at
	 * the first multiple at or after range.endMs and counts requests up to range.endMs) and settled
	 * buckets are remembered. The legacy payload keeps the exact window of the UsageSource contract.
	 */
	async timeline(query: UsageQuery, bucketMs: number, buckets: number, signal?: AbortSignal): Promise<TimelineBucket[]> {
		timelineWindow(query, bucketMs, buckets);
		return this.paged(
			async scope => {
				const {endMs} = query.range;
				const alignedEnd = Math.ceil(endMs / bucketMs) * bucketMs;
				const filters = JSON.stringify(filterParams({range: {startMs: null, endMs: 0}, filters: query.filters}));
				if (this.settled.size > MAX_SETTLED_BUCKETS) this.settled.clear();
				return Promise.all(
					Array.from({length: buckets}, async (_, index) => {
						const bucketEnd = alignedEnd - (buckets - 1 - index) * bucketMs;
						const startMs = bucketEnd - bucketMs;
						const key = `${filters}|${bucketMs}|${bucketEnd}`;
						const known = this.settled.get(key);
						if (known !== undefined) return {startMs, ...known};
						const bucketQuery = {range: {startMs: startMs + 1, endMs: Math.min(bucketEnd, endMs)}, filters: query.filters};
						const totals = usageTotals(await this.getPaged('summary', filterParams(bucketQuery), scope), `GET ${USAGE}/summary`);
						const counts = {requests: totals.totalRequests, tokens: totals.totalTokens};
						// Settled: wholly inside the query and long enough ago for the manager to have stored it.
						if (bucketEnd <= endMs && bucketEnd <= this.now() - SETTLE_MS) this.settled.set(key, counts);
						return {startMs, ...counts};
					}),
				);
			},
			local => local.timeline(query, bucketMs, buckets),
			signal,
		);
	}

	async models(query: UsageQuery, signal?: AbortSignal): Promise<ModelUsage[]> {
		return this.paged(
			async scope => {
				const [details, prices] = await Promise.all([this.traverseModels(query, scope), scope.waitFor(this.prices())]);
				return modelsOf(details, prices);
			},
			local => local.models(query),
			signal,
			query.range,
		);
	}

	async groups(query: UsageQuery, dimension: Dimension, page: SortedPageRequest, signal?: AbortSignal): Promise<GroupPage> {
		if (dimension !== 'account') {
			throw new InputError(`dimension "${dimension}" does not apply to a CPA-Manager address; use one of: ${CAPABILITIES.dimensions.join(', ')}`);
		}
		return this.paged(
			scope => this.breakdown('accounts', query, page, item => item.label, scope),
			local => local.accounts(query, page),
			signal,
			query.range,
		);
	}

	async apiKeys(query: UsageQuery, page: SortedPageRequest, signal?: AbortSignal): Promise<GroupPage> {
		return this.paged(
			async scope => {
				const aliases = await scope.waitFor(this.aliases());
				return this.breakdown('api-keys', query, page, item => aliases.get(item.key) ?? item.key, scope);
			},
			local => local.apiKeys(query, page),
			signal,
			query.range,
		);
	}

	async realtime(query: UsageQuery, page: PageRequest, signal?: AbortSignal): Promise<RequestPage> {
		const {page: number, pageSize} = checkedPage(page);
		return this.paged(
			async scope => {
				const [body, aliases, prices] = await Promise.all([
					this.getPaged('realtime', {...filterParams(query), page: number, page_size: pageSize}, scope),
					scope.waitFor(this.aliases()),
					scope.waitFor(this.prices()),
				]);
				const events = realtimePage(body, `GET ${USAGE}/realtime`);
				return {
					page: number,
					pageSize,
					totalItems: events.totalItems,
					items: events.items.map(event => ({
						timestampMs: event.timestampMs,
						model: event.model,
						account: event.account,
						apiKey: event.apiKey,
						apiKeyLabel: aliases.get(event.apiKey) ?? event.apiKey,
						status: event.failed ? ('failed' as const) : ('success' as const),
						inputTokens: event.input,
						outputTokens: event.output,
						totalTokens: event.total,
						latencyMs: event.latencyMs,
						costUsd: costOf(prices, event.model, event.resolvedModel, event),
					})),
				};
			},
			local => local.realtime(query, page),
			signal,
			query.range,
		);
	}

	/** CPA-Manager aggregates on its side: there is nothing here to load again. */
	async reconcile(): Promise<void> {}

	/**
	 * The newest request: one realtime row from the last one seen on (cheap once found); the first
	 * search widens its window step by step rather than asking for the whole store at once.
	 */
	async newestRequestMs(signal?: AbortSignal): Promise<number | null> {
		return this.paged(
			async scope => {
				const now = this.now();
				const windows = this.newestSeenMs === null ? [60_000, 3_600_000, 86_400_000, null] : [now - this.newestSeenMs, null];
				for (const span of windows) {
					// No end: a manager whose clock runs ahead of this one still shows its newest request.
					const params = {start_ms: span === null ? undefined : now - span, page: 1, page_size: 1};
					const newest = realtimePage(await this.getPaged('realtime', params, scope), `GET ${USAGE}/realtime`).items[0];
					if (newest !== undefined) {
						this.newestSeenMs = Math.max(newest.timestampMs, this.newestSeenMs ?? 0);
						return newest.timestampMs;
					}
				}
				this.newestSeenMs = null;
				return null;
			},
			local => local.newestRequestMs(),
			signal,
		);
	}

	async close(): Promise<void> {}

	/**
	 * Runs the paged call, whose requests stop when `signal` aborts; a missing endpoint or a legacy body
	 * switches the source to the legacy payload for good. That payload is shared by every call and
	 * needed whatever the query: a call that gives up stops waiting for it, and it goes on loading.
	 */
	private async paged<T>(call: (scope: CallRequests) => Promise<T>, fromLegacy: (local: LocalUsage) => T, signal: AbortSignal | undefined, range?: TimeRange): Promise<T> {
		// `range` is the window the call counts requests in, checked in either mode as the SQL sources check theirs.
		if (range !== undefined && isEmptyRange(checkedRange(range))) {
			return fromLegacy(NO_REQUESTS);
		}
		if (this.currentMode === 'paged') {
			const scope = new CallRequests(signal);
			try {
				return await call(scope);
			} catch (error) {
				// The first request to fail fails the call: the others it sent (a timeline's buckets, a
				// traversal's pages) are cancelled rather than read to their end for nothing.
				scope.stop(error);
				if (!fallsBackToLegacy(error) && !(error instanceof LegacyBodyError)) {
					throw error;
				}
				this.currentMode = 'legacy';
			} finally {
				scope.end();
			}
		}
		return fromLegacy(await unlessAborted(this.legacy(), signal));
	}

	private getPaged(endpoint: 'summary' | 'accounts' | 'api-keys' | 'realtime' | 'models', params: Params, scope: CallRequests): Promise<unknown> {
		return scope.send(signal => this.fetcher.get(`${USAGE}/${endpoint}`, params, {signal}));
	}

	/** Every page of /usage/models: page 1 at the largest size first, then the rest a few at a time. */
	private async traverseModels(query: UsageQuery, scope: CallRequests): Promise<ModelTokens[]> {
		const params = filterParams(query);
		const where = `GET ${USAGE}/models`;
		const fetchPage = async (page: number) => modelsPage(await this.getPaged('models', {...params, page, page_size: MAX_PAGE_SIZE}, scope), where);
		const first = await fetchPage(1);
		const pages = Math.min(Math.ceil(first.totalItems / MAX_PAGE_SIZE), MAX_TRAVERSAL_PAGES);
		const rest: Array<readonly ModelTokens[]> = [];
		for (let next = 2; next <= pages; next += TRAVERSAL_PARALLELISM) {
			const batch = await Promise.all(Array.from({length: Math.min(TRAVERSAL_PARALLELISM, pages - next + 1)}, (_, offset) => fetchPage(next + offset)));
			rest.push(...batch.map(page => page.items));
			if (batch.some(page => page.items.length === 0)) break; // the groups shrank under us: nothing further
		}
		return [...first.items, ...rest.flat()];
	}

	private async breakdown(endpoint: 'accounts' | 'api-keys', query: UsageQuery, request: SortedPageRequest, label: (item: BreakdownItem) => string, scope: CallRequests): Promise<GroupPage> {
		const page = checkedPage(request);
		const params = {...filterParams(query), page: page.page, page_size: page.pageSize, sort_key: page.sortKey, sort_direction: page.sortDirection};
		const [body, prices] = await Promise.all([this.getPaged(endpoint, params, scope), scope.waitFor(this.prices())]);
		const groups = breakdownPage(body, `GET ${USAGE}/${endpoint}`);
		return {
			page: page.page,
			pageSize: page.pageSize,
			totalItems: groups.totalItems,
			sortKey: page.sortKey,
			sortDirection: page.sortDirection,
			items: groups.items.map(item => {
				const cost = {usd: 0, unpriced: 0};
				for (const model of item.models) addCost(cost, prices, model);
				return {
					key: item.key,
					label: label(item),
					totalRequests: item.totalRequests,
					successCount: item.successCount,
					failureCount: item.totalRequests - item.successCount,
					successRate: item.totalRequests === 0 ? 1 : item.successCount / item.totalRequests,
					inputTokens: item.input,
					outputTokens: item.output,
					cachedTokens: item.cached,
					totalTokens: item.total,
					costUsd: cost.usd,
					unpricedRequests: cost.unpriced,
					lastSeenAtMs: item.lastSeenAtMs,
				};
			}),
		};
	}

	/** Prices and aliases: a manager too old to have them prices nothing and names keys by hash. */
	private async lookup<T>(path: string, decode: (body: unknown, where: string) => Map<string, T>): Promise<Map<string, T>> {
		try {
			return decode(await this.fetcher.get(path), `GET ${path}`);
		} catch (error) {
			if (fallsBackToLegacy(error)) return new Map();
			throw error;
		}
	}
}

/** `GET /usage-service/info` (no key needed): CPA-Manager-Plus answers every /usage path with the legacy body (§8). */
export async function detectMode(fetcher: ManagementFetcher): Promise<CpaHttpMode> {
	try {
		const info = object(await fetcher.get('/usage-service/info'), 'GET /usage-service/info');
		return text(info.service, 'GET /usage-service/info.service') === 'cpa-manager-plus' ? 'legacy' : 'paged';
	} catch (error) {
		// Plain CLIProxyAPI and older managers have no such endpoint, or answer it with something else.
		if (fallsBackToLegacy(error) || (error instanceof ManagementError && error.kind === 'malformed')) return 'paged';
		throw error;
	}
}
