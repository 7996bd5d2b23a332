import {createHash} from 'node:crypto';
import {InputError} from '../../usage/input-error.js';
import {parseStatus} from '../../usage/parse-options.js';
import {checkedRange} from '../../usage/time-range.js';
import type {Filters, TimeRange} from '../../usage/types.js';
import {anyOf, sql, type SqlFragment} from '../sql/fragment.js';
import {ftsPrefixQuery} from '../sql/search-terms.js';
import {accountKey, apiKeyKey, channelKey, providerKey, trimmed, type ColumnOf} from './cpa-expressions.js';

export function timeConditions(unchecked: TimeRange): SqlFragment[] {
	const range = checkedRange(unchecked);
	return [...(range.startMs === null ? [] : [sql('e.timestamp_ms >= ?', range.startMs)]), sql('e.timestamp_ms <= ?', range.endMs)];
}

/**
 * Equality with a group key, so filtering by a facet or a table row selects exactly that row's
 * requests. (CPA-Manager's server matches any of several columns, ignoring case, which makes a
 * filtered total disagree with the row it came from.)
 */
const keyEquals = (key: string, value: string): SqlFragment => sql(`${key} = ${trimmed('?')}`, value);

export interface SearchIndexes {
	readonly events: boolean;
	readonly aliases: boolean;
}

/**
 * Token-prefix full-text search over the event index and the key aliases, plus the hash of the
 * text itself so a pasted raw API key finds its requests.
 */
export function searchCondition(c: ColumnOf, search: string | undefined, indexes: SearchIndexes): SqlFragment | null {
	const text = (search ?? '').trim();
	const query = ftsPrefixQuery(text);
	if (query === null) {
		return null;
	}
	if (!indexes.events) {
		throw new InputError('search needs the usage_events_fts index, which CPA-Manager creates since its paged usage API; this store predates it');
	}
	const pastedKeyHash = createHash('sha256').update(text).digest('hex');
	const matches: SqlFragment[] = [sql(`lower(COALESCE(${c('api_key_hash')}, '')) = ?`, pastedKeyHash)];
	if (query !== '') {
		matches.push(sql('e.id IN (SELECT event_id FROM usage_events_fts WHERE usage_events_fts MATCH ?)', query));
	}
	if (query !== '' && indexes.aliases) {
		matches.push(
			sql(`lower(COALESCE(${c('api_key_hash')}, '')) IN (SELECT lower(api_key_hash) FROM api_key_aliases_fts WHERE api_key_aliases_fts MATCH ?)`, query),
		);
	}
	return anyOf(matches);
}

/** Every filter except time and search: the ones facets ignore. */
export function narrowingConditions(c: ColumnOf, filters: Filters): SqlFragment[] {
	const conditions: SqlFragment[] = [];
	if (filters.account !== undefined) {
		conditions.push(keyEquals(accountKey(c), filters.account));
	}
	if (filters.provider !== undefined) {
		conditions.push(keyEquals(providerKey(c), filters.provider));
	}
	if (filters.channel !== undefined) {
		conditions.push(keyEquals(channelKey(c), filters.channel));
	}
	if (filters.model !== undefined) {
		conditions.push(sql('e.model = ?', filters.model)); // exact, as the model facet lists it
	}
	if (filters.apiKey !== undefined) {
		const key = filters.apiKey.trim();
		conditions.push(sql(`${apiKeyKey(c)} = ?`, /^[0-9a-f]+$/iu.test(key) ? key.toLowerCase() : key));
	}
	if (filters.status !== undefined) {
		conditions.push(sql(parseStatus(filters.status) === 'success' ? 'e.failed = 0' : 'e.failed <> 0'));
	}
	return conditions;
}
