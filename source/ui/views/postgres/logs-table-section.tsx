import {Box, Text} from 'ink';
import type {ReactNode} from 'react';
import {bytes, percent, thousands, truncate} from '../../../output/format.js';
import {terminalSafe} from '../../../output/terminal-safe.js';
import type {IndexNeedVerdict} from '../../../postgres/monitor/index-needs.js';
import type {IndexesPanel} from '../../../postgres/monitor/postgres-monitor.js';
import type {PanelResult} from '../../../postgres/monitor/panel-result.js';
import type {TablesSnapshot, TableStats} from '../../../postgres/monitor/table-stats.js';
import {THEME, type Tone} from '../../theme.js';
import {ago, type LinePart} from './pg-format.js';
import {PartsLine} from './server-header.js';
import {UnavailableNotice, unavailableLines} from './unavailable-notice.js';
import {ShapedText} from '../../components/shaped-text.js';

// new-api's `logs` table: its size, live and dead rows, when autovacuum last came by, how it is
// scanned, and whether the indexes its hot queries need are there (served, missing, INVALID or
// being built). Pure but for the components.

type Part = LinePart<Tone>;

/** Dead rows above this share of the table are worth a look even before autovacuum's threshold. */
const DEAD_RATIO_WARN = 0.2;

export function tableParts(table: TableStats, nowMs: number): Part[] {
	const overdue = table.autovacuumEnabled && table.nDeadTup > table.autovacuumAtDeadTuples;
	const deadTone: Tone | undefined = overdue || (table.deadRatio ?? 0) > DEAD_RATIO_WARN ? 'warn' : undefined;
	const size = table.locked ? 'size ? (locked)' : `${bytes(table.sizeBytes)} (heap ${bytes(table.tableBytes)})`;
	const parts: Part[] = [
		{text: table.qualifiedName, priority: 0, bold: true},
		{text: size, priority: 0},
		{text: `${thousands(table.nLiveTup)} live`, priority: 1},
		{text: `${thousands(table.nDeadTup)} dead${table.deadRatio === null ? '' : ` ${percent(table.deadRatio)}`}`, priority: 0, ...(deadTone === undefined ? {} : {tone: deadTone})},
		table.autovacuumEnabled
			? {text: `autovacuum at ${thousands(table.autovacuumAtDeadTuples)} dead`, priority: 4}
			: {text: 'autovacuum OFF for this table', priority: 1, tone: 'warn'},
		{text: `autovacuum ${ago(table.lastAutovacuumAtMs, nowMs)}`, priority: 2},
		{text: `autoanalyze ${ago(table.lastAutoanalyzeAtMs, nowMs)}`, priority: 2},
	];
	if (table.lastVacuumAtMs !== null) parts.push({text: `vacuum ${ago(table.lastVacuumAtMs, nowMs)}`, priority: 6});
	parts.push({text: `scans seq ${thousands(table.seqScan)} / index ${table.idxScan === null ? '-' : thousands(table.idxScan)}`, priority: 3});
	return parts;
}

const STATUS_TEXT: Record<IndexNeedVerdict['status'], string> = {served: 'served', building: 'building', 'invalid-only': 'INVALID only', missing: 'MISSING'};
const STATUS_TONE: Record<IndexNeedVerdict['status'], Tone> = {served: 'ok', building: 'warn', 'invalid-only': 'error', missing: 'error'};

/** One hot query's index: which serve it, or what is wrong. */
export function needLine(verdict: IndexNeedVerdict): {status: string; tone: Tone; text: string} {
	const detail = (() => {
		switch (verdict.status) {
			case 'served':
				return `by ${verdict.servedBy.join(', ')}${verdict.complete ? '' : ' (leading columns only)'}`;
			case 'building':
				return `${verdict.building.join(', ')} is being built`;
			case 'invalid-only':
				return `${verdict.invalid.join(', ')} is INVALID (a failed CREATE INDEX CONCURRENTLY): drop it and build again`;
			case 'missing':
				return verdict.partial.length > 0 ? `partial ${verdict.partial.join(', ')} may not cover it` : 'no index serves it: the query reads the whole table';
		}
	})();
	return {status: STATUS_TEXT[verdict.status], tone: STATUS_TONE[verdict.status], text: `${verdict.need}: ${detail}`};
}

