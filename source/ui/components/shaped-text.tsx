import {Text, type TextProps} from 'ink';
import {Children, cloneElement, createElement, Fragment, isValidElement, type ReactElement, type ReactNode} from 'react';
import stringWidth from 'string-width';

// Ink 6 keeps the size of every text it has laid out, and every text it has cut to a width, in
// module-level maps it never empties (ink/build/measure-text.js, wrap-text.js). A dashboard that
// draws new figures every second grows by each of them for as long as it runs. A ShapedText has
// Ink lay out a stand-in instead: one CELL per terminal cell of the real text, in the same styles.
// The real characters go in as each line is written out, so those maps hold one entry per shape.
// Ink 8 bounds its maps, but needs Node 22.

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

/** The children with every string replaced by CELLs of its width; the strings pushed to `real`. */
function standIn(children: ReactNode, real: string[]): ReactNode {
	return Children.map(children, child => {
		if (typeof child === 'string' || typeof child === 'number') {
			const text = String(child);
			real.push(text);
			return text
				.split(LINE_END)
				.map(line => CELL.repeat(stringWidth(line)))
				.join(LINE_END);
		}
		if (!isValidElement<{children?: ReactNode}>(child)) return child;
		if (child.type !== Text && child.type !== Fragment) throw new TypeError('ShapedText holds strings and <Text> elements only');
		return cloneElement(child as ReactElement<{children?: ReactNode}>, undefined, standIn(child.props.children, real));
	});
}

/** The real text a cell at a time, a LINE_END between lines. */
export function cellsOf(text: string): Cell[] {
	const cells: Cell[] = [];
	for (const [index, line] of text.split(LINE_END).entries()) {
		if (index > 0) cells.push(LINE_END);
		if (PRINTABLE_ASCII.test(line)) {
			cells.push(...line);
			continue;
		}
		// A character of no width has no cell in the stand-in: it is drawn with the next one, or at
		// the end of its line with the one before.
		const start = cells.length;
		let pending = '';
		for (const {segment} of graphemes.segment(line)) {
			const width = stringWidth(segment);
			if (width === 0) {
				pending += segment;
				continue;
			}
			cells.push(pending + segment, ...Array<Cell>(width - 1).fill(COVERED));
			pending = '';
		}
		const last = cells.findLastIndex((cell, at) => at >= start && cell !== COVERED);
		if (pending !== '' && last >= 0) cells[last] += pending;
	}
	return cells;
}

/** The end of the escape sequence starting at `start`: a CSI (colours) or ESC and one character. */
function escapeEnd(line: string, start: number): number {
	if (line[start + 1] !== '[') return Math.min(line.length, start + 2);
	let end = start + 2;
	while (end < line.length && !/[@-~]/u.test(line[end]!)) end++;
	return Math.min(line.length, end + 1);
}

/**
 * Writes the real cells over one line of the stand-in as Ink laid it out: its escape sequences and
 * any character Ink added (the ellipsis of a cut) kept, each CELL replaced by the next real cell.
 * Returns the cursor after the line. Each half of a wide character cut in two becomes a space.
 */
export function inked(line: string, cells: readonly Cell[], from: number): {text: string; next: number} {
	let text = '';
	let next = from;
	let first = true;
	// The cells of a character drawn as spaces, the rest of which are in this line.
	let blank = false;
	for (let index = 0; index < line.length; index++) {
		const char = line[index]!;
		if (char === '\u001B') {
			const end = escapeEnd(line, index);
			text += line.slice(index, end);
			index = end - 1;
			continue;
		}
		if (char !== CELL) {
			text += char;
			continue;
		}
		const cell = cells[next++];
		if (cell === COVERED) {
			// Its character began on the line before, or was cut here: neither draws it.
			if (first) blank = true;
			if (blank) text += ' ';
			first = false;
			continue;
		}
		first = false;
		blank = false;
		if (cell === undefined || cell === LINE_END) {
			text += ' ';
			continue;
		}
		let covered = 0;
		while (cells[next + covered] === COVERED) covered++;
		blank = covered > 0 && !line.startsWith(CELL.repeat(covered), index + 1);
		text += blank ? ' ' : cell;
	}
	return {text, next};
}

/**
 * An Ink <Text> that Ink measures by its shape alone. It holds strings, numbers and nested
 * <Text> elements (styles), and must be outermost: nested in another text it would show its
 * stand-in. A line too wide is cut with an ellipsis; text of several lines too wide breaks at the
 * width (callers fit their lines: Ink cannot cut them one by one).
 */
export function ShapedText({children, ...style}: Props) {
	const real: string[] = [];
	const shape = standIn(children, real);
	const text = real.join('');
	const cells = cellsOf(text);
	let cursor = 0;
	// Ink writes a text's lines in order, each through this; a line it wrapped carries on the same
	// real line, and the next real line starts after its LINE_END.
	const transform = (line: string, index: number): string => {
		if (index === 0) cursor = 0;
		else if (cells[cursor] === LINE_END) cursor++;
		const {text, next} = inked(line, cells, cursor);
		cursor = next;
		return text;
	};
	return createElement(
		'ink-text',
		{style: {flexGrow: 0, flexShrink: 1, flexDirection: 'row', textWrap: text.includes(LINE_END) ? 'wrap' : 'truncate-end'}, internal_transform: transform},
		createElement(Text, style, shape),
	);
}
