// One exact counter in one encoding in its own process, so its load figures are its own:
// `node --expose-gc tokens-worker.js <counter> <encoding> <chars:runs,…>`. Prints a
// TokensWorkerReport as JSON.
import {encoderFor} from '../source/tokens/encoders.js';
import {ENCODINGS, type Encoding} from '../source/tokens/model-encoding.js';
import {SAMPLE_KINDS, sampleTexts, textOfSize, type SampleKind} from '../source/tokens/sample-texts.js';
import {COUNTERS, joinedSample, samplesDigest, type Counter, type ExactTiming, type LoadFigures, type TokensWorkerReport} from './tokens.js';

interface ExactCounter {
	readonly count: (text: string) => number;
	/** Forgets what earlier counts left behind, so a timed run never reuses the previous one's work. */
	readonly forget: () => void;
}

// The reference library is imported here only, by encoding as relaytop's encoders are.
const GPT_TOKENIZER: Record<Encoding, () => Promise<typeof import('gpt-tokenizer/encoding/o200k_base')>> = {
	o200k_base: async () => import('gpt-tokenizer/encoding/o200k_base'),
	cl100k_base: async () => import('gpt-tokenizer/encoding/cl100k_base'),
};

/** Special-token text such as `<|endoftext|>` counted as text, as relaytop counts it. */
const SPECIAL_AS_TEXT = {disallowedSpecial: new Set<string>()};

async function gptTokenizer(encoding: Encoding, mergeCache: boolean): Promise<ExactCounter> {
	const tokenizer = await GPT_TOKENIZER[encoding]();
	if (!mergeCache) tokenizer.setMergeCacheSize(0);
	tokenizer.countTokens('warm up', SPECIAL_AS_TEXT); // as encoderFor's load: the first count is part of first use
	return {count: text => tokenizer.countTokens(text, SPECIAL_AS_TEXT), forget: tokenizer.clearMergeCache};
}

const OPENERS: Record<Counter, (encoding: Encoding) => Promise<ExactCounter>> = {
	'js-tiktoken': async encoding => {
		const encoder = await encoderFor(encoding);
		return {count: text => encoder.encode(text, [], []).length, forget: () => {}};
	},
	'gpt-tokenizer': async encoding => gptTokenizer(encoding, true),
	'gpt-tokenizer-uncached': async encoding => gptTokenizer(encoding, false),
};

function collectGarbage(): void {
	const gc = (globalThis as {gc?: () => void}).gc;
	if (gc === undefined) throw new Error('tokens-worker.js needs node --expose-gc: its heap figures are taken after a GC');
	gc();
}

function memoryAfterGc(): {heap: number; rss: number} {
	collectGarbage();
	const {heapUsed, rss} = process.memoryUsage();
	return {heap: heapUsed, rss};
}

async function openMeasured(counter: Counter, encoding: Encoding): Promise<{exact: ExactCounter; load: LoadFigures}> {
	const before = memoryAfterGc();
	const started = performance.now();
	const exact = await OPENERS[counter](encoding);
	const loadMs = performance.now() - started;
	const after = memoryAfterGc();
	return {exact, load: {loadMs, heapBytes: after.heap - before.heap, rssBytes: after.rss - before.rss}};
}

function parseArgs(argv: readonly string[]): {counter: Counter; encoding: Encoding; sizes: Array<{chars: number; runs: number}>} {
	const [counter, encoding, sizesArg] = argv;
	const sizes = (sizesArg ?? '').split(',').map(size => {
		const [chars, runs] = size.split(':').map(Number);
		return {chars: chars!, runs: runs!};
	});
	const valid =
		COUNTERS.includes(counter as Counter) &&
		ENCODINGS.includes(encoding as Encoding) &&
		sizes.every(size => Number.isSafeInteger(size.chars) && size.chars > 0 && Number.isSafeInteger(size.runs) && size.runs >= 1);
	if (!valid) {
		throw new Error(`usage: tokens-worker.js <${COUNTERS.join('|')}> <${ENCODINGS.join('|')}> <chars:runs,…>; got: ${argv.join(' ')}`);
	}
	return {counter: counter as Counter, encoding: encoding as Encoding, sizes};
}

async function main(): Promise<void> {
	const {counter, encoding, sizes} = parseArgs(process.argv.slice(2));
	const {exact, load} = await openMeasured(counter, encoding);
	const samples = sampleTexts();
	// Counting every kind's samples first also warms the JIT for the timed counts.
	const sampleTokens = Object.fromEntries(SAMPLE_KINDS.map(kind => [kind, exact.count(joinedSample(samples, kind))])) as Record<SampleKind, number>;
	const timings: ExactTiming[] = [];
	for (const kind of SAMPLE_KINDS) {
		for (const {chars, runs} of sizes) {
			const text = textOfSize(samples, kind, chars);
			const runsMs: number[] = [];
			let tokens = 0;
			// No GC before a run, unlike timing.ts's timed(): the sweep a forced GC leaves over an encoder's
			// heap lands in the next run and doubles a 10k-character count.
			for (let run = 0; run < runs; run++) {
				exact.forget();
				const started = performance.now();
				tokens = exact.count(text);
				runsMs.push(performance.now() - started);
			}
			timings.push({kind, chars, tokens, runsMs});
		}
	}
	const report: TokensWorkerReport = {counter, encoding, load, samplesDigest: samplesDigest(samples), sampleTokens, timings};
	process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
	process.stderr.write(`${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
	process.exit(1);
});
