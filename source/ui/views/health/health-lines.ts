import stringWidth from 'string-width';
import {checkHeadline, SEVERITY_MARKS, WORST_FIRST, type FixKind, type HealthCheck, type Severity} from '../../../health/health-check.js';
import {orderChecks} from '../../../health/health-report.js';
import {loadCheck} from '../../../health/load-check.js';
import type {HealthResult} from '../../../health/postgres-health.js';
import type {MaintenanceAction} from '../../../maintenance/maintenance-service.js';
import {thousands, truncate} from '../../../output/format.js';
import {evidenceText} from '../../../output/health-text.js';
import {terminalSafe} from '../../../output/terminal-safe.js';
import {countingCost} from '../../../tokens/counting-cost.js';
import type {TokenizerThroughput} from '../../../tokens/tokenizer-throughput.js';
import type {Rate, SourceKind, Summary} from '../../../usage/types.js';
import type {Tone} from '../../theme.js';

// The Health view's text, as pure functions: which checks, in what order, under which headings;
// which of them fit the rows there are; what the selected one says. Every string that can come
// from the database goes through terminalSafe here, once more, whatever the checks already did.

export const SEVERITY_TONES: Readonly<Record<Severity, Tone>> = {critical: 'error', warning: 'warn', ok: 'ok'};
const HEADINGS: Readonly<Record<Severity, string>> = {critical: 'Critical', warning: 'Warnings', ok: 'OK'};

/**
 * The load check from the dashboard's own rate and summary and this machine's tokenizer speed;
 * null while any of them is still being read. A tokenizer that could not be measured gives the
 * check without the counting cost.
 */
export function loadCheckOf(
	rate: Rate | undefined,
	summary: Summary | undefined,
	tokenizer: {readonly data: TokenizerThroughput | undefined; readonly error: string | undefined} | undefined,
	kind: SourceKind,
): HealthCheck | null {
	if (rate === undefined || summary === undefined) return null;
	if (tokenizer?.data !== undefined) return loadCheck(rate, countingCost(rate, summary, tokenizer.data), kind);
	return tokenizer?.error === undefined ? null : loadCheck(rate, `the tokenizer could not be measured (${tokenizer.error})`, kind);
}

/** What the view lists, in its order: the store's checks and the load check, worst first. */
export function healthChecks(result: HealthResult | undefined, load: HealthCheck | null): HealthCheck[] {
	return orderChecks([...(result?.checks ?? []), ...(load === null ? [] : [load])]);
}

export type ListRow =
	| {readonly kind: 'heading'; readonly severity: Severity; readonly count: number}
	| {readonly kind: 'check'; readonly check: HealthCheck; readonly index: number};

/** A heading per severity present, each followed by its checks; `index` is the check's place in `checks`. */
export function listRows(checks: readonly HealthCheck[]): ListRow[] {
	const rows: ListRow[] = [];
	for (const severity of WORST_FIRST) {
		const entries = checks.map((check, index) => ({check, index})).filter(entry => entry.check.status === severity);
		if (entries.length === 0) continue;
		rows.push({kind: 'heading', severity, count: entries.length}, ...entries.map(entry => ({kind: 'check' as const, ...entry})));
	}
	return rows;
}

export const headingText = (severity: Severity, count: number): string => `${HEADINGS[severity]} · ${count}`;

/** One check on one line: cursor, mark, group, title and what was found, cut to the width. */
export function checkLineText(check: HealthCheck, selected: boolean, width: number): string {
	return truncate(`${selected ? '›' : ' '} ${terminalSafe(checkHeadline(check))}`, width);
}

/** The first of `total` rows to show in `rows`, so that row `focus` is on screen, as near the middle as the ends allow. */
export function windowStart(total: number, rows: number, focus: number): number {
	if (total <= rows || rows <= 0) return 0;
	return Math.max(0, Math.min(total - rows, focus - Math.floor((rows - 1) / 2)));
}

/**
 * Rows for the list and for the selected check's detail (its blank line included). Both whole
 * when they fit; else the list keeps at least half (and at least 3 rows), the detail the rest,
 * and a detail too short to say anything (a blank, the title and less than two lines) is left out.
 */
export function splitRows(available: number, listNeed: number, detailNeed: number): {readonly list: number; readonly detail: number} {
	const room = Math.max(0, available);
	if (listNeed + detailNeed <= room) return {list: listNeed, detail: detailNeed};
	const listFloor = Math.min(listNeed, Math.max(3, Math.ceil(room / 2)));
	const detail = Math.min(detailNeed, room - listFloor);
	if (detail < 4) return {list: Math.min(listNeed, room), detail: 0};
	return {list: Math.min(listNeed, room - detail), detail};
}

