// A ShapedText draws what an Ink <Text> draws, in colour, wherever Ink's own drawing fits its
// width; where it does not (or the text is cut), it draws what an independent oracle works out
// from the text's cells. Ink measures only its stand-in: texts of one shape give Ink one text to
// remember, however many different figures they show.

import {pathToFileURL} from 'node:url';
import {createRequire} from 'node:module';
import {dirname, join} from 'node:path';
import fc from 'fast-check';
import stringWidth from 'string-width';
import type {ReactElement, ReactNode} from 'react';
import {beforeAll, describe, expect, it} from 'vitest';

type Ink = typeof import('ink');
type Shaped = typeof import('../source/ui/components/shaped-text.js');

let ink: Ink;
let shaped: Shaped;
let squashTextNodes: (node: unknown) => string;

beforeAll(async () => {
	// Colours on, as in a terminal, before Ink's colour library reads the environment.
	process.env.FORCE_COLOR = '3';
	ink = await import('ink');
	shaped = await import('../source/ui/components/shaped-text.js');
	const inkBuild = dirname(createRequire(import.meta.url).resolve('ink'));
	({default: squashTextNodes} = await import(pathToFileURL(join(inkBuild, 'squash-text-nodes.js')).href));
});

/** What the terminal shows at `columns`: the text in a box of `width` cells. */
function drawn(element: ReactElement, width: number): string {
	return ink.renderToString(<ink.Box width={width}>{element}</ink.Box>, {columns: 200});
}

/** The same children drawn by Ink's own <Text> and by a ShapedText. */
function both(children: (T: Ink['Text']) => ReactNode, props: {wrap?: 'truncate-end' | 'wrap'; color?: string; bold?: boolean; inverse?: boolean}, width: number) {
	const {Text} = ink;
	const {wrap, ...style} = props;
	return {
		ink: drawn(<Text wrap={wrap} {...style}>{children(Text)}</Text>, width),
		shaped: drawn(<shaped.ShapedText {...style}>{children(Text)}</shaped.ShapedText>, width),
	};
}

