import {Box, Text} from 'ink';
import type {ReactElement} from 'react';
import type {MaintenanceAction, MaintenanceOverview} from '../../maintenance/maintenance-service.js';
import {duration} from '../../output/maintenance-text.js';
import {bytes, thousands} from '../../output/format.js';
import {terminalSafe} from '../../output/terminal-safe.js';
import {ShapedText} from '../components/shaped-text.js';
import {THEME} from '../theme.js';
import type {MaintenanceView} from '../use-maintenance.js';

/** What `A` can apply: each index proposal, and each repair option of each INVALID index. */
export interface MaintenanceItem {
	readonly label: string;
	readonly sql: readonly string[];
	readonly action: MaintenanceAction;
}

export function maintenanceItems(overview: MaintenanceOverview | null): MaintenanceItem[] {
	const advice = overview?.advice;
	if (advice === null || advice === undefined) return [];
	return [
		...advice.proposals.map(proposal => ({
			label: `create ${proposal.name} (${proposal.need}) · about ${duration(proposal.estimateSeconds)}`,
			sql: [proposal.sql],
			action: {kind: 'index', proposal} as const,
		})),
		...advice.repairs.flatMap(repair =>
			repair.options.map(option => ({
				label: `repair INVALID ${repair.index}: ${option.kind}${option.kind === 'drop' ? '' : ` · about ${duration(repair.estimateSeconds)}`}`,
				sql: option.sql,
				action: {kind: 'repair', repair, option: option.kind} as const,
			})),
		),
	];
}

/** Days the panel's retention offers with < and >. */
export const KEEP_CHOICES = ['7d', '14d', '30d', '60d', '90d', '180d', '365d'] as const;

interface Props {
	readonly view: MaintenanceView;
	readonly selected: number;
	readonly writable: boolean;
	readonly width: number;
	readonly height: number;
}

const line = (text: string, color?: string, key?: string | number) => (
	<ShapedText key={key} color={color}>
		{terminalSafe(text)}
	</ShapedText>
);

export function MaintenancePanel({view, selected, writable, height}: Props) {
	const {overview} = view;
	const advice = overview?.advice ?? null;
	const plan = overview?.plan ?? null;
	const items = maintenanceItems(overview);
	const rows: ReactElement[] = [];
	const title = advice === null ? 'Maintenance' : `Maintenance · ${advice.table} · about ${thousands(advice.rows)} rows · ${bytes(advice.tableBytes)} data, ${bytes(advice.totalBytes)} with indexes`;
	rows.push(
		<ShapedText key="title" bold>
			{terminalSafe(title)}
			{view.loading ? <Text color={THEME.muted}> · reading…</Text> : null}
		</ShapedText>,
	);
	if (view.error !== null) rows.push(line(view.error, THEME.error, 'error'));
	rows.push(line('Indexes for the hot queries', THEME.accent, 'indexes'));
	if (overview?.adviceError) rows.push(line(`  ${overview.adviceError}`, THEME.error, 'advice-error'));
	for (const verdict of advice?.verdicts ?? []) {
		const tone = verdict.status === 'served' ? THEME.ok : verdict.status === 'building' ? THEME.warn : THEME.error;
		rows.push(line(`  ${verdict.need}: ${verdict.status}${verdict.servedBy.length > 0 ? ` by ${verdict.servedBy.join(', ')}` : ''}`, tone, `need-${verdict.need}`));
	}
	if (advice !== null && items.length === 0) rows.push(line('  nothing to build or repair', THEME.muted, 'none'));
	items.forEach((item, index) => {
		const chosen = index === Math.min(selected, items.length - 1);
		rows.push(
			<ShapedText key={`item-${index}`} inverse={chosen}>
				{terminalSafe(`${chosen ? '›' : ' '} ${item.label}`)}
			</ShapedText>,
		);
		if (chosen) item.sql.forEach((statement, at) => rows.push(line(`    ${statement}`, THEME.muted, `sql-${at}`)));
	});
	rows.push(line(`Retention · keep ${view.keep}`, THEME.accent, 'retention'));
	if (overview?.planError) rows.push(line(`  ${overview.planError}`, THEME.error, 'plan-error'));
	if (plan !== null) {
		const size = plan.approxBytes === null ? '' : `, about ${bytes(plan.approxBytes)}`;
		rows.push(line(`  ${thousands(plan.rows)} rows before ${plan.cutoffIso}${size}${plan.fts === null ? '' : ` (+${thousands(plan.fts.rows + plan.fts.orphans)} full-text rows)`}`, undefined, 'plan'));
	}
	if (view.job !== null) {
		const {label, line: progress, outcome} = view.job;
		rows.push(line(`Job · ${label}`, THEME.accent, 'job'));
		if (outcome === null) rows.push(line(`  ${progress ?? 'starting…'}`, THEME.warn, 'progress'));
		else for (const [at, text] of outcome.text.split('\n').entries()) rows.push(line(`  ${text}`, outcome.ok ? THEME.ok : THEME.error, `outcome-${at}`));
	}
	const keys = writable ? 'j/k select · A apply selected · D delete old rows · < > keep · x stop job · r reload · Esc close' : 'read-only: dry runs only · j/k select · < > keep · r reload · Esc close';
	return (
		<Box flexDirection="column">
			{rows.slice(0, Math.max(1, height - 1))}
			{line(keys, THEME.muted, 'keys')}
		</Box>
	);
}
