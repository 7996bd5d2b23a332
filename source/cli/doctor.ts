import {ensureFixture} from '../fixtures/fixture-files.js';
import type {HealthCheck} from '../health/health-check.js';
import {DOCTOR_EXIT, exitCodeOf, healthReport, type HealthReport} from '../health/health-report.js';
import {loadCheck} from '../health/load-check.js';
import {parseCores, parseRam} from '../health/machine-facts.js';
import {postgresHealth, type HealthOptions, type HealthResult} from '../health/postgres-health.js';
import {sqliteHealth} from '../health/sqlite-health.js';
import {healthJson} from '../output/health-json.js';
import {healthText} from '../output/health-text.js';
import {terminalSafeJson} from '../output/json-snapshot.js';
import {terminalSafe, terminalSafeExcept} from '../output/terminal-safe.js';
import {isHttpTarget} from '../sources/cpa-http/http-target.js';
import {openSource, type OpenOptions} from '../sources/open-target.js';
import {OBSERVER_LIMITS, PgSession} from '../sources/postgres/pg-session.js';
import {isPostgresTarget, postgresConfig} from '../sources/postgres/pg-target.js';
import {redactTarget, redactTargetIn} from '../sources/redact-target.js';
import {countingCost} from '../tokens/counting-cost.js';
import {rememberedThroughput} from '../tokens/tokenizer-throughput.js';
import {InputError} from '../usage/input-error.js';
import {rangeSpec, resolveRange} from '../usage/time-range.js';
import type {UsageSource} from '../usage/types.js';
import type {ParsedFlags} from './flags.js';
import type {Io} from './run.js';

// `relaytop doctor`: every health check once, as text or JSON, with an exit code a script can act
// on. The database checks run on a session of their own, the load check on the usage source: two
// connections to a PostgreSQL server at most, both closed before it returns.

/** The prompt size behind the counting cost: the last hour's requests. */
const PROMPT_WINDOW = '1h';

/** Said instead of a counting cost the doctor will not measure itself. */
const NOT_MEASURED = 'not measured on this machine yet: the dashboard measures it once (about 2 s) and remembers it';

/**
 * The load check, or why it is missing: it never fails the doctor. The tokenizer's speed is only
 * read from what an earlier run measured: measuring loads an encoder (~2 s, 150+ MB), which an
 * on-call check on a busy 2 GB server should not do.
 */
async function loadCheckOf(source: UsageSource | Error, nowMs: number): Promise<HealthCheck> {
	try {
		if (source instanceof Error) throw source;
		// The rate is over the minute before the range's end; the prompt size over the whole range.
		const query = {range: resolveRange(rangeSpec({preset: PROMPT_WINDOW}), nowMs), filters: {}};
		const [rate, summary] = [await source.rate(query), await source.summary(query)];
		const throughput = rememberedThroughput();
		return loadCheck(rate, throughput === null ? NOT_MEASURED : countingCost(rate, summary, throughput), source.kind);
	} catch (error) {
		return {
			id: 'load.unreadable',
			group: 'load',
			title: 'requests and token counting',
			status: 'warning',
			summary: `the request rate could not be read: ${terminalSafe(error instanceof Error ? error.message.split('\n')[0]! : String(error))}`,
			evidence: [],
			fix: null,
		};
	}
}

/**
 * The store's checks, where there is a store (not over HTTP). PostgreSQL on a session of its own
 * with the observer's limits (10 s a statement, 1 s a lock): a server in trouble gets no long waits.
 */
async function storeHealth(target: string, logsDb: string | undefined, options: HealthOptions): Promise<HealthResult> {
	if (!isPostgresTarget(target)) return sqliteHealth(target);
	const session = new PgSession(postgresConfig(logsDb ?? target), OBSERVER_LIMITS);
	try {
		return await postgresHealth(session, options);
	} finally {
		await session.close();
	}
}

/** Flags are checked before anything connects: a mistake in them is a usage error (4), not an unreachable target (3). */
function validate(target: string | undefined, flags: ParsedFlags): HealthOptions {
	if (flags.ram !== undefined) parseRam(flags.ram);
	if (flags.cores !== undefined) parseCores(flags.cores);
	if (flags.logsDb !== undefined && (target === undefined || !isPostgresTarget(target) || !isPostgresTarget(flags.logsDb))) {
		throw new InputError('--logs-db takes a postgres:// URL and goes with a postgres:// target');
	}
	return {machine: {ram: flags.ram, cores: flags.cores}};
}

/** Runs the checks; a target that cannot be opened or answered is "unreachable". */
async function diagnose(target: string | undefined, flags: ParsedFlags, openOptions: OpenOptions, options: HealthOptions, now: () => number): Promise<HealthReport> {
	const startedAt = performance.now();
	// Without a target: the new-api fixture, as --json and --once show it, at its own "now".
	const path = target ?? ensureFixture('newapi');
	// A server without new-api's logs still has sessions, settings and tables to check.
	const source = await openSource(path, target === undefined ? {} : openOptions).catch((error: unknown) => {
		if (error instanceof InputError && isPostgresTarget(path)) return error;
		throw error;
	});
	try {
		const nowMs = target === undefined && !(source instanceof Error) ? ((await source.newestRequestMs()) ?? now()) : now();
		const [store, load] = await Promise.all([
			isHttpTarget(path) ? Promise.resolve<HealthResult>({machine: null, checks: []}) : storeHealth(path, flags.logsDb, options),
			loadCheckOf(source, nowMs),
		]);
		const shown = source instanceof Error ? {target: redactTarget(path), kind: 'newapi-postgres'} : {target: source.target, kind: source.kind};
		return healthReport({...shown, checkedAtMs: now(), durationMs: performance.now() - startedAt, machine: store.machine, checks: [...store.checks, load]});
	} finally {
		if (!(source instanceof Error)) await source.close();
	}
}

export async function runDoctor(args: readonly string[], flags: ParsedFlags, openOptions: OpenOptions, io: Io): Promise<number> {
	const target = args[0];
	let options: HealthOptions;
	try {
		if (args.length > 1) throw new InputError(`expected one target, got ${args.length}`);
		options = validate(target, flags);
	} catch (error) {
		io.stderr(`relaytop: ${terminalSafe(error instanceof Error ? error.message : String(error))}\n`);
		return DOCTOR_EXIT.usage;
	}
	let report: HealthReport;
	try {
		report = await diagnose(target, flags, openOptions, options, io.now);
	} catch (error) {
		const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
		const shown = redactTargetIn(redactTargetIn(message, target ?? ''), flags.logsDb ?? '');
		const display = target === undefined ? 'the demo' : redactTarget(target);
		const targets = [display, ...(flags.logsDb === undefined ? [] : [redactTarget(flags.logsDb)])];
		io.stderr(`relaytop: ${terminalSafeExcept(shown.includes(display) ? shown : `cannot reach ${display}: ${shown}`, targets)}\n`);
		return DOCTOR_EXIT.unreachable;
	}
	// The checks quote the server (sessions' and statements' query texts), which may hold a known
	// secret: masked as they are written out, by terminalSafeJson or terminalSafe in healthText.
	io.stdout(flags.json ? `${terminalSafeJson(healthJson(report))}\n` : healthText(report));
	return exitCodeOf(report);
}
