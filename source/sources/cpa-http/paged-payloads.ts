import type {Choice} from '../../usage/types.js';
import {isValidPrice, type ModelPrice} from '../../usage/price-book.js';
import {ManagementError} from './management-client.js';
import {array, count, flag, instant, object, optionalCount, optionalObject, text, type Json} from './payload-reader.js';

// The paged usage endpoints' bodies (reference cpa-manager-usage-api.md §2.2–§2.6, §2.8), decoded
// into what the source needs and nothing more.

export interface UsageTotals {
	readonly totalRequests: number;
	readonly successCount: number;
	readonly totalTokens: number;
	readonly input: number;
	readonly output: number;
	readonly reasoning: number;
	readonly cached: number;
	readonly latencySumMs: number;
	readonly latencyCount: number;
}

/** The summary's facets; models are not taken from here (see the source's facets()). */
export interface ServerFacets {
	readonly accounts: readonly Choice[];
	readonly providers: readonly Choice[];
	readonly channels: readonly Choice[];
	readonly apiKeys: readonly Choice[];
}

/** Requests of one (model, resolved model) pair inside a group or a models-page detail. */
export interface ModelTokens {
	readonly model: string;
	readonly resolvedModel: string | null;
	readonly requests: number;
	readonly successes: number;
	readonly input: number;
	readonly output: number;
	readonly reasoning: number;
	readonly cached: number;
	readonly total: number;
	readonly latencySumMs: number;
	readonly latencyCount: number;
	readonly lastSeenAtMs: number;
}

export interface BreakdownItem {
	readonly key: string;
	readonly label: string;
	readonly totalRequests: number;
	readonly successCount: number;
	readonly input: number;
	readonly output: number;
	readonly cached: number;
	readonly total: number;
	readonly lastSeenAtMs: number;
	readonly models: readonly ModelTokens[];
}

export interface Page<T> {
	readonly totalItems: number;
	readonly items: readonly T[];
}

/** One request of the realtime log. */
export interface EventRecord {
	readonly timestampMs: number;
	readonly model: string;
	readonly resolvedModel: string | null;
	readonly account: string;
	readonly apiKey: string;
	readonly failed: boolean;
	readonly input: number;
	readonly output: number;
	readonly cached: number;
	readonly total: number;
	readonly latencyMs: number | null;
}

const tokenSums = (tokens: Json, where: string) => ({
	input: count(tokens.input_tokens, `${where}.input_tokens`),
	output: count(tokens.output_tokens, `${where}.output_tokens`),
	reasoning: count(tokens.reasoning_tokens, `${where}.reasoning_tokens`),
	// CPA-Manager counts cached input as the larger of its two cache columns.
	cached: Math.max(count(tokens.cached_tokens, `${where}.cached_tokens`), count(tokens.cache_tokens, `${where}.cache_tokens`), 0),
	total: count(tokens.total_tokens, `${where}.total_tokens`),
});

/** The `Payload` of /usage/summary (and the `usage` of the pages). */
export function usageTotals(body: unknown, where: string): UsageTotals {
	const payload = object(body, where);
	if (payload.tokens === undefined) {
		throw new LegacyBodyError(where);
	}
	const tokens = tokenSums(object(payload.tokens, `${where}.tokens`), `${where}.tokens`);
	return {
		totalRequests: count(payload.total_requests, `${where}.total_requests`),
		successCount: count(payload.success_count, `${where}.success_count`),
		totalTokens: count(payload.total_tokens, `${where}.total_tokens`),
		input: tokens.input,
		output: tokens.output,
		reasoning: tokens.reasoning,
		cached: tokens.cached,
		latencySumMs: count(payload.latency_sum_ms, `${where}.latency_sum_ms`),
		latencyCount: count(payload.latency_count, `${where}.latency_count`),
	};
}

/**
 * A 200 answer shaped like the legacy payload where a summary was asked for: CPA-Manager-Plus
 * answers every /usage path that way (reference §8). The source then reads the legacy payload.
 */
