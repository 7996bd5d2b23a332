import {createHash} from 'node:crypto';
import {byLabel} from '../../usage/choice-order.js';
import {byteOrder} from '../../usage/byte-order.js';
import {checkedPage} from '../../usage/page-limits.js';
import type {PriceBook} from '../../usage/price-book.js';
import type {
	Choice,
	Facets,
	Filters,
	GroupPage,
	GroupUsage,
	ModelUsage,
	PageRequest,
	Rate,
	RequestPage,
	SortKey,
	SortedPageRequest,
	Summary,
	TimelineBucket,
	UsageQuery,
} from '../../usage/types.js';
import {RATE_WINDOW_S} from '../../usage/types.js';
import {splitTerms} from '../sql/search-terms.js';
import {timelineWindow} from '../sql/timeline.js';
import type {LegacyEvent} from './legacy-payload.js';
import {addCost, modelsOf, summaryOf, type CostTotals} from './model-details.js';
import type {ModelTokens} from './paged-payloads.js';
import {costOf} from './token-cost.js';

// Every view of the paged endpoints, derived on the client from the legacy payload's requests:
// time range, filters, search, sort and paging with the paged endpoints' semantics (reference
// cpa-manager-usage-api.md §2.1–§2.6), so a manager without them shows the same tables.

const TOKEN_CHARACTERS = /[\p{L}\p{N}\p{Co}]+/gu;

/** unicode61's tokens: letters and digits, case and diacritics folded. */
const tokensOf = (value: string): string[] => value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().match(TOKEN_CHARACTERS) ?? [];

