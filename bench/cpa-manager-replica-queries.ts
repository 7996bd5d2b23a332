import Database from 'better-sqlite3';

// The store side of the CPA-Manager replica (cpa-manager-replica.ts): the manager's SQL over its
// SQLite store and the Go structs its handlers encode (reference cpa-manager-usage-api.md §2–§4).
// Values are built as the structs are declared (field order; `undefined` stands for an omitempty
// field left out) and encoded the way Go's encoding/json does it.

// ---- Go's encoding/json ----

/** A Go map, encoded with its keys in byte order; a plain object is a struct, fields in order. */
export type GoMap = Map<string, unknown>;

/** strings.Compare: UTF-8 byte order, which is code point order. */
function compareGo(a: string, b: string): number {
	const n = Math.min(a.length, b.length);
	for (let i = 0; i < n; i++) {
		const x = a.charCodeAt(i);
		const y = b.charCodeAt(i);
		if (x !== y) {
			// UTF-16 units disagree with code points only between a surrogate (U+10000 and up) and U+E000–U+FFFF.
			const xs = x >= 0xd8_00 && x <= 0xdf_ff;
			const ys = y >= 0xd8_00 && y <= 0xdf_ff;
			if (xs !== ys) {
				return xs ? 1 : -1;
			}
			return x < y ? -1 : 1;
		}
	}
	return Math.sign(a.length - b.length);
}

