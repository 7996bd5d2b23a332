// Names from the database are untrusted. Whatever they hold (escape sequences, C0 and C1
// controls, bidi overrides, invisible, zero-width and double-width characters, piles of accents,
// half surrogate pairs, 10,000 characters), the tables keep their shape: as many lines as rows,
// every row exactly as wide as the table, no control character but Ink's own colours; and JSON
// stays valid and lossless with that text escaped.

import fc from 'fast-check';
import stringWidth from 'string-width';
import {describe, expect, it} from 'vitest';
import {truncate} from '../source/output/format.js';
import {jsonSnapshot, terminalSafeJson} from '../source/output/json-snapshot.js';
import {terminalSafe} from '../source/output/terminal-safe.js';
import {textTable, type TextColumn} from '../source/output/text-table.js';
import {groupColumns, modelColumns, requestColumns} from '../source/output/usage-columns.js';
import {DataTable} from '../source/ui/components/data-table.js';
import type {Snapshot} from '../source/usage/take-snapshot.js';
import type {GroupUsage, ModelUsage, RequestRecord} from '../source/usage/types.js';
import {HOSTILE_NAMES, hostileText, NASTY_PIECES} from './support/hostile-arbitraries.js';
import {renderInk} from './support/render-ink.js';

/** A name a gateway may have stored: one of the known hostile ones, random hostile text, or a flood of one piece. */
const hostileName = fc.oneof(
	{weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NAMES)},
	{weight: 3, arbitrary: hostileText},
	{weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NASTY_PIECES), fc.integer({min: 1, max: 10_000})).map(([piece, count]) => piece.repeat(count).slice(0, 12_000))},
);

const count = fc.nat({max: 2_000_000_000});
const moment = fc.integer({min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1)});

const group: fc.Arbitrary<GroupUsage> = fc.record({
	key: hostileName,
	label: hostileName,
	totalRequests: count,
	successCount: count,
	failureCount: count,
	successRate: fc.double({min: 0, max: 1, noNaN: true}),
	inputTokens: count,
	outputTokens: count,
	cachedTokens: count,
	totalTokens: count,
	costUsd: fc.double({min: 0, max: 1e7, noNaN: true}),
	unpricedRequests: count,
	lastSeenAtMs: moment,
});

const model: fc.Arbitrary<ModelUsage> = fc.record({
	model: hostileName,
	totalRequests: count,
	successCount: count,
	failureCount: count,
	totalTokens: count,
	costUsd: fc.double({min: 0, max: 1e7, noNaN: true}),
	unpricedRequests: count,
});

const request: fc.Arbitrary<RequestRecord> = fc.record({
	timestampMs: moment,
	model: hostileName,
	account: hostileName,
	apiKey: hostileName,
	apiKeyLabel: hostileName,
	status: fc.constantFrom('success', 'failed'),
	inputTokens: count,
	outputTokens: count,
	totalTokens: count,
	latencyMs: fc.option(fc.nat({max: 600_000}), {nil: null}),
	costUsd: fc.option(fc.double({min: 0, max: 1e4, noNaN: true}), {nil: null}),
});

/** Plain stand-ins for the hostile names, to lay out the same table with nothing odd in it. */
const plainGroup = (row: GroupUsage): GroupUsage => ({...row, key: 'k', label: 'plain'});
const plainModel = (row: ModelUsage): ModelUsage => ({...row, model: 'plain'});
const plainRequest = (row: RequestRecord): RequestRecord => ({...row, model: 'plain', account: 'plain', apiKey: 'k', apiKeyLabel: 'plain'});

interface TableCase<T> {
	readonly name: string;
	readonly columns: readonly TextColumn<T>[];
	readonly row: fc.Arbitrary<T>;
	readonly plain: (row: T) => T;
}

/** One row type per table; the checks below need only what every table shares. */
const tableCase = <T,>(table: TableCase<T>): TableCase<unknown> => table as unknown as TableCase<unknown>;

const TABLES: Array<TableCase<unknown>> = [
	tableCase({name: 'groups', columns: groupColumns('totalCost', 'asc'), row: group, plain: plainGroup}),
	tableCase({name: 'models', columns: modelColumns, row: model, plain: plainModel}),
	tableCase({name: 'requests', columns: requestColumns, row: request, plain: plainRequest}),
];

/**
 * What a terminal obeys, or draws otherwise than it was counted: C0 and C1 controls, DEL, line
 * separators, half surrogate pairs, format and other invisible characters (bidi controls among
 * them) except the joiners and selectors that attach to the character before them.
 */
