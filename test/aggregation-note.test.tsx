// How a long range's figures were reached, as the overview says it under the KPIs.
import {describe, expect, it} from 'vitest';
import {localTime} from '../source/output/format.js';
import {SHORT_RANGE} from '../source/usage/aggregation.js';
import type {Aggregation, Summary} from '../source/usage/types.js';
import {aggregationNote} from '../source/ui/views/aggregation-note.js';
import {OverviewView} from '../source/ui/views/overview-view.js';
import {renderInk} from './support/render-ink.js';

const RECONCILED_AT = Date.UTC(2026, 10, 23, 9, 41, 7);

const summaryWith = (aggregation: Aggregation | undefined): Summary => ({
	totalRequests: 10,
	successCount: 9,
	failureCount: 1,
	totalTokens: 1000,
	tokens: {input: 600, output: 400, reasoning: 0, cached: 0},
	latencyMsAvg: 120,
	costUsd: 0.5,
	unpricedRequests: 0,
	aggregation,
});

function overviewLines(summary: Summary, staleSince?: number): string[] {
	const screen = renderInk(
		<OverviewView summary={summary} rate={undefined} timeline={[]} models={[]} newestRequestMs={undefined} counting={undefined} staleSince={staleSince} width={100} height={20} />,
		{columns: 100, rows: 20},
	);
	try {
		return screen.lastFrame().replace(/\u001b\[[0-9;]*m/gu, '').split('\n');
	} finally {
		screen.unmount();
	}
}

describe('the aggregation note', () => {
	it('says when a rollup was reconciled and how many rows it merged since', () => {
		const clock = localTime(RECONCILED_AT).slice(11);
		expect(aggregationNote({mode: 'rollup', reconciledAtMs: RECONCILED_AT, mergedRows: 1234, groups: 9})).toEqual({
			text: `range kept in memory · reconciled ${clock} · 1,234 rows merged since`,
			warn: false,
		});
		expect(aggregationNote({mode: 'rollup', reconciledAtMs: RECONCILED_AT, mergedRows: 0, groups: 9})?.text).toBe(`range kept in memory · reconciled ${clock}`);
	});

	it('warns of a range queried in full, and says nothing of a short range or a source without rollups', () => {
		expect(aggregationNote({mode: 'direct', reason: 'more than 200,000 groups, the cap of a rollup'})).toEqual({
			text: 'range queried in full: more than 200,000 groups, the cap of a rollup',
			warn: true,
		});
		expect(aggregationNote({mode: 'direct', reason: SHORT_RANGE})).toBeNull();
		expect(aggregationNote(undefined)).toBeNull();
	});

	it("stands on the overview's third line, which the stale mark takes over", () => {
		const rollup: Aggregation = {mode: 'rollup', reconciledAtMs: RECONCILED_AT, mergedRows: 5, groups: 9};
		expect(overviewLines(summaryWith(rollup))[2]).toContain(`reconciled ${localTime(RECONCILED_AT).slice(11)} · 5 rows merged since`);
		expect(overviewLines(summaryWith(undefined))[2]!.trim()).toBe('');
		const stale = overviewLines(summaryWith(rollup), RECONCILED_AT);
		expect(stale[2]).toContain('stale');
		expect(stale.join('\n')).not.toContain('reconciled');
	});
});
