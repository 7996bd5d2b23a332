import {Box, Text} from 'ink';
import {textTable, type TextColumn} from '../../output/text-table.js';
import {THEME, type Tone} from '../theme.js';

interface Props<T> {
	readonly columns: readonly TextColumn<T>[];
	readonly rows: readonly T[];
	readonly width: number;
	/** The cursor's row, shown inverse. */
	readonly selected?: number;
	readonly tone?: (row: T) => Tone | undefined;
	readonly empty?: string;
}

/**
 * A table laid out by the same width-aware code as the text frame (CJK counts two cells, low
 * priority columns give way, every cell made terminal-safe), drawn line by line.
 */
export function DataTable<T>({columns, rows, width, selected, tone, empty = 'nothing here'}: Props<T>) {
	if (rows.length === 0) {
		return <Text color={THEME.muted}>{empty}</Text>;
	}
	const [header, ...lines] = textTable(columns, rows, width);
	return (
		<Box flexDirection="column">
			<Text bold wrap="truncate-end">
				{header}
			</Text>
			{lines.map((line, index) => {
				const rowTone = tone?.(rows[index]!);
				return (
					<Text key={index} inverse={index === selected} color={rowTone === undefined ? undefined : THEME[rowTone]} wrap="truncate-end">
						{line}
					</Text>
				);
			})}
		</Box>
	);
}
