import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import {openSource} from '../source/sources/open-target.js';
import type {RollupPolicy} from '../source/sources/rollup/range-rollups.js';
import type {GroupPage, UsageQuery, UsageSource} from '../source/usage/types.js';
import {loadNewApi} from './support/newapi-oracle.js';
import {expectClose} from './support/oracle.js';
import {freshDatabaseOn, testPostgresVersion, withClient} from './support/postgres-server.js';

// The oldest PostgreSQL the project supports: a range's load there is one statement of GROUPING
// SETS too (hashed or sorted, as its planner picks), and must give what the direct queries give.

const POLICY: RollupPolicy = {minSpanMs: 0, reconcileMs: 3_600_000, maxLoadShare: 1, maxSlideMs: 30 * 86_400_000, maxGroups: 200_000, maxRollups: 4};

const withoutCosts = (page: GroupPage) => ({...page, items: page.items.map(item => ({...item, costUsd: 0}))});

describe('range rollups on PostgreSQL 10', {timeout: 240_000}, () => {
	let database: {url: string; drop: () => Promise<void>};
	let rolled: UsageSource;
	let direct: UsageSource;
	let newestMs: number;

	beforeAll(async () => {
		database = await freshDatabaseOn(await testPostgresVersion(10), 'relaytop_rollup_pg10');
		await withClient(database.url, client => loadNewApiIntoPostgres(client, fixturePath('newapi')));
		rolled = await openSource(database.url, {rollups: POLICY});
		direct = await openSource(database.url);
		newestMs = Math.max(...loadNewApi(fixturePath('newapi')).rows.map(row => row.tsMs));
	});

	afterAll(async () => {
		await rolled?.close();
		await direct?.close();
		await database?.drop();
	});

	it.each([
		['the last 7 days', 7],
		['the whole table', null],
	] as const)('loads %s as the direct queries count it', async (_name, days) => {
		const query: UsageQuery = {range: {startMs: days === null ? null : newestMs - days * 86_400_000, endMs: newestMs}, filters: {}};
		const summary = await rolled.summary(query);
		expect(summary.aggregation?.mode).toBe('rollup');
		const {aggregation: _rolled, costUsd, ...figures} = summary;
		const {aggregation: _direct, costUsd: directCost, ...directFigures} = await direct.summary(query);
		expect(figures).toEqual(directFigures);
		expect(figures.totalRequests).toBeGreaterThan(1000);
		expect(figures.tokens.cached).toBeGreaterThan(0);
		expectClose(costUsd, directCost, 'cost');
		expect((await rolled.models(query)).map(model => ({...model, costUsd: 0}))).toEqual((await direct.models(query)).map(model => ({...model, costUsd: 0})));
		for (const dimension of rolled.capabilities.dimensions) {
			const request = {page: 1, pageSize: 10, sortKey: 'totalCalls', sortDirection: 'desc'} as const;
			expect(withoutCosts(await rolled.groups(query, dimension, request)), dimension).toEqual(withoutCosts(await direct.groups(query, dimension, request)));
		}
		const keys = {page: 1, pageSize: 10, sortKey: 'totalTokens', sortDirection: 'asc'} as const;
		expect(withoutCosts(await rolled.apiKeys(query, keys))).toEqual(withoutCosts(await direct.apiKeys(query, keys)));
		expect(await rolled.facets(query)).toEqual(await direct.facets(query));
	});
});
