import type {Evidence, HealthCheck} from '../health/health-check.js';
import {exitCodeOf, type HealthReport} from '../health/health-report.js';

// `relaytop doctor --json`: snake case, numbers as numbers, as the snapshot's JSON. Extend it,
// don't rename it: scripts read it.

const evidenceJson = (evidence: Evidence): object => ({label: evidence.label, value: evidence.value, unit: evidence.unit ?? null});

const checkJson = (check: HealthCheck): object => ({
	id: check.id,
	group: check.group,
	title: check.title,
	status: check.status,
	summary: check.summary,
	evidence: check.evidence.map(evidenceJson),
	fix:
		check.fix === null
			? null
			: {kind: check.fix.kind, lines: check.fix.lines, note: check.fix.note, applicable: check.fix.action !== null},
});

export function healthJson(report: HealthReport): object {
	return {
		source: {kind: report.kind, target: report.target},
		status: report.status,
		exit_code: exitCodeOf(report),
		checked_at_ms: report.checkedAtMs,
		duration_ms: Math.round(report.durationMs),
		machine:
			report.machine === null
				? null
				: {ram_bytes: report.machine.ramBytes, ram_from: report.machine.ramFrom, cores: report.machine.cores, cores_from: report.machine.coresFrom},
		counts: report.counts,
		checks: report.checks.map(checkJson),
	};
}
