import {Box, Text} from 'ink';
import {thousands, truncate} from '../../../output/format.js';
import type {ActivitySession} from '../../../postgres/monitor/activity-summary.js';
import {THEME, type Tone} from '../../theme.js';
import {age, stateLabel, wrapText, type LinePart} from './pg-format.js';
import {PartsLine} from './server-header.js';
import {staleTag} from '../stale-tag.js';
import {ShapedText} from '../../components/shaped-text.js';

// Enter on a session: everything about it and its whole query text, wrapped; Esc goes back. The
// session keeps updating while it is listed; once it is gone, the text it had when opened stays.

export interface SessionDetailProps {
	readonly pid: number;
	/** The session in the latest sample, or null when it is no longer listed. */
	readonly session: ActivitySession | null;
	/** Sessions waiting behind it, directly or not. */
	readonly blocking: number;
	/** The query text when the detail was opened. */
	readonly openedText: string;
	/** track_activity_query_size: texts this long (in bytes) were cut by the server. */
	readonly querySizeLimit: number | null;
	/** When the sample on screen was read, once it is stale (stale-tag.tsx); absent while live. */
	readonly staleSince?: number;
	readonly width: number;
	readonly height: number;
}

/** What the session is doing: state, waits, who it waits on or blocks, its ages. */
export function doingParts(session: ActivitySession, blocking: number): LinePart<Tone>[] {
	const parts: LinePart<Tone>[] = [];
	const add = (text: string, priority: number, tone?: Tone) => parts.push({text, priority, ...(tone === undefined ? {} : {tone})});
	add(`state ${stateLabel(session.state, session.waitEventType)}`, 0);
	if (session.waitEventType !== null) add(`wait ${session.waitEventType}:${session.waitEvent ?? ''}`, 0);
	if (session.blockedBy.length > 0) add(`waits on pid ${session.blockedBy.join(', ')}`, 0, 'warn');
	if (blocking > 0) add(`blocks ${blocking}`, 0, 'error');
	if (session.holdsXminHorizon) add(`holds the xmin horizon (${thousands(Math.max(session.xminAgeXids ?? 0, session.xidAgeXids ?? 0))} xids)`, 0, 'warn');
	add(`xact ${age(session.xactAgeS)}`, 1);
	add(`query ${age(session.queryAgeS)}`, 1);
	return parts;
}

/** Who the session is: user, application, client, database, how long it has been connected. */
export function whoParts(session: ActivitySession): LinePart<Tone>[] {
	const parts: LinePart<Tone>[] = [
		{text: `user ${session.usename ?? '?'}`, priority: 0},
		{text: `app ${session.applicationName === null || session.applicationName === '' ? '(none)' : session.applicationName}`, priority: 0},
		{text: `client ${session.clientAddr ?? 'local'}`, priority: 1},
	];
	if (session.database !== null) parts.push({text: `db ${session.database}`, priority: 2});
	if (session.backendType !== null && session.backendType !== 'client backend') parts.push({text: session.backendType, priority: 0});
	parts.push({text: `connected ${age(session.backendAgeS)}`, priority: 3});
	return parts;
}

/** The text as it reads best: every line wrapped to the width; the server may have cut it. Pure. */
export function detailLines(text: string, width: number, querySizeLimit: number | null): {lines: string[]; cut: boolean} {
	const cut = querySizeLimit !== null && Buffer.byteLength(text, 'utf8') >= querySizeLimit - 1;
	return {lines: wrapText(text, width), cut};
}

export function SessionDetail({pid, session, blocking, openedText, querySizeLimit, staleSince, width, height}: SessionDetailProps) {
	const text = session?.query ?? openedText;
	const {lines, cut} = detailLines(text === '' ? '(no query text)' : text, width, querySizeLimit);
	const chrome = (session === null ? 3 : 4) + (cut ? 1 : 0);
	const room = Math.max(1, height - chrome);
	const shown = lines.length > room ? lines.slice(0, room - 1) : lines;
	return (
		<Box flexDirection="column">
			<ShapedText>
				<Text bold>Session {pid}</Text>
				{staleTag(staleSince)}
				<Text color={THEME.muted}>{truncate(' · full query · Esc back', Math.max(0, width - 8 - String(pid).length))}</Text>
			</ShapedText>
			{session === null ? (
				<Text color={THEME.muted}>{truncate('no longer active, waiting or in a transaction; its query as it was:', width)}</Text>
			) : (
				<>
					<PartsLine parts={whoParts(session)} width={width} />
					<PartsLine parts={doingParts(session, blocking)} width={width} />
				</>
			)}
			<Text> </Text>
			<ShapedText>{shown.join('\n')}</ShapedText>
			{lines.length > shown.length ? <ShapedText color={THEME.muted}>{`… ${lines.length - shown.length} more lines (a taller terminal shows them)`}</ShapedText> : null}
			{cut ? <ShapedText color={THEME.muted}>{truncate(`the server keeps the first ${thousands(querySizeLimit!)} bytes of a query (track_activity_query_size)`, width)}</ShapedText> : null}
		</Box>
	);
}
