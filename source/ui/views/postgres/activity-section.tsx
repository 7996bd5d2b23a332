import {Box} from 'ink';
import {thousands, truncate} from '../../../output/format.js';
import {terminalSafe} from '../../../output/terminal-safe.js';
import type {ActivitySnapshot} from '../../../postgres/monitor/activity-summary.js';
import {DataTable} from '../../components/data-table.js';
import {THEME, type Tone} from '../../theme.js';
import {activityColumns, activityRows, rowTone, type ActivityRow} from './activity-rows.js';
import {age, stateLabel, type LinePart} from './pg-format.js';
import {windowAround, type SectionNeed} from './section-layout.js';
import {PartsLine} from './server-header.js';
import {ShapedText} from '../../components/shaped-text.js';

// Sessions that are doing something or holding something: active, waiting, idle in a transaction,
// blockers and the xmin horizon's holder, with who blocks whom as a tree. The cursor selects one.

/** An idle-in-transaction horizon holder older than this is worth the warn colour. */
const HORIZON_WARN_S = 60;

export function activityTitleParts(activity: ActivitySnapshot, rows: readonly ActivityRow[], window: {start: number; end: number}): LinePart<Tone>[] {
	const waiting = rows.filter(row => (row.session?.blockedBy.length ?? 0) > 0).length;
	const parts: LinePart<Tone>[] = [{text: 'Sessions', priority: 0, bold: true}];
	if (rows.length > 0) parts.push({text: `${thousands(rows.length)} active, waiting or in a transaction`, priority: 3});
	if (waiting > 0) parts.push({text: `${waiting} blocked`, priority: 0, tone: 'warn'});
	const horizon = activity.xminHorizon;
	if (horizon !== null) {
		const how = [horizon.state === null ? null : stateLabel(horizon.state, null), horizon.xactAgeS === null ? null : age(horizon.xactAgeS), `${thousands(horizon.ageXids)} xids`].filter(item => item !== null);
		const tone: Tone | undefined = horizon.idleInTransaction && (horizon.xactAgeS ?? 0) >= HORIZON_WARN_S ? 'warn' : undefined;
		parts.push({text: `xmin horizon: pid ${horizon.pid} (${how.join(', ')})`, priority: 1, ...(tone === undefined ? {} : {tone})});
	}
	if (window.end - window.start < rows.length) parts.push({text: `rows ${window.start + 1}–${window.end} of ${rows.length}`, priority: 0});
	return parts;
}

const chromeOf = (activity: ActivitySnapshot, count: number): number => 1 + (activity.hint === null ? 0 : 1) + (count === 0 ? 0 : 1);

export function activityNeed(activity: ActivitySnapshot): Omit<SectionNeed, 'id' | 'priority'> {
	const count = activityRows(activity).length;
	const chrome = chromeOf(activity, count);
	const rows = Math.max(count, 1);
	return {min: chrome + Math.min(rows, 3), comfortable: chrome + Math.min(rows, 12), max: chrome + rows};
}

interface Props {
	readonly activity: ActivitySnapshot;
	readonly selected: number;
	readonly rows: number;
	readonly width: number;
}

export function ActivitySection({activity, selected, rows: height, width}: Props) {
	const rows = activityRows(activity);
	const cursor = Math.max(0, Math.min(rows.length - 1, selected));
	const window = windowAround(rows.length, cursor, Math.max(1, height - chromeOf(activity, rows.length)));
	return (
		<Box flexDirection="column">
			<PartsLine parts={activityTitleParts(activity, rows, window)} width={width} />
			{activity.hint === null ? null : <ShapedText color={THEME.warn}>{truncate(terminalSafe(activity.hint), width)}</ShapedText>}
			<DataTable
				columns={activityColumns(rows, width)}
				rows={rows.slice(window.start, window.end)}
				width={width}
				selected={cursor - window.start}
				tone={rowTone}
				empty="no session is active, waiting or in a transaction"
			/>
		</Box>
	);
}
