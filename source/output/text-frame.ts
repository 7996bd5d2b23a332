import {countingPhrase, type CountingCost} from '../tokens/counting-cost.js';
import type {GroupPage} from '../usage/types.js';
import type {Snapshot} from '../usage/take-snapshot.js';
import {escapeControls} from './escape-controls.js';
import {compact, localTime, milliseconds, percent, thousands, usd} from './format.js';
import {postgresText} from './postgres-text.js';
import {textTable} from './text-table.js';
import {groupColumns, modelColumns, requestColumns} from './usage-columns.js';

const SOURCE_NAMES: Record<Snapshot['source']['kind'], string> = {
	'cpa-sqlite': 'CPA-Manager store (SQLite)',
	'cpa-http': 'CPA-Manager (HTTP)',
	'newapi-sqlite': 'new-api logs (SQLite)',
	'newapi-postgres': 'new-api logs (PostgreSQL)',
};

const pages = (page: GroupPage | Snapshot['realtime']): string =>
	`page ${page.page}/${Math.max(1, Math.ceil(page.totalItems / page.pageSize))} · ${thousands(page.totalItems)} items`;

const arrowOf = (page: GroupPage): string => (page.sortDirection === 'asc' ? '▲' : '▼');

/** The sort is named in the heading too: its column may have given way on a narrow terminal. */
const sortedBy = (page: GroupPage): string => `sorted by ${page.sortKey} ${arrowOf(page)}`;

function groupTable(page: GroupPage, width: number): string[] {
	// Token names are not unique in new-api: a label shared on the page carries its key.
	const seen = new Map<string, number>();
	for (const row of page.items) {
		seen.set(row.label, (seen.get(row.label) ?? 0) + 1);
	}
	const rows = page.items.map(row => (row.label !== row.key && (seen.get(row.label) ?? 0) > 1 ? {...row, label: `${row.label} #${row.key}`} : row));
	return rows.length === 0 ? ['(none)'] : textTable(groupColumns(page.sortKey, page.sortDirection), rows, width);
}

function emptyRangeHint({newestRequestMs, range}: Snapshot): string {
	if (newestRequestMs === null) {
		return 'no requests: the store is empty';
	}
	const where = newestRequestMs > range.endMs ? 'after this range' : `at ${localTime(newestRequestMs)}`;
	return `no requests in this range; the newest request is ${where} (try --range all, or --to)`;
}

/** The snapshot as a readable frame, for `--once` and for pasting into an incident channel. */
export function textFrame(snapshot: Snapshot, width: number, counting: CountingCost | null = null): string {
	const {summary, rate, range} = snapshot;
	const requested = summary.totalRequests;
	const successRate = requested === 0 ? 1 : summary.successCount / requested;
	const from = range.startMs === null ? 'the beginning' : localTime(range.startMs);
	// The target is redacted already: masked again, a user named like the password would read ***.
	const lines = [
		`relaytop · ${SOURCE_NAMES[snapshot.source.kind]} · ${escapeControls(snapshot.source.target)}`,
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
		...(counting === null ? [] : [`${countingPhrase(counting)} · ${counting.advice}`]),
		'',
		'MODELS',
		...(snapshot.models.length === 0
			? ['(none)']
			: textTable(
					modelColumns,
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
					requestColumns,
					snapshot.realtime.items,
					width,
				)),
		...(snapshot.postgres === undefined ? [] : ['', ...postgresText(snapshot.postgres)]),
	];
	return `${lines.join('\n')}\n`;
}
