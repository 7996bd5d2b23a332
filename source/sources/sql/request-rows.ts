import type {SqlFragment} from './fragment.js';

/**
 * A source's requests, one row each, filters applied, with these columns:
 *   id, sort_ts (the raw, indexed time column), ts_ms, ok (1 success / 0 failure), model,
 *   input_tokens, output_tokens, total_tokens, latency_ms, cost_usd (NULL when unpriced),
 *   account, api_key.
 * For the request log and the 60 s rate, which read few rows or no cost.
 */
export interface RequestRows {
	readonly shape: 'requests';
	/** Common table expressions the SELECT needs, without the WITH keyword. */
	readonly with: readonly SqlFragment[];
	readonly select: SqlFragment;
}

/**
 * A source's requests as partial sums that add up to every figure, filters applied:
 *   group_key (text, or NULL when not grouping), model, label_hint, requests, successes,
 *   input_tokens, output_tokens, reasoning_tokens, cached_tokens, total_tokens, latency_sum,
 *   latency_count, cost_usd (priced requests only), unpriced_requests, last_ts_ms.
 * A source may give one row per request, or pre-aggregate (CPA-Manager prices each
 * group × model once instead of each request).
 */
export interface UsagePartials {
	readonly shape: 'partials';
	readonly with: readonly SqlFragment[];
	readonly select: SqlFragment;
}
