import type {Choice, GroupPage, GroupUsage} from '../usage/types.js';
import type {Snapshot} from '../usage/take-snapshot.js';
import type {CountingCost} from '../tokens/counting-cost.js';
import {postgresJson} from './postgres-json.js';
import {maskSecrets} from './secret-registry.js';

// The stable scripting interface (design.md "JSON snapshot"): snake case, numbers as numbers.
// Extend it; never rename a field.

const choices = (list: readonly Choice[]) => list.map(({value, label}) => ({value, label}));

const group = (item: GroupUsage) => ({
	key: item.key,
	label: item.label,
	total_requests: item.totalRequests,
	success_count: item.successCount,
	failure_count: item.failureCount,
	success_rate: item.successRate,
	input_tokens: item.inputTokens,
	output_tokens: item.outputTokens,
	cached_tokens: item.cachedTokens,
	total_tokens: item.totalTokens,
	cost_usd: item.costUsd,
	unpriced_requests: item.unpricedRequests,
	last_seen_at_ms: item.lastSeenAtMs,
});

const groupPage = (page: GroupPage) => ({
	page: page.page,
	page_size: page.pageSize,
	total_items: page.totalItems,
	sort_key: page.sortKey,
	sort_direction: page.sortDirection,
	items: page.items.map(group),
});

// JSON.stringify escapes only C0 controls. C1 controls (U+009B is a CSI on some terminals), DEL,
// bidirectional overrides and line separators from database names are escaped too: still valid,
// lossless JSON, and inert when it is printed to a terminal.
const UNSAFE_IN_TERMINAL = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu;

/**
 * Fields whose values are relaytop's own words, never masked: scripts match on them, and a password
 * that is also such a word (`postgres`) must not change them. Enumerations and identifiers (its own
 * and the server's: a session's state, a progress phase), the times it computes, and the target, which
 * redactTarget already wrote without its secrets. `parent.name` where the name holds data elsewhere
 * (the reason of a proposed index names indexes).
 */
const OWN_WORDS = new Set([
	'kind',
	'target',
	'status',
	'state',
	'verdict',
	'group',
	'id',
	'sort_key',
	'sort_direction',
	'dimension',
	'unit',
	'unavailable.reason',
	'ram_from',
	'cores_from',
	'encoding',
	'counter_uses',
	'wait_event_type',
	'wait_event',
	'backend_type',
	'command',
	'phase',
	'need',
	'serves',
	'engine',
	'store',
	'timeColumn',
	'cutoffIso',
	'server',
	'outcome',
]);

/**
 * The value with every string of the data masked (maskSecrets), at any depth, as JSON.stringify
 * would write it (toJSON first); the strings of OWN_WORDS fields kept. Masked as values, not as the
 * finished text: a secret `true` or `42` never touches JSON's own words or its numbers.
 */
function shownValue(value: unknown, name: string, parent: string): unknown {
	if (typeof value === 'string') return OWN_WORDS.has(name) || OWN_WORDS.has(`${parent}.${name}`) ? value : maskSecrets(value);
	if (value === null || typeof value !== 'object') return value;
	if ('toJSON' in value && typeof value.toJSON === 'function') return shownValue((value as {toJSON: (key: string) => unknown}).toJSON(name), name, parent);
	if (Array.isArray(value)) return value.map(item => shownValue(item, name, parent));
	return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, shownValue(field, key, name)]));
}

/** Every --json output: secrets masked in the data's values, then made inert for a terminal. */
export const terminalSafeJson = (value: unknown): string =>
	JSON.stringify(shownValue(value, '', ''), null, 2).replace(UNSAFE_IN_TERMINAL, character => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The cost of counting prompt tokens at the current rate, or null when the tokenizer could not be measured. */
function tokenCountingJson(cost: CountingCost | null): object | null {
	if (cost === null) return null;
	return {
		rpm: cost.rpm,
		prompt_tokens_per_request: cost.promptTokensPerRequest,
		tokens_per_s: cost.tokensPerS,
		core_share: {latin: cost.coreShare.latin, cjk: cost.coreShare.cjk},
		verdict: cost.verdict,
		advice: cost.advice,
		assumptions: cost.assumptions,
		tokenizer: {
			encoding: cost.throughput.encoding,
			latin_tokens_per_s: cost.throughput.latinTokensPerS,
			cjk_tokens_per_s: cost.throughput.cjkTokensPerS,
			measured_at_ms: cost.throughput.measuredAtMs,
		},
	};
}

/** `counting` undefined leaves token_counting out (it was not asked for); null says it could not be measured. */
export function jsonSnapshot(snapshot: Snapshot, counting?: CountingCost | null): object {
	const {summary, rate, realtime} = snapshot;
	return {
		source: {kind: snapshot.source.kind, target: snapshot.source.target},
		range: {start_ms: snapshot.range.startMs, end_ms: snapshot.range.endMs},
		newest_request_ms: snapshot.newestRequestMs,
		summary: {
			total_requests: summary.totalRequests,
			success_count: summary.successCount,
			failure_count: summary.failureCount,
			total_tokens: summary.totalTokens,
			tokens: {
				input_tokens: summary.tokens.input,
				output_tokens: summary.tokens.output,
				reasoning_tokens: summary.tokens.reasoning,
				cached_tokens: summary.tokens.cached,
			},
			latency_ms_avg: summary.latencyMsAvg,
			cost_usd: summary.costUsd,
			unpriced_requests: summary.unpricedRequests,
		},
		facets: {
			accounts: choices(snapshot.facets.accounts),
			providers: choices(snapshot.facets.providers),
			channels: choices(snapshot.facets.channels),
			groups: choices(snapshot.facets.groups),
			models: choices(snapshot.facets.models),
			api_keys: choices(snapshot.facets.apiKeys),
		},
		rate: {window_s: rate.windowS, rpm: rate.rpm, tpm: rate.tpm},
		models: snapshot.models.map(model => ({
			model: model.model,
			total_requests: model.totalRequests,
			success_count: model.successCount,
			failure_count: model.failureCount,
			total_tokens: model.totalTokens,
			cost_usd: model.costUsd,
			unpriced_requests: model.unpricedRequests,
		})),
		accounts: {dimension: snapshot.dimension, ...groupPage(snapshot.accounts)},
		api_keys: groupPage(snapshot.apiKeys),
		realtime: {
			page: realtime.page,
			page_size: realtime.pageSize,
			total_items: realtime.totalItems,
			items: realtime.items.map(item => ({
				timestamp_ms: item.timestampMs,
				model: item.model,
				account: item.account,
				api_key: item.apiKey,
				api_key_label: item.apiKeyLabel,
				status: item.status,
				input_tokens: item.inputTokens,
				output_tokens: item.outputTokens,
				total_tokens: item.totalTokens,
				latency_ms: item.latencyMs,
				cost_usd: item.costUsd,
			})),
		},
		...(counting === undefined ? {} : {token_counting: tokenCountingJson(counting)}),
		...(snapshot.postgres === undefined ? {} : {postgres: postgresJson(snapshot.postgres)}),
	};
}
