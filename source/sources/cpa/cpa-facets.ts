import {byLabel} from '../../usage/choice-order.js';
import type {Choice, Facets} from '../../usage/types.js';
import {allOf, sql, type SqlFragment} from '../sql/fragment.js';
import {accountValue, apiKeyHash, channelValue, providerValue, type ColumnOf} from './cpa-expressions.js';

interface FacetRow {
	facet: 'accounts' | 'providers' | 'channels' | 'models' | 'apiKeys';
	value: string;
}

/** One pass over the window: the distinct values of each filterable field. */
export function facetsSql(c: ColumnOf, conditions: SqlFragment[]): SqlFragment {
	const where = allOf(conditions);
	return sql(
		`WITH facet_rows AS MATERIALIZED (
	SELECT ${accountValue(c)} AS account, ${providerValue(c)} AS provider, ${channelValue(c)} AS channel,
		e.model AS model, ${apiKeyHash(c)} AS api_key
	FROM usage_events e WHERE ${where.sql}
)
SELECT 'accounts' AS facet, min(account) AS value FROM facet_rows WHERE account IS NOT NULL GROUP BY lower(account)
UNION ALL SELECT 'providers', provider FROM facet_rows WHERE provider IS NOT NULL GROUP BY provider
UNION ALL SELECT 'channels', channel FROM facet_rows WHERE channel IS NOT NULL GROUP BY channel
UNION ALL SELECT 'models', model FROM facet_rows WHERE NULLIF(TRIM(model), '') IS NOT NULL GROUP BY model
UNION ALL SELECT 'apiKeys', api_key FROM facet_rows WHERE api_key IS NOT NULL GROUP BY api_key`,
		...where.params,
	);
}

export function decodeFacets(rows: readonly FacetRow[], aliasOf: (hash: string) => string | undefined): Facets {
	const lists: Record<FacetRow['facet'], Choice[]> = {accounts: [], providers: [], channels: [], models: [], apiKeys: []};
	for (const row of rows) {
		const label = row.facet === 'apiKeys' ? (aliasOf(row.value) ?? row.value) : row.value;
		lists[row.facet].push({value: row.value, label});
	}
	return {
		accounts: lists.accounts.sort(byLabel),
		providers: lists.providers.sort(byLabel),
		channels: lists.channels.sort(byLabel),
		groups: [],
		models: lists.models.sort(byLabel),
		apiKeys: lists.apiKeys.sort(byLabel),
	};
}
