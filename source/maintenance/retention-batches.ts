import {setImmediate as nextTurn, setTimeout as sleep} from 'node:timers/promises';
import {InputError} from '../usage/input-error.js';
import type {ApplyRetentionOptions, RetentionPhase, RetentionPlan, RetentionResult} from './retention-plan.js';

// The engine-independent part of a retention run: id windows, lock retries, interruption,
// progress, and the VACUUM / ANALYZE steps after the deletes.

export const DEFAULT_BATCH_SIZE = 5000;
const DEFAULT_LOCK_RETRIES = 3;
const DEFAULT_RETRY_BACKOFF_MS = 500;

/** A statement run once the deletes are done. */
export interface AfterStep {
	readonly phase: Exclude<RetentionPhase, 'deleting' | 'done'>;
	/** The statement, for an error message. */
	readonly statement: string;
	readonly vacuums: boolean;
	readonly analyzes: boolean;
	run(): Promise<void>;
}

/** What one engine and store does; runRetention drives it. */
export interface RetentionEngine {
	/** The first and last id the windows cover; null when nothing is to be deleted. */
	readonly range: {readonly first: number; readonly last: number} | null;
	/** Deletes the old rows with lo ≤ id < hi in one transaction: all of them or, on an error, none. */
	deleteWindow(lo: number, hi: number): Promise<{deleted: number; ftsDeleted: number}>;
	/** The smallest id ≥ from (and ≤ range.last) with something to delete, so empty windows cost nothing. */
	nextId(from: number): Promise<number | null>;
	/** A lock wait that timed out (lock_timeout, SQLite busy): worth trying again. */
	isLockFailure(error: unknown): boolean;
	readonly after: readonly AfterStep[];
	/** Set where a writer's lock request does not queue (SQLite): see WriterPacing. */
	readonly pacing?: WriterPacing;
}

/**
 * SQLite grants its write lock to whoever asks when it is free: a waiting writer polls (its busy
 * handler sleeps up to 100 ms between tries) and a loop that takes the lock again at once starves it
 * past its timeout (measured: 5 s waits and failed inserts, bench/results/maintenance.txt). So each
 * transaction is kept near `targetBatchMs` by resizing the id window, and the lock is then left free
 * for longer than a writer that started waiting during it sleeps before its next try: SQLite's
 * sleeps grow with the wait (1, 2, 5, 10 … ms, at most 100), staying under twice the time waited plus
 * a few ms, so a short batch needs only a short gap.
 */
export interface WriterPacing {
	readonly targetBatchMs: number;
	/** The first window: small, since how long a batch takes is unknown until one has run. */
	readonly firstWindow: number;
	/** The longest gap: more than the busy handler's longest sleep. */
	readonly maxGapMs: number;
}

/** The free time after a batch of `tookMs` that a writer waiting since its start is sure to catch. */
export const writerGap = (tookMs: number, pacing: WriterPacing): number => Math.min(pacing.maxGapMs, Math.ceil(2 * tookMs) + 5);

/** The next id window: shrunk in proportion when a batch ran over the target, doubled (up to `max`) when well under. */
export function nextWindow(window: number, tookMs: number, targetMs: number, max: number): number {
	if (tookMs > targetMs) return Math.max(1, Math.floor((window * targetMs) / tookMs));
	if (tookMs < targetMs / 2) return Math.min(max, window * 2);
	return window;
}

/** The run stopped on an error. Whatever was deleted stays deleted; a rerun with `cutoffIso` resumes. */
export class RetentionStoppedError extends Error {
	override readonly name = 'RetentionStoppedError';
	constructor(
		message: string,
		readonly deleted: number,
		readonly cutoffIso: string,
		options: {cause: unknown},
	) {
		super(message, options);
	}
}

/** The signal fired while waiting to retry. */
class Interrupted extends Error {}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
	try {
		// Even without a pause, give the event loop a turn: better-sqlite3 never does, and a SIGINT
		// handler or a worker message must get the chance to fire the signal.
		await (ms > 0 ? sleep(ms, undefined, {signal}) : nextTurn(undefined, {signal}));
	} catch (error) {
		if (signal?.aborted !== true) {
			throw error;
		}
	}
}

function positiveInteger(name: string, value: number): number {
	if (!Number.isSafeInteger(value) || value < 1) {
		throw new InputError(`${name} must be a positive whole number, not ${value}`);
	}
	return value;
}