// encoding/json escapes <, > and & for HTML, and U+2028/U+2029 for JavaScript.
const GO_ESCAPES = /[<>&\u2028\u2029]/gu;
const goEscape = (json: string): string => json.replace(GO_ESCAPES, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const goString = (text: string): string => goEscape(JSON.stringify(text));

/** Keys a plain object would put first, out of insertion order: the exact encoder takes those maps. */
const INDEX_LIKE = /^(?:0|[1-9]\d{0,9})$/u;

class ExactEncoderNeeded extends Error {}

function nativeReplacer(_key: string, value: unknown): unknown {
	if (typeof value === 'bigint') {
		throw new ExactEncoderNeeded();
	}
	if (!(value instanceof Map)) {
		return value;
	}
	const struct: Record<string, unknown> = {};
	for (const key of [...(value as GoMap).keys()].sort(compareGo)) {
		if (INDEX_LIKE.test(key)) {
			throw new ExactEncoderNeeded();
		}
		struct[key] = (value as GoMap).get(key);
	}
	return struct;
}

/** json.Marshal: JSON.stringify where it agrees (fast, for 50,000-event payloads), else field by field. */
export function goJson(value: unknown): string {
	try {
		return goEscape(JSON.stringify(value, nativeReplacer));
	} catch (error) {
		if (error instanceof ExactEncoderNeeded) {
			return exactJson(value);
		}
		throw error;
	}
}

function exactJson(value: unknown): string {
	if (value === null) {
		return 'null';
	}
	switch (typeof value) {
		case 'string':
			return goString(value);
		case 'number':
			return JSON.stringify(value);
		case 'bigint':
			return value.toString();
		case 'boolean':
			return value ? 'true' : 'false';
		default:
	}
	if (Array.isArray(value)) {
		return `[${value.map(exactJson).join(',')}]`;
	}
	if (value instanceof Map) {
		const keys = [...(value as GoMap).keys()].sort(compareGo);
		return `{${keys.map(key => `${goString(key)}:${exactJson((value as GoMap).get(key))}`).join(',')}}`;
	}
	const fields: string[] = [];
	for (const [key, field] of Object.entries(value as object)) {
		if (field !== undefined) {
			fields.push(`${goString(key)}:${exactJson(field)}`);
		}
	}
	return `{${fields.join(',')}}`;
}

// omitempty
const str = (text: string | null | undefined): string | undefined => (text === null || text === undefined || text === '' ? undefined : text);
const int = (n: number | null | undefined): number | undefined => (n === null || n === undefined || n === 0 ? undefined : n);
const list = <T>(items: T[]): T[] | undefined => (items.length === 0 ? undefined : items);
/** Go's integer division of a latency sum: the average, or absent (a nil *int64) without latencies. */
const average = (sum: number, count: number): number | undefined => (count > 0 ? Math.trunc(sum / count) : undefined);

/** time.UnixMilli(ms).UTC().Format(time.RFC3339Nano): no trailing zeros in the fraction. */
export function rfc3339Nano(ms: number): string {
	return new Date(ms).toISOString().replace(/\.(\d*?)0*Z$/u, (_match, digits: string) => (digits === '' ? 'Z' : `.${digits}Z`));
}

// ---- filters ----

// Go's strings.TrimSpace: unicode.IsSpace at both ends.
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu;
export const trimSpace = (text: string): string => text.replace(GO_SPACE, '');

export const SORT_KEYS = ['totalCalls', 'successCalls', 'failureCalls', 'successRate', 'totalTokens', 'totalCost', 'inputTokens', 'outputTokens', 'cachedTokens', 'lastSeenAt'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export const MAX_PAGE_SIZE = 500;

/** UsageSummaryFilter after parseUsageSummaryFilter: every text trimmed, '' when not given. */
export interface UsageFilter {
	readonly startMs: bigint | null;
	readonly endMs: bigint | null;
	readonly account: string;
	readonly provider: string;
	readonly model: string;
	readonly channel: string;
	readonly apiKeyHash: string;
	readonly status: '' | 'success' | 'failed';
	readonly search: string;
	readonly searchApiKeyHash: string;
}

/** UsagePageFilter, normalised: page ≥ 1 (an int64, echoed back as sent), 1 ≤ pageSize ≤ 500. */
export interface PageFilter {
	readonly page: bigint;
	readonly pageSize: number;
	readonly sortKey: SortKey;
	readonly ascending: boolean;
}

type Arg = string | bigint | number;

/** buildFTSQuery: whitespace-separated terms, each a quoted prefix phrase, all required. */
export function ftsQuery(search: string): string {
	return search
		.split(/\s+/u)
		.map(term => term.replace(/^["*]+|["*]+$/gu, ''))
		.filter(term => term !== '')
		.map(term => `"${term.replaceAll('"', '""')}"*`)
		.join(' AND ');
}

function searchClause(filter: UsageFilter): [string, Arg[]] {
	const query = ftsQuery(filter.search);
	const keyHash = filter.searchApiKeyHash.toLowerCase();
	const clauses: string[] = [];
	const args: Arg[] = [];
	if (query !== '') {
		clauses.push('id in (select event_id from usage_events_fts where usage_events_fts match ?)');
		clauses.push('api_key_hash in (select api_key_hash from api_key_aliases_fts where api_key_aliases_fts match ?)');
		args.push(query, query);
	}
	if (keyHash !== '') {
		clauses.push("lower(coalesce(api_key_hash, '')) = ?");
		args.push(keyHash);
	}
	return clauses.length === 0 ? ['', []] : [`(${clauses.join(' or ')})`, args];
}

/** The WHERE clause: SQLite's lower() folds ASCII only, the value is folded in full as Go does. */
function whereClause(filter: UsageFilter): [string, Arg[]] {
	const clauses: string[] = [];
	const args: Arg[] = [];
	const anyColumn = (value: string, columns: string[]) => {
		if (value !== '') {
			clauses.push(`(${columns.map(column => `lower(coalesce(${column}, '')) = ?`).join(' or ')})`);
			args.push(...columns.map(() => value.toLowerCase()));
		}
	};
	if (filter.startMs !== null) {
		clauses.push('timestamp_ms >= ?');
		args.push(filter.startMs);
	}
	if (filter.endMs !== null) {
		clauses.push('timestamp_ms <= ?');
		args.push(filter.endMs);
	}
	if (filter.model !== '') {
		clauses.push('model = ?');
		args.push(filter.model);
	}
	if (filter.apiKeyHash !== '') {
		clauses.push("lower(coalesce(api_key_hash, '')) = ?");
		args.push(filter.apiKeyHash.toLowerCase());
	}
	if (filter.status === 'success') {
		clauses.push('failed = 0');
	} else if (filter.status === 'failed') {
		clauses.push('failed != 0');
	}
	anyColumn(filter.account, ['account_snapshot', 'auth_label_snapshot', 'source', 'auth_index']);
	anyColumn(filter.provider, ['provider', 'auth_provider_snapshot']);
	anyColumn(filter.channel, ['auth_provider_snapshot', 'provider', 'source']);
	const [search, searchArgs] = searchClause(filter);
	if (search !== '') {
		clauses.push(search);
		args.push(...searchArgs);
	}
	return clauses.length === 0 ? ['', args] : [` where ${clauses.join(' and ')}`, args];
}

/** Facets see only the time range and the search (facetFilter). */
const facetFilter = (filter: UsageFilter): UsageFilter => ({
	startMs: filter.startMs,
	endMs: filter.endMs,
	account: '',
	provider: '',
	model: '',
	channel: '',
	apiKeyHash: '',
	status: '',
	search: filter.search,
	searchApiKeyHash: filter.searchApiKeyHash,
});

// ---- rows ----

interface Totals {
	requests: number;
	successes: number;
	failures: number;
	input: number;
	output: number;
	reasoning: number;
	cached: number;
	cache: number;
	total: number;
	latencySum: number;
	latencyCount: number;
}

const TOTALS_SQL = `count(*) as requests,
	coalesce(sum(case when failed = 0 then 1 else 0 end), 0) as successes,
	coalesce(sum(case when failed != 0 then 1 else 0 end), 0) as failures,
	coalesce(sum(input_tokens), 0) as input,
	coalesce(sum(output_tokens), 0) as output,
	coalesce(sum(reasoning_tokens), 0) as reasoning,
	coalesce(sum(cached_tokens), 0) as cached,
	coalesce(sum(cache_tokens), 0) as cache,
	coalesce(sum(total_tokens), 0) as total,
	coalesce(sum(latency_ms), 0) as latencySum,
	count(latency_ms) as latencyCount`;

const zeroTotals = (): Totals => ({requests: 0, successes: 0, failures: 0, input: 0, output: 0, reasoning: 0, cached: 0, cache: 0, total: 0, latencySum: 0, latencyCount: 0});

function addTotals(into: Totals, row: Totals): void {
	for (const key of Object.keys(into) as Array<keyof Totals>) {
		into[key] += row[key];
	}
}

/** An aggregated detail row: one group of the manager's detail GROUP BY (snapshot columns '' when NULL). */
interface DetailRow extends Totals {
	endpoint: string;
	model: string;
	source: string;
	authIndex: string;
	apiKeyHash: string;
	accountSnapshot: string;
	authLabelSnapshot: string;
	authFileSnapshot: string;
	authProviderSnapshot: string;
	authProjectIdSnapshot: string;
	resolvedModel: string;
	failed: number;
	lastMs: number;
}

/** usage_events as the manager's queryEvents reads it. */
interface EventRow {
	id: number;
	request_id: string | null;
	event_hash: string;
	timestamp_ms: number;
	timestamp: string;
	provider: string | null;
	model: string;
	requested_model: string | null;
	resolved_model: string | null;
	endpoint: string | null;
	method: string | null;
	path: string | null;
	auth_type: string | null;
	auth_index: string | null;
	source: string | null;
	source_hash: string | null;
	api_key_hash: string | null;
	account_snapshot: string | null;
	auth_label_snapshot: string | null;
	auth_file_snapshot: string | null;
	auth_provider_snapshot: string | null;
	auth_project_id_snapshot: string | null;
	auth_snapshot_at_ms: number | null;
	input_tokens: number;
	output_tokens: number;
	reasoning_tokens: number;
	cached_tokens: number;
	cache_tokens: number;
	total_tokens: number;
	latency_ms: number | null;
	failed: number;
	raw_json: string | null;
	created_at_ms: number;
}

const EVENT_COLUMNS = `id, request_id, event_hash, timestamp_ms, timestamp, provider, model, requested_model, resolved_model,
	endpoint, method, path, auth_type, auth_index, source, source_hash, api_key_hash, account_snapshot, auth_label_snapshot,
	auth_file_snapshot, auth_provider_snapshot, auth_project_id_snapshot, auth_snapshot_at_ms, input_tokens, output_tokens,
	reasoning_tokens, cached_tokens, cache_tokens, total_tokens, latency_ms, failed, raw_json, created_at_ms`;
/** For the legacy payloads, whose details leave raw_json out. */
const EVENT_COLUMNS_WITHOUT_RAW_JSON = EVENT_COLUMNS.replace('raw_json', "'' as raw_json");

// ---- JSON shapes ----

const tokensJson = (t: Totals) => ({
	input_tokens: t.input,
	output_tokens: t.output,
	reasoning_tokens: t.reasoning,
	cached_tokens: t.cached,
	cache_tokens: t.cache,
	total_tokens: t.total,
});

/** usage.Payload: `apis` a map (endpoint → models → details), `facets` a struct of omitempty lists. */
function payloadJson(t: Totals, apis: GoMap, facets: object) {
	return {
		total_requests: t.requests,
		success_count: t.successes,
		failure_count: t.failures,
		total_tokens: t.total,
		latency_sum_ms: int(t.latencySum),
		latency_count: int(t.latencyCount),
		latency_ms: average(t.latencySum, t.latencyCount),
		tokens: tokensJson(t),
		apis,
		facets,
	};
}

/** usage.Detail with the snapshot fields an event or a detail row carries. */
function detailJson(row: {
	timestamp: string;
	source: string;
	authIndex?: string;
	apiKeyHash?: string;
	accountSnapshot?: string;
	authLabelSnapshot?: string;
	authFileSnapshot?: string;
	authProviderSnapshot?: string;
	authProjectIdSnapshot?: string;
	authSnapshotAtMs?: number | null;
	latencyMs: number | undefined;
	resolvedModel: string;
	tokens: Totals;
	failed: boolean;
	counts: Totals | null;
}) {
	return {
		timestamp: row.timestamp,
		source: row.source,
		auth_index: str(row.authIndex),
		api_key_hash: str(row.apiKeyHash),
		account_snapshot: str(row.accountSnapshot),
		auth_label_snapshot: str(row.authLabelSnapshot),
		auth_file_snapshot: str(row.authFileSnapshot),
		auth_provider_snapshot: str(row.authProviderSnapshot),
		auth_project_id_snapshot: str(row.authProjectIdSnapshot),
		auth_snapshot_at_ms: int(row.authSnapshotAtMs),
		latency_ms: row.latencyMs,
		resolved_model: str(row.resolvedModel),
		tokens: tokensJson(row.tokens),
		failed: row.failed,
		// Legacy details carry no counters: the Go zero values.
		request_count: row.counts?.requests ?? 0,
		success_count: row.counts?.successes ?? 0,
		failure_count: row.counts?.failures ?? 0,
		latency_sum_ms: row.counts?.latencySum ?? 0,
		latency_count: row.counts?.latencyCount ?? 0,
	};
}

const eventTokens = (e: EventRow): Totals => ({
	...zeroTotals(),
	input: e.input_tokens,
	output: e.output_tokens,
	reasoning: e.reasoning_tokens,
	cached: e.cached_tokens,
	cache: e.cache_tokens,
	total: e.total_tokens,
});

/** usage.Event. */
function eventJson(e: EventRow) {
	return {
		request_id: str(e.request_id),
		event_hash: e.event_hash,
		timestamp_ms: e.timestamp_ms,
		timestamp: e.timestamp,
		provider: str(e.provider),
		model: e.model,
		requested_model: str(e.requested_model),
		resolved_model: str(e.resolved_model),
		endpoint: str(e.endpoint),
		method: str(e.method),
		path: str(e.path),
		auth_type: str(e.auth_type),
		auth_index: str(e.auth_index),
		source: str(e.source),
		source_hash: str(e.source_hash),
		api_key_hash: str(e.api_key_hash),
		account_snapshot: str(e.account_snapshot),
		auth_label_snapshot: str(e.auth_label_snapshot),
		auth_file_snapshot: str(e.auth_file_snapshot),
		auth_provider_snapshot: str(e.auth_provider_snapshot),
		auth_project_id_snapshot: str(e.auth_project_id_snapshot),
		auth_snapshot_at_ms: int(e.auth_snapshot_at_ms),
		input_tokens: e.input_tokens,
		output_tokens: e.output_tokens,
		reasoning_tokens: e.reasoning_tokens,
		cached_tokens: e.cached_tokens,
		cache_tokens: e.cache_tokens,
		total_tokens: e.total_tokens,
		latency_ms: e.latency_ms ?? undefined,
		failed: e.failed !== 0,
		raw_json: str(e.raw_json),
		created_at_ms: e.created_at_ms,
	};
}

/** The apis map: endpoint → {models: model → {details}}, details in the order given. */
function apisOf<T>(rows: readonly T[], keyOf: (row: T) => [endpoint: string, model: string], detail: (row: T) => unknown): GoMap {
	const apis: GoMap = new Map();
	for (const row of rows) {
		const [endpoint, model] = keyOf(row);
		let models = apis.get(endpoint) as {models: GoMap} | undefined;
		if (models === undefined) {
			models = {models: new Map()};
			apis.set(endpoint, models);
		}
		let details = models.models.get(model) as {details: unknown[]} | undefined;
		if (details === undefined) {
			details = {details: []};
			models.models.set(model, details);
		}
		details.details.push(detail(row));
	}
	return apis;
}

// ---- prices (§4), for the totalCost sort ----

interface Price {
	readonly prompt: number;
	readonly completion: number;
	readonly cache: number;
}

const lastSegment = (name: string): string => name.slice(name.lastIndexOf('/') + 1);
const stripDate = (name: string): string => name.replace(/-\d{6,8}$/u, '');

/** lookupUsageModelPrice: exact, case-insensitive, basename, date-stripped; the shortest key wins. */
function priceLookup(prices: ReadonlyMap<string, Price>): (model: string) => Price | undefined {
	const exact = new Map<string, string>();
	const base = new Map<string, string>();
	const dated = new Map<string, string>();
	const keep = (index: Map<string, string>, key: string, candidate: string) => {
		const existing = index.get(key);
		if (existing === undefined || candidate.length < existing.length) {
			index.set(key, candidate);
		}
	};
	for (const key of prices.keys()) {
		const lower = key.toLowerCase();
		keep(exact, lower, key);
		const baseName = lastSegment(lower);
		keep(base, baseName, key);
		if (stripDate(baseName) !== baseName) {
			keep(dated, stripDate(baseName), key);
		}
	}
	const via = (index: Map<string, string>, key: string) => {
		const found = index.get(key);
		return found === undefined ? undefined : prices.get(found);
	};
	return model => {
		const direct = prices.get(model);
		if (direct !== undefined) {
			return direct;
		}
		const lower = trimSpace(model).toLowerCase();
		if (lower === '') {
			return undefined;
		}
		const baseName = lastSegment(lower);
		const stripped = stripDate(baseName);
		return (
			via(exact, lower) ??
			via(base, baseName) ??
			(stripped === baseName ? undefined : (via(base, stripped) ?? via(dated, stripped))) ??
			via(dated, baseName)
		);
	};
}

/** usageDetailCost: priced by the resolved model, then the model; 0 unless finite and positive. */
function detailCost(row: DetailRow, lookup: ((model: string) => Price | undefined) | null): number {
	if (lookup === null) {
		return 0;
	}
	const price = lookup(row.resolvedModel) ?? lookup(row.model);
	if (price === undefined) {
		return 0;
	}
	const cached = Math.max(row.cached, row.cache, 0);
	const prompt = Math.max(Math.max(row.input, 0) - cached, 0);
	const cost = (prompt / 1_000_000) * price.prompt + (cached / 1_000_000) * price.cache + (Math.max(row.output, 0) / 1_000_000) * price.completion;
	return Number.isFinite(cost) && cost > 0 ? cost : 0;
}

// ---- grouped pages (accounts, api-keys) ----

export type BreakdownKind = 'accounts' | 'api-keys';

interface Group {
	readonly key: string;
	readonly details: DetailRow[];
	calls: number;
	successes: number;
	failures: number;
	input: number;
	output: number;
	cached: number;
	tokens: number;
	cost: number;
	lastMs: number;
}

const firstNonEmpty = (...values: string[]): string => values.find(value => value !== '') ?? '';

const groupKey: Record<BreakdownKind, (row: DetailRow) => string> = {
	accounts: row => firstNonEmpty(row.accountSnapshot, row.authLabelSnapshot, row.source, row.authIndex, '-'),
	'api-keys': row => (row.apiKeyHash !== '' ? row.apiKeyHash.toLowerCase() : `unknown:${row.source}:${row.authIndex}:${row.authProviderSnapshot}`),
};

/** sortBreakdownDetails: newest first, then endpoint, then model. */
const newestDetailFirst = (a: DetailRow, b: DetailRow): number => b.lastMs - a.lastMs || compareGo(a.endpoint, b.endpoint) || compareGo(a.model, b.model);

const groupValue: Record<SortKey, (group: Group) => number> = {
	totalCalls: g => g.calls,
	successCalls: g => g.successes,
	failureCalls: g => g.failures,
	successRate: g => (g.calls <= 0 ? 1 : g.successes / g.calls),
	totalTokens: g => g.tokens,
	totalCost: g => g.cost,
	inputTokens: g => g.input,
	outputTokens: g => g.output,
	cachedTokens: g => g.cached,
	lastSeenAt: g => g.lastMs,
};

/** sortBreakdownGroups: the key, then lastSeenAt, then the group key; the direction turns all three. */
function compareGroups(sortKey: SortKey): (a: Group, b: Group) => number {
	const value = groupValue[sortKey];
	return (a, b) => Math.sign(value(a) - value(b)) || Math.sign(a.lastMs - b.lastMs) || compareGo(a.key, b.key);
}

function uniqueSorted(values: string[]): string[] | undefined {
	const unique = [...new Set(values.map(trimSpace).filter(value => value !== ''))];
	return list(unique.sort(compareGo));
}

/** buildBreakdownModelItems: one item per (model, resolved model), newest first. */
function modelItems(details: readonly DetailRow[]) {
	const models = new Map<string, {model: string; resolved: string; totals: Totals; lastMs: number}>();
	for (const detail of details) {
		const key = `${detail.model}\u0000${detail.resolvedModel}`;
		let item = models.get(key);
		if (item === undefined) {
			item = {model: detail.model, resolved: detail.resolvedModel, totals: zeroTotals(), lastMs: 0};
			models.set(key, item);
		}
		addTotals(item.totals, {...detail, cached: Math.max(detail.cached, detail.cache)});
		item.lastMs = Math.max(item.lastMs, detail.lastMs);
	}
	return [...models.values()]
		.sort((a, b) => b.lastMs - a.lastMs || compareGo(a.model, b.model) || compareGo(a.resolved, b.resolved))
		.map(item => ({
			model: item.model,
			resolved_model: str(item.resolved),
			total_requests: item.totals.requests,
			success_count: item.totals.successes,
			failure_count: item.totals.failures,
			input_tokens: item.totals.input,
			output_tokens: item.totals.output,
			reasoning_tokens: item.totals.reasoning,
			cached_tokens: item.totals.cached,
			total_tokens: item.totals.total,
			last_seen_at_ms: item.lastMs,
		}));
}

/** UsageBreakdownPageItem. Group details are already newest first. */
function breakdownItem(kind: BreakdownKind, group: Group) {
	const details = group.details;
	const totals = zeroTotals();
	for (const detail of details) {
		addTotals(totals, detail);
	}
	const first = details[0]!;
	const account = kind === 'accounts' ? firstNonEmpty(first.accountSnapshot, first.authLabelSnapshot, first.source, first.authIndex, group.key) : '';
	const apiKeyHash = kind === 'api-keys' ? (details.find(detail => detail.apiKeyHash !== '')?.apiKeyHash.toLowerCase() ?? group.key) : '';
	return {
		id: kind === 'api-keys' ? apiKeyHash : group.key,
		key: group.key,
		account: str(account),
		account_label: str(kind === 'accounts' ? firstNonEmpty(first.accountSnapshot, first.authLabelSnapshot, account) : ''),
		api_key_hash: str(apiKeyHash),
		api_key_label: str(apiKeyHash),
		is_unknown: kind === 'api-keys' && details.every(detail => detail.apiKeyHash === '') ? true : undefined,
		auth_labels: uniqueSorted(details.map(d => firstNonEmpty(d.authLabelSnapshot, d.accountSnapshot))),
		auth_indices: uniqueSorted(details.map(d => d.authIndex)),
		source_labels: kind === 'api-keys' ? uniqueSorted(details.map(d => firstNonEmpty(d.accountSnapshot, d.authLabelSnapshot, d.source, d.authIndex))) : undefined,
		channels: uniqueSorted(details.map(d => firstNonEmpty(d.authProviderSnapshot, d.source))),
		total_requests: group.calls,
		success_count: group.successes,
		failure_count: group.failures,
		input_tokens: group.input,
		output_tokens: group.output,
		reasoning_tokens: totals.reasoning,
		cached_tokens: group.cached,
		total_tokens: group.tokens,
		latency_sum_ms: int(totals.latencySum),
		latency_count: int(totals.latencyCount),
		latency_ms: average(totals.latencySum, totals.latencyCount),
		last_seen_at_ms: group.lastMs,
		// The newest ten detail rows (not requests), oldest first.
		recent_pattern: list(details.slice(0, 10).reverse().map(detail => detail.failed === 0)),
		models: list(modelItems(details)),
	};
}

/** The first item of a page of `pageSize`, clamped to `length` (pageBounds). */
const pageStart = (page: bigint, pageSize: number, length: number): number => {
	const start = (page - 1n) * BigInt(pageSize);
	return start > BigInt(length) ? length : Number(start);
};

const MAX_INT64 = 2n ** 63n - 1n;
const sqlOffset = (page: PageFilter): bigint => {
	const offset = (page.page - 1n) * BigInt(page.pageSize);
	return offset > MAX_INT64 ? MAX_INT64 : offset;
};

// ---- realtime streams (§2.5) ----

const STREAM_ACCOUNT = "coalesce(nullif(account_snapshot, ''), nullif(auth_label_snapshot, ''), nullif(source, ''), nullif(auth_index, ''), '-')";
const STREAM_PROVIDER = "coalesce(nullif(auth_provider_snapshot, ''), nullif(provider, ''), '-')";
const STREAM_MODEL = "coalesce(nullif(model, ''), '-')";
const STREAM_CHANNEL = "coalesce(nullif(auth_index, ''), nullif(source, ''), nullif(auth_provider_snapshot, ''), nullif(provider, ''), '-')";
const STREAM_PARTS = [STREAM_ACCOUNT, STREAM_PROVIDER, STREAM_MODEL, STREAM_CHANNEL].join(', ');
const STREAM_WINDOW = `partition by ${STREAM_PARTS} order by timestamp_ms asc, id asc`;

const streamKeyOf = (e: EventRow): string =>
	[
		firstNonEmpty(e.account_snapshot ?? '', e.auth_label_snapshot ?? '', e.source ?? '', e.auth_index ?? '', '-'),
		firstNonEmpty(e.auth_provider_snapshot ?? '', e.provider ?? '', '-'),
		firstNonEmpty(e.model, '-'),
		firstNonEmpty(e.auth_index ?? '', e.source ?? '', e.auth_provider_snapshot ?? '', e.provider ?? '', '-'),
	].join('\u0000');

interface StreamTotals {
	requests: number;
	successes: number;
	failures: number;
	pattern: boolean[];
}

// ---- the store ----

/** CPA-Manager's store, opened read-only, answering as the manager's store layer does. */
export class ReplicaStore {
	private readonly db: Database.Database;

	constructor(path: string) {
		this.db = new Database(path, {readonly: true, fileMustExist: true});
	}

	close(): void {
		this.db.close();
	}

	private all<T>(sql: string, args: readonly unknown[] = []): T[] {
		return this.db.prepare(sql).all(...args) as T[];
	}

	private totals(where: string, args: readonly Arg[]): Totals {
		return this.db.prepare(`select ${TOTALS_SQL} from usage_events${where}`).get(...args) as Totals;
	}

	private facets(filter: UsageFilter) {
		const [where, args] = whereClause(facetFilter(filter));
		const strings = (expression: string) =>
			this.db
				.prepare(`select value from (select distinct ${expression} as value from usage_events${where}) where value is not null and trim(value) != '' order by lower(value)`)
				.pluck()
				.all(...args) as string[];
		const seen = new Set<string>();
		const accounts = this.all<{value: string; label: string}>(
			`select value, coalesce(nullif(account_snapshot, ''), nullif(auth_label_snapshot, ''), value) as label from (
				select distinct coalesce(nullif(account_snapshot, ''), nullif(auth_label_snapshot, ''), nullif(source, ''), nullif(auth_index, '')) as value,
					account_snapshot, auth_label_snapshot
				from usage_events${where}
			) where value is not null and trim(value) != '' order by lower(label), lower(value)`,
			args,
		).filter(option => !seen.has(option.value.toLowerCase()) && seen.add(option.value.toLowerCase()));
		const apiKeys = this.all<{value: string; label: string}>(
			`select keys.api_key_hash as value, coalesce(nullif(api_key_aliases.alias, ''), keys.api_key_hash) as label from (
				select distinct lower(api_key_hash) as api_key_hash from usage_events${where}
			) keys
			left join api_key_aliases on lower(api_key_aliases.api_key_hash) = keys.api_key_hash
			where keys.api_key_hash is not null and trim(keys.api_key_hash) != ''
			order by lower(label), keys.api_key_hash`,
			args,
		);
		return {
			providers: list(strings("coalesce(nullif(auth_provider_snapshot, ''), nullif(provider, ''))")),
			accounts: list(accounts.map(({value, label}) => ({value, label}))),
			models: list(strings("coalesce(nullif(resolved_model, ''), nullif(model, ''))")),
			channels: list(strings("coalesce(nullif(auth_provider_snapshot, ''), nullif(provider, ''), nullif(source, ''))")),
			api_keys: list(apiKeys.map(({value, label}) => ({value, label}))),
		};
	}

	/** GET /usage/summary: the filtered totals and the facets; `apis` empty. */
	summary(filter: UsageFilter) {
		const [where, args] = whereClause(filter);
		return payloadJson(this.totals(where, args), new Map(), this.facets(filter));
	}

	/** The detail aggregation behind accounts and api-keys, newest group first. */
	private detailRows(filter: UsageFilter): DetailRow[] {
		const [where, args] = whereClause(filter);
		const groupBy = `coalesce(nullif(endpoint, ''), '-'), coalesce(nullif(model, ''), '-'), coalesce(source, ''), coalesce(auth_index, ''),
			coalesce(api_key_hash, ''), coalesce(account_snapshot, ''), coalesce(auth_label_snapshot, ''), coalesce(auth_file_snapshot, ''),
			coalesce(auth_provider_snapshot, ''), coalesce(auth_project_id_snapshot, ''), coalesce(resolved_model, ''), failed`;
		return this.all<DetailRow>(
			`select coalesce(nullif(endpoint, ''), '-') as endpoint, coalesce(nullif(model, ''), '-') as model,
				coalesce(source, '') as source, coalesce(auth_index, '') as authIndex, coalesce(api_key_hash, '') as apiKeyHash,
				coalesce(account_snapshot, '') as accountSnapshot, coalesce(auth_label_snapshot, '') as authLabelSnapshot,
				coalesce(auth_file_snapshot, '') as authFileSnapshot, coalesce(auth_provider_snapshot, '') as authProviderSnapshot,
				coalesce(auth_project_id_snapshot, '') as authProjectIdSnapshot, coalesce(resolved_model, '') as resolvedModel,
				failed, max(timestamp_ms) as lastMs, ${TOTALS_SQL}
			from usage_events${where} group by ${groupBy} order by max(timestamp_ms) desc`,
			args,
		);
	}

	private prices(): Map<string, Price> {
		const rows = this.all<{model: string; prompt: number; completion: number; cache: number}>(
			'select model, prompt_per_1m as prompt, completion_per_1m as completion, cache_per_1m as cache from model_prices order by model',
		);
		return new Map(rows.map(row => [row.model, row]));
	}

	/** GET /usage/accounts and /usage/api-keys: every group aggregated and sorted, one page kept. */
	groupedPage(kind: BreakdownKind, filter: UsageFilter, page: PageFilter) {
		const prices = page.sortKey === 'totalCost' ? this.prices() : new Map<string, Price>();
		const lookup = prices.size > 0 ? priceLookup(prices) : null;
		const groups = new Map<string, Group>();
		for (const row of this.detailRows(filter)) {
			const key = groupKey[kind](row);
			let group = groups.get(key);
			if (group === undefined) {
				group = {key, details: [], calls: 0, successes: 0, failures: 0, input: 0, output: 0, cached: 0, tokens: 0, cost: 0, lastMs: 0};
				groups.set(key, group);
			}
			group.details.push(row);
			group.calls += row.requests;
			group.successes += row.successes;
			group.failures += row.failures;
			group.input += row.input;
			group.output += row.output;
			group.cached += Math.max(row.cached, row.cache);
			group.tokens += row.total;
			group.cost += detailCost(row, lookup);
			group.lastMs = Math.max(group.lastMs, row.lastMs);
		}
		const compare = compareGroups(page.sortKey);
		const sorted = [...groups.values()].sort((a, b) => (page.ascending ? compare(a, b) : compare(b, a)));
		const start = pageStart(page.page, page.pageSize, sorted.length);
		const onPage = sorted.slice(start, start + page.pageSize);
		const totals = zeroTotals();
		for (const group of onPage) {
			group.details.sort(newestDetailFirst);
			for (const detail of group.details) {
				addTotals(totals, detail);
			}
		}
		return {
			page: page.page,
			page_size: page.pageSize,
			total_items: sorted.length,
			usage: payloadJson(totals, new Map(), {}),
			items: onPage.map(group => breakdownItem(kind, group)),
		};
	}

	/** GET /usage/models: (endpoint, model, resolved model, failed) groups, newest first, paged in SQL. */
	modelsPage(filter: UsageFilter, page: PageFilter) {
		const [where, args] = whereClause(filter);
		const groupBy = "coalesce(nullif(endpoint, ''), '-'), coalesce(nullif(model, ''), '-'), coalesce(resolved_model, ''), failed";
		const totalItems = this.db.prepare(`select count(*) from (select 1 from usage_events${where} group by ${groupBy})`).pluck().get(...args) as number;
		const rows = this.all<DetailRow>(
			`select coalesce(nullif(endpoint, ''), '-') as endpoint, coalesce(nullif(model, ''), '-') as model,
				coalesce(resolved_model, '') as resolvedModel, failed, max(timestamp_ms) as lastMs, ${TOTALS_SQL}
			from usage_events${where} group by ${groupBy} order by max(timestamp_ms) desc limit ? offset ?`,
			[...args, page.pageSize, sqlOffset(page)],
		);
		const totals = zeroTotals();
		for (const row of rows) {
			addTotals(totals, row);
		}
		const apis = apisOf(
			rows,
			row => [row.endpoint, row.model],
			row =>
				detailJson({
					timestamp: rfc3339Nano(row.lastMs),
					source: '',
					latencyMs: average(row.latencySum, row.latencyCount),
					resolvedModel: row.resolvedModel,
					tokens: row,
					failed: row.failed !== 0,
					counts: row,
				}),
		);
		return {page: page.page, page_size: page.pageSize, total_items: totalItems, usage: payloadJson(totals, apis, {})};
	}

	/** GET /usage/realtime: one row per event, newest first, with its stream's counters; `usage` is the full summary. */
	realtimePage(filter: UsageFilter, page: PageFilter) {
		const [where, args] = whereClause(filter);
		const totalItems = this.db.prepare(`select count(*) from usage_events${where}`).pluck().get(...args) as number;
		const usage = this.summary(filter);
		const streams = new Map<string, StreamTotals>();
		for (const row of this.all<{account: string; provider: string; model: string; channel: string; requests: number; successes: number; failures: number}>(
			`select ${STREAM_ACCOUNT} as account, ${STREAM_PROVIDER} as provider, ${STREAM_MODEL} as model, ${STREAM_CHANNEL} as channel,
				count(*) as requests, coalesce(sum(case when failed = 0 then 1 else 0 end), 0) as successes,
				coalesce(sum(case when failed != 0 then 1 else 0 end), 0) as failures
			from usage_events${where} group by ${STREAM_PARTS}`,
			args,
		)) {
			streams.set([row.account, row.provider, row.model, row.channel].join('\u0000'), {requests: row.requests, successes: row.successes, failures: row.failures, pattern: []});
		}
		for (const row of this.all<{account: string; provider: string; model: string; channel: string; failed: number}>(
			`select account, provider, model, channel, failed from (
				select ${STREAM_ACCOUNT} as account, ${STREAM_PROVIDER} as provider, ${STREAM_MODEL} as model, ${STREAM_CHANNEL} as channel,
					failed, timestamp_ms, id, row_number() over (partition by ${STREAM_PARTS} order by timestamp_ms desc, id desc) as stream_rank
				from usage_events${where}
			) where stream_rank <= 10
			order by account, provider, model, channel, timestamp_ms asc, id asc`,
			args,
		)) {
			streams.get([row.account, row.provider, row.model, row.channel].join('\u0000'))?.pattern.push(row.failed === 0);
		}
		const events = this.all<EventRow>(`select ${EVENT_COLUMNS} from usage_events${where} order by timestamp_ms desc, id desc limit ? offset ?`, [
			...args,
			page.pageSize,
			sqlOffset(page),
		]);
		const toEvent = this.streamMetricsToEvent(where, args, events);
		const items = events.map(event => {
			const key = streamKeyOf(event);
			const stream = streams.get(key);
			const metric = toEvent.get(event.event_hash);
			return {
				...eventJson(event),
				stream_key: str(key),
				stream_total_requests: stream?.requests ?? 0,
				stream_success_count: stream?.successes ?? 0,
				stream_failure_count: stream?.failures ?? 0,
				stream_recent_pattern: list(stream?.pattern ?? []),
				stream_request_count: metric?.requests ?? 0,
				stream_success_count_to_event: metric?.successes ?? 0,
				stream_failure_count_to_event: metric?.failures ?? 0,
				stream_recent_pattern_to_event: list(metric?.pattern ?? []),
			};
		});
		return {page: page.page, page_size: page.pageSize, total_items: totalItems, usage, items};
	}

	/** Running counters of each page event's stream, and its stream's last ten outcomes up to it. */
	private streamMetricsToEvent(where: string, args: readonly Arg[], events: readonly EventRow[]): Map<string, StreamTotals> {
		const metrics = new Map<string, StreamTotals>();
		if (events.length === 0) {
			return metrics;
		}
		const rows = this.all<{event_hash: string; requests: number; successes: number; failures: number; failed: number}>(
			`with ranked as (
				select event_hash, ${STREAM_ACCOUNT} as account, ${STREAM_PROVIDER} as provider, ${STREAM_MODEL} as model, ${STREAM_CHANNEL} as channel,
					failed, timestamp_ms, id,
					row_number() over (${STREAM_WINDOW}) as stream_rank,
					count(*) over (${STREAM_WINDOW} rows between unbounded preceding and current row) as requests,
					coalesce(sum(case when failed = 0 then 1 else 0 end) over (${STREAM_WINDOW} rows between unbounded preceding and current row), 0) as successes,
					coalesce(sum(case when failed != 0 then 1 else 0 end) over (${STREAM_WINDOW} rows between unbounded preceding and current row), 0) as failures
				from usage_events${where}
			),
			page_events as (select * from ranked where event_hash in (${events.map(() => '?').join(',')}))
			select page_events.event_hash, page_events.requests, page_events.successes, page_events.failures, history.failed
			from page_events
			join ranked history
				on history.account = page_events.account and history.provider = page_events.provider
				and history.model = page_events.model and history.channel = page_events.channel
				and history.stream_rank between page_events.stream_rank - 9 and page_events.stream_rank
			order by page_events.event_hash asc, history.stream_rank asc`,
			[...args, ...events.map(event => event.event_hash)],
		);
		for (const row of rows) {
			let metric = metrics.get(row.event_hash);
			if (metric === undefined) {
				metric = {requests: row.requests, successes: row.successes, failures: row.failures, pattern: []};
				metrics.set(row.event_hash, metric);
			}
			metric.pattern.push(row.failed === 0);
		}
		return metrics;
	}

	/** RecentEvents: the newest `limit` events (50,000 when limit ≤ 0), newest first. */
	recentEvents(limit: number, columns = EVENT_COLUMNS): EventRow[] {
		return this.all<EventRow>(`select ${columns} from usage_events order by timestamp_ms desc, id desc limit ?`, [limit > 0 ? limit : 50_000]);
	}

	/** GET /v0/management/usage on the manager: BuildPayload(RecentEvents(limit)), one detail per event, no counters. */
	legacy(limit: number) {
		const events = this.recentEvents(limit, EVENT_COLUMNS_WITHOUT_RAW_JSON);
		const totals = zeroTotals();
		for (const event of events) {
			addTotals(totals, {
				...eventTokens(event),
				requests: 1,
				successes: event.failed === 0 ? 1 : 0,
				failures: event.failed === 0 ? 0 : 1,
				latencySum: event.latency_ms ?? 0,
				latencyCount: event.latency_ms === null ? 0 : 1,
			});
		}
		const apis = apisOf(
			events,
			event => [firstNonEmpty(event.endpoint ?? '', '-'), firstNonEmpty(event.model, '-')],
			event => detailJson(eventDetail(event)),
		);
		return payloadJson(totals, apis, {});
	}

	/**
	 * CPA-Manager-Plus's legacy-compatible body (§8): only the four counters and `apis`, endpoints and
	 * models in order, details newest first. Plus's own Detail fields are not known (UNVERIFIED in
	 * the reference): the manager's, without counters, cached and cache both max(cached, cache).
	 */
	plusCompatible(limit: number) {
		const events = this.recentEvents(limit, EVENT_COLUMNS_WITHOUT_RAW_JSON);
		const failures = events.filter(event => event.failed !== 0).length;
		const apis = apisOf(
			[...events].sort((a, b) => compareGo(firstNonEmpty(a.endpoint ?? '', '-'), firstNonEmpty(b.endpoint ?? '', '-')) || compareGo(firstNonEmpty(a.model, '-'), firstNonEmpty(b.model, '-'))),
			event => [firstNonEmpty(event.endpoint ?? '', '-'), firstNonEmpty(event.model, '-')],
			event => {
				const cached = Math.max(event.cached_tokens, event.cache_tokens);
				const detail = detailJson({...eventDetail(event), tokens: {...eventTokens(event), cached, cache: cached}});
				return {...detail, request_count: undefined, success_count: undefined, failure_count: undefined, latency_sum_ms: undefined, latency_count: undefined};
			},
		);
		return {
			total_requests: events.length,
			success_count: events.length - failures,
			failure_count: failures,
			total_tokens: events.reduce((sum, event) => sum + event.total_tokens, 0),
			apis,
		};
	}

	/** GET /usage/export: the newest 50,000 events as JSON lines, oldest first. */
	exportLines(): string {
		return this.recentEvents(50_000)
			.reverse()
			.map(event => `${goJson(eventJson(event))}\n`)
			.join('');
	}

	/** GET /v0/management/model-prices. */
	modelPrices() {
		const rows = this.all<{
			model: string;
			prompt: number;
			completion: number;
			cache: number;
			source: string | null;
			source_model_id: string | null;
			raw_json: string | null;
			updated_at_ms: number;
			synced_at_ms: number | null;
		}>(
			`select model, prompt_per_1m as prompt, completion_per_1m as completion, cache_per_1m as cache, source, source_model_id, raw_json,
				updated_at_ms, synced_at_ms from model_prices order by model`,
		);
		const prices: GoMap = new Map(
			rows.map(row => [
				row.model,
				{
					prompt: row.prompt,
					completion: row.completion,
					cache: row.cache,
					source: str(row.source),
					sourceModelId: str(row.source_model_id),
					rawJson: str(row.raw_json),
					updatedAtMs: int(row.updated_at_ms),
					syncedAtMs: row.synced_at_ms ?? undefined,
				},
			]),
		);
		return {prices};
	}

	/** GET /v0/management/api-key-aliases: by alias, case-insensitively. */
	apiKeyAliases() {
		const items = this.all<{apiKeyHash: string; alias: string; updatedAtMs: number}>(
			'select api_key_hash as apiKeyHash, alias, updated_at_ms as updatedAtMs from api_key_aliases order by alias collate nocase, api_key_hash',
		);
		return {items};
	}
}

/** The Detail fields BuildPayload copies from an event. */
function eventDetail(event: EventRow) {
	return {
		timestamp: event.timestamp,
		source: event.source ?? '',
		authIndex: event.auth_index ?? '',
		apiKeyHash: event.api_key_hash ?? '',
		accountSnapshot: event.account_snapshot ?? '',
		authLabelSnapshot: event.auth_label_snapshot ?? '',
		authFileSnapshot: event.auth_file_snapshot ?? '',
		authProviderSnapshot: event.auth_provider_snapshot ?? '',
		authProjectIdSnapshot: event.auth_project_id_snapshot ?? '',
		authSnapshotAtMs: event.auth_snapshot_at_ms,
		latencyMs: event.latency_ms ?? undefined,
		resolvedModel: event.resolved_model ?? '',
		tokens: eventTokens(event),
		failed: event.failed !== 0,
		counts: null,
	};
}
