import {constants} from 'node:os';
import meow from 'meow';
import {openDemo} from '../demo/demo-target.js';
import {jsonSnapshot, terminalSafeJson} from '../output/json-snapshot.js';
import {registerSecret} from '../output/secret-registry.js';
import {textFrame} from '../output/text-frame.js';
import {terminalSafe, terminalSafeExcept} from '../output/terminal-safe.js';
import {isHttpTarget} from '../sources/cpa-http/http-target.js';
import {managementKey} from '../sources/cpa-http/management-key.js';
import {openSource, type OpenOptions} from '../sources/open-target.js';
import {isPostgresTarget, targetFromEnvironment} from '../sources/postgres/pg-target.js';
import {redactTarget, redactTargetIn, targetSecrets} from '../sources/redact-target.js';
import {countingCost, type CountingCost} from '../tokens/counting-cost.js';
import {tokenizerThroughput} from '../tokens/tokenizer-throughput.js';
import {InputError} from '../usage/input-error.js';
import {parsePositiveNumber} from '../usage/parse-options.js';
import {parseRangePreset} from '../usage/time-range.js';
import {takeSnapshot, type Snapshot} from '../usage/take-snapshot.js';
import type {UsageSource} from '../usage/types.js';
import type {MaintenanceService} from '../maintenance/maintenance-service.js';
import {DOCTOR_EXIT} from '../health/health-report.js';
import {parseCores, parseRam} from '../health/machine-facts.js';
import {FLAGS, flagName, givenFlags, HELP, type ParsedFlags} from './flags.js';
import {runMaintain} from './maintain.js';
import {parseQuotaPerUnit, parseRangeFlags, snapshotRequest} from './snapshot-request.js';

const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface Io {
	readonly stdout: (text: string) => void;
	readonly stderr: (text: string) => void;
	readonly now: () => number;
	readonly columns: number;
	/** Both stdin and stdout are terminals: the dashboard can take keys and draw. */
	readonly interactive: boolean;
}

const MAINTAIN = 'relaytop maintain indexes|retention TARGET';
/** Flags of a subcommand only, and where they belong. */
const SUBCOMMAND_FLAGS = {apply: MAINTAIN, keep: MAINTAIN, cutoff: MAINTAIN, batch: MAINTAIN, vacuum: MAINTAIN, repairWith: MAINTAIN, bench: 'relaytop tokens'} as const;

/**
 * One line, no stack: what went wrong and, where it helps, what was expected. The targets it names
 * are redacted, and every known secret in the rest is masked. The `relaytop: ` before it is ours.
 */
function describe(error: unknown, ...targets: ReadonlyArray<string | undefined>): string {
	const message = error instanceof Error ? error.message : String(error);
	const named = targets.filter((target): target is string => target !== undefined && target !== '');
	const line = named.reduce((text, target) => redactTargetIn(text, target), message.split('\n')[0] ?? 'unknown error');
	return terminalSafeExcept(line, named.map(redactTarget));
}

const wantsColor = (flags: ParsedFlags): boolean => flags.color && (process.env.NO_COLOR ?? '') === '';

/**
 * The live dashboard, loaded only now: its modules (Ink, React) cost nothing to --json and --once.
 * Returns the exit code: 0, or 128 + the signal that ended it, as a shell reports a killed command.
 */