export class LegacyBodyError extends Error {
	override readonly name = 'LegacyBodyError';
	constructor(where: string) {
		super(`${where}: a legacy usage payload where a paged one was expected`);
	}
}

function strings(value: unknown, where: string): Choice[] {
	return array(value, where).flatMap((item, index) => {
		const name = text(item, `${where}[${index}]`);
		return name === null ? [] : [{value: name, label: name}];
	});
}

function labelled(value: unknown, where: string): Choice[] {
	return array(value, where).flatMap((item, index) => {
		const choice = object(item, `${where}[${index}]`);
		const name = text(choice.value, `${where}[${index}].value`);
		return name === null ? [] : [{value: name, label: text(choice.label, `${where}[${index}].label`) ?? name}];
	});
}

export function serverFacets(body: unknown, where: string): ServerFacets {
	const facets = optionalObject(object(body, where).facets, `${where}.facets`);
	return {
		accounts: labelled(facets.accounts, `${where}.facets.accounts`),
		providers: strings(facets.providers, `${where}.facets.providers`),
		channels: strings(facets.channels, `${where}.facets.channels`),
		apiKeys: labelled(facets.api_keys, `${where}.facets.api_keys`).map(choice => ({value: choice.value.toLowerCase(), label: choice.value.toLowerCase()})),
	};
}

function pageOf<T>(body: unknown, where: string, items: (page: Json) => T[]): Page<T> {
	const page = object(body, where);
	if (page.total_items === undefined && (page.apis !== undefined || page.total_requests !== undefined)) {
		throw new LegacyBodyError(where);
	}
	const totalItems = page.total_items;
	if (typeof totalItems !== 'number' || !Number.isSafeInteger(totalItems) || totalItems < 0) {
		throw new ManagementError('malformed', `${where}.total_items: expected a whole number; is this a CPA-Manager address?`);
	}
	return {totalItems, items: items(page)};
}

function groupModel(value: unknown, where: string): ModelTokens {
	const row = object(value, where);
	const tokens = tokenSums(row, where);
	const requests = count(row.total_requests, `${where}.total_requests`);
	return {
		model: text(row.model, `${where}.model`) ?? '',
		resolvedModel: text(row.resolved_model, `${where}.resolved_model`),
		requests,
		successes: count(row.success_count, `${where}.success_count`),
		...tokens,
		latencySumMs: 0,
		latencyCount: 0,
		lastSeenAtMs: count(row.last_seen_at_ms, `${where}.last_seen_at_ms`),
	};
}

/** /usage/accounts and /usage/api-keys: `key` names the group either way. */
export function breakdownPage(body: unknown, where: string): Page<BreakdownItem> {
	return pageOf(body, where, page =>
		array(page.items, `${where}.items`).map((value, index) => {
			const at = `${where}.items[${index}]`;
			const item = object(value, at);
			const key = text(item.key, `${at}.key`) ?? text(item.api_key_hash, `${at}.api_key_hash`) ?? '-';
			return {
				key,
				label: text(item.account_label, `${at}.account_label`) ?? key,
				totalRequests: count(item.total_requests, `${at}.total_requests`),
				successCount: count(item.success_count, `${at}.success_count`),
				input: count(item.input_tokens, `${at}.input_tokens`),
				output: count(item.output_tokens, `${at}.output_tokens`),
				cached: count(item.cached_tokens, `${at}.cached_tokens`),
				total: count(item.total_tokens, `${at}.total_tokens`),
				lastSeenAtMs: count(item.last_seen_at_ms, `${at}.last_seen_at_ms`),
				models: array(item.models, `${at}.models`).map((model, position) => groupModel(model, `${at}.models[${position}]`)),
			};
		}),
	);
}

/** CPA-Manager's first non-empty value: raw, and empty means exactly '' (it trims at ingest, not here). */
const firstNonEmpty = (...values: Array<string | null>): string | null => values.find(value => value !== null && value !== '') ?? null;

