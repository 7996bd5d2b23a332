// A store file's figures recomputed from its raw rows, and a source's figures checked against them.
import {expect} from 'vitest';
import type {Summary, UsageQuery, UsageSource} from '../../source/usage/types.js';
import {loadCpa} from './cpa-oracle.js';
import {loadNewApi} from './newapi-oracle.js';
import {expectClose, inRange, newestFirst, summarize, type OracleRow} from './oracle.js';

export type StoreKind = 'newapi' | 'cpa';

export const rowsOf = (kind: StoreKind, path: string): OracleRow[] => (kind === 'newapi' ? loadNewApi(path).rows : loadCpa(path).rows);

export const newestOf = (rows: readonly OracleRow[]): number => rows.reduce((newest, row) => Math.max(newest, row.tsMs), 0);

/** Everything up to `endMs`. */
export const upTo = (endMs: number): UsageQuery => ({range: {startMs: null, endMs}, filters: {}});

const PAGE_SIZE = 50;

/** A summary of everything up to `endMs`, as the rows say. */
export function expectSummary(summary: Summary, rows: readonly OracleRow[], endMs: number): void {
	const oracle = summarize(inRange(rows, null, endMs));
	expect({...summary, costUsd: 0, latencyMsAvg: 0}).toEqual({...oracle, costUsd: 0, latencyMsAvg: 0});
	expectClose(summary.costUsd, oracle.costUsd, 'cost');
	expect(summary.latencyMsAvg).toBeCloseTo(oracle.latencyMsAvg!, 1);
}

/** The summary, the 60 s rate, the newest requests and the newest request's time, as the rows say. */
export async function expectFigures(source: UsageSource, rows: readonly OracleRow[], endMs: number): Promise<void> {
	const query = upTo(endMs);
	const counted = inRange(rows, null, endMs);
	expectSummary(await source.summary(query), rows, endMs);

	const window = inRange(rows, endMs - 60_000, endMs);
	expect(await source.rate(query)).toEqual({windowS: 60, rpm: window.length, tpm: window.reduce((total, row) => total + row.total, 0)});

	const page = await source.realtime(query, {page: 1, pageSize: PAGE_SIZE});
	expect(page.totalItems).toBe(counted.length);
	const newest = newestFirst(counted).slice(0, PAGE_SIZE);
	expect(page.items.map(item => [item.timestampMs, item.model, item.status, item.inputTokens, item.totalTokens, item.latencyMs])).toEqual(
		newest.map(row => [row.tsMs, row.model, row.ok ? 'success' : 'failed', row.input, row.total, row.latency]),
	);

	expect(await source.newestRequestMs()).toBe(newestOf(rows));
}
