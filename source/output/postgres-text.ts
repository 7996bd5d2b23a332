import type {PanelResult} from '../postgres/monitor/panel-result.js';
import type {MonitorSnapshot} from '../postgres/monitor/postgres-monitor.js';
import {bytes, percent, thousands} from './format.js';
import {terminalSafe} from './terminal-safe.js';

// The --once frame's PostgreSQL block: the few lines an on-call check reads first. The full
// picture is the Postgres view and the JSON's postgres section.

/** A panel's lines, or its reason and fix in one line when the server would not give it. */
function section<T>(name: string, result: PanelResult<T> | undefined, lines: (data: T) => string[]): string[] {
	if (result === undefined) {
		return [];
	}
	return result.status === 'ok' ? lines(result.data) : [`${name}: ${terminalSafe(result.message)} → ${terminalSafe(result.hint)}`];
}

export function postgresText(snapshot: MonitorSnapshot): string[] {
	return [
		'POSTGRESQL',
		...section('server', snapshot.server, server => [`${terminalSafe(server.version.split(' ')[0] ?? server.version)} · database ${terminalSafe(server.database)} · role ${terminalSafe(server.role)}`]),
		...section('connections', snapshot.connections, connections => {
			const {byState} = connections;
			const busiest = connections.byApplication[0];
			return [
				[
					`connections ${thousands(connections.total)}/${thousands(connections.maxConnections)} (${percent(connections.usedRatio)})`,
					`active ${thousands(byState.active)}`,
					`idle ${thousands(byState.idle)}`,
					`idle in transaction ${thousands(byState.idleInTransaction + byState.idleInTransactionAborted)}`,
					`waiting on a lock ${thousands(connections.waitingOnLock)}`,
					...(busiest === undefined ? [] : [`most from ${terminalSafe(busiest.applicationName || '(no name)')} (${thousands(busiest.total)})`]),
				].join(' · '),
			];
		}),
		...section('activity', snapshot.activity, activity => {
			const blocked = activity.sessions.filter(session => session.blockedBy.length > 0).length;
			const horizon = activity.xminHorizon;
			return [
				[
					`${thousands(blocked)} session${blocked === 1 ? '' : 's'} blocked`,
					horizon === null ? 'no session holds back the xmin horizon' : `xmin horizon held by pid ${horizon.pid} (${thousands(horizon.ageXids)} transactions${horizon.idleInTransaction ? ', idle in transaction' : ''})`,
				].join(' · '),
			];
		}),
		...section('logs table', snapshot.tables, tables => {
			const table = tables.table;
			if (table === null) {
				return [`no table ${terminalSafe(tables.requested)}`];
			}
			const size = table.sizeBytes === null ? 'size unknown (locked)' : bytes(table.sizeBytes);
			const dead = table.deadRatio === null ? '' : ` (${percent(table.deadRatio)})`;
			return [`${terminalSafe(table.qualifiedName)} · ${size} · ${thousands(table.nLiveTup)} live · ${thousands(table.nDeadTup)} dead${dead}`];
		}),
		...section('indexes', snapshot.indexes, indexes => indexes.needs.map(need => `${need.status === 'served' ? 'served' : need.status.toUpperCase()}: ${terminalSafe(need.need)}${need.servedBy.length === 0 ? '' : ` by ${need.servedBy.map(terminalSafe).join(', ')}`}`)),
	];
}
