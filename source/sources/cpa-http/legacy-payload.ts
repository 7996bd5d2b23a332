import {createHash} from 'node:crypto';
import {array, count, flag, instant, object, optionalCount, optionalObject, text, type Json} from './payload-reader.js';
import {eventKeys} from './paged-payloads.js';

// GET /v0/management/usage in its two shapes (reference cpa-manager-usage-api.md §2.7): the
// manager's `Payload` (also what CPA-Manager-Plus streams, §8) and CLIProxyAPI's
// `{usage: StatisticsSnapshot, failed_requests}`. Both become one list of requests.

/** One request of the legacy payload, with the fields the paged endpoints filter and group on. */
export interface LegacyEvent {
	readonly timestampMs: number;
	readonly endpoint: string | null;
	readonly model: string;
	readonly resolvedModel: string | null;
	/** A detail's request_count (its tokens are their sums); 0, as the manager emits it, counts as 1, as CPA-Manager's web does. */
	readonly requests: number;
	readonly failed: boolean;
	readonly account: string;
	readonly apiKey: string;
	/** Raw fields, for filters and search (newer managers' details carry no `provider`). */
	readonly provider: string | null;
	readonly source: string | null;
	readonly authIndex: string | null;
	readonly accountSnapshot: string | null;
	readonly authLabelSnapshot: string | null;
	readonly authFileSnapshot: string | null;
	readonly authProviderSnapshot: string | null;
	readonly authProjectIdSnapshot: string | null;
	readonly apiKeyHash: string | null;
	readonly input: number;
	readonly output: number;
	readonly reasoning: number;
	/** The larger of the two cache columns: this request's cached input. */
	readonly cached: number;
	/** The two columns themselves: the paged endpoints sum each, then take the larger sum. */
	readonly cachedColumn: number;
	readonly cacheColumn: number;
	readonly total: number;
	readonly latencyMs: number | null;
}

const ENDPOINT = /^[A-Z]+ \//u;

/** An `apis` name that is not an endpoint is a caller's raw API key (CLIProxyAPI): only its hash is kept. */
const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

/**
 * CLIProxyAPI's `source` is the raw account e-mail or upstream API key, which the manager masks
 * at ingest; relaytop masks it the same way before anything can show it: `abc***@domain`, or
 * `m:` with the first and last four characters.
 */
function maskedSource(source: string | null): string | null {
	if (source === null) return null;
	const at = source.indexOf('@');
	if (at > 0) return `${source.slice(0, Math.min(3, at))}***${source.slice(at)}`;
	return source.length <= 8 ? 'm:***' : `m:${source.slice(0, 4)}...${source.slice(-4)}`;
}

const cacheColumns = (cachedColumn: number, cacheColumn: number) => ({cached: Math.max(cachedColumn, cacheColumn, 0), cachedColumn, cacheColumn});

function detailEvent(value: unknown, where: string, model: string, endpoint: string | null, keyHash: string | null, maskSource: boolean): LegacyEvent {
	const raw = object(value, where);
	const detail: Json = maskSource ? {...raw, source: maskedSource(text(raw.source, `${where}.source`))} : raw;
	const field = (name: string) => text(detail[name], `${where}.${name}`);
	const tokens = object(detail.tokens, `${where}.tokens`);
	const tokenCount = (name: string) => count(tokens[name], `${where}.tokens.${name}`);
	const withHash: Json = keyHash === null ? detail : {...detail, api_key_hash: field('api_key_hash') ?? keyHash};
	return {
		timestampMs: instant(detail.timestamp, `${where}.timestamp`),
		endpoint,
		model,
		resolvedModel: field('resolved_model'),
		requests: Math.max(count(detail.request_count, `${where}.request_count`), 1),
		failed: flag(detail.failed, `${where}.failed`),
		...eventKeys(withHash, where),
		provider: field('provider'),
		source: field('source'),
		authIndex: field('auth_index'),
		accountSnapshot: field('account_snapshot'),
		authLabelSnapshot: field('auth_label_snapshot'),
		authFileSnapshot: field('auth_file_snapshot'),
		authProviderSnapshot: field('auth_provider_snapshot'),
		authProjectIdSnapshot: field('auth_project_id_snapshot'),
		apiKeyHash: text(withHash.api_key_hash, `${where}.api_key_hash`)?.toLowerCase() ?? null,
		input: tokenCount('input_tokens'),
		output: tokenCount('output_tokens'),
		reasoning: tokenCount('reasoning_tokens'),
		...cacheColumns(tokenCount('cached_tokens'), tokenCount('cache_tokens')),
		total: tokenCount('total_tokens'),
		latencyMs: optionalCount(detail.latency_ms, `${where}.latency_ms`),
	};
}

/** Every request of a legacy payload, newest first (ties keep the payload's order). */
export function legacyEvents(body: unknown, where: string): LegacyEvent[] {
	const top = object(body, where);
	const cliProxy = top.usage !== undefined && top.apis === undefined;
	const payload = cliProxy ? object(top.usage, `${where}.usage`) : top;
	const events: LegacyEvent[] = [];
	Object.entries(optionalObject(payload.apis, `${where}.apis`)).forEach(([apiName, api], position) => {
		const endpoint = ENDPOINT.test(apiName) ? apiName : null;
		const keyHash = endpoint === null ? sha256(apiName) : null;
		const at = endpoint === null ? `${where}.apis[key ${position + 1}]` : `${where}.apis[${apiName}]`;
		for (const [model, entry] of Object.entries(optionalObject(object(api, at).models, `${at}.models`))) {
			array(object(entry, `${at}.models[${model}]`).details, `${at}.models[${model}].details`).forEach((detail, index) => {
				events.push(detailEvent(detail, `${at}.models[${model}].details[${index}]`, model, endpoint, keyHash, cliProxy));
			});
		}
	});
	return events.map((event, order) => ({event, order})).sort((a, b) => b.event.timestampMs - a.event.timestampMs || a.order - b.order).map(({event}) => event);
}
