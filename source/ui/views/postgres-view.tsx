import {Box, Text} from 'ink';
import type {ReactNode} from 'react';
import {truncate} from '../../output/format.js';
import {terminalSafe} from '../../output/terminal-safe.js';
import type {PanelResult} from '../../postgres/monitor/panel-result.js';
import type {MonitorSnapshot} from '../../postgres/monitor/postgres-monitor.js';
import type {PanelState} from '../../poll/poll-scheduler.js';
import type {UsageSource} from '../../usage/types.js';
import type {Drill} from '../dashboard-state.js';
import {THEME} from '../theme.js';
import {activityRows} from './postgres/activity-rows.js';
import {ActivitySection, activityNeed} from './postgres/activity-section.js';
import {ConnectionGroups, groupsNeed} from './postgres/connection-groups.js';
import {LogsTableSection, logsNeed} from './postgres/logs-table-section.js';
import {progressCount, ProgressSection} from './postgres/progress-section.js';
import {allocateRows, type SectionNeed} from './postgres/section-layout.js';
import {PartsLine, serverParts, sessionParts} from './postgres/server-header.js';
import {SessionDetail} from './postgres/session-detail.js';
import {StatementsSection, statementsNeed} from './postgres/statements-section.js';
import {staleSince, staleTag, staleText} from './stale-tag.js';
import {UnavailableNotice, unavailableLines} from './postgres/unavailable-notice.js';
import {ShapedText} from '../components/shaped-text.js';

// The PostgreSQL view: the server under new-api's logs as an operator needs it during a CPU spike.
// Sections, top to bottom: the server and its sessions by state; sessions by application, user
// and client; active and waiting sessions with the blocking tree; running VACUUMs and index
// builds; top statements; the logs table and its indexes. Each gets rows by priority (see
// section-layout.ts); a panel the server cannot give says why and what to do, in its place.

const SOURCE_WITHOUT_SERVER: Record<UsageSource['kind'], string> = {
	'cpa-sqlite': "This source is CPA-Manager's SQLite store: there is no server to watch.",
	'cpa-http': "This source is CPA-Manager's HTTP API: there is no server to watch.",
	'newapi-sqlite': 'This source is a SQLite file: there is no server to watch.',
	'newapi-postgres': 'This source has no observer of its server.',
};

/** Where to attach a server, for sources without one. */
function AttachHint({kind}: {readonly kind: UsageSource['kind']}) {
	return (
		<Box flexDirection="column">
			<Text bold>PostgreSQL</Text>
			<Text>Sessions, blocking, top statements and table health show here</Text>
			<Text>when relaytop reads new-api&apos;s logs from a PostgreSQL server:</Text>
			<Text color={THEME.accent}>  relaytop postgres://user@host:5432/newapi</Text>
			<Text color={THEME.muted}>{SOURCE_WITHOUT_SERVER[kind]}</Text>
		</Box>
	);
}

const dataOf = <T,>(panel: PanelResult<T> | undefined): T | undefined => (panel?.status === 'ok' ? panel.data : undefined);

/** The server's clock at the sample, for ages of table maintenance. */
const serverNow = (snapshot: MonitorSnapshot): number => dataOf(snapshot.activity)?.sampledAtMs ?? dataOf(snapshot.database)?.sampledAtMs ?? Date.now();

interface Section {
	readonly need: SectionNeed;
	readonly render: (rows: number) => ReactNode;
}

type Content = {readonly need: Omit<SectionNeed, 'id' | 'priority'>; readonly render: (rows: number) => ReactNode};

/** A panel's section: its content when it has data (null: nothing to show), its notice when not, nothing when not asked. */
function sectionOf<T>(id: string, priority: number, panel: PanelResult<T> | undefined, title: string, width: number, ok: (data: T) => Content | null): Section | null {
	if (panel === undefined) return null;
	if (panel.status === 'unavailable') {
		const lines = unavailableLines(title, panel, width);
		return {need: {id, priority, min: 1, comfortable: lines.length, max: lines.length}, render: rows => <UnavailableNotice lines={unavailableLines(title, panel, width, rows)} />};
	}
	const content = ok(panel.data);
	return content === null ? null : {need: {id, priority, ...content.need}, render: content.render};
}

/** The server line with the stale mark right after the server's name, where the eye starts. */
function withStaleMark(parts: ReturnType<typeof serverParts>, since: number | undefined): ReturnType<typeof serverParts> {
	if (since === undefined) return parts;
	return [parts[0]!, {text: staleText(since), priority: 0, tone: 'warn'}, ...parts.slice(1)];
}

const SECTION_NAMES: Record<string, string> = {header: 'sessions', groups: 'connection groups', activity: 'sessions', progress: 'progress', statements: 'top statements', logs: 'logs table'};

interface Props {
	readonly kind: UsageSource['kind'];
	/** The source has a server to watch. */
	readonly attached: boolean;
	readonly panel: PanelState<MonitorSnapshot> | undefined;
	/** The cursor in the sessions table. */
	readonly selected: number;
	/** A session opened with Enter: key is its pid, label its query text when opened. */
	readonly drill: Drill | null;
	readonly width: number;
	readonly height: number;
}

