import {Box, Text} from 'ink';
import {thousands, truncate} from '../../../output/format.js';
import {terminalSafe} from '../../../output/terminal-safe.js';
import type {TextColumn} from '../../../output/text-table.js';
import type {StatementsSnapshot, StatementStat} from '../../../postgres/monitor/statements-sampler.js';
import {DataTable} from '../../components/data-table.js';
import {THEME} from '../../theme.js';
import {ms, oneLine, perSecond} from './pg-format.js';
import type {SectionNeed} from './section-layout.js';
import {ShapedText} from '../../components/shaped-text.js';

// Top statements of the database from pg_stat_statements, by time spent per second over the last
// interval. relaytop's own statements (they carry its marker) are left out and counted.

export const statementColumns: TextColumn<StatementStat>[] = [
	{title: 'calls/s', width: 7, align: 'right', value: stat => perSecond(stat.interval?.callsPerS ?? null)},
	{title: 'ms/s', width: 7, align: 'right', value: stat => perSecond(stat.interval?.msPerS ?? null)},
	{title: 'mean ms', width: 8, align: 'right', value: stat => ms(stat.meanMs)},
	{title: 'calls', width: 11, align: 'right', drop: 1, value: stat => thousands(stat.calls)},
	{title: 'query', min: 12, value: stat => (stat.query === null ? '(no text)' : oneLine(stat.query))},
];

/**
 * The statements listed: not relaytop's own; by time per second, and those idle over the interval
 * (the sampler ties them by queryid) by their total time.
 */
export const othersOf = (statements: StatementsSnapshot): StatementStat[] =>
	statements.top.filter(stat => !stat.own).sort((a, b) => (b.interval?.msPerS ?? 0) - (a.interval?.msPerS ?? 0) || b.totalMs - a.totalMs);

/** What the title says: the order, the interval, the totals and what was left out. Pure. */
export function statementsTitle(statements: StatementsSnapshot): {title: string; detail: string[]} {
	const own = statements.top.length - othersOf(statements).length;
	const detail: string[] = [];
	if (statements.intervalS === null) {
		detail.push('by total time (rates from the next sample)');
	} else {
		detail.push(`by ms/s over ${statements.intervalS.toFixed(1)}s`);
		detail.push(`all: ${perSecond(statements.totals.callsPerS)} calls/s, ${perSecond(statements.totals.msPerS)} ms/s`);
	}
	if (own > 0) detail.push(`${own} of relaytop's own not listed`);
	if (statements.reset) detail.push('statistics were reset');
	if ((statements.deallocDelta ?? 0) > 0) detail.push(`${thousands(statements.deallocDelta!)} entries evicted (pg_stat_statements.max)`);
	return {title: 'Top statements', detail};
}

/** Statements idle over the interval are listed up to this many rows, behind the busy ones. */
const IDLE_FILL = 5;

export function statementsNeed(statements: StatementsSnapshot): Omit<SectionNeed, 'id' | 'priority'> {
	const others = othersOf(statements);
	const busy = others.filter(stat => (stat.interval?.calls ?? 0) > 0).length;
	const chrome = 1 + (statements.hint === null ? 0 : 1) + (others.length === 0 ? 0 : 1);
	const rows = Math.max(1, Math.min(others.length, Math.max(busy, IDLE_FILL)));
	return {min: chrome + Math.min(rows, 3), comfortable: chrome + Math.min(rows, 6), max: chrome + rows};
}

export function StatementsSection({statements, rows, width}: {readonly statements: StatementsSnapshot; readonly rows: number; readonly width: number}) {
	const {title, detail} = statementsTitle(statements);
	const others = othersOf(statements);
	const chrome = 1 + (statements.hint === null ? 0 : 1) + 1;
	return (
		<Box flexDirection="column">
			<ShapedText>
				<Text bold>{title}</Text>
				<Text color={THEME.muted}>{truncate(` · ${detail.join(' · ')}`, Math.max(0, width - title.length))}</Text>
			</ShapedText>
			{statements.hint === null ? null : <ShapedText color={THEME.warn}>{truncate(terminalSafe(statements.hint), width)}</ShapedText>}
			<DataTable
				columns={statementColumns}
				rows={others.slice(0, Math.max(1, rows - chrome))}
				width={width}
				// Idle over the interval: listed to fill, dimmed.
				tone={stat => (stat.interval !== null && stat.interval.calls === 0 ? 'muted' : undefined)}
				empty="no statements recorded in this database yet"
			/>
		</Box>
	);
}
