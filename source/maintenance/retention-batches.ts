import {setImmediate as nextTurn, setTimeout as sleep} from 'node:timers/promises';
import {retentionStoppedMessage} from '../output/maintenance-text.js';
import {InputError} from '../usage/input-error.js';
import type {ApplyRetentionOptions, RetentionPhase, RetentionPlan, RetentionResult} from './retention-plan.js';

// The engine-independent part of a retention run: id windows, lock retries, interruption,
// progress, the VACUUM / ANALYZE steps after the deletes, and an exact account of what was
// committed when the connection breaks. A broken connection stops the run: it does not reconnect to
// go on deleting, only, when the break came during a COMMIT, to learn whether that batch committed.

export const DEFAULT_BATCH_SIZE = 5000;
const DEFAULT_LOCK_RETRIES = 3;
const DEFAULT_RETRY_BACKOFF_MS = 500;
const DEFAULT_CONFIRM_WAIT_MS = 60_000;
/** Between tries to reach the server and ask about a batch in doubt. */
const CONFIRM_POLL_MS = 500;

/** A statement run once the deletes are done. */
export interface AfterStep {
	readonly phase: Exclude<RetentionPhase, 'deleting' | 'confirming' | 'done'>;
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
	/**
	 * Deletes the old rows with lo ≤ id < hi in one transaction: all of them or, on an error, none.
	 * Throws CommitInDoubt when the connection broke with the COMMIT sent and unanswered.
	 */
	deleteWindow(lo: number, hi: number): Promise<{deleted: number; ftsDeleted: number}>;
	/** The smallest id ≥ from (and ≤ range.last) with something to delete, so empty windows cost nothing. */
	nextId(from: number): Promise<number | null>;
	/** A lock wait that timed out (lock_timeout, SQLite busy): worth trying again. */
	isLockFailure(error: unknown): boolean;
	/** The connection itself broke (the server restarted or was killed): the run stops, exact about what it committed. */
	isConnectionLoss(error: unknown): boolean;
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

/**
 * Thrown by deleteWindow when the connection broke after the batch's COMMIT was sent: no answer
 * came, so the batch may have committed. `check` asks the server on another connection whether it
 * did: true or false, or null while it cannot tell yet (the batch's session has not ended); it
 * rejects while the server cannot be reached. null: there is no other connection to ask on.
 */
export class CommitInDoubt extends Error {
	override readonly name = 'CommitInDoubt';
	constructor(
		readonly rows: number,
		readonly check: (() => Promise<boolean | null>) | null,
		options: {cause: unknown},
	) {
		super('the connection broke while a batch was committing', options);
	}
}

/** The batch in flight when the connection broke. */
export interface BatchInFlight {
	/** Known once its DELETE answered, that is when the break came during the COMMIT. */
	readonly rows: number | null;
	/** 'unknown': its COMMIT was sent and the server could not be asked since. */
	readonly outcome: 'rolled back' | 'committed' | 'unknown';
	/**
	 * The server said so after a reconnect. false: the break came before the COMMIT was sent (so it
	 * rolled back for sure), or the server could not be asked (unknown).
	 */
	readonly confirmed: boolean;
}

/** Why a run stopped on an error, and exactly what it had committed by then. */
export interface RetentionStop {
	/** 'lost': the connection broke (the server restarted or was killed); 'locks': lock waits ran out; 'failed': any other error. */
	readonly kind: 'lost' | 'locks' | 'failed';
	readonly server: 'PostgreSQL' | 'SQLite';
	/** The step it stopped in: `the batch of ids 101–200`, `VACUUM (ANALYZE) "logs"`. */
	readonly during: string;
	/** The error behind it, first line only. */
	readonly detail: string;
	/** How many times the step was tried (lock waits are tried again). */
	readonly tries: number;
	/** Rows deleted and committed: each batch's COMMIT answered, or confirmed after a reconnect. */
	readonly deleted: number;
	/** Rows of a batch whose COMMIT may or may not have gone through (outcome 'unknown'); 0 otherwise. */
	readonly inDoubt: number;
	/** Set when the connection broke during a batch. */
	readonly inFlight: BatchInFlight | null;
	readonly cutoffIso: string;
	/** It stopped after the deletes, in VACUUM or ANALYZE. */
	readonly deletesDone: boolean;
}

/**
 * The run stopped on an error. Whatever was committed stays deleted; a rerun with `stop.cutoffIso`
 * resumes. The message, one line for the CLI, is retentionStoppedMessage's account of `stop`.
 */
export class RetentionStoppedError extends Error {
	override readonly name = 'RetentionStoppedError';
	constructor(
		readonly stop: RetentionStop,
		message: string,
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

/** A step that failed for good: its error, and how many times it was tried. */
class StepFailed {
	constructor(
		readonly error: unknown,
		readonly tries: number,
	) {}
}

const firstLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

export async function runRetention(plan: RetentionPlan, engine: RetentionEngine, options: ApplyRetentionOptions = {}): Promise<RetentionResult> {
	const batchSize = positiveInteger('--batch', options.batchSize ?? DEFAULT_BATCH_SIZE);
	const lockRetries = options.lockRetries ?? DEFAULT_LOCK_RETRIES;
	const backoffMs = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
	const confirmWaitMs = options.confirmWaitMs ?? DEFAULT_CONFIRM_WAIT_MS;
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
	const batchDone = (done: {deleted: number; ftsDeleted: number}, hi: number) => {
		deleted += done.deleted;
		ftsDeleted += done.ftsDeleted;
		batches++;
		lastId = hi - 1;
		deletingMs = performance.now() - started;
	};
	const stopped = (during: string, failure: StepFailed, deletesDone: boolean, inFlight: BatchInFlight | null = null) => {
		const {error, tries} = failure;
		const kind = engine.isConnectionLoss(error) ? 'lost' : engine.isLockFailure(error) ? 'locks' : 'failed';
		const inDoubt = inFlight?.outcome === 'unknown' ? (inFlight.rows ?? 0) : 0;
		const server = plan.engine === 'postgres' ? 'PostgreSQL' : 'SQLite';
		const stop: RetentionStop = {kind, server, during, detail: firstLine(error), tries, deleted, inDoubt, inFlight, cutoffIso: plan.cutoffIso, deletesDone};
		return new RetentionStoppedError(stop, retentionStoppedMessage(stop), {cause: error});
	};
	const retrying = async <T>(work: () => Promise<T>): Promise<T> => {
		for (let attempt = 0; ; attempt++) {
			try {
				return await work();
			} catch (error) {
				if (error instanceof CommitInDoubt) {
					throw error;
				}
				if (!engine.isLockFailure(error) || attempt >= lockRetries) {
					throw new StepFailed(error, attempt + 1);
				}
				retries++;
				await pause(backoffMs * 2 ** attempt, signal);
				if (aborted()) {
					throw new Interrupted();
				}
			}
		}
	};
	/** Asks about a batch in doubt until the server says, the wait runs out, or the signal fires. */
	const settle = async ({check}: CommitInDoubt): Promise<boolean | null> => {
		if (check === null) {
			return null;
		}
		report('confirming');
		const end = performance.now() + confirmWaitMs;
		for (;;) {
			const known = await check().catch(() => null);
			if (known !== null || aborted() || performance.now() >= end) {
				return known;
			}
			await pause(CONFIRM_POLL_MS, signal);
		}
	};
	/** One batch; when the connection breaks during its COMMIT, learns whether it committed, then stops. */
	const batch = async (from: number, hi: number): Promise<void> => {
		const during = `the batch of ids ${from}–${hi - 1}`;
		try {
			batchDone(await retrying(() => engine.deleteWindow(from, hi)), hi);
		} catch (error) {
			if (error instanceof StepFailed) {
				// Broken before its COMMIT was sent, the batch cannot have committed: the server rolls it back.
				const lost = engine.isConnectionLoss(error.error);
				throw stopped(during, error, false, lost ? {rows: null, outcome: 'rolled back', confirmed: false} : null);
			}
			if (!(error instanceof CommitInDoubt)) {
				throw error;
			}
			const committed = await settle(error);
			if (committed === true) {
				batchDone({deleted: error.rows, ftsDeleted: 0}, hi);
			}
			const outcome = committed === null ? 'unknown' : committed ? 'committed' : 'rolled back';
			throw stopped(during, new StepFailed(error.cause, 1), false, {rows: error.rows, outcome, confirmed: committed !== null});
		}
	};
	const step = async <T>(during: string, deletesDone: boolean, work: () => Promise<T>): Promise<T> => {
		try {
			return await retrying(work);
		} catch (error) {
			throw error instanceof StepFailed ? stopped(during, error, deletesDone) : error;
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
			await batch(from, hi);
			const {pacing} = engine;
			const tookMs = performance.now() - batchStarted;
			if (pacing !== undefined) window = nextWindow(window, tookMs, pacing.targetBatchMs, batchSize);
			report('deleting');
			await pause(Math.max(options.pauseMs ?? 0, pacing === undefined ? 0 : writerGap(tookMs, pacing)), signal);
			lo = hi > range.last || aborted() ? null : await step(`the lookup of the next id from ${hi}`, false, () => engine.nextId(hi));
		}
		for (const after of engine.after) {
			if (aborted()) {
				return result('interrupted');
			}
			report(after.phase);
			await step(after.statement, true, () => after.run());
			vacuumed ||= after.vacuums;
			analyzed ||= after.analyzes;
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
