import type {GroupPage, GroupUsage, SortKey} from '../usage/types.js';
import type {Snapshot} from '../usage/take-snapshot.js';
import {compact, localTime, milliseconds, percent, shortTime, thousands, usd} from './format.js';
import {textTable, type TextColumn} from './text-table.js';
import {terminalSafe} from './terminal-safe.js';

const SOURCE_NAMES: Record<Snapshot['source']['kind'], string> = {
	'cpa-sqlite': 'CPA-Manager store (SQLite)',
	'cpa-http': 'CPA-Manager (HTTP)',
	'newapi-sqlite': 'new-api logs (SQLite)',
	'newapi-postgres': 'new-api logs (PostgreSQL)',
};

const COLUMN_SORT: Record<string, SortKey> = {
	requests: 'totalCalls',
	failed: 'failureCalls',
	'success%': 'successRate',
	tokens: 'totalTokens',
	cost: 'totalCost',
	input: 'inputTokens',
	output: 'outputTokens',
	cached: 'cachedTokens',
	'last seen': 'lastSeenAt',
};

const pages = (page: GroupPage | Snapshot['realtime']): string =>
	`page ${page.page}/${Math.max(1, Math.ceil(page.totalItems / page.pageSize))} · ${thousands(page.totalItems)} items`;

const arrowOf = (page: GroupPage): string => (page.sortDirection === 'asc' ? '▲' : '▼');

/** The sort is named in the heading too: its column may have given way on a narrow terminal. */
const sortedBy = (page: GroupPage): string => `sorted by ${page.sortKey} ${arrowOf(page)}`;

function groupTable(page: GroupPage, width: number): string[] {
	const title = (name: string) => (COLUMN_SORT[name] === page.sortKey ? `${name}${arrowOf(page)}` : name);
	// Token names are not unique in new-api: a label shared on the page carries its key.
	const seen = new Map<string, number>();
	for (const row of page.items) {
		seen.set(row.label, (seen.get(row.label) ?? 0) + 1);
	}
	const name = (row: GroupUsage) => (row.label !== row.key && (seen.get(row.label) ?? 0) > 1 ? `${row.label} #${row.key}` : maskedKey(row.label));
	const money = (row: GroupUsage) => cost(row.costUsd, row.unpricedRequests, row.totalRequests);
	const columns: TextColumn<GroupUsage>[] = [
		{title: 'name', min: 12, max: 40, value: name},
		{title: title('requests'), width: 9, align: 'right', value: row => thousands(row.totalRequests)},
		{title: title('failed'), width: 7, align: 'right', drop: 2, value: row => thousands(row.failureCount)},
		{title: title('success%'), width: 9, align: 'right', value: row => percent(row.successRate)},
		{title: title('input'), width: 7, align: 'right', drop: 3, value: row => compact(row.inputTokens)},
		{title: title('output'), width: 7, align: 'right', drop: 4, value: row => compact(row.outputTokens)},
		{title: title('cached'), width: 7, align: 'right', drop: 5, value: row => compact(row.cachedTokens)},
		{title: title('tokens'), width: 7, align: 'right', value: row => compact(row.totalTokens)},
		{title: title('cost'), width: 9, align: 'right', value: money},
		{title: title('last seen'), width: 14, drop: 1, value: row => shortTime(row.lastSeenAtMs)},
	];
	return page.items.length === 0 ? ['(none)'] : textTable(columns, page.items, width);
}

/**
 * A cost that leaves requests out says so: `--` when none had a price, a trailing `*` when some
 * did not (explained under the figures).
 */
function cost(usdValue: number, unpriced: number, requests: number): string {
	if (unpriced === 0) {
		return usd(usdValue);
	}
	return unpriced === requests ? '--' : `${usd(usdValue)}*`;
}

/** An API key hash without an alias is shown the way CPA-Manager shows it. */
const maskedKey = (label: string): string => (/^[0-9a-f]{64}$/u.test(label) ? `sha256:${label.slice(0, 12)}` : label);