/** Breaks text into lines of at most `width` cells, at spaces where it can. */
export function wrapText(text: string, width: number): string[] {
	const limit = Math.max(1, width);
	const lines: string[] = [];
	let line = '';
	for (const word of text.split(' ')) {
		const candidate = line === '' ? word : `${line} ${word}`;
		if (stringWidth(candidate) <= limit) {
			line = candidate;
			continue;
		}
		if (line !== '') lines.push(line);
		// A word longer than a line is cut into pieces.
		let rest = word;
		while (stringWidth(rest) > limit) {
			let piece = '';
			for (const character of rest) {
				if (stringWidth(piece + character) > limit) break;
				piece += character;
			}
			lines.push(piece);
			rest = rest.slice(piece.length);
		}
		line = rest;
	}
	if (line !== '' || lines.length === 0) lines.push(line);
	return lines;
}

export interface DetailLine {
	readonly text: string;
	readonly tone?: Tone;
	readonly bold?: boolean;
}

/** Where a fix that relaytop does not run must be applied, and by whom: in the detail, and as F's notice. */
const BY_HAND: Readonly<Record<FixKind, {readonly detail: string; readonly notice: string}>> = {
	settings: {detail: 'by hand, as a superuser: ALTER SYSTEM, then a reload or a restart', notice: 'apply this fix by hand: ALTER SYSTEM needs a superuser, and some settings a restart'},
	environment: {detail: 'by hand, in the gateway’s environment, then restart it', notice: 'apply this fix by hand: it goes in the gateway’s environment, then restart the gateway'},
	advice: {detail: 'advice: nothing to run from here', notice: 'this is advice: there is no statement for relaytop to run'},
	sql: {detail: 'by hand: relaytop does not run this one', notice: 'apply this fix by hand: relaytop does not run it (see the note under it)'},
};

/** The notice for F on a check whose fix relaytop does not run. */
export function byHandNotice(check: HealthCheck): string {
	if (check.fix === null) return check.status === 'ok' ? 'this check is ok: nothing to apply' : 'no fix to apply from here for this check';
	return BY_HAND[check.fix.kind].notice;
}

/**
 * The selected check in full: title and status, what was found, the evidence, and the fix with
 * its note; whether F applies it (an action, and writes offered) or it is applied by hand.
 */
export function detailLines(check: HealthCheck, applyOffered: boolean, width: number): DetailLine[] {
	const inner = Math.max(10, width - 2);
	const indent = (texts: readonly string[], tone?: Tone): DetailLine[] => texts.map(text => ({text: `  ${text}`, ...(tone === undefined ? {} : {tone})}));
	const lines: DetailLine[] = [
		{text: truncate(`${SEVERITY_MARKS[check.status]} ${terminalSafe(check.title)} · ${check.status}`, width), tone: SEVERITY_TONES[check.status], bold: true},
		...indent(wrapText(terminalSafe(check.summary), inner)),
	];
	const evidence = check.evidence.filter(item => item.value !== null).map(item => `${terminalSafe(item.label)} ${terminalSafe(evidenceText(item))}`);
	if (evidence.length > 0) lines.push(...indent(wrapText(evidence.join(' · '), inner), 'muted'));
	const {fix} = check;
	if (fix === null) return lines;
	const how = fix.action === null ? BY_HAND[fix.kind].detail : applyOffered ? 'F applies it: y/N first, with the exact SQL' : 'by hand (writes are off: --read-only, or a target that takes none)';
	lines.push({text: truncate(`fix · ${how}`, width), tone: 'accent'});
	for (const line of fix.lines) lines.push(...indent(wrapText(terminalSafe(line), inner)));
	if (fix.note !== null) lines.push(...indent(wrapText(`(${terminalSafe(fix.note)})`, inner), 'muted'));
	return lines;
}

/** What `F` runs, in a few words: the job's label. */
export function fixLabel(action: MaintenanceAction): string {
	switch (action.kind) {
		case 'index':
			return `create ${terminalSafe(action.proposal.name)}`;
		case 'repair':
			return `repair INVALID ${terminalSafe(action.repair.index)}: ${action.option}`;
		case 'retention':
			return `delete ${thousands(action.plan.rows)} rows before ${action.plan.cutoffIso}`;
		case 'vacuum':
			return `vacuum ${terminalSafe(action.table)}`;
		case 'tableSettings':
			return `autovacuum settings of ${terminalSafe(action.table)}`;
		case 'terminate':
			return `terminate session ${action.target.pid}`;
	}
}
