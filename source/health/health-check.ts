import type {MaintenanceAction} from '../maintenance/maintenance-service.js';

// One finding of the health checks: the tuning checklist for small servers, as data that the
// `doctor` command prints and the Health view shows.

export const SEVERITIES = ['ok', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const HEALTH_GROUPS = ['connections', 'indexes', 'tables', 'settings', 'statements', 'load', 'sqlite'] as const;
export type HealthGroup = (typeof HEALTH_GROUPS)[number];

/** How a number of the evidence reads: the text output formats it, --json keeps the raw number. */
export type EvidenceUnit = 'bytes' | 'ms' | 's' | 'ratio' | 'count' | 'per-minute';

export interface Evidence {
	readonly label: string;
	readonly value: number | string | boolean | null;
	readonly unit?: EvidenceUnit;
}

/**
 * - sql: statements to run on the database;
 * - settings: ALTER SYSTEM lines (and the reload that applies them, when no restart is needed);
 * - environment: the gateway's environment variables;
 * - advice: what to do, where no single statement does it.
 */
export type FixKind = 'sql' | 'settings' | 'environment' | 'advice';

export interface HealthFix {
	readonly kind: FixKind;
	readonly lines: readonly string[];
	/** What the lines leave out: a restart, where a setting really comes from, what to try first. */
	readonly note: string | null;
	/** relaytop can run it, behind a y/N that shows `lines`. */
	readonly action: MaintenanceAction | null;
}

export interface HealthCheck {
	/** Stable: 'connections.usage', 'setting.work_mem', 'table.logs.dead_tuples', … */
	readonly id: string;
	readonly group: HealthGroup;
	readonly title: string;
	readonly status: Severity;
	/** One line: what was found. */
	readonly summary: string;
	readonly evidence: readonly Evidence[];
	/** Null when all is well, or when nothing can be done from here. */
	readonly fix: HealthFix | null;
}

export const severityRank = (severity: Severity): number => SEVERITIES.indexOf(severity);

/** Worst first: the order the text output and the Health view list severities in. */
export const WORST_FIRST: readonly Severity[] = [...SEVERITIES].reverse();

export const SEVERITY_MARKS: Readonly<Record<Severity, string>> = {critical: '✗', warning: '!', ok: '✓'};

/** The longest group name, 'connections'. */
const GROUP_COLUMN = Math.max(...HEALTH_GROUPS.map(group => group.length));

/** How a check reads on one line, in the text output and the Health view alike. */
export const checkHeadline = (check: HealthCheck): string => `${SEVERITY_MARKS[check.status]} ${check.group.padEnd(GROUP_COLUMN)} ${check.title}: ${check.summary}`;

export const worst = (severities: readonly Severity[]): Severity =>
	severities.reduce<Severity>((worstSoFar, severity) => (severityRank(severity) > severityRank(worstSoFar) ? severity : worstSoFar), 'ok');

export const fix = (kind: FixKind, lines: readonly string[], note: string | null = null, action: MaintenanceAction | null = null): HealthFix => ({kind, lines, note, action});
