import {Box, Text} from 'ink';
import type {ReactElement} from 'react';
import type {HealthCheck} from '../../health/health-check.js';
import type {HealthResult} from '../../health/postgres-health.js';
import {localTime, milliseconds, truncate} from '../../output/format.js';
import {terminalSafe} from '../../output/terminal-safe.js';
import type {PanelState} from '../../poll/poll-scheduler.js';
import {ShapedText} from '../components/shaped-text.js';
import {THEME} from '../theme.js';
import type {MaintenanceView} from '../use-maintenance.js';
import {machineSummary} from '../../health/machine-facts.js';
import {staleText} from './stale-tag.js';
import {checkLineText, detailLines, headingText, listRows, SEVERITY_TONES, splitRows, windowStart, type DetailLine} from './health/health-lines.js';

// The Health view: the tuning checklist for the store under the gateway, worst first, under a
// heading per severity; the selected check's evidence and fix below the list; F applies a fix
// relaytop can run (through the maintenance job, behind a y/N with its SQL).

interface Props {
	/** In the view's order (healthChecks): what the cursor moves over. */
	readonly checks: readonly HealthCheck[];
	/** The store's checks as polled; undefined without a maintenance service. */
	readonly panel: PanelState<HealthResult> | undefined;
	/** The target has a database relaytop can check (a SQLite file or a PostgreSQL server). */
	readonly checkable: boolean;
	/** The load check is still waiting for the rate, the summary or the tokenizer's speed. */
	readonly loadPending: boolean;
	readonly selected: number;
	/** F is offered: writes are on and the target takes them. */
	readonly writable: boolean;
	readonly job: MaintenanceView['job'];
	readonly running: boolean;
	/** When the checks and the load on screen were read, once they are stale (stale-tag.tsx); absent while live. */
	readonly staleSince?: number;
	readonly width: number;
	readonly height: number;
}

const line = (key: string, text: string, tone?: keyof typeof THEME, bold?: boolean): ReactElement => (
	<ShapedText key={key} color={tone === undefined ? undefined : THEME[tone]} bold={bold}>
		{text}
	</ShapedText>
);

/** The header: where the cursor is, what was judged against, when the checks were read and what that cost. */
function headerText(panel: PanelState<HealthResult> | undefined, checkable: boolean, selected: number, total: number): string {
	const parts = ['Health'];
	if (total > 0) parts.push(`${Math.min(selected, total - 1) + 1}/${total}`);
	const result = panel?.data;
	if (checkable && result !== undefined) parts.push(result.machine === null ? 'SQLite file: no server settings to judge' : machineSummary(result.machine));
	if (panel?.lastSuccessAt !== undefined) parts.push(`checked ${localTime(panel.lastSuccessAt).slice(11)} in ${milliseconds(panel.lastDurationMs ?? null)}`);
	if (panel?.loading === true && result !== undefined) parts.push('checking…');
	return parts.join(' · ');
}

function jobLines(job: MaintenanceView['job'], running: boolean, width: number): ReactElement[] {
	if (job === null) return [];
	const {label, line: progress, outcome} = job;
	const lines = [line('job', truncate(terminalSafe(`Job · ${label}${running ? ' · x stops it' : ''}`), width), 'accent')];
	if (outcome === null) lines.push(line('job-progress', truncate(terminalSafe(`  ${progress ?? 'starting…'}`), width), 'warn'));
	else for (const [at, text] of outcome.text.split('\n').entries()) lines.push(line(`job-outcome-${at}`, truncate(terminalSafe(`  ${text}`), width), outcome.ok ? 'ok' : 'error'));
	return lines;
}

export function HealthView({checks, panel, checkable, loadPending, selected, writable, job, running, staleSince, width, height}: Props) {
	const chosen = Math.max(0, Math.min(selected, checks.length - 1));
	const stale = staleSince === undefined ? '' : ` · ${staleText(staleSince)}`;
	const top: ReactElement[] = [
		<ShapedText key="header">
			<Text bold>{truncate(terminalSafe(headerText(panel, checkable, chosen, checks.length)), Math.max(10, width - stale.length))}</Text>
			<Text color={THEME.warn}>{stale}</Text>
		</ShapedText>,
		...jobLines(job, running, width),
	];
	if (!checkable) top.push(line('uncheckable', truncate('The database checks need a SQLite file or a postgres:// target; here only the gateway’s load is judged.', width), 'muted'));
	else if (panel?.error !== undefined && panel.data === undefined) top.push(line('error', truncate(terminalSafe(`cannot read the checks: ${panel.error}`), width), 'error'));
	else if (panel?.data === undefined) top.push(line('reading', 'reading the checks…', 'muted'));
	if (loadPending) top.push(line('load-pending', 'load: reading the request rate and the tokenizer’s speed…', 'muted'));

	const rows = listRows(checks);
	const current = checks[chosen];
	const detail: DetailLine[] = current === undefined ? [] : detailLines(current, writable && current.fix?.action !== null && current.fix?.action !== undefined, width);
	const split = splitRows(height - top.length, rows.length, detail.length === 0 ? 0 : detail.length + 1);
	const focus = rows.findIndex(row => row.kind === 'check' && row.index === chosen);
	const start = windowStart(rows.length, split.list, Math.max(0, focus));
	// A blank line, then the detail; cut short, its last row says so.
	const room = split.detail - 1;
	const shownDetail = room <= 0 ? [] : detail.length <= room ? detail : [...detail.slice(0, room - 1), {text: `… ${detail.length - room + 1} more lines: a taller terminal shows them`, tone: 'muted' as const}];

	return (
		<Box flexDirection="column">
			{top}
			{rows.slice(start, start + split.list).map(row => {
				if (row.kind === 'heading') return line(`heading-${row.severity}`, headingText(row.severity, row.count), SEVERITY_TONES[row.severity], true);
				// The cursor and the mark (3 cells), in the severity's colour; the rest plain.
				const text = checkLineText(row.check, row.index === chosen, width);
				return (
					<ShapedText key={`check-${row.index}`} inverse={row.index === chosen}>
						<Text color={THEME[SEVERITY_TONES[row.check.status]]}>{text.slice(0, 3)}</Text>
						{text.slice(3)}
					</ShapedText>
				);
			})}
			{shownDetail.length === 0 ? null : <Text key="gap"> </Text>}
			{shownDetail.map((entry, index) => line(`detail-${index}`, entry.text, entry.tone, entry.bold))}
		</Box>
	);
}
