import {Text, useIsScreenReaderEnabled, type TextProps} from 'ink';
import {Children, cloneElement, createElement, Fragment, isValidElement, type ReactElement, type ReactNode} from 'react';
import stringWidth from 'string-width';

// Ink 6 keeps the size of every text it has laid out, and every text it has cut to a width, in
// module-level maps it never empties (ink/build/measure-text.js, wrap-text.js). A dashboard that
// draws new figures every second grows by each of them for as long as it runs. A ShapedText has
// Ink lay out a stand-in instead: one CELL per terminal cell of the real text, in the same styles,
// every line as wide as the widest. The real characters go in as each line is written out, so
// those maps hold one entry per shape. Ink 8 bounds its maps, but needs Node 22.

const CELL = 'x';
/** The second cell of a wide character, drawn by its first. */
const COVERED = null;
const LINE_END = '\n';

type Cell = string | typeof COVERED;

type Style = Pick<TextProps, 'color' | 'backgroundColor' | 'bold' | 'dimColor' | 'inverse' | 'italic' | 'underline'>;

interface Props extends Style {
	/** Strings, numbers and Ink <Text> elements holding the same. */
	readonly children?: ReactNode;
}

const graphemes = new Intl.Segmenter(undefined, {granularity: 'grapheme'});
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/u;

/** The strings of the children, in the order Ink joins them. */
function stringsIn(children: ReactNode, strings: string[]): string[] {
	Children.forEach(children, child => {
		if (typeof child === 'string' || typeof child === 'number') strings.push(String(child));
		else if (isValidElement<{children?: ReactNode}>(child)) {
			if (child.type !== Text && child.type !== Fragment) throw new TypeError('ShapedText holds strings and <Text> elements only');
			stringsIn(child.props.children, strings);
		}
	});
	return strings;
}

/** The children with their strings replaced, in the same order, by `standIns`. */
function replaced(children: ReactNode, standIns: readonly string[], next: {index: number}): ReactNode {
	return Children.map(children, child => {
		if (typeof child === 'string' || typeof child === 'number') return standIns[next.index++];
		if (!isValidElement<{children?: ReactNode}>(child)) return child;
		return cloneElement(child as ReactElement<{children?: ReactNode}>, undefined, replaced(child.props.children, standIns, next));
	});
}

export interface Shape {
	/** The real text, a line of cells at a time. */
	readonly lines: readonly (readonly Cell[])[];
	/** The widest line's cells: every line of the stand-in has as many. */
	readonly width: number;
	/** Each string's stand-in. */
	readonly standIns: readonly string[];
}

/**
 * The cells of the joined strings, a character to the string it starts in (one split across two
 * strings is measured once, as Ink measures the joined text). A character of no width goes with
 * the next one in its line, at the end of a line with the one before; alone in a line, nowhere.
 */
export function shapeOf(strings: readonly string[]): Shape {
	const lines: Cell[][] = [];
	// What each string's stand-in gets, in order: cells, or the end of a line (padded later).
	const events: Array<{readonly string: number; readonly cells: number} | {readonly string: number; readonly lineEnd: number}> = [];
	const starts: number[] = [];
	let total = 0;
	for (const string of strings) {
		starts.push(total);
		total += string.length;
	}
	let owner = 0;
	const stringAt = (offset: number): number => {
		while (owner + 1 < strings.length && starts[owner + 1]! <= offset) owner++;
		return owner;
	};
	/** A printable ASCII line, a cell a character: each string gets the characters that are its own. */
	const asciiCells = (line: string, base: number): Cell[] => {
		for (let at = base; at < base + line.length; ) {
			const string = stringAt(at);
			const end = Math.min(base + line.length, starts[string]! + strings[string]!.length);
			events.push({string, cells: end - at});
			at = end;
		}
		return [...line];
	};
	const segmentedCells = (line: string, base: number): Cell[] => {
		const cells: Cell[] = [];
		let pending = '';
		for (const {segment, index} of graphemes.segment(line)) {
			const width = stringWidth(segment);
			if (width === 0) {
				pending += segment;
				continue;
			}
			cells.push(pending + segment, ...Array<Cell>(width - 1).fill(COVERED));
			pending = '';
			events.push({string: stringAt(base + index), cells: width});
		}
		const last = cells.findLastIndex(cell => cell !== COVERED);
		if (pending !== '' && last >= 0) cells[last] += pending;
		return cells;
	};
	let base = 0;
	for (const line of strings.join('').split(LINE_END)) {
		lines.push(PRINTABLE_ASCII.test(line) ? asciiCells(line, base) : segmentedCells(line, base));
		base += line.length + 1;
		if (base <= total) events.push({string: stringAt(base - 1), lineEnd: lines.length - 1});
	}
	const width = Math.max(0, ...lines.map(line => line.length));
	const standIns = strings.map(() => '');
	for (const event of events) {
		standIns[event.string] += 'cells' in event ? CELL.repeat(event.cells) : CELL.repeat(width - lines[event.lineEnd]!.length) + LINE_END;
	}
	if (strings.length > 0) standIns[strings.length - 1] += CELL.repeat(width - lines.at(-1)!.length);
	return {lines, width, standIns};
}

