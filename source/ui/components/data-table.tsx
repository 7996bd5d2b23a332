import {Box} from 'ink';
import {truncate} from '../../output/format.js';
import {textTable, type TextColumn} from '../../output/text-table.js';
import {THEME, type Tone} from '../theme.js';
import {ShapedText} from './shaped-text.js';

interface Props<T> {
	readonly columns: readonly TextColumn<T>[];
	readonly rows: readonly T[];
	readonly width: number;
	/** The cursor's row, shown inverse. */
	readonly selected?: number;
	readonly tone?: (row: T) => Tone | undefined;
	readonly empty?: string;
}

interface Run {
	readonly text: string;
	readonly inverse: boolean;
	readonly tone: Tone | undefined;
}

/** Consecutive lines drawn alike become one run: Ink lays out and measures each text node. */
function runsOf(lines: readonly string[], style: (index: number) => {inverse: boolean; tone: Tone | undefined}): Run[] {
	const runs: Run[] = [];
	for (const [index, line] of lines.entries()) {
		const {inverse, tone} = style(index);
		const last = runs.at(-1);
		if (last !== undefined && last.inverse === inverse && last.tone === tone) {
			runs[runs.length - 1] = {...last, text: `${last.text}\n${line}`};
		} else {
			runs.push({text: line, inverse, tone});
		}
	}
	return runs;
}

/**
 * A table laid out by the same width-aware code as the text frame (CJK counts two cells, low
 * priority columns give way, every cell made terminal-safe), its lines cut to the width where even
 * the narrowest columns do not fit. The body is drawn as a few runs of lines rather than one node
 * per row.
 */
export function DataTable<T>({columns, rows, width, selected, tone, empty = 'nothing here'}: Props<T>) {
	if (rows.length === 0) {
		return <ShapedText color={THEME.muted}>{empty}</ShapedText>;
	}
	const [header, ...lines] = textTable(columns, rows, width).map(line => truncate(line, width));
	const runs = runsOf(lines, index => ({inverse: index === selected, tone: tone?.(rows[index]!)}));
	return (
		<Box flexDirection="column">
			<ShapedText bold>{header}</ShapedText>
			{runs.map((run, index) => (
				<ShapedText key={index} inverse={run.inverse} color={run.tone === undefined ? undefined : THEME[run.tone]}>
					{run.text}
				</ShapedText>
			))}
		</Box>
	);
}
