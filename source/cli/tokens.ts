import {readFileSync} from 'node:fs';
import {percent, thousands} from '../output/format.js';
import {terminalSafeJson} from '../output/json-snapshot.js';
import {terminalSafe} from '../output/terminal-safe.js';
import {textTable} from '../output/text-table.js';
import {encoderFor, encoderLoads} from '../tokens/encoders.js';
import {encodingForModel, type Encoding, type ModelEncoding} from '../tokens/model-encoding.js';
import {meanRunMs} from '../tokens/mean-run-ms.js';
import {sampleTexts, SAMPLE_KINDS} from '../tokens/sample-texts.js';
import {CJK_UNIT_COST, countTokens, EXACT_UP_TO_UNITS, exactIsCheap, LONGEST_EXACT_PIECE} from '../tokens/token-counter.js';
import {ESTIMATE_ERROR_BOUND, estimateTokens, threeCharsPerToken} from '../tokens/token-estimate.js';
import {InputError} from '../usage/input-error.js';
import {flagName, givenFlags, type ParsedFlags} from './flags.js';
import type {Io} from './run.js';

// relaytop tokens [--model M] [FILE|-]: the exact count of a text, the estimate and the seed's
// 3-chars rule beside it, with what each took. --bench: both methods on the sample texts, per kind.

const DEFAULT_MODEL = 'gpt-4o';
/** The flags relaytop tokens reads; any other one given is a mistake worth saying. */
const TOKENS_FLAGS: ReadonlySet<string> = new Set(['model', 'json', 'bench', 'color', 'altScreen']);

const signed = (ratio: number): string => `${ratio >= 0 ? '+' : '−'}${percent(Math.abs(ratio))}`;
const duration = (ms: number): string => (ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(1)} µs`);

async function readInput(file: string | undefined): Promise<string> {
	if (file === undefined || file === '-') {
		if (file === undefined && process.stdin.isTTY) throw new InputError('give a FILE, or - and the text on standard input');
		const chunks: Buffer[] = [];
		for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
		return Buffer.concat(chunks).toString('utf8');
	}
	try {
		return readFileSync(file, 'utf8');
	} catch (error) {
		const code = (error as {code?: string}).code;
		throw new InputError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'a folder, not a file' : (code ?? 'unreadable')}`);
	}
}

/** Rows of cells under `titles`, each column as wide as its widest cell; numbers right-aligned. */
function table(titles: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
	const columns = titles.map((title, index) => ({
		title,
		width: Math.max(title.length, ...rows.map(row => row[index]!.length)),
		align: index === 0 ? ('left' as const) : ('right' as const),
		value: (row: readonly string[]) => row[index]!,
	}));
	return textTable(columns, rows, Number.POSITIVE_INFINITY).join('\n');
}

const loadMsOf = (encoding: Encoding): number => encoderLoads().find(load => load.encoding === encoding)?.loadMs ?? 0;

const modelLine = (mapping: ModelEncoding, given: string): string =>
	`${terminalSafe(given)} → ${mapping.encoding}${mapping.approximate ? ' (≈ not an OpenAI model: its own tokenizer counts differently)' : ''}`;

