import {fit} from './format.js';
import {terminalSafe} from './terminal-safe.js';

export interface TextColumn<T> {
	readonly title: string;
	readonly value: (row: T) => string;
	/** A fixed width in cells. Without it the column is flexible: it shares what is left. */
	readonly width?: number;
	/** Bounds of a flexible column. */
	readonly min?: number;
	readonly max?: number;
	readonly align?: 'left' | 'right';
	/** Columns that give way when the terminal is narrow: the highest number goes first. */
	readonly drop?: number;
}

const GAP = '  ';
const MIN_FLEXIBLE = 12;

const smallest = <T>(column: TextColumn<T>): number => column.width ?? column.min ?? MIN_FLEXIBLE;
const neededWidth = <T>(columns: readonly TextColumn<T>[]): number =>
	columns.reduce((sum, column) => sum + smallest(column), 0) + GAP.length * (columns.length - 1);

/** The columns that fit `totalWidth`, dropping the droppable ones in order. */
function fitting<T>(columns: readonly TextColumn<T>[], totalWidth: number): TextColumn<T>[] {
	let kept = [...columns];
	const droppable = columns.filter(column => column.drop !== undefined).sort((a, b) => b.drop! - a.drop!);
	for (const column of droppable) {
		if (neededWidth(kept) <= totalWidth) {
			break;
		}
		kept = kept.filter(candidate => candidate !== column);
	}
	return kept;
}

/** Fixed columns keep their width; flexible ones start at their minimum and share the rest, one cell at a time, up to their maximum. */
function widthsOf<T>(columns: readonly TextColumn<T>[], totalWidth: number): number[] {
	const widths = columns.map(smallest);
	let spare = totalWidth - neededWidth(columns);
	const growable = () => columns.map((_column, index) => index).filter(index => columns[index]!.width === undefined && widths[index]! < (columns[index]!.max ?? Infinity));
	for (let open = growable(); spare > 0 && open.length > 0; open = growable()) {
		for (const index of open) {
			if (spare > 0 && widths[index]! < (columns[index]!.max ?? Infinity)) {
				widths[index]!++;
				spare--;
			}
		}
	}
	return widths;
}

/** A plain-text table that fits `totalWidth` cells; every cell is made terminal-safe first. */
export function textTable<T>(all: readonly TextColumn<T>[], rows: readonly T[], totalWidth: number): string[] {
	const columns = fitting(all, totalWidth);
	const widths = widthsOf(columns, totalWidth);
	const line = (cells: string[]) =>
		cells
			.map((cell, index) => fit(terminalSafe(cell), widths[index]!, columns[index]!.align))
			.join(GAP)
			.trimEnd();
	return [line(columns.map(column => column.title)), ...rows.map(row => line(columns.map(column => column.value(row))))];
}
