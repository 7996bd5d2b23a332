// Column expressions over `usage_events e` that define CPA-Manager's concepts (reference §2).

/** A column, or NULL when this store predates the migration that added it. */
export type ColumnOf = (name: string) => string;

export const columnsOf =
	(present: ReadonlySet<string>): ColumnOf =>
	name =>
		present.has(name) ? `e.${name}` : 'NULL';

const nonEmpty = (expression: string): string => `NULLIF(TRIM(${expression}), '')`;
const firstNonEmpty = (expressions: string[]): string => `COALESCE(${expressions.map(nonEmpty).join(', ')})`;

/** First non-empty of account_snapshot, auth_label_snapshot, source, auth_index; NULL when none. */
export const accountValue = (c: ColumnOf): string =>
	firstNonEmpty([c('account_snapshot'), c('auth_label_snapshot'), c('source'), c('auth_index')]);
export const providerValue = (c: ColumnOf): string => firstNonEmpty([c('auth_provider_snapshot'), c('provider')]);
export const channelValue = (c: ColumnOf): string => firstNonEmpty([c('auth_provider_snapshot'), c('provider'), c('source')]);
export const apiKeyHash = (c: ColumnOf): string => `lower(${nonEmpty(c('api_key_hash'))})`;

/** Hash-less requests group per source, as CPA-Manager does: unknown:<source>:<auth_index>:<provider>. */
export const apiKeyKey = (c: ColumnOf): string =>
	`COALESCE(${apiKeyHash(c)}, 'unknown:' || COALESCE(${c('source')}, '') || ':' || COALESCE(${c('auth_index')}, '') || ':' || COALESCE(${c('auth_provider_snapshot')}, ''))`;

export const cachedTokens = 'max(e.cached_tokens, e.cache_tokens, 0)';

/** USD for one request under the rate row `r`; never negative; NULL is decided by the caller. */
export const costUnder = (r: string): string =>
	`max((max(e.input_tokens - ${cachedTokens}, 0) * ${r}.prompt + ${cachedTokens} * ${r}.cache + e.output_tokens * ${r}.completion) / 1000000.0, 0)`;

/** Priced by the resolved model first, then by the requested one; NULL when neither has a price. */
export const requestCost = `CASE WHEN rr.name IS NOT NULL THEN ${costUnder('rr')} WHEN rm.name IS NOT NULL THEN ${costUnder('rm')} END`;
