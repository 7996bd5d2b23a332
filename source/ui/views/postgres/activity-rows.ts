import type {ActivitySession, ActivitySnapshot} from '../../../postgres/monitor/activity-summary.js';
import type {BlockingNode} from '../../../postgres/monitor/blocking-tree.js';
import type {TextColumn} from '../../../output/text-table.js';
import type {Tone} from '../../theme.js';
import {age, cells, oneLine, stateLabel} from './pg-format.js';

// The sessions table of the PostgreSQL view, in the order it is drawn: each blocking tree first,
// its root (the session holding the lock) and below it, indented, the sessions waiting on it; then
// every other session, oldest transaction first. The cursor counts these rows. Pure.

export interface ActivityRow {
	readonly pid: number;
	/** Null for a blocker the monitor cannot show (a prepared transaction, relaytop's own, or gone). */
	readonly session: ActivitySession | null;
	/** 0 outside a blocking tree and for its root; one more per level of waiting. */
	readonly depth: number;
	/** Distinct sessions waiting behind this one, directly or not. */
	readonly blocking: number;
}

export function activityRows(activity: ActivitySnapshot): ActivityRow[] {
	const byPid = new Map(activity.sessions.map(session => [session.pid, session]));
	const rows: ActivityRow[] = [];
	const shown = new Set<number>();
	// A session waiting on two blockers is drawn under the first; its note names both.
	const visit = (node: BlockingNode, depth: number): void => {
		if (shown.has(node.pid)) return;
		shown.add(node.pid);
		rows.push({pid: node.pid, session: byPid.get(node.pid) ?? null, depth, blocking: node.blockedTotal});
		for (const waiter of node.blocks) visit(waiter, depth + 1);
	};
	for (const root of activity.blockingTree) visit(root, 0);
	for (const session of activity.sessions) {
		if (!shown.has(session.pid)) rows.push({pid: session.pid, session, depth: 0, blocking: 0});
	}
	return rows;
}

/** The pid, indented under its blocker: `4242`, `└ 4250`, `  └ 4251`. */
export const treePid = (row: ActivityRow): string => (row.depth === 0 ? String(row.pid) : `${'  '.repeat(row.depth - 1)}└ ${row.pid}`);

/** Who blocks whom and who holds the xmin horizon, in words: the tree's indent is not the only sign. */
export function rowNote(row: ActivityRow): string {
	const notes: string[] = [];
	if (row.session === null) notes.push(row.pid === 0 ? 'prepared xact' : 'not listed');
	if (row.blocking > 0) notes.push(`blocks ${row.blocking}`);
	const waitsOn = row.session?.blockedBy ?? [];
	if (waitsOn.length > 0) notes.push(`waits ${waitsOn.join(',')}`);
	if (row.session?.holdsXminHorizon === true) notes.push('xmin horizon');
	return notes.join(' ');
}

const isIdleInTransaction = (session: ActivitySession): boolean => session.state === 'idle in transaction' || session.state === 'idle in transaction (aborted)';

export function rowTone(row: ActivityRow): Tone | undefined {
	if (row.blocking > 0) return 'error';
	if (row.session === null) return 'muted';
	if (row.session.waitEventType === 'Lock' || row.session.blockedBy.length > 0) return 'warn';
	if (row.session.holdsXminHorizon && isIdleInTransaction(row.session)) return 'warn';
	return undefined;
}

const waitOf = (session: ActivitySession | null): string =>
	session?.waitEventType === null || session?.waitEventType === undefined ? '' : `${session.waitEventType}:${session.waitEvent ?? ''}`;

/** A width that fits the title and every value, within bounds. */
const widthFor = (title: string, values: readonly string[], max: number, min = 1): number =>
	Math.max(min, Math.min(max, Math.max(cells(title), ...values.map(cells))));

const hidden = '<hidden>';

/** The columns for `width` cells, sized to the rows (all of them, so scrolling does not move columns). */
export function activityColumns(rows: readonly ActivityRow[], width: number): TextColumn<ActivityRow>[] {
	const text = (pick: (session: ActivitySession) => string | null) => (row: ActivityRow) =>
		row.session === null ? '' : row.session.visible ? (pick(row.session) ?? '') : hidden;
	const user = text(session => session.usename);
	const app = text(session => session.applicationName);
	const client = text(session => session.clientAddr ?? (session.backendType === 'client backend' ? 'local' : ''));
	const database = text(session => session.database);
	const state = (row: ActivityRow) => (row.session === null ? '' : stateLabel(row.session.state, row.session.waitEventType));
	const wait = (row: ActivityRow) => waitOf(row.session);
	const query = (row: ActivityRow) => {
		if (row.session === null) return '';
		if (!row.session.visible) return '<insufficient privilege>';
		const shown = row.session.query ?? '';
		return shown === '' && row.session.backendType !== 'client backend' && row.session.backendType !== null ? `(${row.session.backendType})` : oneLine(shown);
	};
	const databases = new Set(rows.map(row => row.session?.database ?? null).filter(name => name !== null));
	const columns: Array<TextColumn<ActivityRow> | null> = [
		{title: 'pid', width: widthFor('pid', rows.map(treePid), 16), value: treePid},
		databases.size > 1 ? {title: 'db', width: widthFor('db', rows.map(database), 16), drop: 6, value: database} : null,
		{title: 'user', width: widthFor('user', rows.map(user), 12), drop: 4, value: user},
		{title: 'app', width: widthFor('app', rows.map(app), 16), drop: 3, value: app},
		{title: 'client', width: widthFor('client', rows.map(client), 15), drop: 5, value: client},
		{title: 'state', width: widthFor('state', rows.map(state), 17), value: state},
		{title: 'wait', width: widthFor('wait', rows.map(wait), 22), drop: 2, value: wait},
		{title: 'xact age', width: 8, align: 'right', value: row => age(row.session?.xactAgeS ?? null)},
		{title: 'query age', width: 9, align: 'right', drop: 1, value: row => age(row.session?.queryAgeS ?? null)},
		{title: 'note', width: widthFor('note', rows.map(rowNote), 24), value: rowNote},
		// From 100 columns up, this much of the query stays: who and where give way first, then the wait.
		{title: 'query', min: width >= 100 ? 24 : 12, value: query},
	];
	return columns.filter((column): column is TextColumn<ActivityRow> => column !== null);
}
