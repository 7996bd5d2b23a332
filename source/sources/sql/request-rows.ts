import type {SqlFragment} from './fragment.js';

/**
 * A source's requests as one SELECT with these columns, filters already applied:
 *   id, sort_ts (the raw, indexed time column), ts_ms, ok (1 success / 0 failure), model,
 *   input_tokens, output_tokens, reasoning_tokens, cached_tokens, total_tokens, latency_ms,
 *   cost_usd (NULL when the model has no price), group_key (text, never NULL), label_hint,
 *   account, api_key.
 * Columns a query does not read are dropped when SQLite flattens the subquery.
 */
export interface RequestRows {
	/** Common table expressions the SELECT needs, without the WITH keyword. */
	readonly with: readonly SqlFragment[];
	readonly select: SqlFragment;
}
