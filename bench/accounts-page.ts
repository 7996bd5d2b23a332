import type {SortedPageRequest} from '../source/usage/types.js';

// The page under test: the accounts table sorted by cost, as an operator opens it.

export const PAGE: SortedPageRequest = {page: 1, pageSize: 20, sortKey: 'totalCost', sortDirection: 'desc'};

export const APPROACHES = ['push-down', 'in-memory'] as const;
export type Approach = (typeof APPROACHES)[number];

export const APPROACH_LABELS: Record<Approach, string> = {
	'push-down': 'SQL push-down',
	'in-memory': 'in-memory grouping',
};

/** What the parent compares between approaches: the order, and the figures behind it. */
export interface PageRow {
	readonly key: string;
	readonly calls: number;
	readonly costUsd: number;
}

/** One way of answering the page, opened once per process and asked repeatedly. */
export interface AccountsPage {
	read(): Promise<PageRow[]>;
	close(): Promise<void>;
}

/** A worker's report, printed as JSON on its stdout. */
export interface WorkerReport {
	readonly approach: Approach;
	/** The warm-up run: includes first-use work such as the push-down's price-name scan. */
	readonly firstMs: number;
	readonly runsMs: readonly number[];
	readonly medianMs: number;
	readonly minMs: number;
	/** process.resourceUsage().maxRSS: the worker's peak, in KB. */
	readonly maxRssKb: number;
	readonly page: readonly PageRow[];
}
