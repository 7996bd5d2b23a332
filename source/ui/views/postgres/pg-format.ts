import stringWidth from 'string-width';
import {terminalSafe} from '../../../output/terminal-safe.js';

// Formatting for the PostgreSQL view: ages, session states and text that came from the
// server (queries, names), made one line or wrapped to the width. Pure.

/** A duration in seconds, short: 0.4s, 12s, 4m12s, 3h04m, 2d03h; '-' for none. */
export function age(seconds: number | null): string {
	if (seconds === null || !Number.isFinite(seconds)) return '-';
	const s = Math.max(0, seconds);
	if (s < 10) return `${s.toFixed(1)}s`;
	if (s < 60) return `${Math.floor(s)}s`;
	const pad = (value: number) => String(value).padStart(2, '0');
	if (s < 3600) return `${Math.floor(s / 60)}m${pad(Math.floor(s % 60))}s`;
	if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
	return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** How long ago an epoch-ms time was, against the server's clock: '3m12s ago', or 'never'. */
export const ago = (atMs: number | null, nowMs: number): string => (atMs === null ? 'never' : `${age((nowMs - atMs) / 1000)} ago`);

/** A rate: 0.25, 3.4, 12, 1.2k. */
export function perSecond(value: number | null): string {
	if (value === null) return '-';
	if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
	if (value >= 100) return value.toFixed(0);
	if (value >= 10) return value.toFixed(1);
	return value.toFixed(2);
}

/** Milliseconds, short: 0.05, 3.2, 120, 4.5k. */
export const ms = perSecond;

/** The state as the view names it: a session waiting on a heavyweight lock is 'waiting'. */
export function stateLabel(state: string | null, waitEventType: string | null): string {
	if (waitEventType === 'Lock' && state === 'active') return 'waiting';
	switch (state) {
		case null:
			return '?';
		case 'idle in transaction':
			return 'idle in xact';
		case 'idle in transaction (aborted)':
			return 'idle xact (abort)';
		case 'fastpath function call':
			return 'fastpath';
		default:
			return state;
	}
}

/** Text from the server on one line: every run of white space (line breaks, tabs) becomes one space. */
export const oneLine = (text: string): string => text.replace(/\s+/gu, ' ').trim();

/** Cells of `text` (CJK counts two). */
export const cells = (text: string): number => stringWidth(text);

/**
 * Text from the server made terminal-safe and wrapped to `width` cells: its own line breaks kept,
 * long lines broken at the last space that fits (or anywhere, for a word longer than the width).
 */
export function wrapText(text: string, width: number): string[] {
	const size = Math.max(1, width);
	const lines: string[] = [];
	for (const raw of text.replace(/\r\n?/gu, '\n').split('\n')) {
		let rest = terminalSafe(raw.replace(/\t/gu, '    ')).trimEnd();
		if (rest === '') {
			lines.push('');
			continue;
		}
		while (cells(rest) > size) {
			let cut = '';
			for (const character of rest) {
				if (cells(cut + character) > size) break;
				cut += character;
			}
			// A break right after the cut costs nothing; else the last space inside it; else anywhere.
			const space = rest[cut.length] === ' ' ? cut.length : cut.lastIndexOf(' ');
			const take = space > 0 ? cut.slice(0, space) : cut === '' ? [...rest][0]! : cut;
			lines.push(take);
			rest = rest.slice(take.length).replace(/^ /u, '');
		}
		lines.push(rest);
	}
	return lines;
}

/** A piece of a line that may be left out when the line is too narrow: the lowest priority goes first. */
export interface LinePart<Tone extends string = string> {
	readonly text: string;
	/** 0 is kept longest. */
	readonly priority: number;
	readonly tone?: Tone;
	readonly bold?: boolean;
}

export const SEPARATOR = ' · ';

/** The parts that fit `width` cells joined by SEPARATOR, in their order, dropping the least important first. */
export function fitParts<P extends {readonly text: string; readonly priority: number}>(parts: readonly P[], width: number): P[] {
	let kept = [...parts];
	const length = (items: readonly P[]) => items.reduce((sum, part) => sum + cells(part.text), 0) + cells(SEPARATOR) * Math.max(0, items.length - 1);
	// The least important first; of equal ones, the last on the line.
	const dropOrder = parts.map((part, index) => ({part, index})).sort((a, b) => b.part.priority - a.part.priority || b.index - a.index).map(({part}) => part);
	for (const part of dropOrder) {
		if (length(kept) <= width || kept.length === 1) break;
		kept = kept.filter(candidate => candidate !== part);
	}
	return kept;
}