const UNSAFE =
	/[\u0000-\u001f\u007f-\u009f\u2028\u2029]|\p{Surrogate}|(?![\u034f\u180b-\u180d\u180f\u200c\u200d\ufe00-\ufe0f\u{e0020}-\u{e007f}\u{e0100}-\u{e01ef}])[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;
/** The colours and styles Ink writes (SGR), which are the only escapes a frame may hold. */
const INK_STYLE = /\u001b\[[0-9;]*m/gu;
/** In JSON, invisible characters may stay (they move no cursor); the rest is escaped. */
const UNSAFE_IN_JSON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]|\p{Surrogate}/u;
// A character keeps at most a few accents; with its joiners, a cell holds at most this many code units.
const UNITS_PER_CELL = 24;

function expectTableShape<T>(table: TableCase<T>, rows: readonly T[], width: number, lines: readonly string[]): void {
	expect(lines, 'one line per row and the header').toHaveLength(rows.length + 1);
	// The same table with plain names is the shape the hostile one must keep.
	const [plainHeader, plainLine] = textTable(table.columns, rows.map(table.plain), width);
	const tableWidth = stringWidth(plainLine!);
	expect(tableWidth).toBeLessThanOrEqual(width);
	expect(lines[0], 'header').toBe(plainHeader);
	for (const [index, line] of lines.slice(1).entries()) {
		const what = `${table.name} row ${index}: ${JSON.stringify(line.slice(0, 60))}`;
		expect(line, what).not.toMatch(UNSAFE);
		expect(stringWidth(line), what).toBe(tableWidth);
		expect(line.length, what).toBeLessThanOrEqual(UNITS_PER_CELL * tableWidth);
	}
}

describe.each(TABLES)('the $name table', table => {
	const rows = fc.array(table.row, {minLength: 1, maxLength: 6});
	// From the narrowest layout (every droppable column dropped) to a wide terminal.
	const narrowest = fc.sample(table.row, 1).map(row => stringWidth(textTable(table.columns, [table.plain(row)], 1)[1]!))[0]!;
	const width = fc.integer({min: narrowest, max: 220});

	it('as text (--once): one line per row, each exactly the table\'s width, nothing a terminal would obey', () => {
		fc.assert(
			fc.property(rows, width, (generated, columns) => {
				expectTableShape(table, generated, columns, textTable(table.columns, generated, columns));
			}),
			{numRuns: 300},
		);
	});

	it('in Ink (the dashboard): the same lines, none wrapped or cut, the selected row inverse', async () => {
		await fc.assert(
			fc.asyncProperty(rows, width, fc.nat(), async (generated, columns, pick) => {
				const selected = pick % generated.length;
				const screen = renderInk(<DataTable columns={table.columns} rows={generated} width={columns} selected={selected} tone={() => 'error'} />, {columns, rows: 40});
				try {
					const frame = screen.lastFrame();
					const lines = frame.replace(INK_STYLE, '').split('\n');
					expect(frame.replace(INK_STYLE, ''), 'an escape Ink did not write for a colour').not.toContain('\u001b');
					const expected = textTable(table.columns, generated, columns).map(line => line.trimEnd());
					expect(lines, 'the frame is the table, line for line').toEqual(expected);
					expectTableShape(table, generated, columns, textTable(table.columns, generated, columns));
				} finally {
					screen.unmount();
				}
			}),
			{numRuns: 100},
		);
	});
});

describe('terminal-safe text', () => {
	it('leaves nothing a terminal would obey, and keeps ordinary text as it is', () => {
		fc.assert(
			fc.property(hostileName, name => {
				const safe = terminalSafe(name);
				expect(safe).not.toMatch(UNSAFE);
				expect(terminalSafe(safe), 'a second pass changes nothing').toBe(safe);
			}),
			{numRuns: 1000},
		);
		fc.assert(
			fc.property(fc.string({unit: 'grapheme'}), text => {
				const ordinary = text.replace(/[^\p{L}\p{N}\p{P}\p{Zs}\p{Sm}\p{Sc}]|\p{Default_Ignorable_Code_Point}/gu, '');
				expect(terminalSafe(ordinary)).toBe(ordinary);
			}),
			{numRuns: 300},
		);
	});

	it('cuts to the width without splitting what is drawn as one character', () => {
		fc.assert(
			fc.property(hostileName, fc.integer({min: 1, max: 60}), (name, width) => {
				const safe = terminalSafe(name);
				const cut = truncate(safe, width);
				expect(stringWidth(cut)).toBeLessThanOrEqual(width);
				if (cut !== safe) {
					expect(cut.endsWith('…')).toBe(true);
					const kept = cut.slice(0, -1);
					expect(safe.startsWith(kept)).toBe(true);
					// The cut falls between graphemes: the grapheme at the cut starts there.
					expect(new Intl.Segmenter('en', {granularity: 'grapheme'}).segment(safe).containing(kept.length)?.index ?? kept.length).toBe(kept.length);
				}
			}),
			{numRuns: 500},
		);
	});
});

describe('--json with hostile names', () => {
	const snapshotOf = (groups: GroupUsage[], models: ModelUsage[], requests: RequestRecord[], choice: string): Snapshot => {
		const page = {page: 1, pageSize: 20, totalItems: groups.length, sortKey: 'totalCalls' as const, sortDirection: 'desc' as const, items: groups};
		return {
			source: {kind: 'newapi-sqlite', target: choice},
			range: {startMs: null, endMs: 0},
			summary: {totalRequests: 0, successCount: 0, failureCount: 0, totalTokens: 0, tokens: {input: 0, output: 0, reasoning: 0, cached: 0}, latencyMsAvg: null, costUsd: 0, unpricedRequests: 0},
			facets: {accounts: [{value: choice, label: choice}], providers: [], channels: [], groups: [], models: [], apiKeys: []},
			rate: {windowS: 60, rpm: 0, tpm: 0},
			models,
			dimension: 'user',
			accounts: page,
			apiKeys: page,
			realtime: {page: 1, pageSize: 20, totalItems: requests.length, items: requests},
			newestRequestMs: null,
		};
	};

	it('is valid JSON that reads back to the same values, with nothing a terminal would obey left raw', () => {
		fc.assert(
			fc.property(fc.array(group, {maxLength: 3}), fc.array(model, {maxLength: 3}), fc.array(request, {maxLength: 3}), hostileName, (groups, models, requests, choice) => {
				const value = jsonSnapshot(snapshotOf(groups, models, requests, choice));
				const text = terminalSafeJson(value);
				expect(text).not.toMatch(UNSAFE_IN_JSON);
				expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
			}),
			{numRuns: 200},
		);
	});
});
