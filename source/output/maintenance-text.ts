import type {IndexAdvice, IndexBuildProgress, IndexJobResult} from '../maintenance/index-advisor.js';
import type {RetentionStop} from '../maintenance/retention-batches.js';
import {retentionHasWork, type RetentionPlan, type RetentionProgress, type RetentionResult} from '../maintenance/retention-plan.js';
import {bytes, percent, thousands} from './format.js';
import {terminalSafe} from './terminal-safe.js';

// What `relaytop maintain` prints: the dry runs, live progress and outcomes, in plain text. Names
// come from the database, so every line goes through terminalSafe.

export function duration(seconds: number): string {
	if (seconds < 1) return '< 1 s';
	if (seconds < 90) return `${Math.round(seconds)} s`;
	if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
	return `${(seconds / 3600).toFixed(1)} h`;
}

const lines = (...parts: Array<string | false>): string => `${parts.filter((part): part is string => part !== false).map(terminalSafe).join('\n')}\n`;

export function adviceText(advice: IndexAdvice, apply: boolean): string {
	const table = advice.schema === null ? advice.table : `${advice.schema}.${advice.table}`;
	const out: string[] = [`${table}: about ${thousands(advice.rows)} rows, ${bytes(advice.tableBytes)} of data, ${bytes(advice.totalBytes)} with indexes`];
	for (const verdict of advice.verdicts) {
		const by = verdict.servedBy.length > 0 ? ` by ${verdict.servedBy.join(', ')}` : '';
		out.push(`  ${verdict.need}: ${verdict.status}${by}`);
	}
	for (const name of advice.building) out.push(`  being built now: ${name}`);
	if (advice.proposals.length === 0 && advice.repairs.length === 0) {
		out.push('nothing to do: every hot query has an index that serves it');
		return lines(...out);
	}
	for (const proposal of advice.proposals) {
		out.push('', `propose ${proposal.name} (${proposal.need}): ${proposal.reason}`, `  ${proposal.sql}`, `  build: about ${duration(proposal.estimateSeconds)}`);
	}
	for (const repair of advice.repairs) {
		out.push('', `repair ${repair.index}: ${repair.reason}`);
		for (const option of repair.options) out.push(`  ${option.kind}:`, ...option.sql.map(statement => `    ${statement}`));
	}
	out.push('', `estimates: ${advice.estimateBasis}`);
	if (!apply) out.push('dry run: nothing changed; --apply runs the statements above');
	return lines(...out);
}

export function indexProgressLine(index: string, progress: IndexBuildProgress): string {
	const share = (done: number | null, total: number | null) => (done === null || total === null || total === 0 ? null : percent(done / total));
	const parts = [progress.phase ?? 'starting', share(progress.blocksDone, progress.blocksTotal) ?? share(progress.tuplesDone, progress.tuplesTotal)];
	if (progress.currentLockerPid !== null && progress.currentLockerPid !== 0) parts.push(`waiting for pid ${progress.currentLockerPid}`);
	return terminalSafe(`${index}: ${parts.filter(part => part !== null).join(' · ')}`);
}

export function indexResultText(result: IndexJobResult): string {
	const head = `${result.index}: ${result.status}${result.valid ? ', valid' : ''} in ${duration(result.seconds)}`;
	return lines(
		head,
		result.error !== null && `  ${result.error}`,
		result.leftovers.length > 0 && `  left INVALID: ${result.leftovers.join(', ')} (run maintain indexes again to repair)`,
		result.dropped.length > 0 && `  dropped after the stop: ${result.dropped.join(', ')}`,
	);
}

export function planText(plan: RetentionPlan, apply: boolean): string {
	const size = plan.approxBytes === null ? 'size unknown' : `about ${bytes(plan.approxBytes)}`;
	return lines(
		`${plan.table}: ${thousands(plan.rows)} rows before ${plan.cutoffIso} (${plan.timeColumn} < ${plan.cutoffValue}), ${size}`,
		`  ${plan.bytesBasis}`,
		plan.fts !== null && `  full-text index: ${thousands(plan.fts.rows)} rows go with them, ${thousands(plan.fts.orphans)} orphans removed too`,
		plan.rows > 0 && `  ids ${plan.minId} to ${plan.maxId}, in batches; the statements it sends (each ? pair is a batch's id window):`,
		...(plan.rows > 0 ? plan.statements.map(statement => `    ${statement}`) : []),
		!apply && 'dry run: nothing changed; --apply deletes in batches (Ctrl-C stops after the batch in flight)',
		apply && !retentionHasWork(plan) && 'nothing to delete',
	);
}

