import {SPARKLINE_MINUTES} from '../source/ui/dashboard-panels.js';
import {rangeSpec, resolveRange, type RangePreset} from '../source/usage/time-range.js';
import {SORT_KEYS, type Filters, type UsageQuery, type UsageSource} from '../source/usage/types.js';
import {median} from './timing.js';

// Every query a dashboard refresh can send, as the scale benchmark times it: the panels of
// source/ui/dashboard-panels.ts with the inputs a user can pick (each time range for the summary,
// each sort key for the two tables, a search), each one call of the real source.

/** What a query reads: the last 60 s or 30 minutes, a range's every request, a page of groups over the range, the newest rows, a search, the newest timestamp. */
export type QueryKind = 'last 60 s' | 'sparkline' | 'range' | 'page' | 'realtime' | 'search' | 'catalog';

export interface ScaleQuery {
	readonly id: string;
	readonly label: string;
	readonly kind: QueryKind;
	readonly run: (source: UsageSource, endMs: number) => Promise<unknown>;
}

/** The page a 200×60 terminal shows (as the render and pgqueries benchmarks). */
export const PAGE_SIZE = 52;
/** The dashboard's default range: the pages, models and realtime are timed on it. */
const DEFAULT_RANGE: RangePreset = '24h';
/** A prefix of a model name in every generated store (new-api on both engines, CPA-Manager). */
export const SEARCH_TERM = 'claude';
const SUMMARY_RANGES: readonly RangePreset[] = ['15m', '1h', '24h', '7d', '30d', 'all'];
const MINUTE_MS = 60_000;

const query = (preset: RangePreset, endMs: number, filters: Filters = {}): UsageQuery => ({range: resolveRange(rangeSpec({preset}), endMs), filters});
const page = (sortKey: (typeof SORT_KEYS)[number]) => ({page: 1, pageSize: PAGE_SIZE, sortKey, sortDirection: 'desc' as const});

export const SCALE_QUERIES: readonly ScaleQuery[] = [
	{id: 'rate', label: 'rpm/tpm, last 60 s', kind: 'last 60 s', run: (source, endMs) => source.rate(query(DEFAULT_RANGE, endMs))},
	{
		id: 'timeline',
		label: `sparkline, last ${SPARKLINE_MINUTES} min`,
		kind: 'sparkline',
		run: (source, endMs) => source.timeline(query(DEFAULT_RANGE, endMs), MINUTE_MS, SPARKLINE_MINUTES),
	},
	...SUMMARY_RANGES.map(
		(preset): ScaleQuery => ({id: `summary ${preset}`, label: `summary, ${preset}`, kind: 'range', run: (source, endMs) => source.summary(query(preset, endMs))}),
	),
	{id: 'models', label: `models, ${DEFAULT_RANGE}`, kind: 'range', run: (source, endMs) => source.models(query(DEFAULT_RANGE, endMs))},
	{id: 'facets', label: `filter choices, ${DEFAULT_RANGE}`, kind: 'range', run: (source, endMs) => source.facets(query(DEFAULT_RANGE, endMs))},
	...SORT_KEYS.map(
		(key): ScaleQuery => ({
			id: `accounts ${key}`,
			label: `accounts page by ${key}, ${DEFAULT_RANGE}`,
			kind: 'page',
			// The first dimension the source offers: user on new-api, account on CPA-Manager.
			run: (source, endMs) => source.groups(query(DEFAULT_RANGE, endMs), source.capabilities.dimensions[0]!, page(key)),
		}),
	),
	...SORT_KEYS.map(
		(key): ScaleQuery => ({
			id: `api keys ${key}`,
			label: `API-key page by ${key}, ${DEFAULT_RANGE}`,
			kind: 'page',
			run: (source, endMs) => source.apiKeys(query(DEFAULT_RANGE, endMs), page(key)),
		}),
	),
	{id: 'realtime', label: `request log, first page, ${DEFAULT_RANGE}`, kind: 'realtime', run: (source, endMs) => source.realtime(query(DEFAULT_RANGE, endMs), {page: 1, pageSize: PAGE_SIZE})},
	{id: 'newest', label: 'newest request (empty-range hint)', kind: 'catalog', run: source => source.newestRequestMs()},
	{
		id: 'search summary',
		label: `summary with search "${SEARCH_TERM}", ${DEFAULT_RANGE}`,
		kind: 'search',
		run: (source, endMs) => source.summary(query(DEFAULT_RANGE, endMs, {search: SEARCH_TERM})),
	},
	{
		id: 'search realtime',
		label: `request log with search "${SEARCH_TERM}", ${DEFAULT_RANGE}`,
		kind: 'search',
		run: (source, endMs) => source.realtime(query(DEFAULT_RANGE, endMs, {search: SEARCH_TERM}), {page: 1, pageSize: PAGE_SIZE}),
	},
];

export interface QueryTiming {
	readonly medianMs: number | null;
	readonly minMs: number | null;
	readonly runsMs: readonly number[];
	/** The first line of the error when a run failed (a timeout, say); the figures are then null. */
	readonly error: string | null;
}

// Four decimals: a SQLite probe of the newest row takes about 0.01 ms.
const round = (value: number): number => Number(value.toFixed(4));

/** One query: a warm-up run (caches, plans), then `runs` timed ones, one after another. */
export async function timeQuery(scaleQuery: ScaleQuery, source: UsageSource, endMs: number, runs: number): Promise<QueryTiming> {
	const runsMs: number[] = [];
	try {
		await scaleQuery.run(source, endMs);
		for (let run = 0; run < runs; run++) {
			const started = performance.now();
			await scaleQuery.run(source, endMs);
			runsMs.push(performance.now() - started);
		}
	} catch (error) {
		return {medianMs: null, minMs: null, runsMs: runsMs.map(round), error: error instanceof Error ? error.message.split('\n')[0]! : String(error)};
	}
	return {medianMs: round(median(runsMs)), minMs: round(Math.min(...runsMs)), runsMs: runsMs.map(round), error: null};
}
