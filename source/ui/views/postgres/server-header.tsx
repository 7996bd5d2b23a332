import {Text} from 'ink';
import {bytes, percent, thousands, truncate} from '../../../output/format.js';
import {terminalSafe} from '../../../output/terminal-safe.js';
import type {ConnectionsSummary} from '../../../postgres/monitor/connections-summary.js';
import type {DatabaseStatsSnapshot} from '../../../postgres/monitor/database-stats.js';
import type {PanelResult} from '../../../postgres/monitor/panel-result.js';
import type {ServerInfo} from '../../../postgres/monitor/server-info.js';
import {THEME, type Tone} from '../../theme.js';
import {cells, fitParts, perSecond, SEPARATOR, type LinePart} from './pg-format.js';
import {ShapedText} from '../../components/shaped-text.js';

// The two lines at the top of the PostgreSQL view: the server and its load, then its sessions by
// state. Parts that do not fit the width are left out, least important first. Pure but for the
// component at the end.

type Part = LinePart<Tone>;

/** Above this share of max_connections the count turns to the warn colour; above the next, error. */
export const CONNECTIONS_WARN = 0.8;
const CONNECTIONS_ERROR = 0.95;

const toneOfRatio = (ratio: number): Tone | undefined => (ratio >= CONNECTIONS_ERROR ? 'error' : ratio > CONNECTIONS_WARN ? 'warn' : undefined);

/** '18.1 (Debian 18.1-1)' → '18.1'. */
const shortVersion = (version: string): string => version.split(' ')[0] ?? version;

const seconds = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value)}s`;

export function serverParts(server: ServerInfo, connections: PanelResult<ConnectionsSummary> | undefined, database: PanelResult<DatabaseStatsSnapshot> | undefined): Part[] {
	const parts: Part[] = [{text: `PostgreSQL ${shortVersion(server.version)}`, priority: 0, bold: true}];
	if (server.inRecovery) parts.push({text: 'standby (in recovery)', priority: 0, tone: 'warn'});
	parts.push({text: `db ${server.database}`, priority: 6});
	if (connections?.status === 'ok') {
		const {total, maxConnections, usedRatio} = connections.data;
		const tone = toneOfRatio(usedRatio);
		parts.push({text: `connections ${total}/${maxConnections} ${Math.round(usedRatio * 100)}%`, priority: 0, ...(tone === undefined ? {} : {tone})});
	}
	if (database?.status === 'ok') {
		const stats = database.data;
		const interval = stats.interval;
		parts.push({text: `TPS ${interval === null ? '…' : perSecond(interval.tps)}`, priority: 1});
		const hit = interval?.cacheHitRatio ?? stats.cacheHitRatio;
		if (hit !== null) parts.push({text: `cache hit ${percent(hit)}`, priority: 1, ...(hit < 0.95 ? {tone: 'warn' as const} : {})});
		if (interval === null) {
			parts.push({text: `temp files ${thousands(stats.counters.tempFiles)} since reset`, priority: 3});
			parts.push({text: `deadlocks ${thousands(stats.counters.deadlocks)} since reset`, priority: 3});
		} else {
			const span = `in ${seconds(interval.seconds)}`;
			const temp = interval.tempFiles > 0 ? `temp files ${thousands(interval.tempFiles)} (${bytes(interval.tempBytes)}) ${span}` : `temp files 0 ${span}`;
			// Quiet counters give way first; one that moved is news.
			parts.push({text: temp, ...(interval.tempFiles > 0 ? {priority: 1, tone: 'warn' as const} : {priority: 4})});
			parts.push({text: `deadlocks ${thousands(interval.deadlocks)} ${span}`, ...(interval.deadlocks > 0 ? {priority: 1, tone: 'error' as const} : {priority: 3})});
			parts.push({text: `rollbacks/s ${perSecond(interval.rollbacksPerS)}`, priority: 5});
			parts.push({text: `ins/upd/del/s ${perSecond(interval.tupInsertedPerS)}/${perSecond(interval.tupUpdatedPerS)}/${perSecond(interval.tupDeletedPerS)}`, priority: 7});
		}
	}
	if (!server.capabilities.seesAllSessions) parts.push({text: `role ${server.role} sees only its own sessions`, priority: 2, tone: 'warn'});
	return parts;
}

export function sessionParts(connections: ConnectionsSummary): Part[] {
	const {byState, total, maxConnections, waitingOnLock, hidden, otherBackends} = connections;
	const idleInTransaction = byState.idleInTransaction + byState.idleInTransactionAborted;
	const parts: Part[] = [
		{text: `sessions ${thousands(total)}`, priority: 0, bold: true},
		{text: `active ${thousands(byState.active)}`, priority: 0},
		// Half the slots held by idle sessions: a pool sized for another server.
		{text: `idle ${thousands(byState.idle)}`, priority: 0, ...(maxConnections > 0 && byState.idle >= maxConnections / 2 ? {tone: 'warn' as const} : {})},
		{text: `idle in xact ${thousands(idleInTransaction)}`, priority: 0, ...(idleInTransaction > 0 ? {tone: 'warn' as const} : {})},
		{text: `waiting on lock ${thousands(waitingOnLock)}`, priority: 0, ...(waitingOnLock > 0 ? {tone: 'warn' as const} : {})},
	];
	const rest = byState.fastpathFunctionCall + byState.disabled + byState.unknown;
	if (rest > 0) parts.push({text: `other ${thousands(rest)}`, priority: 2});
	if (hidden > 0) parts.push({text: `${thousands(hidden)} hidden from this role`, priority: 2, tone: 'warn'});
	const autovacuum = otherBackends.find(item => item.backendType === 'autovacuum worker')?.count ?? 0;
	if (autovacuum > 0) parts.push({text: `autovacuum workers ${autovacuum}`, priority: 1});
	const background = otherBackends.reduce((sum, item) => sum + item.count, 0) - autovacuum;
	if (background > 0) parts.push({text: `${thousands(background)} other background processes`, priority: 4});
	return parts;
}

/** One line of parts that fits `width`: the last kept part is cut if even it alone is too wide. */
export function PartsLine({parts, width}: {readonly parts: readonly Part[]; readonly width: number}) {
	const kept = fitParts(
		parts.map(part => ({...part, text: terminalSafe(part.text)})),
		width,
	);
	let left = width;
	return (
		<ShapedText>
			{kept.map((part, index) => {
				const separator = index === 0 ? '' : SEPARATOR;
				if (left <= cells(separator)) return null;
				const text = truncate(separator + part.text, Math.max(0, left));
				left -= cells(text);
				const body = text.slice(separator.length);
				return (
					<Text key={index}>
						{text.slice(0, separator.length)}
						<Text bold={part.bold === true} color={part.tone === undefined ? undefined : THEME[part.tone]}>
							{body}
						</Text>
					</Text>
				);
			})}
		</ShapedText>
	);
}