/** The account and API-key group keys of one event, as CPA-Manager forms them (§2.3, §2.4). */
export function eventKeys(event: Json, where: string): {account: string; apiKey: string} {
	const field = (name: string) => text(event[name], `${where}.${name}`);
	const hash = field('api_key_hash');
	return {
		account: firstNonEmpty(field('account_snapshot'), field('auth_label_snapshot'), field('source'), field('auth_index')) ?? '-',
		apiKey: hash === null ? `unknown:${field('source') ?? ''}:${field('auth_index') ?? ''}:${field('auth_provider_snapshot') ?? ''}` : hash.toLowerCase(),
	};
}

/** /usage/realtime: events newest first. */
export function realtimePage(body: unknown, where: string): Page<EventRecord> {
	return pageOf(body, where, page =>
		array(page.items, `${where}.items`).map((value, index) => {
			const at = `${where}.items[${index}]`;
			const event = object(value, at);
			const tokens = tokenSums(event, at);
			return {
				timestampMs: count(event.timestamp_ms, `${at}.timestamp_ms`),
				model: text(event.model, `${at}.model`) ?? '',
				resolvedModel: text(event.resolved_model, `${at}.resolved_model`),
				...eventKeys(event, at),
				failed: flag(event.failed, `${at}.failed`),
				input: tokens.input,
				output: tokens.output,
				cached: tokens.cached,
				total: tokens.total,
				latencyMs: optionalCount(event.latency_ms, `${at}.latency_ms`),
			};
		}),
	);
}

/** /usage/models: one detail per (endpoint, model, resolved model, failed), under apis → models. */
export function modelsPage(body: unknown, where: string): Page<ModelTokens> {
	return pageOf(body, where, page => {
		const apis = optionalObject(optionalObject(page.usage, `${where}.usage`).apis, `${where}.usage.apis`);
		const details: ModelTokens[] = [];
		for (const [endpoint, api] of Object.entries(apis)) {
			const models = optionalObject(object(api, `${where}.apis[${endpoint}]`).models, `${where}.apis[${endpoint}].models`);
			for (const [model, entry] of Object.entries(models)) {
				const at = `${where}.apis[${endpoint}].models[${model}]`;
				array(object(entry, at).details, `${at}.details`).forEach((value, index) => {
					const detail = object(value, `${at}.details[${index}]`);
					const where = `${at}.details[${index}]`;
					const tokens = tokenSums(object(detail.tokens, `${where}.tokens`), `${where}.tokens`);
					details.push({
						model,
						resolvedModel: text(detail.resolved_model, `${where}.resolved_model`),
						requests: count(detail.request_count, `${where}.request_count`),
						successes: count(detail.success_count, `${where}.success_count`),
						...tokens,
						latencySumMs: count(detail.latency_sum_ms, `${where}.latency_sum_ms`),
						latencyCount: count(detail.latency_count, `${where}.latency_count`),
						lastSeenAtMs: instant(detail.timestamp, `${where}.timestamp`),
					});
				});
			}
		}
		return details;
	});
}

/** GET /v0/management/model-prices; a row with a negative or non-finite rate is left out. */
export function modelPrices(body: unknown, where: string): Map<string, ModelPrice> {
	const prices = new Map<string, ModelPrice>();
	for (const [model, value] of Object.entries(optionalObject(object(body, where).prices, `${where}.prices`))) {
		const row = object(value, `${where}.prices[${model}]`);
		const price = {prompt: Number(row.prompt), completion: Number(row.completion), cache: Number(row.cache)};
		if (isValidPrice(price)) {
			prices.set(model, price);
		}
	}
	return prices;
}

/** GET /v0/management/api-key-aliases, by lower-case key hash. */
export function keyAliases(body: unknown, where: string): Map<string, string> {
	const aliases = new Map<string, string>();
	array(object(body, where).items, `${where}.items`).forEach((value, index) => {
		const item = object(value, `${where}.items[${index}]`);
		const hash = text(item.apiKeyHash, `${where}.items[${index}].apiKeyHash`);
		const alias = text(item.alias, `${where}.items[${index}].alias`);
		if (hash !== null && alias !== null) aliases.set(hash.toLowerCase(), alias);
	});
	return aliases;
}
