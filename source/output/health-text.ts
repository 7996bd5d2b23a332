import {checkHeadline, WORST_FIRST, type Evidence, type HealthCheck, type Severity} from '../health/health-check.js';
import type {HealthReport} from '../health/health-report.js';
import {machineSummary} from '../health/machine-facts.js';
import {bytes} from './format.js';
import {escapeControls} from './escape-controls.js';
import {terminalSafe} from './terminal-safe.js';

// `relaytop doctor` as text: worst first, each finding with its evidence and its fix; the checks
// that pass, one line each. Everything from the database goes through terminalSafe.

const HEADINGS: Record<Severity, string> = {critical: 'CRITICAL', warning: 'WARNINGS', ok: 'OK'};

/** An evidence value as read: sizes, ages, shares. */
export function evidenceText(evidence: Evidence): string {
	const {value, unit} = evidence;
	if (value === null) return '-';
	if (typeof value === 'boolean') return value ? 'yes' : 'no';
	if (typeof value === 'string') return terminalSafe(value);
	switch (unit) {
		case 'bytes':
			return bytes(value);
		case 'ratio':
			return `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;
		case 's':
			return value < 120 ? `${Math.round(value)} s` : value < 7200 ? `${Math.round(value / 60)} min` : `${(value / 3600).toFixed(1)} h`;
		case 'ms':
			return `${value.toFixed(0)} ms`;
		case 'per-minute':
			return `${Math.round(value)}/min`;
		default:
			return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/u, '');
	}
}

function checkLines(check: HealthCheck): string[] {
	// Not cut to the width: a pipe or a log keeps the whole finding; a terminal wraps it.
	const head = terminalSafe(`  ${checkHeadline(check)}`);
	if (check.status === 'ok') return [head];
	const lines = [head];
	const shown = check.evidence.filter(evidence => evidence.value !== null);
	if (shown.length > 0) lines.push(`      ${shown.map(evidence => `${terminalSafe(evidence.label)} ${evidenceText(evidence)}`).join(' · ')}`);
	if (check.fix !== null) {
		const [first, ...rest] = check.fix.lines.map(line => terminalSafe(line));
		lines.push(`      fix: ${first ?? ''}`, ...rest.map(line => `           ${line}`));
		if (check.fix.note !== null) lines.push(`           (${terminalSafe(check.fix.note)})`);
		if (check.fix.action !== null) lines.push('           relaytop applies it from the Health view (key 6, then F)');
	}
	return lines;
}

export function healthText(report: HealthReport): string {
	const counts = `${report.counts.critical} critical, ${report.counts.warning} warning${report.counts.warning === 1 ? '' : 's'}, ${report.counts.ok} ok`;
	const lines = [`relaytop doctor · ${report.kind} ${escapeControls(report.target)} · ${counts} · ${Math.round(report.durationMs)} ms`];
	if (report.machine !== null) lines.push(machineSummary(report.machine));
	for (const severity of WORST_FIRST) {
		const checks = report.checks.filter(check => check.status === severity);
		if (checks.length === 0) continue;
		lines.push('', HEADINGS[severity], ...checks.flatMap(check => checkLines(check)));
	}
	return `${lines.join('\n')}\n`;
}