export function PostgresView({kind, attached, panel, selected, drill, width, height}: Props) {
	// The sample on screen stays after a refresh fails (the server restarting, say), marked as such.
	const staleAt = staleSince([panel]);
	if (!attached) return <AttachHint kind={kind} />;
	const snapshot = panel?.data;
	if (snapshot === undefined) {
		return (
			<Box flexDirection="column">
				<Text bold>PostgreSQL</Text>
				{panel?.error === undefined ? (
					<Text color={THEME.muted}>reading the server…</Text>
				) : (
					<ShapedText color={THEME.error}>{truncate(terminalSafe(`cannot read the server: ${panel.error}`), width)}</ShapedText>
				)}
			</Box>
		);
	}
	if (snapshot.server.status === 'unavailable') {
		return (
			<Box flexDirection="column">
				<ShapedText>
					<Text bold>PostgreSQL</Text>
					{staleTag(staleAt)}
				</ShapedText>
				<UnavailableNotice lines={unavailableLines('server', snapshot.server, width, Math.max(1, height - 1))} />
			</Box>
		);
	}
	const server = snapshot.server.data;
	const activity = dataOf(snapshot.activity);

	if (drill !== null && drill.table === 'postgres') {
		const pid = Number(drill.key);
		const row = activity === undefined ? undefined : activityRows(activity).find(item => item.pid === pid);
		return (
			<SessionDetail
				pid={pid}
				session={row?.session ?? null}
				blocking={row?.blocking ?? 0}
				openedText={drill.label}
				querySizeLimit={server.trackActivityQuerySize}
				staleSince={staleAt}
				width={width}
				height={height}
			/>
		);
	}

	const connections = snapshot.connections;
	const header: Section = {
		need: {id: 'header', priority: 0, min: 1, comfortable: 2, max: connections?.status === 'unavailable' ? 1 + unavailableLines('sessions', connections, width).length : 2},
		render: rows => (
			<Box flexDirection="column">
				<PartsLine parts={withStaleMark(serverParts(server, connections, snapshot.database), staleAt)} width={width} />
				{rows < 2 ? null : connections?.status === 'ok' ? (
					<PartsLine parts={sessionParts(connections.data)} width={width} />
				) : connections?.status === 'unavailable' ? (
					<UnavailableNotice lines={unavailableLines('sessions', connections, width, rows - 1)} />
				) : null}
			</Box>
		),
	};
	const groups = connections?.status === 'ok' ? {need: {id: 'groups', priority: 5, ...groupsNeed(connections.data)}, render: (rows: number) => <ConnectionGroups connections={connections.data} rows={rows} width={width} />} : null;
	const sessions = sectionOf('activity', 1, snapshot.activity, 'sessions', width, data => ({
		need: activityNeed(data),
		render: rows => <ActivitySection activity={data} selected={selected} rows={rows} width={width} />,
	}));
	const progress = sectionOf('progress', 2, snapshot.progress, 'progress', width, data =>
		progressCount(data) === 0 ? null : {need: {min: 2, comfortable: 1 + progressCount(data), max: 1 + progressCount(data)}, render: rows => <ProgressSection progress={data} rows={rows} width={width} />},
	);
	const statements = sectionOf('statements', 3, snapshot.statements, 'top statements', width, data => ({
		need: statementsNeed(data),
		render: rows => <StatementsSection statements={data} rows={rows} width={width} />,
	}));
	const logsData = {tables: snapshot.tables, indexes: snapshot.indexes};
	const logs: Section | null =
		logsData.tables === undefined && logsData.indexes === undefined
			? null
			: {need: {id: 'logs', priority: 4, ...logsNeed(logsData, width)}, render: rows => <LogsTableSection {...logsData} rows={rows} width={width} nowMs={serverNow(snapshot)} />};

	// On screen in this order; rows by priority. Sections left out for lack of rows are named on the last line.
	const sections = [header, groups, sessions, progress, statements, logs].filter((section): section is Section => section !== null);
	const needs = sections.map(section => section.need);
	const whole = allocateRows(needs, height);
	const layout = whole.dropped.length === 0 ? whole : allocateRows(needs, height - 1);
	const shown = sections.filter(section => layout.rows.has(section.need.id));
	return (
		<Box flexDirection="column">
			{shown.map((section, index) => (
				<Box key={section.need.id} flexDirection="column" marginTop={layout.gaps && index > 0 ? 1 : 0} height={layout.rows.get(section.need.id)} overflowY="hidden">
					{section.render(layout.rows.get(section.need.id)!)}
				</Box>
			))}
			{layout.dropped.length === 0 ? null : (
				<ShapedText color={THEME.muted}>{truncate(`a taller terminal also shows: ${layout.dropped.map(id => SECTION_NAMES[id] ?? id).join(', ')}`, width)}</ShapedText>
			)}
		</Box>
	);
}