/** A phrase `"a b"*`: consecutive tokens, the last one a prefix. */
function phraseIn(tokens: readonly string[], phrase: readonly string[]): boolean {
	const last = phrase.length - 1;
	for (let start = 0; start + last < tokens.length; start++) {
		if (phrase.every((word, index) => (index === last ? tokens[start + index]!.startsWith(word) : tokens[start + index] === word))) {
			return true;
		}
	}
	return false;
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

type Search = (event: LegacyEvent) => boolean;

/** CPA-Manager's search: every term a prefix phrase over the event's indexed fields or its key's alias, or the hash of the text. */
function searchOf(search: string | undefined, aliases: ReadonlyMap<string, string>): Search | null {
	const text = (search ?? '').trim();
	const phrases = splitTerms(text)
		.map(term => term.replace(/^["*]+|["*]+$/gu, ''))
		.filter(term => term !== '')
		.map(tokensOf);
	if (phrases.length === 0) {
		return null;
	}
	const pastedKeyHash = sha256(text);
	const matchesAll = (columns: readonly string[][]) => phrases.every(phrase => phrase.length > 0 && columns.some(tokens => phraseIn(tokens, phrase)));
	const memo = new WeakMap<LegacyEvent, boolean>();
	return event => {
		let found = memo.get(event);
		if (found === undefined) {
			const alias = event.apiKeyHash === null ? undefined : aliases.get(event.apiKeyHash);
			const [method, path] = event.endpoint === null ? [null, null] : event.endpoint.split(' ', 2);
			const indexed = [
				event.accountSnapshot,
				event.authLabelSnapshot,
				event.authFileSnapshot,
				event.authProviderSnapshot,
				event.authProjectIdSnapshot,
				event.authIndex,
				event.source,
				event.apiKeyHash,
				event.model,
				event.resolvedModel,
				event.endpoint,
				method,
				path,
			];
			found =
				event.apiKeyHash === pastedKeyHash ||
				matchesAll(indexed.filter((value): value is string => value !== null && value !== undefined).map(tokensOf)) ||
				(alias !== undefined && matchesAll([tokensOf(alias)]));
			memo.set(event, found);
		}
		return found;
	};
}

/** SQLite's lower(): ASCII letters only, as the manager's filters compare columns. */
const asciiLower = (value: string): string => value.replace(/[A-Z]+/gu, letters => letters.toLowerCase());

/** The paged endpoints' narrowing filters: account, provider and channel match any of their columns, ignoring case. */
function narrowing(filters: Filters): Array<(event: LegacyEvent) => boolean> {
	const checks: Array<(event: LegacyEvent) => boolean> = [];
	const anyOf = (value: string, columns: (event: LegacyEvent) => Array<string | null>) => {
		const wanted = value.trim().toLowerCase();
		checks.push(event => columns(event).some(column => asciiLower(column ?? '') === wanted));
	};
	if (filters.account !== undefined) anyOf(filters.account, event => [event.accountSnapshot, event.authLabelSnapshot, event.source, event.authIndex]);
	if (filters.provider !== undefined) anyOf(filters.provider, event => [event.provider, event.authProviderSnapshot]);
	if (filters.channel !== undefined) anyOf(filters.channel, event => [event.authProviderSnapshot, event.provider, event.source]);
	if (filters.apiKey !== undefined) anyOf(filters.apiKey, event => [event.apiKeyHash]);
	if (filters.model !== undefined) {
		const wanted = filters.model.trim();
		checks.push(event => event.model === wanted);
	}
	if (filters.status !== undefined) {
		const failed = filters.status === 'failed';
		checks.push(event => event.failed === failed);
	}
	return checks;
}

/**
 * Sums of the requests that share one row of the paged endpoints' SQL aggregation. Their cached
 * input is the larger of the two cache columns' sums, row by row, exactly as the manager computes it.
 */
interface DetailRow {
	readonly model: string;
	readonly resolvedModel: string | null;
	requests: number;
	successes: number;
	input: number;
	output: number;
	reasoning: number;
	cachedColumn: number;
	cacheColumn: number;
	total: number;
	latencySumMs: number;
	latencyCount: number;
	lastSeenAtMs: number;
}

type RowKey = (event: LegacyEvent) => string;

/** /usage/models' rows: endpoint, model, resolved model, failed (§2.6). */
const MODELS_ROW: RowKey = event => [event.endpoint ?? '-', event.model, event.resolvedModel ?? '', event.failed].join('\u0000');

/** The accounts and api-keys detail rows (§2.3): every snapshot, the key, the endpoint, model and outcome. */
const BREAKDOWN_ROW: RowKey = event =>
	[
		event.endpoint,
		event.model,
		event.source,
		event.authIndex,
		event.apiKeyHash,
		event.accountSnapshot,
		event.authLabelSnapshot,
		event.authFileSnapshot,
		event.authProviderSnapshot,
		event.authProjectIdSnapshot,
		event.resolvedModel,
		event.failed,
	].join('\u0000');

function detailRows(events: readonly LegacyEvent[], keyOf: RowKey): ModelTokens[] {
	const rows = new Map<string, DetailRow>();
	for (const event of events) {
		const key = keyOf(event);
		let row = rows.get(key);
		if (row === undefined) {
			row = {model: event.model, resolvedModel: event.resolvedModel, requests: 0, successes: 0, input: 0, output: 0, reasoning: 0, cachedColumn: 0, cacheColumn: 0, total: 0, latencySumMs: 0, latencyCount: 0, lastSeenAtMs: 0};
			rows.set(key, row);
		}
		// A detail that stands for several requests already holds their summed tokens.
		row.requests += event.requests;
		row.successes += event.failed ? 0 : event.requests;
		row.input += event.input;
		row.output += event.output;
		row.reasoning += event.reasoning;
		row.cachedColumn += event.cachedColumn;
		row.cacheColumn += event.cacheColumn;
		row.total += event.total;
		if (event.latencyMs !== null) {
			row.latencySumMs += event.latencyMs;
			row.latencyCount += 1;
		}
		row.lastSeenAtMs = Math.max(row.lastSeenAtMs, event.timestampMs);
	}
	return [...rows.values()].map(({cachedColumn, cacheColumn, ...row}) => ({...row, cached: Math.max(cachedColumn, cacheColumn, 0)}));
}

/** A group's figures, by which its rows sort. */
interface Totals extends CostTotals {
	requests: number;
	successes: number;
	input: number;
	output: number;
	cached: number;
	total: number;
	lastSeenAtMs: number;
}

const successRate = (totals: Totals): number => (totals.requests === 0 ? 1 : totals.successes / totals.requests);

const SORT_VALUES: Record<SortKey, (totals: Totals) => number> = {
	totalCalls: t => t.requests,
	successCalls: t => t.successes,
	failureCalls: t => t.requests - t.successes,
	successRate,
	totalTokens: t => t.total,
	totalCost: t => t.usd,
	inputTokens: t => t.input,
	outputTokens: t => t.output,
	cachedTokens: t => t.cached,
	lastSeenAt: t => t.lastSeenAtMs,
};

/** The requests of one legacy payload, and the aliases and prices to show them with. */
export class LocalUsage {
	constructor(
		private readonly events: readonly LegacyEvent[],
		private readonly aliases: ReadonlyMap<string, string>,
		private readonly prices: PriceBook,
	) {}

	summary(query: UsageQuery): Summary {
		return summaryOf(detailRows(this.select(query, true), MODELS_ROW), this.prices);
	}

	/** Values as the manager lists them: raw, blanks dropped, accounts once per spelling's lower case. */
	facets(query: UsageQuery): Facets {
		const lists = {accounts: new Map<string, Choice>(), providers: new Map<string, Choice>(), channels: new Map<string, Choice>(), models: new Map<string, Choice>(), apiKeys: new Map<string, Choice>()};
		const add = (list: Map<string, Choice>, value: string | null, label = value, key = value) => {
			if (value !== null && value.trim() !== '' && !list.has(key!)) list.set(key!, {value, label: label!});
		};
		for (const event of this.select(query, false)) {
			if (event.account !== '-') add(lists.accounts, event.account, event.account, event.account.toLowerCase());
			add(lists.providers, event.authProviderSnapshot ?? event.provider);
			add(lists.channels, event.authProviderSnapshot ?? event.provider ?? event.source);
			add(lists.models, event.model);
			if (event.apiKeyHash !== null) add(lists.apiKeys, event.apiKeyHash, this.aliases.get(event.apiKeyHash) ?? event.apiKeyHash);
		}
		const choices = (list: Map<string, Choice>): Choice[] => [...list.values()].sort(byLabel);
		return {
			accounts: choices(lists.accounts),
			providers: choices(lists.providers),
			channels: choices(lists.channels),
			groups: [],
			models: choices(lists.models),
			apiKeys: choices(lists.apiKeys),
		};
	}

	rate(query: UsageQuery): Rate {
		const window = {range: {startMs: query.range.endMs - RATE_WINDOW_S * 1000, endMs: query.range.endMs}, filters: query.filters};
		let rpm = 0;
		let tpm = 0;
		for (const event of this.select(window, true)) {
			rpm += event.requests;
			tpm += event.total;
		}
		return {windowS: RATE_WINDOW_S, rpm, tpm};
	}

	timeline(query: UsageQuery, bucketMs: number, buckets: number): TimelineBucket[] {
		const window = timelineWindow(query, bucketMs, buckets);
		const result = Array.from({length: buckets}, (_, index) => ({startMs: window.endMs - (buckets - index) * bucketMs, requests: 0, tokens: 0}));
		for (const event of this.select(window.query, true)) {
			const bucket = result[buckets - 1 - Math.floor((window.endMs - event.timestampMs) / bucketMs)]!;
			bucket.requests += event.requests;
			bucket.tokens += event.total;
		}
		return result;
	}

	models(query: UsageQuery): ModelUsage[] {
		return modelsOf(detailRows(this.select(query, true), MODELS_ROW), this.prices);
	}

	accounts(query: UsageQuery, page: SortedPageRequest): GroupPage {
		const labels = new Map<string, string>();
		for (const event of this.select(query, true)) {
			if (!labels.has(event.account)) labels.set(event.account, event.accountSnapshot || event.authLabelSnapshot || event.account);
		}
		return this.groupPage(query, page, event => event.account, key => labels.get(key) ?? key);
	}

	apiKeys(query: UsageQuery, page: SortedPageRequest): GroupPage {
		return this.groupPage(query, page, event => event.apiKey, key => this.aliases.get(key) ?? key);
	}

	realtime(query: UsageQuery, page: PageRequest): RequestPage {
		const {page: number, pageSize} = checkedPage(page);
		const selected = this.select(query, true);
		const items = selected.slice((number - 1) * pageSize, number * pageSize).map(event => ({
			timestampMs: event.timestampMs,
			model: event.model,
			account: event.account,
			apiKey: event.apiKey,
			apiKeyLabel: this.aliases.get(event.apiKey) ?? event.apiKey,
			status: event.failed ? ('failed' as const) : ('success' as const),
			inputTokens: event.input,
			outputTokens: event.output,
			totalTokens: event.total,
			latencyMs: event.latencyMs,
			costUsd: costOf(this.prices, event.model, event.resolvedModel, event),
		}));
		return {page: number, pageSize, totalItems: selected.length, items};
	}

	newestRequestMs(): number | null {
		return this.events[0]?.timestampMs ?? null;
	}

	/** The query's requests, newest first; `narrowed` false keeps only time and search (facets). */
	private select(query: UsageQuery, narrowed: boolean): LegacyEvent[] {
		const {startMs, endMs} = query.range;
		const search = searchOf(query.filters.search, this.aliases);
		const checks = narrowed ? narrowing(query.filters) : [];
		return this.events.filter(
			event => (startMs === null || event.timestampMs >= startMs) && event.timestampMs <= endMs && (search === null || search(event)) && checks.every(check => check(event)),
		);
	}

	/** A group's totals, priced per (model, resolved model) over its detail rows, as its `models[]` is. */
	private groupTotals(events: readonly LegacyEvent[]): Totals {
		const totals: Totals = {requests: 0, successes: 0, input: 0, output: 0, cached: 0, total: 0, usd: 0, unpriced: 0, lastSeenAtMs: 0};
		const pairs = new Map<string, ModelTokens>();
		for (const row of detailRows(events, BREAKDOWN_ROW)) {
			totals.requests += row.requests;
			totals.successes += row.successes;
			totals.input += row.input;
			totals.output += row.output;
			totals.cached += row.cached;
			totals.total += row.total;
			totals.lastSeenAtMs = Math.max(totals.lastSeenAtMs, row.lastSeenAtMs);
			const key = `${row.model}\u0000${row.resolvedModel ?? ''}`;
			const pair = pairs.get(key);
			pairs.set(key, pair === undefined ? row : {...pair, requests: pair.requests + row.requests, input: pair.input + row.input, cached: pair.cached + row.cached, output: pair.output + row.output});
		}
		for (const pair of pairs.values()) addCost(totals, this.prices, pair);
		return totals;
	}

	/** Sorted by the key, then the last request, then the group key's bytes, all in the page's direction. */
	private groupPage(query: UsageQuery, request: SortedPageRequest, keyOf: (event: LegacyEvent) => string, labelOf: (key: string) => string): GroupPage {
		const page = checkedPage(request);
		const value = SORT_VALUES[page.sortKey];
		const sign = page.sortDirection === 'asc' ? 1 : -1;
		const members = new Map<string, LegacyEvent[]>();
		for (const event of this.select(query, true)) {
			const key = keyOf(event);
			const list = members.get(key);
			if (list === undefined) members.set(key, [event]);
			else list.push(event);
		}
		const groups = [...members].map(([key, events]) => [key, this.groupTotals(events)] as const).sort(
			([a, ta], [b, tb]) => sign * (value(ta) - value(tb) || ta.lastSeenAtMs - tb.lastSeenAtMs || byteOrder(a, b)),
		);
		const items: GroupUsage[] = groups.slice((page.page - 1) * page.pageSize, page.page * page.pageSize).map(([key, t]) => ({
			key,
			label: labelOf(key),
			totalRequests: t.requests,
			successCount: t.successes,
			failureCount: t.requests - t.successes,
			successRate: successRate(t),
			inputTokens: t.input,
			outputTokens: t.output,
			cachedTokens: t.cached,
			totalTokens: t.total,
			costUsd: t.usd,
			unpricedRequests: t.unpriced,
			lastSeenAtMs: t.lastSeenAtMs,
		}));
		return {page: page.page, pageSize: page.pageSize, totalItems: groups.length, sortKey: page.sortKey, sortDirection: page.sortDirection, items};
	}
}