async function dashboard(target: string | undefined, flags: ParsedFlags, options: OpenOptions, io: Io): Promise<number> {
	if (!wantsColor(flags)) {
		process.env.FORCE_COLOR = '0'; // chalk reads it when Ink loads, below
	}
	if (flags.from !== undefined || flags.to !== undefined) {
		throw new InputError('--from and --to fix a window for --json and --once; the dashboard moves with the clock: use --range');
	}
	const intervalMs = flags.interval === undefined ? undefined : Math.round(parsePositiveNumber('--interval', flags.interval) * 1000);
	// Checked now: the Health view reads them only when it is first opened.
	if (flags.ram !== undefined) parseRam(flags.ram);
	if (flags.cores !== undefined) parseCores(flags.cores);
	const range = flags.range === undefined ? undefined : parseRangePreset(flags.range);
	// React's development build checks and records every render: several times the cost per frame.
	process.env.NODE_ENV ??= 'production';
	const {runDashboard} = await import('../ui/run-dashboard.js');
	const {openTargetInWorker} = await import('../sources/worker/worker-source.js');
	const {startLiveDemo} = await import('../demo/live-demo.js');
	if (target === undefined) {
		io.stderr('relaytop: starting the demo…\n'); // the first start builds its database: seconds
	}
	const demo = target === undefined ? await startLiveDemo(line => io.stderr(`relaytop: ${terminalSafe(line)}\n`)) : undefined;
	let source: UsageSource | undefined;
	let maintenance: MaintenanceService | undefined;
	try {
		const path = target ?? demo!.target;
		const {openMaintenanceService} = await import('../maintenance/open-maintenance-service.js');
		// A SQLite query blocks its thread, so SQLite runs in a worker (a slow query never freezes
		// keys or drawing); a server's queries do not block.
		// Polled again and again: a long range is loaded once and then merged with the rows that change.
		const {DEFAULT_ROLLUP_POLICY} = await import('../sources/rollup/range-rollups.js');
		const polled = {...options, rollups: DEFAULT_ROLLUP_POLICY};
		source = isPostgresTarget(path) || isHttpTarget(path) ? await openSource(path, polled) : await openTargetInWorker(path, polled);
		// Over HTTP there is no database to maintain.
		maintenance = isHttpTarget(path) ? undefined : await openMaintenanceService(path, {logsDb: options.logsDb});
		const healthOptions = {machine: {ram: flags.ram, cores: flags.cores}};
		const signal = await runDashboard(source, {altScreen: flags.altScreen, intervalMs, range, writable: !flags.readOnly, maintenance, healthOptions});
		return signal === undefined ? EXIT_OK : 128 + constants.signals[signal];
	} finally {
		await maintenance?.close();
		await source?.close();
		await demo?.stop();
	}
}

async function printSnapshot(target: string | undefined, flags: ParsedFlags, options: OpenOptions, io: Io): Promise<void> {
	const range = parseRangeFlags(flags);
	const {source, nowMs} = target === undefined ? await openDemo() : {source: await openSource(target, options), nowMs: io.now()};
	try {
		const request = snapshotRequest(flags, source.capabilities, range, nowMs);
		const snapshot = await takeSnapshot(source, request);
		const counting = await countingCostOf(snapshot, io);
		io.stdout(flags.json ? `${terminalSafeJson(jsonSnapshot(snapshot, counting))}\n` : textFrame(snapshot, io.columns, counting));
	} finally {
		await source.close();
	}
}

/** What counting prompts costs at the snapshot's rate; null, with a warning, when the tokenizer cannot be measured. */
async function countingCostOf(snapshot: Snapshot, io: Io): Promise<CountingCost | null> {
	try {
		return countingCost(snapshot.rate, snapshot.summary, await tokenizerThroughput());
	} catch (error) {
		io.stderr(`relaytop: warning: the cost of token counting is left out: ${describe(error)}\n`);
		return null;
	}
}

/** The management key, for a CPA-Manager address only; its warning (if any) goes to stderr. */
function keyFor(target: string | undefined, flags: ParsedFlags, io: Io): string | undefined {
	if (target === undefined || !isHttpTarget(target)) {
		if (flags.key !== undefined || flags.keyFile !== undefined) {
			throw new InputError(`${flags.key === undefined ? '--key-file' : '--key'} goes with an http(s):// CPA-Manager address`);
		}
		return undefined;
	}
	const {key, warning} = managementKey({keyFile: flags.keyFile, keyFlag: flags.key});
	if (warning !== null) {
		io.stderr(`relaytop: warning: ${warning}\n`);
	}
	return key;
}

const DOCTOR_FLAGS: ReadonlyArray<keyof typeof FLAGS> = ['json', 'ram', 'cores', 'logsDb', 'key', 'keyFile', 'color'];

/** `relaytop doctor`: its own exit codes (health-report.ts), usage errors included. */
async function doctorCommand(args: readonly string[], flags: ParsedFlags, io: Io): Promise<number> {
	const unknown = Object.keys(flags).filter(name => !Object.hasOwn(FLAGS, name));
	const misplaced = givenFlags(flags).find(name => !DOCTOR_FLAGS.includes(name));
	if (unknown.length > 0 || misplaced !== undefined) {
		const what = unknown.length > 0 ? `unknown flag ${flagName(unknown[0]!)}` : `${flagName(misplaced!, flags[misplaced!])} does not go with relaytop doctor`;
		io.stderr(`relaytop: ${terminalSafe(what)}\n`);
		return DOCTOR_EXIT.usage;
	}
	const target = args[0] ?? targetFromEnvironment();
	let options: OpenOptions;
	try {
		options = {logsDb: flags.logsDb, managementKey: keyFor(target, flags, io)};
	} catch (error) {
		io.stderr(`relaytop: ${describe(error)}\n`);
		return DOCTOR_EXIT.usage;
	}
	const {runDoctor} = await import('./doctor.js');
	return runDoctor(target === undefined ? args : [target, ...args.slice(1)], flags, options, io);
}

