// Column expressions over `usage_events e` that define CPA-Manager's concepts (reference §2).

/** A column, or NULL when this store predates the migration that added it. */
export type ColumnOf = (name: string) => string;

export const columnsOf =
	(present: ReadonlySet<string>): ColumnOf =>
	name =>
		present.has(name) ? `e.${name}` : 'NULL';

// CPA-Manager trims with Go's strings.TrimSpace: Unicode white space, not just the space that
// SQLite's TRIM removes by default (a trailing tab or ideographic space must not split a group).
const GO_SPACE = 'char(9, 10, 11, 12, 13, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)';
export const trimmed = (expression: string): string => `TRIM(${expression}, ${GO_SPACE})`;
const nonEmpty = (expression: string): string => `NULLIF(${trimmed(expression)}, '')`;
const firstNonEmpty = (expressions: string[]): string => `COALESCE(${expressions.map(nonEmpty).join(', ')})`;

/** First non-empty of account_snapshot, auth_label_snapshot, source, auth_index; NULL when none. */
export const accountValue = (c: ColumnOf): string =>
	firstNonEmpty([c('account_snapshot'), c('auth_label_snapshot'), c('source'), c('auth_index')]);
export const providerValue = (c: ColumnOf): string => firstNonEmpty([c('auth_provider_snapshot'), c('provider')]);
export const channelValue = (c: ColumnOf): string => firstNonEmpty([c('auth_provider_snapshot'), c('provider'), c('source')]);
export const apiKeyHash = (c: ColumnOf): string => `lower(${nonEmpty(c('api_key_hash'))})`;

/** The group keys: what a row of the accounts table is, and what filtering by it selects. */
export const accountKey = (c: ColumnOf): string => `COALESCE(${accountValue(c)}, '-')`;
export const providerKey = (c: ColumnOf): string => `COALESCE(${providerValue(c)}, '-')`;
export const channelKey = (c: ColumnOf): string => `COALESCE(${channelValue(c)}, '-')`;

/** Hash-less requests group per source, as CPA-Manager does: unknown:<source>:<auth_index>:<provider>. */
export const apiKeyKey = (c: ColumnOf): string =>
	`COALESCE(${apiKeyHash(c)}, 'unknown:' || COALESCE(${c('source')}, '') || ':' || COALESCE(${c('auth_index')}, '') || ':' || COALESCE(${c('auth_provider_snapshot')}, ''))`;

export const cachedTokens = 'max(e.cached_tokens, e.cache_tokens, 0)';

// The three billable quantities of one request, each ≥ 0, so a request's cost is never negative
// and the cost of many requests is the cost of their sums.
export const billableInput = `max(e.input_tokens - ${cachedTokens}, 0)`;
export const billableOutput = 'max(e.output_tokens, 0)';

/** USD at the price row `r` for the billable quantities `input`, `cached`, `output`. */
const costAt = (r: string, input: string, cached: string, output: string): string =>
	`(${input} * ${r}.prompt + ${cached} * ${r}.cache + ${output} * ${r}.completion) / 1000000.0`;

/**
 * Priced by the resolved model first, then by the requested one (price rows `rr` and `rm`);
 * `unpriced` when neither has a price.
 */
export const pricedBy = (input: string, cached: string, output: string, unpriced: string): string =>
	`CASE WHEN rr.name IS NOT NULL THEN ${costAt('rr', input, cached, output)} WHEN rm.name IS NOT NULL THEN ${costAt('rm', input, cached, output)} ELSE ${unpriced} END`;
