import {fit} from './format.js';
import {terminalSafe} from './terminal-safe.js';

export interface TextColumn<T> {
	readonly title: string;
	readonly value: (row: T) => string;
	/** Fixed width in cells; the one column without it takes what is left. */
	readonly width?: number;
	readonly align?: 'left' | 'right';
}

const GAP = '  ';

/** A plain-text table that fits `totalWidth` cells; every cell is made terminal-safe first. */
export function textTable<T>(columns: readonly TextColumn<T>[], rows: readonly T[], totalWidth: number): string[] {
	const fixed = columns.reduce((sum, column) => sum + (column.width ?? 0), 0) + GAP.length * (columns.length - 1);
	const flexible = Math.max(8, totalWidth - fixed);
	const widths = columns.map(column => column.width ?? flexible);
	const line = (cells: string[]) =>
		cells
			.map((cell, index) => fit(terminalSafe(cell), widths[index]!, columns[index]!.align))
			.join(GAP)
			.trimEnd();
	return [line(columns.map(column => column.title)), ...rows.map(row => line(columns.map(column => column.value(row))))];
}
