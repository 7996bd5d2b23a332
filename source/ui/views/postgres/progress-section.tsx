import {Box, Text} from 'ink';
import {truncate} from '../../../output/format.js';
import {terminalSafe} from '../../../output/terminal-safe.js';
import type {CreateIndexProgress, ProgressSnapshot, VacuumProgress} from '../../../postgres/monitor/progress.js';
import {THEME} from '../../theme.js';
import {age} from './pg-format.js';
import {ShapedText} from '../../components/shaped-text.js';

// Running VACUUMs and index builds, one line each, with a bar, the phase, and for a build that
// waits, the session it waits for. Pure but for the component.

const BAR = 10;

/** `[####......]  42%`; `[ waiting  ]     ` in a phase that waits (its counters are the last phase's); blanks and ? when unknown. */
export function bar(percent: number | null, phase: string | null = null): string {
	if (phase?.startsWith('waiting') === true) return `[${' waiting'.padEnd(BAR)}]     `;
	if (percent === null) return `[${' '.repeat(BAR)}]    ?`;
	const done = Math.max(0, Math.min(BAR, Math.round((percent / 100) * BAR)));
	return `[${'#'.repeat(done)}${'.'.repeat(BAR - done)}] ${`${Math.floor(percent)}%`.padStart(4)}`;
}

export function vacuumLine(vacuum: VacuumProgress): {bar: string; text: string} {
	const what = vacuum.relation ?? (vacuum.database === null ? '?' : `a table of ${vacuum.database}`);
	const parts = [`${vacuum.autovacuum ? 'autovacuum' : 'VACUUM'} ${what}`, vacuum.phase ?? '?'];
	if (vacuum.vacuumedPct !== null && vacuum.heapBlksVacuumed !== null && vacuum.heapBlksVacuumed > 0) parts.push(`${Math.floor(vacuum.vacuumedPct)}% vacuumed`);
	if (vacuum.indexesTotal !== null && vacuum.indexesTotal > 0) parts.push(`indexes ${vacuum.indexesProcessed ?? 0}/${vacuum.indexesTotal}`);
	parts.push(`pid ${vacuum.pid}`, age(vacuum.xactAgeS));
	return {bar: bar(vacuum.scannedPct, vacuum.phase), text: parts.join(' · ')};
}

export function createIndexLine(build: CreateIndexProgress): {bar: string; text: string; waiting: boolean} {
	const parts = [`${build.command ?? 'CREATE INDEX'} ${build.index ?? '(new index)'}${build.relation === null ? '' : ` on ${build.relation}`}`, build.phase ?? '?'];
	if (build.lockersTotal !== null && build.lockersTotal > 0) parts.push(`lockers ${build.lockersDone ?? 0}/${build.lockersTotal}`);
	const waiting = build.currentLockerPid !== null;
	if (waiting) parts.push(`waiting for pid ${build.currentLockerPid}`);
	parts.push(`pid ${build.pid}`, age(build.xactAgeS));
	return {bar: bar(build.percent, build.phase), text: parts.join(' · '), waiting};
}

export const progressCount = (progress: ProgressSnapshot): number => progress.vacuums.length + progress.createIndexes.length;

export function ProgressSection({progress, rows, width}: {readonly progress: ProgressSnapshot; readonly rows: number; readonly width: number}) {
	const lines = [
		...progress.createIndexes.map(build => ({...createIndexLine(build), key: `i${build.pid}`})),
		...progress.vacuums.map(vacuum => ({...vacuumLine(vacuum), waiting: false, key: `v${vacuum.pid}`})),
	];
	const room = Math.max(0, rows - 1);
	return (
		<Box flexDirection="column">
			<ShapedText>
				<Text bold>In progress</Text>
				<Text color={THEME.muted}>{truncate(` · ${lines.length} running`, Math.max(0, width - 11))}</Text>
			</ShapedText>
			{lines.slice(0, room).map(line => (
				<ShapedText key={line.key}>
					<Text color={THEME.accent}>{line.bar}</Text>
					<Text color={line.waiting ? THEME.warn : undefined}>{truncate(terminalSafe(` ${line.text}`), Math.max(0, width - line.bar.length))}</Text>
				</ShapedText>
			))}
		</Box>
	);
}