/**
 * The passwords and tokens in the targets' URLs, registered before anything opens them. The
 * secrets that come with a connection (PGPASSWORD, a password file's, the management key) are
 * registered where a connection takes them into use (pg-target.ts, the management client): an
 * unused PGPASSWORD is not relaytop's to mask.
 */
function registerTargetSecrets(input: readonly string[], flags: ParsedFlags): void {
	for (const target of [...input, flags.logsDb ?? '', targetFromEnvironment() ?? '']) {
		for (const secret of targetSecrets(target)) registerSecret(secret);
	}
}

// Secrets are masked where text is shown, never in the data: terminalSafe for text (describe's
// lines, the frames), terminalSafeJson for every --json; the data keeps its values for the logic.
export async function run(argv: readonly string[], io: Io, importMeta: ImportMeta): Promise<number> {
	// meow exits with 2 for an unknown flag, which doctor's exit codes keep for "critical": a lenient
	// parse finds the command first (flags may come before it), and doctor reports unknown flags itself.
	const parse = (lenient: boolean) =>
		// booleanDefault undefined: a boolean without a default (--vacuum) is absent unless given, so its engine default applies.
		meow(HELP, {importMeta, argv: [...argv], flags: FLAGS, allowUnknownFlags: lenient, inferType: false, booleanDefault: undefined});
	let doctor = false;
	let cli;
	try {
		const lenient = parse(true);
		doctor = lenient.input[0] === 'doctor';
		cli = doctor ? lenient : parse(false);
	} catch (error) {
		// meow throws for a flag given twice; it exits by itself for --help and unknown flags.
		io.stderr(`relaytop: ${describe(error)}\n`);
		return doctor || argv.includes('doctor') ? DOCTOR_EXIT.usage : EXIT_USAGE;
	}
	const flags = cli.flags as ParsedFlags;
	registerTargetSecrets(cli.input, flags);
	if (doctor && Object.hasOwn(flags, 'help')) {
		io.stdout(cli.help);
		return EXIT_OK;
	}
	if (doctor) return doctorCommand(cli.input.slice(1), flags, io);
	if (cli.input[0] === 'maintain') {
		const target = cli.input[2] ?? targetFromEnvironment();
		try {
			if (cli.input.length > 3) {
				throw new InputError(`expected one target, got ${cli.input.length - 2}`);
			}
			return await runMaintain(cli.input[1], target, flags, io);
		} catch (error) {
			io.stderr(`relaytop: ${describe(error, target, flags.logsDb)}\n`);
			return error instanceof InputError ? EXIT_USAGE : EXIT_FAILURE;
		}
	}
	if (cli.input[0] === 'tokens') {
		try {
			const {runTokens} = await import('./tokens.js');
			await runTokens(cli.input.slice(1), flags, io);
			return EXIT_OK;
		} catch (error) {
			io.stderr(`relaytop: ${describe(error)}\n`);
			return error instanceof InputError ? EXIT_USAGE : EXIT_FAILURE;
		}
	}
	const target = cli.input[0] ?? targetFromEnvironment();
	try {
		const misplaced = givenFlags(flags).find(name => Object.hasOwn(SUBCOMMAND_FLAGS, name));
		if (misplaced !== undefined) {
			throw new InputError(`${flagName(misplaced, flags[misplaced])} goes with ${SUBCOMMAND_FLAGS[misplaced as keyof typeof SUBCOMMAND_FLAGS]}`);
		}
		if (cli.input.length > 1) {
			throw new InputError(`expected one target, got ${cli.input.length}`);
		}
		if (flags.json && flags.once) {
			throw new InputError('give either --json or --once, not both');
		}
		const health = flags.ram === undefined ? (flags.cores === undefined ? undefined : '--cores') : '--ram';
		if (health !== undefined && (flags.json || flags.once || !io.interactive)) {
			throw new InputError(`${health} goes with relaytop doctor or the dashboard's Health view`);
		}
		if (target === undefined && flags.logsDb !== undefined) {
			throw new InputError('--logs-db goes with a postgres:// target (the main database)');
		}
		const options: OpenOptions = {quotaPerUnit: parseQuotaPerUnit(flags), logsDb: flags.logsDb, managementKey: keyFor(target, flags, io)};
		parseRangeFlags(flags); // validated before anything opens, whichever mode runs
		if (flags.json || flags.once || !io.interactive) {
			await printSnapshot(target, flags, options, io);
			return EXIT_OK;
		}
		return await dashboard(target, flags, options, io);
	} catch (error) {
		io.stderr(`relaytop: ${describe(error, target, flags.logsDb)}\n`);
		return error instanceof InputError ? EXIT_USAGE : EXIT_FAILURE;
	}
}
