import {thousands} from '../../../output/format.js';
import type {TextColumn} from '../../../output/text-table.js';
import type {ConnectionGroup, ConnectionsSummary} from '../../../postgres/monitor/connections-summary.js';
import {DataTable} from '../../components/data-table.js';
import type {Tone} from '../../theme.js';
import {cells} from './pg-format.js';
import type {SectionNeed} from './section-layout.js';

// Sessions per (application, user, client), most first, with their states: a pool of hundreds of
// idle gateway connections is one big row here.

const label = (value: string | null, none: string): string => (value === null || value === '' ? none : value);

const fitted = (title: string, values: readonly string[], max: number): number => Math.max(cells(title), Math.min(max, Math.max(0, ...values.map(cells))));

/** A group, or the last row standing for the groups that did not fit. */
type GroupRow = ConnectionGroup & {readonly more?: true};

export function groupColumns(groups: readonly ConnectionGroup[]): TextColumn<GroupRow>[] {
	const application = (group: GroupRow) => (group.more ? group.applicationName : label(group.applicationName, '(none)'));
	const user = (group: GroupRow) => (group.more ? '' : label(group.usename, '?'));
	const client = (group: GroupRow) => (group.more ? '' : label(group.clientAddr, 'local'));
	const count = (value: number) => (value === 0 ? '·' : thousands(value));
	const other = (group: ConnectionGroup) => group.byState.fastpathFunctionCall + group.byState.disabled + group.byState.unknown;
	return [
		{title: 'application', width: fitted('application', groups.map(application), 28), value: application},
		{title: 'user', width: fitted('user', groups.map(user), 16), drop: 2, value: user},
		{title: 'client', width: fitted('client', groups.map(client), 15), drop: 1, value: client},
		{title: 'sessions', width: 8, align: 'right', value: group => thousands(group.total)},
		{title: 'active', width: 6, align: 'right', value: group => count(group.byState.active)},
		{title: 'idle', width: 6, align: 'right', value: group => count(group.byState.idle)},
		{title: 'idle in xact', width: 12, align: 'right', value: group => count(group.byState.idleInTransaction + group.byState.idleInTransactionAborted)},
		{title: 'other', width: 5, align: 'right', drop: 3, value: group => count(other(group))},
	];
}

/** The header and at least the biggest group; comfortably five; at most twelve. */
export function groupsNeed(connections: ConnectionsSummary): Omit<SectionNeed, 'id' | 'priority'> {
	const count = connections.groups.length;
	return count === 0 ? {min: 1, comfortable: 1, max: 1} : {min: 2, comfortable: 1 + Math.min(count, 5), max: 1 + Math.min(count, 12)};
}

const groupTone = (group: ConnectionGroup): Tone | undefined => (group.byState.idleInTransaction + group.byState.idleInTransactionAborted > 0 ? 'warn' : undefined);

export function ConnectionGroups({connections, rows, width}: {readonly connections: ConnectionsSummary; readonly rows: number; readonly width: number}) {
	const shown = connections.groups.slice(0, Math.max(0, rows - 1));
	const more = connections.groups.length - shown.length;
	// The last row says how many groups did not fit, when some did not.
	const listed = more > 0 && shown.length > 1 ? shown.slice(0, -1) : shown;
	const hiddenGroups = connections.groups.length - listed.length;
	const columns = groupColumns(connections.groups);
	const summary: GroupRow | null =
		hiddenGroups > 0 && listed.length < shown.length
			? {
					more: true,
					applicationName: `+ ${hiddenGroups} more`,
					usename: '',
					clientAddr: '',
					total: connections.groups.slice(listed.length).reduce((sum, group) => sum + group.total, 0),
					byState: connections.groups.slice(listed.length).reduce(
						(sum, group) => ({
							active: sum.active + group.byState.active,
							idle: sum.idle + group.byState.idle,
							idleInTransaction: sum.idleInTransaction + group.byState.idleInTransaction,
							idleInTransactionAborted: sum.idleInTransactionAborted + group.byState.idleInTransactionAborted,
							fastpathFunctionCall: sum.fastpathFunctionCall + group.byState.fastpathFunctionCall,
							disabled: sum.disabled + group.byState.disabled,
							unknown: sum.unknown + group.byState.unknown,
						}),
						{active: 0, idle: 0, idleInTransaction: 0, idleInTransactionAborted: 0, fastpathFunctionCall: 0, disabled: 0, unknown: 0},
					),
				}
			: null;
	const table: GroupRow[] = summary === null ? [...listed] : [...listed, summary];
	return (
		<DataTable
			columns={columns}
			rows={table}
			width={width}
			tone={group => (group === summary ? 'muted' : groupTone(group))}
			empty="no client sessions besides relaytop's own"
		/>
	);
}