export async function runRetention(plan: RetentionPlan, engine: RetentionEngine, options: ApplyRetentionOptions = {}): Promise<RetentionResult> {
	const batchSize = positiveInteger('--batch', options.batchSize ?? DEFAULT_BATCH_SIZE);
	const lockRetries = options.lockRetries ?? DEFAULT_LOCK_RETRIES;
	const backoffMs = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
	const {signal} = options;
	const aborted = () => signal?.aborted === true;
	const started = performance.now();
	let deleted = 0;
	let ftsDeleted = 0;
	let batches = 0;
	let retries = 0;
	let lastId: number | null = null;
	let vacuumed = false;
	let analyzed = false;

	/** Time spent deleting: the rate stays the deletes' own during VACUUM and ANALYZE. */
	let deletingMs = 0;
	const elapsedMs = () => Math.round(performance.now() - started);
	const report = (phase: RetentionPhase) => {
		const ratePerSecond = deletingMs > 0 ? (deleted * 1000) / deletingMs : 0;
		options.onProgress?.({phase, deleted, total: plan.rows, batches, ratePerSecond, elapsedMs: elapsedMs(), lastId});
	};
	const result = (status: RetentionResult['status']): RetentionResult => ({
		status, cutoffMs: plan.cutoffMs, cutoffIso: plan.cutoffIso, deleted, ftsDeleted, batches, retries, elapsedMs: elapsedMs(), lastId, vacuumed, analyzed,
	});
	const stopped = (what: string, error: unknown, tries: number, deletesDone: boolean) => {
		const reason = engine.isLockFailure(error)
			? `could not get its locks in ${tries} ${tries === 1 ? 'try' : 'tries'} (${(error as Error).message})`
			: `failed: ${(error as Error).message}`;
		const after = deletesDone
			? `the deletes are done (${deleted} rows); run it again later`
			: `${deleted} rows deleted so far stay deleted; run again with --cutoff ${plan.cutoffIso} to resume`;
		return new RetentionStoppedError(`retention stopped: ${what} ${reason}; ${after}`, deleted, plan.cutoffIso, {cause: error});
	};
	const retrying = async <T>(what: string, deletesDone: boolean, work: () => Promise<T>): Promise<T> => {
		for (let attempt = 0; ; attempt++) {
			try {
				return await work();
			} catch (error) {
				if (!engine.isLockFailure(error) || attempt >= lockRetries) {
					throw stopped(what, error, attempt + 1, deletesDone);
				}
				retries++;
				await pause(backoffMs * 2 ** attempt, signal);
				if (aborted()) {
					throw new Interrupted();
				}
			}
		}
	};

	try {
		const range = engine.range;
		let lo = range?.first ?? null;
		let window = engine.pacing === undefined ? batchSize : Math.min(batchSize, engine.pacing.firstWindow);
		while (range !== null && lo !== null) {
			if (aborted()) {
				return result('interrupted');
			}
			const from = lo;
			const hi = Math.min(from + window, range.last + 1);
			const batchStarted = performance.now();
			const done = await retrying(`the batch of ids ${from}–${hi - 1}`, false, () => engine.deleteWindow(from, hi));
			const {pacing} = engine;
			const tookMs = performance.now() - batchStarted;
			if (pacing !== undefined) window = nextWindow(window, tookMs, pacing.targetBatchMs, batchSize);
			deleted += done.deleted;
			ftsDeleted += done.ftsDeleted;
			batches++;
			lastId = hi - 1;
			deletingMs = performance.now() - started;
			report('deleting');
			await pause(Math.max(options.pauseMs ?? 0, pacing === undefined ? 0 : writerGap(tookMs, pacing)), signal);
			lo = hi > range.last || aborted() ? null : await retrying(`the lookup of the next id from ${hi}`, false, () => engine.nextId(hi));
		}
		for (const step of engine.after) {
			if (aborted()) {
				return result('interrupted');
			}
			report(step.phase);
			await retrying(step.statement, true, () => step.run());
			vacuumed ||= step.vacuums;
			analyzed ||= step.analyzes;
		}
	} catch (error) {
		if (error instanceof Interrupted) {
			return result('interrupted');
		}
		throw error;
	}
	if (aborted()) {
		return result('interrupted');
	}
	report('done');
	return result('done');
}
