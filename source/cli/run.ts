import meow from 'meow';
import {openDemo} from '../demo/demo-target.js';
import {jsonSnapshot, terminalSafeJson} from '../output/json-snapshot.js';
import {textFrame} from '../output/text-frame.js';
import {terminalSafe} from '../output/terminal-safe.js';
import {openTarget} from '../sources/open-target.js';
import {redactTargetIn} from '../sources/redact-target.js';
import {InputError} from '../usage/input-error.js';
import {takeSnapshot} from '../usage/take-snapshot.js';
import {FLAGS, HELP, type ParsedFlags} from './flags.js';
import {parseQuotaPerUnit, parseRangeFlags, snapshotRequest} from './snapshot-request.js';

const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface Io {
	readonly stdout: (text: string) => void;
	readonly stderr: (text: string) => void;
	readonly now: () => number;
	readonly columns: number;
}

/** One line, no stack: what went wrong and, where it helps, what was expected. */
function describe(error: unknown): string {
	const message = error instanceof Error ? error.message : String(error);
	return terminalSafe(message.split('\n')[0] ?? 'unknown error');
}

export async function run(argv: readonly string[], io: Io, importMeta: ImportMeta): Promise<number> {
	let cli;
	try {
		cli = meow(HELP, {importMeta, argv: [...argv], flags: FLAGS, allowUnknownFlags: false, inferType: false});
	} catch (error) {
		// meow throws for a flag given twice; it exits by itself for --help and unknown flags.
		io.stderr(`relaytop: ${describe(error)}\n`);
		return EXIT_USAGE;
	}
	const flags = cli.flags as ParsedFlags;
	try {
		if (cli.input.length > 1) {
			throw new InputError(`expected one target, got ${cli.input.length}`);
		}
		if (flags.json && flags.once) {
			throw new InputError('give either --json or --once, not both');
		}
		const range = parseRangeFlags(flags);
		const quotaPerUnit = parseQuotaPerUnit(flags);
		const target = cli.input[0];
		const {source, nowMs} = target === undefined ? await openDemo() : {source: openTarget(target, {quotaPerUnit}), nowMs: io.now()};
		try {
			const request = snapshotRequest(flags, source.capabilities, range, nowMs);
			const snapshot = await takeSnapshot(source, request);
			// Until the interactive dashboard lands, every mode prints one snapshot.
			io.stdout(flags.json ? `${terminalSafeJson(jsonSnapshot(snapshot))}\n` : textFrame(snapshot, io.columns));
		} finally {
			await source.close();
		}
		return EXIT_OK;
	} catch (error) {
		io.stderr(`relaytop: ${redactTargetIn(describe(error), cli.input[0] ?? '')}\n`);
		return error instanceof InputError ? EXIT_USAGE : EXIT_FAILURE;
	}
}