async function countText(text: string, model: string, flags: ParsedFlags, io: Io): Promise<void> {
	const mapping = encodingForModel(model);
	await encoderFor(mapping.encoding); // loaded first, so the exact count is timed without the load
	const loadMs = loadMsOf(mapping.encoding);
	const exactStarted = performance.now();
	const exact = (await countTokens(text, model)).tokens;
	const exactMs = performance.now() - exactStarted;
	let estimate = 0;
	const estimateMs = meanRunMs(() => (estimate = estimateTokens(text, mapping.encoding)), 20);
	const rule = threeCharsPerToken(text);
	const error = (value: number): number => (exact === 0 ? 0 : value / exact - 1);
	const cheap = exactIsCheap(text);
	if (flags.json) {
		io.stdout(
			`${terminalSafeJson({
				model,
				encoding: mapping.encoding,
				approximate: mapping.approximate,
				characters: text.length,
				counter_uses: cheap ? 'exact' : 'estimate',
				exact_tokens: exact,
				exact_ms: exactMs,
				encoder_load_ms: loadMs,
				estimate_tokens: estimate,
				estimate_ms: estimateMs,
				estimate_error: error(estimate),
				three_chars_tokens: rule,
				three_chars_error: error(rule),
			})}\n`,
		);
		return;
	}
	const rows = [
		['exact', `${thousands(exact)} tokens`, '', duration(exactMs)],
		['estimate', `${thousands(estimate)} tokens`, signed(error(estimate)), duration(estimateMs)],
		['3 chars/token', `${thousands(rule)} tokens`, signed(error(rule)), ''],
	];
	io.stdout(`model     ${modelLine(mapping, model)}\nencoder   loaded in ${duration(loadMs)}\ntext      ${thousands(text.length)} characters; ${cheap ? 'cheap enough to count exactly' : 'the estimate stands in: an exact count costs more than about 10 ms'} (up to ${thousands(EXACT_UP_TO_UNITS)} cost units, a CJK character ${CJK_UNIT_COST}, no piece over ${LONGEST_EXACT_PIECE} characters)\n\n${table(['method', 'count', 'error', 'time'], rows)}\n`);
}

async function bench(model: string, io: Io): Promise<void> {
	const mapping = encodingForModel(model);
	const encoder = await encoderFor(mapping.encoding);
	const samples = sampleTexts();
	const rows = SAMPLE_KINDS.map(kind => {
		const texts = samples.filter(sample => sample.kind === kind).map(sample => sample.text);
		const text = texts.join('\n');
		const megabytes = Buffer.byteLength(text) / 1_000_000;
		let exact = 0;
		let estimate = 0;
		const exactMs = meanRunMs(() => (exact = encoder.encode(text, [], []).length), 200);
		const estimateMs = meanRunMs(() => (estimate = estimateTokens(text, mapping.encoding)), 200);
		const rule = threeCharsPerToken(text);
		return [
			kind,
			thousands(text.length),
			thousands(exact),
			(megabytes / (exactMs / 1000)).toFixed(2),
			(megabytes / (estimateMs / 1000)).toFixed(0),
			`${(exactMs / estimateMs).toFixed(0)}×`,
			signed(estimate / exact - 1),
			signed(rule / exact - 1),
		];
	});
	io.stdout(
		`model     ${modelLine(mapping, model)}\nencoder   loaded in ${duration(loadMsOf(mapping.encoding))}\nsamples   fixtures/texts; the estimate is held to ±${percent(ESTIMATE_ERROR_BOUND)} on each kind\n\n` +
			`${table(['kind', 'chars', 'tokens', 'exact MB/s', 'estimate MB/s', 'faster', 'estimate error', '3-chars error'], rows)}\n`,
	);
}

/** relaytop tokens: `input` is what follows the word tokens. */
export async function runTokens(input: readonly string[], flags: ParsedFlags, io: Io): Promise<void> {
	const stray = givenFlags(flags).find(name => !TOKENS_FLAGS.has(name));
	if (stray !== undefined) throw new InputError(`${flagName(stray, flags[stray])} does not go with relaytop tokens`);
	if (flags.bench && flags.json) throw new InputError('--bench prints a table; --json goes with a FILE');
	if (input.length > 1) throw new InputError(`expected one FILE (or -), got ${input.length}`);
	const model = flags.model ?? DEFAULT_MODEL;
	if (model.trim() === '') throw new InputError('--model is empty');
	if (flags.bench) {
		if (input.length > 0) throw new InputError('--bench measures the sample texts; it takes no FILE');
		await bench(model, io);
		return;
	}
	await countText(await readInput(input[0]), model, flags, io);
}
