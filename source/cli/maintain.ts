import {adviseIndexes, applyProposal, repairIndex} from '../maintenance/index-maintenance.js';
import type {IndexJobResult, IndexRepairKind} from '../maintenance/index-advisor.js';
import {openMaintenanceTarget, type MaintenanceTarget} from '../maintenance/maintenance-target.js';
import {applyRetentionOn, indexTargetOf, planRetentionOn} from '../maintenance/maintenance-jobs.js';
import {RetentionStoppedError} from '../maintenance/retention-batches.js';
import {retentionHasWork, type RetentionProgress} from '../maintenance/retention-plan.js';
import {adviceText, indexProgressLine, indexResultText, planText, retentionProgressLine, retentionResultText} from '../output/maintenance-text.js';
import {terminalSafeJson} from '../output/json-snapshot.js';
import {InputError} from '../usage/input-error.js';
import {parsePositiveNumber} from '../usage/parse-options.js';
import type {ParsedFlags} from './flags.js';

// `relaytop maintain indexes|retention TARGET`: a dry run unless --apply; --read-only refuses
// --apply before anything is opened for writing. Ctrl-C stops a job at a safe point.

export const MAINTAIN_JOBS = ['indexes', 'retention'] as const;
export type MaintainJob = (typeof MAINTAIN_JOBS)[number];

export interface MaintainIo {
	readonly stdout: (text: string) => void;
	readonly stderr: (text: string) => void;
	readonly now: () => number;
}

/** 0 done (or dry run), 1 a job failed, 130 stopped by Ctrl-C (as a shell reports SIGINT). */
const EXIT_INTERRUPTED = 130;

const REPAIR_KINDS: Record<string, IndexRepairKind> = {rebuild: 'drop-and-rebuild', reindex: 'reindex'};

/** Flags that only one job reads: given to the other, they are a mistake worth saying. */
function checkFlags(job: MaintainJob, flags: ParsedFlags): void {
	const retentionOnly = {keep: flags.keep, cutoff: flags.cutoff, batch: flags.batch, vacuum: flags.vacuum};
	const indexesOnly = {repairWith: flags.repairWith};
	const wrong = Object.entries(job === 'indexes' ? retentionOnly : indexesOnly).find(([, value]) => value !== undefined);
	if (wrong !== undefined) {
		throw new InputError(`--${wrong[0].replace(/[A-Z]/gu, upper => `-${upper.toLowerCase()}`)} does not apply to maintain ${job}`);
	}
	if (flags.apply && flags.readOnly) {
		throw new InputError('--read-only refuses every write: drop --apply for a dry run, or --read-only to apply');
	}
	if (flags.repairWith !== undefined && REPAIR_KINDS[flags.repairWith] === undefined) {
		throw new InputError(`--repair-with takes rebuild or reindex, got ${JSON.stringify(flags.repairWith)}`);
	}
}

/** Ctrl-C (and SIGTERM) abort the job instead of ending the process mid-statement. */
function interruptible<T>(run: (signal: AbortSignal) => Promise<T>, io: MaintainIo): Promise<T> {
	const controller = new AbortController();
	const stop = () => {
		if (!controller.signal.aborted) io.stderr('relaytop: stopping at the next safe point…\n');
		controller.abort();
	};
	process.on('SIGINT', stop);
	process.on('SIGTERM', stop);
	return run(controller.signal).finally(() => {
		process.off('SIGINT', stop);
		process.off('SIGTERM', stop);
	});
}

/** At most one progress line a second: enough to watch, little enough for a log file. */
function throttled<P>(format: (progress: P) => string, io: MaintainIo): (progress: P) => void {
	let last = 0;
	return progress => {
		const now = io.now();
		if (now - last >= 1000) {
			last = now;
			io.stderr(`${format(progress)}\n`);
		}
	};
}

async function indexes(target: MaintenanceTarget, flags: ParsedFlags, io: MaintainIo): Promise<number> {
	const advice = await adviseIndexes(await indexTargetOf(target, false));
	io.stdout(flags.json && !flags.apply ? `${terminalSafeJson(advice)}\n` : adviceText(advice, flags.apply));
	if (!flags.apply) return 0;
	const write = await indexTargetOf(target, true);
	const kind = REPAIR_KINDS[flags.repairWith ?? 'rebuild']!;
	const results: IndexJobResult[] = [];
	const outcome = await interruptible(async signal => {
		for (const proposal of advice.proposals) {
			if (signal.aborted) break;
			results.push(await applyProposal(write, proposal, {signal, onProgress: throttled(progress => indexProgressLine(proposal.name, progress), io)}));
		}
		for (const repair of advice.repairs) {
			if (signal.aborted) break;
			const offered = repair.options.some(option => option.kind === kind) ? kind : repair.options[0]!.kind;
			results.push(await repairIndex(write, repair, offered, {signal, onProgress: throttled(progress => indexProgressLine(repair.index, progress), io)}));
		}
		return signal.aborted ? EXIT_INTERRUPTED : results.every(result => result.status === 'done') ? 0 : 1;
	}, io);
	io.stdout(flags.json ? `${terminalSafeJson({advice, results})}\n` : results.map(indexResultText).join(''));
	return outcome;
}

async function retention(target: MaintenanceTarget, flags: ParsedFlags, io: MaintainIo): Promise<number> {
	const choice = {keep: flags.keep, cutoff: flags.cutoff, nowMs: io.now(), ...(flags.vacuum === undefined ? {} : {vacuum: flags.vacuum})};
	const batchSize = flags.batch === undefined ? undefined : parsePositiveNumber('--batch', flags.batch);
	if (batchSize !== undefined && !Number.isSafeInteger(batchSize)) throw new InputError(`--batch takes a whole number of rows, got ${flags.batch}`);
	const onProgress = throttled((progress: RetentionProgress) => retentionProgressLine(progress), io);
	const plan = await planRetentionOn(target, choice);
	io.stdout(flags.json && !flags.apply ? `${terminalSafeJson(plan)}\n` : planText(plan, flags.apply));
	if (!flags.apply || !retentionHasWork(plan)) return 0;
	const result = await interruptible(signal => applyRetentionOn(target, plan, {batchSize, signal, onProgress}), io).catch((error: unknown) => {
		// A run stopped by an error (the server went away, lock waits ran out) says, on the error's one
		// line, exactly what it committed and how to resume; --json also gets it as an object.
		if (flags.json && error instanceof RetentionStoppedError) io.stdout(`${terminalSafeJson({status: 'stopped', message: error.message, ...error.stop})}\n`);
		throw error;
	});
	io.stdout(flags.json ? `${terminalSafeJson(result)}\n` : retentionResultText(result));
	return result.status === 'done' ? 0 : EXIT_INTERRUPTED;
}

export async function runMaintain(job: string | undefined, target: string | undefined, flags: ParsedFlags, io: MaintainIo): Promise<number> {
	if (job === undefined || !(MAINTAIN_JOBS as readonly string[]).includes(job)) {
		throw new InputError(`maintain takes ${MAINTAIN_JOBS.join(' or ')}, then the target: relaytop maintain indexes ./one-api.db`);
	}
	if (target === undefined) {
		throw new InputError(`maintain ${job} needs a target: a SQLite file or a postgres:// URL`);
	}
	checkFlags(job as MaintainJob, flags);
	const opened = await openMaintenanceTarget(target, {logsDb: flags.logsDb, finishInterruptedWrite: flags.apply});
	try {
		return job === 'indexes' ? await indexes(opened, flags, io) : await retention(opened, flags, io);
	} finally {
		await opened.close();
	}
}
