import {mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs';
import {cpus, homedir} from 'node:os';
import {dirname, join} from 'node:path';
import {Worker} from 'node:worker_threads';
import {packageRoot} from '../fixtures/fixture-files.js';
import type {Encoding} from './model-encoding.js';

// How fast this machine counts tokens exactly, measured once and remembered. The measurement runs in
// a worker thread that exits after it, so the process asking (the dashboard) never holds an encoder.

export interface TokenizerThroughput {
	readonly encoding: Encoding;
	/** Exact-count tokens per second on one core: English and code samples… */
	readonly latinTokensPerS: number;
	/** …and Chinese and Japanese ones (js-tiktoken is 20-40 times slower per character there). */
	readonly cjkTokensPerS: number;
	/** The machine and versions it holds for: a new CPU, Node or js-tiktoken measures again. */
	readonly machine: string;
	readonly measuredAtMs: number;
}

const WORKER_SCRIPT = join(packageRoot(), 'dist', 'source', 'tokens', 'throughput-worker.js');
export const CALIBRATION_ENCODING: Encoding = 'o200k_base';

export const defaultThroughputFile = (): string =>
	join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'relaytop', 'tokenizer-throughput.json');

function tiktokenVersion(): string {
	try {
		return (JSON.parse(readFileSync(join(packageRoot(), 'node_modules', 'js-tiktoken', 'package.json'), 'utf8')) as {version: string}).version;
	} catch {
		return 'unknown'; // installed elsewhere (hoisted): the CPU and Node still key the figure
	}
}

function machineKey(): string {
	const tiktoken = tiktokenVersion();
	return `${cpus()[0]?.model ?? 'unknown cpu'} · node ${process.version} · js-tiktoken ${tiktoken}`;
}

function remembered(file: string, machine: string): TokenizerThroughput | null {
	try {
		const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<TokenizerThroughput>;
		const valid = value.machine === machine && value.encoding === CALIBRATION_ENCODING && (value.latinTokensPerS ?? 0) > 0 && (value.cjkTokensPerS ?? 0) > 0;
		return valid ? (value as TokenizerThroughput) : null;
	} catch {
		return null;
	}
}

function remember(file: string, throughput: TokenizerThroughput): void {
	try {
		mkdirSync(dirname(file), {recursive: true});
		writeFileSync(`${file}.tmp`, `${JSON.stringify(throughput, null, '\t')}\n`);
		renameSync(`${file}.tmp`, file);
	} catch {
		// An unwritable cache only means measuring again next time.
	}
}

/** Measures in a worker thread: tokens per second for Latin and for CJK text. */
export async function measureThroughput(): Promise<Pick<TokenizerThroughput, 'latinTokensPerS' | 'cjkTokensPerS'>> {
	const worker = new Worker(WORKER_SCRIPT, {workerData: {encoding: CALIBRATION_ENCODING}, stdout: true, stderr: true});
	worker.stdout.resume();
	worker.stderr.resume();
	return new Promise((resolve, reject) => {
		worker.once('message', (message: {latinTokensPerS: number; cjkTokensPerS: number} | {error: string}) =>
			'error' in message ? reject(new Error(message.error)) : resolve(message),
		);
		worker.once('error', reject);
		worker.once('exit', code => reject(new Error(`the tokenizer measurement stopped (exit ${code})`)));
	});
}

/** This machine's throughput: remembered in `file`, else measured now (about 2 s, once). */
export async function tokenizerThroughput(file = defaultThroughputFile()): Promise<TokenizerThroughput> {
	const machine = machineKey();
	const known = remembered(file, machine);
	if (known !== null) return known;
	const measured = await measureThroughput();
	const throughput: TokenizerThroughput = {encoding: CALIBRATION_ENCODING, ...measured, machine, measuredAtMs: Date.now()};
	remember(file, throughput);
	return throughput;
}
