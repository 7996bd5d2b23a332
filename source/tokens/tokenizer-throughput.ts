import {mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs';
import {cpus, homedir} from 'node:os';
import {dirname, isAbsolute, join} from 'node:path';
import {Worker} from 'node:worker_threads';
import {packageRoot} from '../package-root.js';
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

/** $XDG_CACHE_HOME/relaytop/…, where an empty or relative XDG_CACHE_HOME counts as unset (the spec says so). */
export function defaultThroughputFile(): string {
	const xdg = process.env.XDG_CACHE_HOME ?? '';
	return join(isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'relaytop', 'tokenizer-throughput.json');
}

/** The measurement takes about 2 s; a worker silent for this long is ended. */
const MEASURE_TIMEOUT_MS = 60_000;

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

const isSpeed = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0;

function remembered(file: string, machine: string): TokenizerThroughput | null {
	try {
		const value = JSON.parse(readFileSync(file, 'utf8')) as Partial<TokenizerThroughput>;
		const valid = value.machine === machine && value.encoding === CALIBRATION_ENCODING && isSpeed(value.latinTokensPerS) && isSpeed(value.cjkTokensPerS);
		return valid ? (value as TokenizerThroughput) : null;
	} catch {
		return null;
	}
}

function remember(file: string, throughput: TokenizerThroughput): void {
	try {
		mkdirSync(dirname(file), {recursive: true});
		const temporary = `${file}.${process.pid}.tmp`; // two processes measuring at once never mix their writes
		writeFileSync(temporary, `${JSON.stringify(throughput, null, '\t')}\n`);
		renameSync(temporary, file);
	} catch {
		// An unwritable cache only means measuring again next time.
	}
}

/** Measures in a worker thread: tokens per second for Latin and for CJK text. */
export async function measureThroughput(): Promise<Pick<TokenizerThroughput, 'latinTokensPerS' | 'cjkTokensPerS'>> {
	const worker = new Worker(WORKER_SCRIPT, {workerData: {encoding: CALIBRATION_ENCODING}, stdout: true, stderr: true});
	worker.stdout.resume();
	worker.stderr.resume();
	try {
		return await new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`the tokenizer measurement gave no answer within ${MEASURE_TIMEOUT_MS / 1000} s`)), MEASURE_TIMEOUT_MS);
			worker.once('message', (message: {latinTokensPerS: number; cjkTokensPerS: number} | {error: string}) => {
				clearTimeout(timer);
				if ('error' in message) reject(new Error(message.error));
				else if (isSpeed(message.latinTokensPerS) && isSpeed(message.cjkTokensPerS)) resolve(message);
				else reject(new Error('the tokenizer measurement gave no usable speed'));
			});
			worker.once('error', error => {
				clearTimeout(timer);
				reject(error);
			});
			worker.once('exit', code => {
				clearTimeout(timer);
				reject(new Error(`the tokenizer measurement stopped (exit ${code})`));
			});
		});
	} finally {
		await worker.terminate();
	}
}

/** This machine's throughput if it was measured before; never measures (it loads an encoder: ~2 s, 150+ MB). */
export const rememberedThroughput = (file = defaultThroughputFile()): TokenizerThroughput | null => remembered(file, machineKey());

/** One measurement per process and file: concurrent callers share it, and it stands in for a file that could not be written. */
const measuring = new Map<string, Promise<TokenizerThroughput>>();

/** This machine's throughput: remembered in `file`, else measured now (about 2 s, once). */
export async function tokenizerThroughput(file = defaultThroughputFile()): Promise<TokenizerThroughput> {
	const machine = machineKey();
	const known = remembered(file, machine);
	if (known !== null) return known;
	let measurement = measuring.get(file);
	if (measurement === undefined) {
		measurement = measureThroughput().then(measured => {
			const throughput: TokenizerThroughput = {encoding: CALIBRATION_ENCODING, ...measured, machine, measuredAtMs: Date.now()};
			remember(file, throughput);
			return throughput;
		});
		measuring.set(file, measurement);
		// A failed one is tried again next time.
		measurement.catch(() => measuring.delete(file));
	}
	return measurement;
}