/** INVALID indexes of the table that no need mentions (a failed build of something else). */
const strayInvalid = (indexes: IndexesPanel): string[] =>
	indexes.indexes.filter(index => !index.valid && !index.building && !indexes.needs.some(need => need.invalid.includes(index.name))).map(index => index.name);

export interface LogsSectionData {
	readonly tables: PanelResult<TablesSnapshot> | undefined;
	readonly indexes: PanelResult<IndexesPanel> | undefined;
}

/** Lines the section would like: the table, one per need, stray INVALID indexes, the largest tables. */
export function logsNeed({tables, indexes}: LogsSectionData, width: number): {min: number; comfortable: number; max: number} {
	const tableLines = tables === undefined ? 0 : tables.status === 'ok' ? 1 : unavailableLines('logs table', tables, width).length;
	const needLines =
		indexes === undefined ? 0 : indexes.status === 'ok' ? (indexes.data.table === null ? 0 : indexes.data.needs.length + (strayInvalid(indexes.data).length > 0 ? 1 : 0)) : unavailableLines('indexes', indexes, width).length;
	const largest = tables?.status === 'ok' && tables.data.largest.length > 1 ? 1 : 0;
	const all = tableLines + needLines;
	return {min: Math.min(all, tableLines + Math.min(needLines, 1)), comfortable: all, max: all + largest};
}

export function LogsTableSection({tables, indexes, rows, width, nowMs}: LogsSectionData & {readonly rows: number; readonly width: number; readonly nowMs: number}) {
	const lines: ReactNode[] = [];
	if (tables?.status === 'unavailable') {
		lines.push(<UnavailableNotice key="tables" lines={unavailableLines('logs table', tables, width)} />);
	} else if (tables?.status === 'ok') {
		const table = tables.data.table;
		lines.push(
			table === null ? (
				<ShapedText key="tables" color={THEME.muted}>
					{truncate(terminalSafe(`no table "${tables.data.requested}" in this database`), width)}
				</ShapedText>
			) : (
				<PartsLine key="tables" parts={tableParts(table, nowMs)} width={width} />
			),
		);
	}
	const left = rows - lines.length;
	if (indexes?.status === 'unavailable') {
		lines.push(<UnavailableNotice key="indexes" lines={unavailableLines('indexes', indexes, width, left)} />);
	} else if (indexes?.status === 'ok' && indexes.data.table !== null && left > 0) {
		const needs = indexes.data.needs.map(needLine);
		const stray = strayInvalid(indexes.data);
		if (left < needs.length + (stray.length > 0 ? 1 : 0)) {
			// One line for all of them: the status of each need, the worst first.
			const order: Tone[] = ['error', 'warn', 'ok'];
			const sorted = [...needs].sort((a, b) => order.indexOf(a.tone) - order.indexOf(b.tone));
			const worst = sorted[0]?.tone ?? 'ok';
			lines.push(
				<ShapedText key="needs" color={worst === 'ok' ? undefined : THEME[worst]}>
					{truncate(
						terminalSafe(`index needs: ${sorted.map(need => `${need.status} ${need.text.split(':')[0]}`).join(' · ')}${stray.length > 0 ? ` · INVALID ${stray.join(', ')}` : ''}`),
						width,
					)}
				</ShapedText>,
			);
		} else {
			for (const [index, need] of needs.entries()) {
				const status = need.status.padEnd(12);
				lines.push(
					<ShapedText key={`need${index}`}>
						<Text color={THEME[need.tone]}>{status}</Text>
						{truncate(terminalSafe(need.text), Math.max(0, width - status.length))}
					</ShapedText>,
				);
			}
			if (stray.length > 0) {
				lines.push(
					<ShapedText key="stray">
						<Text color={THEME.error}>{'INVALID'.padEnd(12)}</Text>
						{truncate(terminalSafe(`${stray.join(', ')}: left by a failed build; drop or REINDEX`), Math.max(0, width - 12))}
					</ShapedText>,
				);
			}
		}
	}
	if (lines.length < rows && tables?.status === 'ok' && tables.data.largest.length > 1) {
		const largest = tables.data.largest.map(table => `${table.name} ${bytes(table.sizeBytes)}`).join(' · ');
		lines.push(
			<ShapedText key="largest" color={THEME.muted}>
				{truncate(terminalSafe(`largest tables: ${largest}`), width)}
			</ShapedText>,
		);
	}
	return <Box flexDirection="column">{lines.slice(0, Math.max(0, rows))}</Box>;
}