/** The end of the escape sequence starting at `start`: a CSI (colours), an OSC, or ESC and one character. */
function escapeEnd(line: string, start: number): number {
	const kind = line[start + 1];
	if (kind === '[') {
		let end = start + 2;
		while (end < line.length && !/[@-~]/u.test(line[end]!)) end++;
		return Math.min(line.length, end + 1);
	}
	if (kind === ']') {
		const bell = line.indexOf('\u0007', start);
		const terminator = line.indexOf('\u001B\\', start);
		const ends = [bell === -1 ? Infinity : bell + 1, terminator === -1 ? Infinity : terminator + 2];
		return Math.min(line.length, ...ends);
	}
	return Math.min(line.length, start + 2);
}

/**
 * Writes the real cells over one line of the stand-in as Ink laid it out: its escape sequences and
 * any character Ink added (the ellipsis of a cut) kept, each CELL replaced by the real cell it
 * stands for, counted from `from` (a stand-in line's padding draws nothing). Returns the count
 * after the line. Each half of a wide character cut in two becomes a space.
 */
export function inked(line: string, shape: Pick<Shape, 'lines' | 'width'>, from: number): {drawn: string; next: number} {
	const cellAt = (at: number): Cell | undefined => shape.lines[Math.floor(at / shape.width)]?.[at % shape.width];
	let drawn = '';
	let next = from;
	let first = true;
	// The cells of a character drawn as spaces, the rest of which are in this line.
	let blank = false;
	for (let index = 0; index < line.length; index++) {
		const char = line[index]!;
		if (char === '\u001B') {
			const end = escapeEnd(line, index);
			drawn += line.slice(index, end);
			index = end - 1;
			continue;
		}
		if (char !== CELL) {
			drawn += char;
			continue;
		}
		const cell = cellAt(next++);
		if (cell === COVERED) {
			// Its character began on the line before, or was cut here: neither draws it.
			if (first) blank = true;
			if (blank) drawn += ' ';
			first = false;
			continue;
		}
		first = false;
		blank = false;
		if (cell === undefined) continue;
		let covered = 0;
		while (cellAt(next + covered) === COVERED) covered++;
		blank = covered > 0 && !line.startsWith(CELL.repeat(covered), index + 1);
		drawn += blank ? ' ' : cell;
	}
	return {drawn, next};
}

/**
 * An Ink <Text> that Ink measures by its shape alone. It holds strings, numbers and nested
 * <Text> elements (styles), anything else throws. A line too wide is cut with an ellipsis; text of
 * several lines too wide breaks at the width, so callers fit their lines (Ink cannot cut them one
 * by one). It must be outermost, never in another text, and never where a box clips it at the top
 * or the sides: Ink writes its lines through this transform counting from the first one drawn.
 */
export function ShapedText({children, ...style}: Props) {
	// A screen reader is given the text itself: Ink reads it out without the transform.
	if (useIsScreenReaderEnabled()) return <Text {...style}>{children}</Text>;
	if (children === undefined || children === null) return null;
	const strings = stringsIn(children, []);
	const shape = shapeOf(strings);
	let cursor = 0;
	const transform = (line: string, index: number): string => {
		if (index === 0) cursor = 0;
		const {drawn, next} = inked(line, shape, cursor);
		cursor = next;
		return drawn;
	};
	const multiline = shape.lines.length > 1;
	return createElement(
		'ink-text',
		{style: {flexGrow: 0, flexShrink: 1, flexDirection: 'row', textWrap: multiline ? 'wrap' : 'truncate-end'}, internal_transform: transform},
		createElement(Text, style, replaced(children, shape.standIns, {index: 0})),
	);
}
