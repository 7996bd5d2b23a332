import stringWidth from 'string-width';

const grouped = new Intl.NumberFormat('en-US', {maximumFractionDigits: 0});

/** 1234567 → "1,234,567". */
export const thousands = (value: number): string => grouped.format(value);

/** 950 → "950", 12345 → "12.3k", 4500000 → "4.5M". */
export function compact(value: number): string {
	const magnitude = Math.abs(value);
	for (const [limit, suffix] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) {
		if (magnitude >= limit) {
			const scaled = value / limit;
			return `${Math.abs(scaled) >= 100 ? scaled.toFixed(0) : scaled.toFixed(1)}${suffix}`;
		}
	}
	return String(Math.round(value));
}

/** Dollars with cents, or more digits for sub-cent amounts so they do not read as $0.00. */
export function usd(value: number): string {
	if (value > 0 && value < 0.0001) {
		return '<$0.0001';
	}
	if (value !== 0 && Math.abs(value) < 0.01) {
		return `$${value.toPrecision(2)}`;
	}
	if (Math.abs(value) >= 10_000) {
		return `$${compact(value)}`;
	}
	return `$${value.toFixed(2)}`;
}

export const percent = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;

export function milliseconds(value: number | null): string {
	if (value === null) {
		return '-';
	}
	return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

const pad2 = (value: number): string => String(value).padStart(2, '0');

/** Local time, to the second. */
export function localTime(ms: number): string {
	const d = new Date(ms);
	return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** A request's time in a log: the clock alone when it is from today, the day and minute otherwise. */
export function logTime(ms: number, nowMs: number = Date.now()): string {
	const full = localTime(ms);
	return full.slice(0, 10) === localTime(nowMs).slice(0, 10) ? full.slice(11) : full.slice(5, 16);
}

/** Local time without the year, for table rows under a header that has it. */
export function shortTime(ms: number): string {
	return localTime(ms).slice(5);
}

const graphemes = new Intl.Segmenter('en', {granularity: 'grapheme'});
// No cell holds more than this many UTF-16 units (a letter and its accents, an emoji sequence):
// what lies past that many per cell is cut unread, so no name costs more than its width to draw.
const UNITS_PER_CELL = 32;
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/u;

/**
 * Cuts text to `width` terminal cells (CJK counts as two), marking the cut with an ellipsis. It
 * cuts between whole characters as drawn (an emoji sequence, a letter and its accents), measures
 * each once and stops at the width.
 */
export function truncate(text: string, width: number): string {
	// Most cells already fit: one measure of the whole, by the same count as the cut below (an
	// escape sequence's characters are not hidden, so its own width is no way round the cut).
	if (text.length <= width && stringWidth(text, {countAnsiEscapeCodes: true}) <= width) {
		return text;
	}
	const limit = UNITS_PER_CELL * (width + 1);
	// A cut through a surrogate pair would leave half a character.
	const head = text.length > limit ? text.slice(0, limit).replace(/[\ud800-\udbff]$/u, '') : text;
	// Printable ASCII is a cell a character, each on its own: the cut is a slice.
	if (head.length > Math.max(width, 0) && PRINTABLE_ASCII.test(head)) {
		return `${head.slice(0, Math.max(0, width - 1))}…`;
	}
	let used = 0;
	let cut = 0;
	for (const {segment, index} of graphemes.segment(head)) {
		used += stringWidth(segment);
		if (used > width) {
			return `${head.slice(0, cut)}…`;
		}
		if (used <= width - 1) {
			cut = index + segment.length;
		}
	}
	return head === text ? text : `${head.slice(0, cut)}…`;
}

/** Pads or cuts to exactly `width` cells. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
	const cut = truncate(text, width);
	const gap = ' '.repeat(Math.max(0, width - stringWidth(cut)));
	return align === 'right' ? gap + cut : cut + gap;
}

const SIZE_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/** Bytes as pg_size_pretty writes them (1024 steps): 812 B, 15.3 MB, 1.2 GB. */
export function bytes(value: number | null): string {
	if (value === null) return '-';
	let scaled = value;
	let unit = 0;
	while (Math.abs(scaled) >= 1024 && unit < SIZE_UNITS.length - 1) {
		scaled /= 1024;
		unit++;
	}
	const digits = unit === 0 || Math.abs(scaled) >= 100 ? 0 : 1;
	return `${scaled.toFixed(digits)} ${SIZE_UNITS[unit]}`;
}
