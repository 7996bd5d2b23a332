import {signalSqlShown, type SignalKind, type SignalOutcome} from '../../../postgres/backend-signal.js';
import type {Confirm, Notice} from '../../dashboard-state.js';
import type {ActivityRow} from './activity-rows.js';

// Cancel / terminate from the sessions table: the question asked, and the answer shown. Pure.

const idleInTransaction = (state: string | null): boolean => state === 'idle in transaction' || state === 'idle in transaction (aborted)';

/** The confirm for the session under the cursor, or a notice saying why there is none. */
export function signalConfirm(row: ActivityRow | undefined, kind: SignalKind): Confirm | Notice {
	const session = row?.session ?? null;
	if (row === undefined || session === null) {
		return {text: 'no session selected', tone: 'warn'};
	}
	const who = [session.usename, session.applicationName, session.clientAddr].filter(part => part !== null && part !== '').join(' · ');
	const target = {pid: session.pid, backendStart: session.backendStart, queryStart: session.queryStart};
	const blocking = row.blocking > 0 ? `, which blocks ${row.blocking}` : '';
	const note =
		kind === 'cancel' && idleInTransaction(session.state)
			? 'It is idle in a transaction: cancel does not end the transaction or free its locks; K terminates the session.'
			: kind === 'terminate'
				? 'Its open transaction is rolled back and the client loses its connection.'
				: null;
	return {
		title: `${kind === 'cancel' ? 'Cancel the query of' : 'Terminate'} pid ${session.pid}${who === '' ? '' : ` (${who})`}${blocking}? Sent only if it still runs what is on screen.`,
		sql: [signalSqlShown(kind, target)],
		note,
		request: {kind: 'signal', signal: kind, target},
	};
}

export function signalNotice(outcome: SignalOutcome, kind: SignalKind, pid: number): Notice {
	switch (outcome.kind) {
		case 'sent':
			return {text: kind === 'cancel' ? `pid ${pid}: query cancelled` : `pid ${pid}: session terminated`, tone: 'ok'};
		case 'gone':
			return {text: `pid ${pid} no longer runs what was on screen: nothing sent`, tone: 'warn'};
		case 'refused':
			return {text: `pid ${pid}: ${outcome.reason}`, tone: 'error'};
	}
}
