import {allOf, sql, type SqlFragment} from '../sql/fragment.js';
import {accountValue, apiKeyHash, channelValue, providerValue, type ColumnOf} from './cpa-expressions.js';

/**
 * One pass over the window: the distinct values of each filterable field, as
 * (facet, value, label) rows, each value exactly as its filter and its group key take it.
 */
export function facetsSql(c: ColumnOf, conditions: SqlFragment[]): SqlFragment {
	const where = allOf(conditions);
	return sql(
		`WITH facet_rows AS MATERIALIZED (
	SELECT ${accountValue(c)} AS account, ${providerValue(c)} AS provider, ${channelValue(c)} AS channel,
		e.model AS model, ${apiKeyHash(c)} AS api_key
	FROM usage_events e WHERE ${where.sql}
)
SELECT 'accounts' AS facet, account AS value, NULL AS label FROM facet_rows WHERE account IS NOT NULL GROUP BY account
UNION ALL SELECT 'providers', provider, NULL FROM facet_rows WHERE provider IS NOT NULL GROUP BY provider
UNION ALL SELECT 'channels', channel, NULL FROM facet_rows WHERE channel IS NOT NULL GROUP BY channel
UNION ALL SELECT 'models', model, NULL FROM facet_rows WHERE model <> '' GROUP BY model
UNION ALL SELECT 'apiKeys', api_key, NULL FROM facet_rows WHERE api_key IS NOT NULL GROUP BY api_key`,
		...where.params,
	);
}