export function retentionProgressLine(progress: RetentionProgress): string {
	const share = progress.total === 0 ? '' : ` (${percent(progress.deleted / progress.total)})`;
	switch (progress.phase) {
		case 'deleting':
			return `deleted ${thousands(progress.deleted)} of ${thousands(progress.total)} rows${share} · ${thousands(Math.round(progress.ratePerSecond))} rows/s · ${thousands(progress.batches)} batches`;
		case 'confirming':
			return `connection lost during a COMMIT · ${thousands(progress.deleted)} rows committed before it · waiting for the server to confirm that batch…`;
		default:
			return `${progress.phase}…`;
	}
}

/** What stopped the run: `PostgreSQL went away during the batch of ids 101–200 (Connection terminated unexpectedly)`. */
function stopCause(stop: RetentionStop): string {
	switch (stop.kind) {
		case 'lost':
			return `${stop.server} went away during ${stop.during} (${stop.detail})`;
		case 'locks':
			return `${stop.during} could not get its locks in ${stop.tries} ${stop.tries === 1 ? 'try' : 'tries'} (${stop.detail})`;
		case 'failed':
			return `${stop.during} failed: ${stop.detail}`;
	}
}

/** What a stopped run leaves: `12,000 rows deleted and committed`, and how many more are in doubt. */
function committedText(stop: RetentionStop): string {
	const rows = `${thousands(stop.deleted)} rows deleted and committed`;
	if (stop.deletesDone) return `the deletes are done (${rows})`;
	return stop.inDoubt > 0 ? `${rows}, ${thousands(stop.inDoubt)} more in doubt` : rows;
}

/** How the batch in flight ended, when the connection broke during one; null otherwise. */
function lastBatchText(stop: RetentionStop): string | null {
	switch (stop.inFlight?.outcome) {
		case undefined:
			return null;
		case 'committed':
			return 'the last batch confirmed committed after reconnecting';
		case 'rolled back':
			return `the batch in flight rolled back${stop.inFlight.confirmed ? ', confirmed after reconnecting' : ''}`;
		case 'unknown':
			return 'the batch in flight may have committed: the server could not be asked in time';
	}
}

/**
 * A run that stopped on an error, in one line for the CLI's error: what stopped it, exactly what
 * it committed, how the batch in flight ended, and how to resume.
 */
export function retentionStoppedMessage(stop: RetentionStop): string {
	const resume = stop.deletesDone ? 'run it again later' : `run again with --cutoff ${stop.cutoffIso} to resume`;
	const batch = lastBatchText(stop);
	return `retention stopped: ${stopCause(stop)}; ${committedText(stop)}${batch === null ? '' : ` (${batch})`}; ${resume}`;
}

const STOPPED: Record<RetentionStop['kind'], (stop: RetentionStop) => string> = {
	lost: stop => `stopped: ${stop.server} went away`,
	locks: () => 'stopped: its lock waits ran out',
	failed: () => 'stopped on an error',
};

/**
 * A run that stopped on an error, for the dashboard: what was committed and how to resume, in a
 * line short enough to show whole; then what stopped it, and how the batch in flight ended.
 */
export function retentionStoppedText(stop: RetentionStop, resume: string): string {
	const batch = lastBatchText(stop);
	return lines(`${STOPPED[stop.kind](stop)}; ${committedText(stop)}; ${stop.deletesDone ? 'run it again later' : resume}`, `  ${stopCause(stop)}${batch === null ? '' : `; ${batch}`}`);
}

/** `resume` says how to carry on after an interruption: the CLI's flag by default. */
export function retentionResultText(result: RetentionResult, resume = `resume with: --cutoff ${result.cutoffIso}`): string {
	const after = [result.vacuumed && 'vacuumed', result.analyzed && 'analyzed'].filter(Boolean).join(' and ');
	return lines(
		`${result.status === 'done' ? 'done' : 'interrupted'}: deleted ${thousands(result.deleted)} rows in ${thousands(result.batches)} batches, ${duration(result.elapsedMs / 1000)}${after === '' ? '' : `; ${after}`}`,
		result.ftsDeleted > 0 && `  full-text index rows removed: ${thousands(result.ftsDeleted)}`,
		result.retries > 0 && `  batches retried after a lock wait: ${result.retries}`,
		result.status === 'interrupted' && `  ${resume}`,
	);
}
