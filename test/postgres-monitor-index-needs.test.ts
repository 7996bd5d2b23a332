import {describe, expect, it} from 'vitest';
import {leadingMatch, matchIndexNeeds, NEWAPI_LOGS_INDEX_NEEDS, type IndexLike} from '../source/postgres/monitor/index-needs.js';

const index = (name: string, keyColumns: (string | null)[], fields: Partial<IndexLike> = {}): IndexLike => ({
	name,
	method: 'btree',
	keyColumns,
	valid: true,
	ready: true,
	building: false,
	predicate: null,
	...fields,
});

// The upstream new-api index set on PostgreSQL (reference new-api-logs.md §1.2).
const UPSTREAM = [
	index('logs_pkey', ['id']),
	index('idx_created_at_id', ['created_at', 'id']),
	index('idx_user_id_id', ['user_id', 'id']),
	index('idx_logs_user_id', ['user_id']),
	index('idx_created_at_type', ['created_at', 'type']),
	index('idx_logs_username', ['username']),
	index('index_username_model_name', ['model_name', 'username']),
	index('idx_logs_channel_id', ['channel_id']),
];

const [RATES, USER_PAGES] = NEWAPI_LOGS_INDEX_NEEDS as [(typeof NEWAPI_LOGS_INDEX_NEEDS)[number], (typeof NEWAPI_LOGS_INDEX_NEEDS)[number]];

describe('index needs', () => {
	it('finds the upstream set serving both hot queries, the complete match first', () => {
		const [rates, pages] = matchIndexNeeds(UPSTREAM, NEWAPI_LOGS_INDEX_NEEDS);
		expect(rates).toEqual({
			need: RATES.name,
			status: 'served',
			servedBy: ['idx_created_at_type', 'idx_created_at_id'],
			complete: true,
			invalid: [],
			building: [],
			partial: [],
		});
		expect(pages).toMatchObject({status: 'served', servedBy: ['idx_user_id_id'], complete: true});
	});

	it('accepts any name and an alternative second column; a prefix shorter than required does not serve', () => {
		const verdicts = matchIndexNeeds([index('my_user_time', ['user_id', 'created_at', 'id']), index('by_user', ['user_id'])], [USER_PAGES]);
		expect(verdicts[0]).toMatchObject({status: 'served', servedBy: ['my_user_time'], complete: true});
		expect(matchIndexNeeds([index('by_user', ['user_id'])], [USER_PAGES])[0]!.status).toBe('missing');
	});

	it('serves the rate query with an index that only leads with created_at, and says it is not complete', () => {
		const [rates] = matchIndexNeeds([index('idx_created_at_id', ['created_at', 'id'])], [RATES]);
		expect(rates).toMatchObject({status: 'served', servedBy: ['idx_created_at_id'], complete: false});
	});

	it('does not count (type, created_at): the leading column must match', () => {
		expect(matchIndexNeeds([index('idx_type_created', ['type', 'created_at'])], [RATES])[0]!.status).toBe('missing');
	});

	it('reports an index left INVALID by a failed CREATE INDEX CONCURRENTLY as invalid-only', () => {
		const [rates] = matchIndexNeeds([index('idx_created_at_type', ['created_at', 'type'], {valid: false})], [RATES]);
		expect(rates).toMatchObject({status: 'invalid-only', servedBy: [], invalid: ['idx_created_at_type']});
	});

	it('prefers a valid index over an invalid one, and tells a build in progress from a failed one', () => {
		const both = matchIndexNeeds([index('broken', ['created_at'], {valid: false}), index('ok', ['created_at', 'id'])], [RATES])[0]!;
		expect(both).toMatchObject({status: 'served', servedBy: ['ok'], invalid: ['broken']});
		const building = matchIndexNeeds([index('new_one', ['created_at', 'type'], {valid: false, ready: false, building: true})], [RATES])[0]!;
		expect(building).toMatchObject({status: 'building', building: ['new_one'], invalid: []});
	});

	it('ignores expression columns, other access methods and partial indexes (listing the partial ones)', () => {
		const verdict = matchIndexNeeds(
			[
				index('expr', [null, 'type']),
				index('brin_created', ['created_at'], {method: 'brin'}),
				index('recent_consume', ['created_at', 'type'], {predicate: '(type = 2)'}),
			],
			[RATES],
		)[0]!;
		expect(verdict).toMatchObject({status: 'missing', servedBy: [], partial: ['recent_consume']});
		expect(matchIndexNeeds([index('brin_created', ['created_at'], {method: 'brin'})], [{...RATES, methods: ['btree', 'brin']}])[0]!.status).toBe('served');
	});

	it('counts matching leading positions', () => {
		expect(leadingMatch(index('a', ['created_at', 'type', 'id']), RATES)).toBe(2);
		expect(leadingMatch(index('b', ['type', 'created_at']), RATES)).toBe(0);
		expect(leadingMatch(index('c', ['user_id', 'created_at']), USER_PAGES)).toBe(2);
	});
});
