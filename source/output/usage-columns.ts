// Column sets shared by the text frame and the dashboard.
import {compact, logTime, milliseconds, percent, shortTime, thousands, usd} from './format.js';
import type {TextColumn} from './text-table.js';
import type {GroupUsage, ModelUsage, RequestRecord, SortDirection, SortKey} from '../usage/types.js';

// Widths and drop order keep 80 columns readable.

/** A cost that leaves requests out says so: `--` none priced, `*` some not. */
function costCell(value: number, unpriced: number, requests: number): string {
	if (unpriced === 0) {
		return usd(value);
	}
	return unpriced === requests ? '--' : `${usd(value)}*`;
}

/** An API key hash without an alias is shown the way CPA-Manager shows it. */
const maskedKey = (label: string): string => (/^[0-9a-f]{64}$/u.test(label) ? `sha256:${label.slice(0, 12)}` : label);

export function groupColumns(sortKey: SortKey, direction: SortDirection): TextColumn<GroupUsage>[] {
	const arrow = direction === 'asc' ? '▲' : '▼';
	const title = (name: string, key: SortKey) => (key === sortKey ? `${name}${arrow}` : name);
	return [
		{title: 'name', min: 20, max: 40, value: row => maskedKey(row.label)},
		{title: title('requests', 'totalCalls'), width: 9, align: 'right', value: row => thousands(row.totalRequests)},
		{title: title('ok', 'successCalls'), width: 8, align: 'right', drop: 6, value: row => thousands(row.successCount)},
		{title: title('failed', 'failureCalls'), width: 7, align: 'right', drop: 2, value: row => thousands(row.failureCount)},
		{title: title('success', 'successRate'), width: 8, align: 'right', value: row => percent(row.successRate)},
		{title: title('input', 'inputTokens'), width: 7, align: 'right', drop: 3, value: row => compact(row.inputTokens)},
		{title: title('output', 'outputTokens'), width: 7, align: 'right', drop: 4, value: row => compact(row.outputTokens)},
		{title: title('cached', 'cachedTokens'), width: 7, align: 'right', drop: 5, value: row => compact(row.cachedTokens)},
		{title: title('tokens', 'totalTokens'), width: 7, align: 'right', value: row => compact(row.totalTokens)},
		{title: title('cost', 'totalCost'), width: 9, align: 'right', value: row => costCell(row.costUsd, row.unpricedRequests, row.totalRequests)},
		{title: title('last seen', 'lastSeenAt'), width: 14, drop: 1, value: row => shortTime(row.lastSeenAtMs)},
	];
}

export const modelColumns: TextColumn<ModelUsage>[] = [
	{title: 'model', min: 16, max: 36, value: m => m.model},
	{title: 'requests', width: 9, align: 'right', value: m => thousands(m.totalRequests)},
	{title: 'failed', width: 7, align: 'right', value: m => thousands(m.failureCount)},
	{title: 'tokens', width: 7, align: 'right', value: m => compact(m.totalTokens)},
	{title: 'cost', width: 9, align: 'right', value: m => costCell(m.costUsd, m.unpricedRequests, m.totalRequests)},
];

export const requestColumns: TextColumn<RequestRecord>[] = [
	{title: 'time', width: 11, value: r => logTime(r.timestampMs)},
	{title: 'status', width: 6, value: r => (r.status === 'success' ? 'ok' : 'FAIL')},
	{title: 'model', min: 14, max: 32, value: r => r.model},
	{title: 'account', min: 8, max: 32, value: r => r.account},
	{title: 'key', width: 19, drop: 3, value: r => maskedKey(r.apiKeyLabel)},
	{title: 'tokens', width: 7, align: 'right', value: r => compact(r.totalTokens)},
	{title: 'latency', width: 8, align: 'right', drop: 2, value: r => milliseconds(r.latencyMs)},
	{title: 'cost', width: 9, align: 'right', value: r => (r.costUsd === null ? '--' : usd(r.costUsd))},
];

/** The request log with each row's stream pattern (its recent outcomes) after the status. */
export const requestColumnsWithRecent = (recent: (row: RequestRecord) => string): TextColumn<RequestRecord>[] => [
	...requestColumns.slice(0, 2),
	{title: 'recent', width: 10, drop: 1, value: recent},
	...requestColumns.slice(2),
];
