import {HEALTH_GROUPS, severityRank, worst, type HealthCheck, type Severity} from './health-check.js';
import type {MachineFacts} from './machine-facts.js';

/** `relaytop doctor`'s exit codes: scripts tell "all is well" from "look now" from "no answer". */
export const DOCTOR_EXIT = {ok: 0, warning: 1, critical: 2, unreachable: 3, usage: 4} as const;

export interface HealthReport {
	/** The target as printed: passwords and keys redacted. */
	readonly target: string;
	readonly kind: string;
	readonly checkedAtMs: number;
	readonly durationMs: number;
	readonly machine: MachineFacts | null;
	readonly status: Severity;
	readonly counts: Readonly<Record<Severity, number>>;
	/** Worst first; within a severity, in checklist order (connections, indexes, tables, settings, …). */
	readonly checks: readonly HealthCheck[];
}

/** Worst first, then by group in checklist order, keeping each group's own order. */
export function orderChecks(checks: readonly HealthCheck[]): HealthCheck[] {
	return checks
		.map((check, position) => ({check, position}))
		.sort((a, b) => severityRank(b.check.status) - severityRank(a.check.status) || HEALTH_GROUPS.indexOf(a.check.group) - HEALTH_GROUPS.indexOf(b.check.group) || a.position - b.position)
		.map(({check}) => check);
}

export interface ReportParts {
	readonly target: string;
	readonly kind: string;
	readonly checkedAtMs: number;
	readonly durationMs: number;
	readonly machine: MachineFacts | null;
	readonly checks: readonly HealthCheck[];
}

export function healthReport(parts: ReportParts): HealthReport {
	const counts = {ok: 0, warning: 0, critical: 0};
	for (const check of parts.checks) counts[check.status] += 1;
	return {...parts, status: worst(parts.checks.map(check => check.status)), counts, checks: orderChecks(parts.checks)};
}

export const exitCodeOf = (report: HealthReport): number => DOCTOR_EXIT[report.status];