const ANSI = /\u001B\[[\d;]*m/gu;
const plain = (text: string) => text.replace(ANSI, '');
const graphemes = new Intl.Segmenter(undefined, {granularity: 'grapheme'});

/** A line as terminal cells: a character in its first cell, '' in the others it covers. */
function cellsIn(line: string): string[] {
	const cells: string[] = [];
	let before = '';
	for (const {segment} of graphemes.segment(line)) {
		const width = stringWidth(segment);
		if (width > 0) {
			cells.push(before + segment, ...Array<string>(width - 1).fill(''));
			before = '';
		} else if (cells.length > 0) cells[cells.length - 1] += segment;
		else before += segment;
	}
	// Characters of no width in a line of nothing else are not drawn.
	return cells;
}

/** Cells drawn as a line: a character not wholly among them is a space in each of its cells there. */
function drawCells(cells: readonly string[]): string {
	return cells
		.map((cell, index) => {
			if (cell === '') return index === 0 || cells.slice(0, index).every(before => before === '') ? ' ' : '';
			const covered = cellsIn(cell).length;
			return cells.slice(index + 1, index + covered).filter(after => after === '').length === covered - 1 ? cell : ' '.repeat(Math.min(covered, cells.length - index));
		})
		.join('');
}

/** The oracle's cut: the cells that leave room for the ellipsis. */
function cutAt(text: string, width: number): string {
	const cells = cellsIn(text);
	return cells.length <= width ? text : `${drawCells(cells.slice(0, width - 1))}…`;
}

/**
 * The oracle's break: every line as wide as the widest, in rows of `width` cells; a row draws the
 * cells of its line in its span.
 */
function breakAt(text: string, width: number): string[] {
	const lines = text.split('\n').map(cellsIn);
	const widest = Math.max(...lines.map(cells => cells.length));
	const rows = Math.max(1, Math.ceil(widest / width));
	return lines.flatMap(cells => Array.from({length: rows}, (_, row) => drawCells(cells.slice(row * width, (row + 1) * width))));
}

/**
 * A ShapedText cut to a width draws the oracle's cut; and exactly Ink's where Ink's fits. Ink's
 * own cut can overhang the width by a cell (a wide character before the ellipsis), colours a
 * text cut down to its ellipsis alone, and writes out a text of nothing but invisible characters.
 */
function expectCut(shaped: string, ink: string, real: string, width: number, what: string) {
	// A terminal frame ends its lines at their last character drawn.
	expect(plain(shaped).trimEnd(), what).toBe(cutAt(real, width).trimEnd());
	if (stringWidth(ink) <= width && width > 1 && stringWidth(real) > 0) expect(shaped, what).toBe(ink);
}

const SAMPLES = [
	'plain ascii 12,345 requests',
	'模型 gpt-4o 中文名字',
	'emoji 👩‍👩‍👧 flags 🇯🇵 done',
	'accents é̀́ and combining a\u0301b\u0302',
	'  leading and trailing spaces  ',
	'xxx the stand-in character itself xxx',
	'a…b — dashes · dots',
	'',
];

describe('ShapedText draws what <Text> draws', () => {
	it('colours its output (the comparison is in colour)', () => {
		expect(drawn(<ink.Text color="green">ok</ink.Text>, 10)).toContain('\u001B[');
	});

	for (const sample of SAMPLES) {
		it(`at every width: ${JSON.stringify(sample)}`, () => {
			for (let width = 1; width <= 40; width++) {
				const out = both(() => sample, {wrap: 'truncate-end'}, width);
				expectCut(out.shaped, out.ink, sample, width, `width ${width}`);
			}
		});
	}

	it('nested styles, cut at every width', () => {
		const children = (Text: Ink['Text']) => (
			<>
				<Text bold>12,345</Text> requests · <Text color="red">97.5%</Text> ok · 模型{' '}
				<Text inverse>
					<Text color="cyan">deep</Text> nest
				</Text>
				{null}
				{false}
				{7}
			</>
		);
		for (let width = 1; width <= 60; width++) {
			for (const props of [{}, {color: 'yellow'}, {bold: true, inverse: true}]) {
				const out = both(children, {wrap: 'truncate-end', ...props}, width);
				expectCut(out.shaped, out.ink, '12,345 requests · 97.5% ok · 模型 deep nest7', width, `width ${width} ${JSON.stringify(props)}`);
			}
		}
	});

	const TABLE = ['name      requests  cost', '模型-a         1,234  $0.10', 'b 👩‍👩‍👧           12  $9.99', ''].join('\n');

	it('several lines that fit', () => {
		for (let width = 27; width <= 40; width++) {
			const out = both(() => TABLE, {wrap: 'wrap', inverse: true}, width);
			expect(out.shaped, `width ${width}`).toBe(out.ink);
		}
	});

	it('several lines too wide break at the width, every character kept in order', () => {
		for (let width = 2; width < 27; width++) {
			const {shaped: out} = both(() => TABLE, {wrap: 'wrap', inverse: true}, width);
			// Ink breaks between words; a ShapedText breaks at the width (its stand-in has no spaces),
			// each line taking the rows of the widest.
			expect(plain(out).split('\n').map(line => line.trimEnd()), `width ${width}`).toEqual(breakAt(TABLE, width).map(line => line.trimEnd()));
		}
	});

	it('any lines, any width (property)', () => {
		const lines = fc.array(fc.string({unit: 'grapheme', maxLength: 30}), {minLength: 2, maxLength: 4}).map(parts => parts.join('\n'));
		fc.assert(
			fc.property(lines, fc.integer({min: 1, max: 40}), (text, width) => {
				const {shaped: out} = both(() => text, {}, width);
				expect(plain(out).split('\n').map(line => line.trimEnd())).toEqual(breakAt(text, width).map(line => line.trimEnd()));
			}),
			{numRuns: 200},
		);
	});

	it('any text, any width (property)', () => {
		const anyText = fc.oneof(fc.string({unit: 'grapheme', maxLength: 40}), fc.string({unit: 'grapheme-ascii', maxLength: 40}));
		fc.assert(
			fc.property(anyText, anyText, fc.integer({min: 1, max: 50}), (first, second, width) => {
				const out = both(Text => (
					<>
						{first}
						<Text color="blue">{second}</Text>
					</>
				), {wrap: 'truncate-end'}, width);
				expectCut(out.shaped, out.ink, first + second, width, `width ${width}`);
			}),
			{numRuns: 300},
		);
	});

	it('a character split across strings', () => {
		for (const parts of [['☺', '\uFE0F', ' tail'], ['👍', '🏽', ' tail'], ['ab👍', '🏽', 'c']]) {
			for (let width = 1; width <= 12; width++) {
				const out = both(Text => parts.map((part, index) => <Text key={index}>{part}</Text>), {wrap: 'truncate-end'}, width);
				expectCut(out.shaped, out.ink, parts.join(''), width, `${JSON.stringify(parts)} width ${width}`);
			}
		}
	});

	it('a screen reader is read the text', async () => {
		const {renderInk} = await import('./support/render-ink.js');
		const screen = renderInk(
			<ink.Box flexDirection="column">
				<shaped.ShapedText color="red">
					shaped <ink.Text bold>456</ink.Text>
				</shaped.ShapedText>
			</ink.Box>,
			{columns: 40, rows: 5},
			{screenReader: true},
		);
		try {
			expect(plain(screen.lastFrame())).toContain('shaped 456');
		} finally {
			screen.unmount();
		}
	});

	it('holds only text', () => {
		const Custom = () => <ink.Text>hi</ink.Text>;
		expect(() => drawn(<shaped.ShapedText><Custom /></shaped.ShapedText>, 10)).toThrow(/strings and <Text> elements only/u);
	});
});

describe('what Ink measures', () => {
	/** The text Ink lays out for the first text node under a box: what it measures and remembers. */
	async function measuredText(element: ReactElement): Promise<string> {
		let box: {childNodes: unknown[]} | null = null;
		const {renderInk} = await import('./support/render-ink.js');
		const screen = renderInk(
			<ink.Box
				ref={(node: unknown) => {
					box = node as {childNodes: unknown[]};
				}}
			>
				{element}
			</ink.Box>,
			{columns: 80, rows: 5},
		);
		try {
			return squashTextNodes(box!.childNodes[0]);
		} finally {
			screen.unmount();
		}
	}

	it('is the same stand-in for texts of one shape, never the text', async () => {
		const line = (requests: string, cost: string) => (
			<shaped.ShapedText color="green">
				<ink.Text bold>{requests}</ink.Text> requests · cost {cost}
			</shaped.ShapedText>
		);
		const first = await measuredText(line('12,345', '$1.20'));
		const second = await measuredText(line('98,765', '$7.77'));
		expect(first).toBe(second);
		expect(first).not.toContain('12,345');
		// Lines of a table whose last column is free text: one shape, however long each line is.
		const table = (query: string) => <shaped.ShapedText>{['pid   query                         ', `101   ${query}`, '102   SELECT 1'].join('\n')}</shaped.ShapedText>;
		expect(await measuredText(table('SELECT * FROM logs'))).toBe(await measuredText(table('VACUUM')));
		// While Ink's own Text is measured by its text: a new entry for every new figure.
		const plain = await measuredText(<ink.Text>{'12,345 requests'}</ink.Text>);
		expect(plain).toContain('12,345');
	});
});

describe('shapes', () => {
	it('give wide characters two cells and accents none, every line as wide as the widest', () => {
		const shape = shaped.shapeOf(['a模e\u0301\nb', '!']);
		expect(shape.lines).toEqual([['a', '模', null, 'e\u0301'], ['b', '!']]);
		expect(shape.width).toBe(4);
		expect(shape.standIns).toEqual(['xxxx\nx', 'xxx']);
	});

	it('put a character of no width with the next in its line, at the end with the one before', () => {
		expect(shaped.shapeOf(['\u0301a\n模\u200b\n\u200b']).lines).toEqual([['\u0301a'], ['模\u200b', null], []]);
	});

	it('give a character split across strings to the one it starts in', () => {
		const shape = shaped.shapeOf(['☺', '\uFE0F', ' tail']);
		expect(shape.lines).toEqual([['☺\uFE0F', null, ' ', 't', 'a', 'i', 'l']]);
		expect(shape.standIns).toEqual(['xx', '', 'xxxxx']);
	});

	it('draw a wide character cut in half as a space, and nothing for a line\'s padding', () => {
		const wide = shaped.shapeOf(['模']);
		expect(shaped.inked('x…', wide, 0)).toEqual({drawn: ' …', next: 1});
		expect(shaped.inked('\u001B[1mxx\u001B[22m', wide, 0)).toEqual({drawn: '\u001B[1m模\u001B[22m', next: 2});
		const padded = shaped.shapeOf(['ab\nabcd']);
		expect(shaped.inked('xxxx', padded, 0)).toEqual({drawn: 'ab', next: 4});
		expect(shaped.inked('xxxx', padded, 4)).toEqual({drawn: 'abcd', next: 8});
	});
});