function emptyRangeHint({newestRequestMs, range}: Snapshot): string {
	if (newestRequestMs === null) {
		return 'no requests: the store is empty';
	}
	const where = newestRequestMs > range.endMs ? 'after this range' : `at ${localTime(newestRequestMs)}`;
	return `no requests in this range; the newest request is ${where} (try --range all, or --to)`;
}

/** The snapshot as a readable frame, for `--once` and for pasting into an incident channel. */
export function textFrame(snapshot: Snapshot, width: number): string {
	const {summary, rate, range} = snapshot;
	const requested = summary.totalRequests;
	const successRate = requested === 0 ? 1 : summary.successCount / requested;
	const from = range.startMs === null ? 'the beginning' : localTime(range.startMs);
	const lines = [
		`relaytop · ${SOURCE_NAMES[snapshot.source.kind]} · ${terminalSafe(snapshot.source.target)}`,
		`${from} → ${localTime(range.endMs)}`,
		...(requested === 0 ? [emptyRangeHint(snapshot)] : []),
		'',
		[
			`requests ${thousands(requested)}`,
			`success ${percent(successRate)}`,
			`failed ${thousands(summary.failureCount)}`,
			`rpm ${thousands(rate.rpm)}`,
			`tpm ${compact(rate.tpm)}`,
		].join(' · '),
		`cost ${usd(summary.costUsd)}${summary.unpricedRequests > 0 ? ` + ${thousands(summary.unpricedRequests)} unpriced` : ''} · latency ${milliseconds(summary.latencyMsAvg)}`,
		...(summary.unpricedRequests > 0 ? ['* leaves out requests to models without a price; -- none had one'] : []),
		`tokens ${compact(summary.totalTokens)} · in ${compact(summary.tokens.input)} · out ${compact(summary.tokens.output)} · cached ${compact(summary.tokens.cached)} · reasoning ${compact(summary.tokens.reasoning)}`,
		'',
		'MODELS',
		...(snapshot.models.length === 0
			? ['(none)']
			: textTable(
					[
						{title: 'model', min: 16, max: 32, value: m => m.model},
						{title: 'requests', width: 9, align: 'right', value: m => thousands(m.totalRequests)},
						{title: 'failed', width: 7, align: 'right', value: m => thousands(m.failureCount)},
						{title: 'tokens', width: 7, align: 'right', value: m => compact(m.totalTokens)},
						{title: 'cost', width: 9, align: 'right', value: m => cost(m.costUsd, m.unpricedRequests, m.totalRequests)},
					],
					snapshot.models,
					width,
				)),
		'',
		`ACCOUNTS by ${snapshot.dimension} · ${sortedBy(snapshot.accounts)} · ${pages(snapshot.accounts)}`,
		...groupTable(snapshot.accounts, width),
		'',
		`API KEYS · ${sortedBy(snapshot.apiKeys)} · ${pages(snapshot.apiKeys)}`,
		...groupTable(snapshot.apiKeys, width),
		'',
		`REQUESTS · newest first · ${pages(snapshot.realtime)}`,
		...(snapshot.realtime.items.length === 0
			? ['(none)']
			: textTable(
					[
						{title: 'time', width: 14, value: r => shortTime(r.timestampMs)},
						{title: 'status', width: 6, value: r => (r.status === 'success' ? 'ok' : 'FAILED')},
						{title: 'model', min: 22, max: 32, value: r => r.model},
						{title: 'account', min: 12, max: 36, value: r => r.account},
						{title: 'key', width: 19, drop: 2, value: r => maskedKey(r.apiKeyLabel)},
						{title: 'tokens', width: 7, align: 'right', value: r => compact(r.totalTokens)},
						{title: 'latency', width: 8, align: 'right', drop: 1, value: r => milliseconds(r.latencyMs)},
						{title: 'cost', width: 9, align: 'right', value: r => (r.costUsd === null ? '--' : usd(r.costUsd))},
					],
					snapshot.realtime.items,
					width,
				)),
	];
	return `${lines.join('\n')}\n`;
}
