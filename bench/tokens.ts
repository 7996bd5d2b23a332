// Exact token counting against the estimate, in both encodings: time per text of 10k, 100k and 1M
// characters of each sample kind, the estimate's error per kind, and what each encoder costs to
// load. gpt-tokenizer runs beside js-tiktoken as a reference, to show what choosing the latter costs.
// Every exact counter runs in its own process (tokens-worker.ts): a load measured after another
// encoder's would carry that encoder's heap, and its timings that encoder's JIT.
import {spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {fileURLToPath} from 'node:url';
import {ENCODINGS, type Encoding} from '../source/tokens/model-encoding.js';
import {SAMPLE_KINDS, sampleTexts, textOfSize, type SampleKind, type SampleText} from '../source/tokens/sample-texts.js';
import {ESTIMATE_ERROR_BOUND, estimateTokens, threeCharsPerToken} from '../source/tokens/token-estimate.js';
import {textTable} from './text-table.js';
import {median} from './timing.js';

/** The exact counters: relaytop's, and gpt-tokenizer with its merge cache on (its default) and off. */
export const COUNTERS = ['js-tiktoken', 'gpt-tokenizer', 'gpt-tokenizer-uncached'] as const;
export type Counter = (typeof COUNTERS)[number];

const COUNTER_LABELS: Record<Counter, string> = {
	'js-tiktoken': 'js-tiktoken',
	'gpt-tokenizer': 'gpt-tokenizer',
	'gpt-tokenizer-uncached': 'gpt-tokenizer, no merge cache',
};

export interface TextSize {
	readonly chars: number;
	/** Timed exact counts: few at 1M characters, where CJK text takes seconds per count. */
	readonly exactRuns: number;
	/** Timed estimates: many, since one takes well under a millisecond. */
	readonly estimateRuns: number;
}

export interface TokensSettings {
	readonly sizes: readonly TextSize[];
}

export const tokensSettings = (quick: boolean): TokensSettings => ({
	sizes: quick
		? [
				{chars: 10_000, exactRuns: 3, estimateRuns: 101},
				{chars: 100_000, exactRuns: 1, estimateRuns: 21},
			]
		: [
				{chars: 10_000, exactRuns: 7, estimateRuns: 501},
				{chars: 100_000, exactRuns: 3, estimateRuns: 101},
				{chars: 1_000_000, exactRuns: 1, estimateRuns: 21},
			],
});

/** The size of the speed target: the estimate at least 100 times faster than exact there. */
const TARGET_CHARS = 100_000;
const TARGET_SPEED_RATIO = 100;

export interface LoadFigures {
	/** Import of the ranks, construction and a first count, ms. */
	readonly loadMs: number;
	/** Growth over the load, after a GC on both sides, bytes. */
	readonly heapBytes: number;
	readonly rssBytes: number;
}

export interface ExactTiming {
	readonly kind: SampleKind;
	readonly chars: number;
	readonly tokens: number;
	readonly runsMs: readonly number[];
}

/** A worker's report, printed as JSON on its stdout. */
export interface TokensWorkerReport {
	readonly counter: Counter;
	readonly encoding: Encoding;
	readonly load: LoadFigures;
	/** samplesDigest of the samples it read: all workers must have counted the same texts. */
	readonly samplesDigest: string;
	/** Exact counts of each kind's samples, joined. */
	readonly sampleTokens: Record<SampleKind, number>;
	readonly timings: readonly ExactTiming[];
}

/** A kind's sample texts joined as textOfSize joins them, unrepeated: the texts the error is measured on. */
export const joinedSample = (samples: readonly SampleText[], kind: SampleKind): string =>
	samples
		.filter(sample => sample.kind === kind)
		.map(sample => sample.text)
		.join('\n');

/** A digest of the sample texts' names and contents. */
export function samplesDigest(samples: readonly SampleText[]): string {
	const hash = createHash('sha256');
	for (const sample of samples) hash.update(`${sample.name}\0${sample.text}\0`);
	return hash.digest('hex');
}

const WORKER = fileURLToPath(new URL('./tokens-worker.js', import.meta.url));

function runTokensWorker(counter: Counter, encoding: Encoding, sizes: readonly TextSize[]): TokensWorkerReport {
	const sizesArg = sizes.map(size => `${size.chars}:${size.exactRuns}`).join(',');
	const child = spawnSync(process.execPath, ['--expose-gc', WORKER, counter, encoding, sizesArg], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
	if (child.error !== undefined) {
		throw new Error(`tokens worker (${counter}, ${encoding}) did not start: ${child.error.message}`);
	}
	if (child.status !== 0) {
		const reason = child.stderr.trim().split('\n').pop() || `exit ${child.status ?? child.signal}`;
		throw new Error(`tokens worker (${counter}, ${encoding}) failed: ${reason}`);
	}
	return JSON.parse(child.stdout) as TokensWorkerReport;
}

/** Median ms of `runs` estimates, after a few untimed ones for the JIT. */
function estimateMs(text: string, encoding: Encoding, runs: number): number {
	for (let run = 0; run < 5; run++) estimateTokens(text, encoding);
	const runsMs: number[] = [];
	for (let run = 0; run < runs; run++) {
		const started = performance.now();
		estimateTokens(text, encoding);
		runsMs.push(performance.now() - started);
	}
	return median(runsMs);
}

export interface SpeedRow {
	readonly encoding: Encoding;
	readonly kind: SampleKind;
	readonly chars: number;
	readonly exactTokens: number;
	readonly estimateTokens: number;
	readonly exactMedianMs: Record<Counter, number>;
	readonly exactRunsMs: Record<Counter, readonly number[]>;
	readonly estimateMedianMs: number;
	/** js-tiktoken's median over the estimate's. */
	readonly exactOverEstimate: number;
}

export interface ErrorRow {
	readonly encoding: Encoding;
	readonly kind: SampleKind;
	readonly chars: number;
	readonly exactTokens: number;
	readonly estimateTokens: number;
	readonly estimateErrorPct: number;
	readonly threeCharsTokens: number;
	readonly threeCharsErrorPct: number;
}

export interface LoadRow extends LoadFigures {
	readonly counter: Counter;
	readonly encoding: Encoding;
}

export interface TokensResults {
	readonly speed: readonly SpeedRow[];
	readonly errors: readonly ErrorRow[];
	readonly loads: readonly LoadRow[];
	/** Every count of another counter that differs from js-tiktoken's, described. */
	readonly mismatches: readonly string[];
	readonly countsCompared: number;
}

const errorPct = (tokens: number, exact: number): number => ((tokens - exact) / exact) * 100;

function speedRows(encoding: Encoding, reports: Record<Counter, TokensWorkerReport>, samples: readonly SampleText[], sizes: readonly TextSize[]): SpeedRow[] {
	return reports['js-tiktoken'].timings.map(timing => {
		const size = sizes.find(candidate => candidate.chars === timing.chars)!;
		const text = textOfSize(samples, timing.kind, timing.chars);
		const estimateMedianMs = estimateMs(text, encoding, size.estimateRuns);
		const exactRunsMs = Object.fromEntries(
			COUNTERS.map(counter => [counter, reports[counter].timings.find(other => other.kind === timing.kind && other.chars === timing.chars)!.runsMs]),
		) as Record<Counter, readonly number[]>;
		const exactMedianMs = Object.fromEntries(COUNTERS.map(counter => [counter, median(exactRunsMs[counter])])) as Record<Counter, number>;
		return {
			encoding,
			kind: timing.kind,
			chars: timing.chars,
			exactTokens: timing.tokens,
			estimateTokens: estimateTokens(text, encoding),
			exactMedianMs,
			exactRunsMs,
			estimateMedianMs,
			exactOverEstimate: exactMedianMs['js-tiktoken'] / estimateMedianMs,
		};
	});
}

function errorRows(encoding: Encoding, exact: TokensWorkerReport, samples: readonly SampleText[]): ErrorRow[] {
	return SAMPLE_KINDS.map(kind => {
		const text = joinedSample(samples, kind);
		const exactTokens = exact.sampleTokens[kind];
		const estimate = estimateTokens(text, encoding);
		const threeChars = threeCharsPerToken(text);
		return {
			encoding,
			kind,
			chars: text.length,
			exactTokens,
			estimateTokens: estimate,
			estimateErrorPct: errorPct(estimate, exactTokens),
			threeCharsTokens: threeChars,
			threeCharsErrorPct: errorPct(threeChars, exactTokens),
		};
	});
}

/** The counts of every other counter that differ from js-tiktoken's, on the samples and on every sized text. */
function mismatchesOf(encoding: Encoding, reports: Record<Counter, TokensWorkerReport>): {mismatches: string[]; compared: number} {
	const reference = reports['js-tiktoken'];
	const mismatches: string[] = [];
	let compared = 0;
	for (const counter of COUNTERS.filter(other => other !== 'js-tiktoken')) {
		const report = reports[counter];
		const compare = (text: string, tokens: number, expected: number) => {
			compared++;
			if (tokens !== expected) mismatches.push(`${encoding} ${text}: ${COUNTER_LABELS[counter]} ${tokens}, js-tiktoken ${expected}`);
		};
		for (const kind of SAMPLE_KINDS) compare(`${kind} samples`, report.sampleTokens[kind], reference.sampleTokens[kind]);
		for (const timing of report.timings) {
			compare(textLabel(timing), timing.tokens, reference.timings.find(other => other.kind === timing.kind && other.chars === timing.chars)!.tokens);
		}
	}
	return {mismatches, compared};
}

const sizeLabel = (chars: number): string => (chars >= 1_000_000 ? `${chars / 1_000_000}M` : `${chars / 1000}k`);
const textLabel = (text: {kind: SampleKind; chars: number}): string => `${text.kind} ${sizeLabel(text.chars)}`;

export async function runTokensBenchmark(settings: TokensSettings, log: (line: string) => void): Promise<TokensResults> {
	const samples = sampleTexts();
	const digest = samplesDigest(samples);
	const speed: SpeedRow[] = [];
	const errors: ErrorRow[] = [];
	const loads: LoadRow[] = [];
	const mismatches: string[] = [];
	let countsCompared = 0;
	for (const encoding of ENCODINGS) {
		const reports = {} as Record<Counter, TokensWorkerReport>;
		for (const counter of COUNTERS) {
			log(`tokens: ${COUNTER_LABELS[counter]}, ${encoding}: load, then exact counts of ${settings.sizes.map(size => sizeLabel(size.chars)).join(', ')} characters per kind…`);
			reports[counter] = runTokensWorker(counter, encoding, settings.sizes);
			// Counts of different texts would show as false mismatches, and errors against the wrong texts.
			if (reports[counter].samplesDigest !== digest) throw new Error('fixtures/texts changed while the tokens benchmark ran; run it again');
			loads.push({counter, encoding, ...reports[counter].load});
		}
		log(`tokens: estimates, ${encoding}…`);
		speed.push(...speedRows(encoding, reports, samples, settings.sizes));
		errors.push(...errorRows(encoding, reports['js-tiktoken'], samples));
		const checked = mismatchesOf(encoding, reports);
		mismatches.push(...checked.mismatches);
		countsCompared += checked.compared;
	}
	return {speed, errors, loads, mismatches, countsCompared};
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));
const mb = (bytes: number): number => bytes / 1_048_576;

/** The largest |error| of the estimate per encoding, and whether it is within the bound. */
function maxEstimateErrors(errors: readonly ErrorRow[]): Array<{encoding: Encoding; kind: SampleKind; errorPct: number; withinBound: boolean}> {
	return ENCODINGS.map(encoding => {
		const worst = errors.filter(row => row.encoding === encoding).reduce((a, b) => (Math.abs(b.estimateErrorPct) > Math.abs(a.estimateErrorPct) ? b : a));
		return {encoding, kind: worst.kind, errorPct: worst.estimateErrorPct, withinBound: Math.abs(worst.estimateErrorPct) <= ESTIMATE_ERROR_BOUND * 100};
	});
}

/** The smallest exact/estimate ratio at the target size per encoding, or none when the run skipped that size. */
function slowestSpeedups(speed: readonly SpeedRow[]): Array<{encoding: Encoding; kind: SampleKind; ratio: number; meetsTarget: boolean}> {
	return ENCODINGS.flatMap(encoding => {
		const atTarget = speed.filter(row => row.encoding === encoding && row.chars === TARGET_CHARS);
		if (atTarget.length === 0) return [];
		const slowest = atTarget.reduce((a, b) => (b.exactOverEstimate < a.exactOverEstimate ? b : a));
		return [{encoding, kind: slowest.kind, ratio: slowest.exactOverEstimate, meetsTarget: slowest.exactOverEstimate >= TARGET_SPEED_RATIO}];
	});
}

export const tokensResultsFile = (settings: TokensSettings, results: TokensResults): object => ({
	benchmark: 'token counting: exact (js-tiktoken, gpt-tokenizer as reference) vs the estimate, per sample kind and text size, both encodings',
	targets: {estimateErrorBound: ESTIMATE_ERROR_BOUND, estimateSpeedRatioAt: {chars: TARGET_CHARS, ratio: TARGET_SPEED_RATIO}},
	settings,
	method: [
		'texts: textOfSize(sampleTexts(), kind, chars), the samples of fixtures/texts joined and repeated; errors on the joined samples, unrepeated',
		'each exact counter in its own `node --expose-gc` process per encoding: load first (import of the ranks, construction, one count of "warm up"; heap and RSS after a GC on both sides), then one untimed count of each kind\'s samples, then the timed counts (no forced GC between them: the sweep it leaves over an encoder\'s heap would land in the next run)',
		"js-tiktoken: encoderFor(encoding).encode(text, [], []); gpt-tokenizer: countTokens(text, {disallowedSpecial: new Set()}) from gpt-tokenizer/encoding/<encoding>, special-token text counted as text in both",
		"gpt-tokenizer's merge cache (an LRU of pieces, on by default) is emptied before each timed run; the repeated sample unit within one text still hits it, which favours it on the long texts, hence the run with the cache off",
		'estimate: estimateTokens in the benchmark process, median of estimateRuns after 5 untimed',
	],
	maxEstimateError: maxEstimateErrors(results.errors).map(row => ({...row, errorPct: round(row.errorPct, 2)})),
	slowestSpeedupAtTarget: slowestSpeedups(results.speed).map(row => ({...row, ratio: round(row.ratio, 1)})),
	countCheck: {compared: results.countsCompared, mismatches: results.mismatches},
	loads: results.loads.map(row => ({counter: row.counter, encoding: row.encoding, loadMs: round(row.loadMs, 1), heapMb: round(mb(row.heapBytes), 1), rssMb: round(mb(row.rssBytes), 1)})),
	speed: results.speed.map(row => ({
		...row,
		exactMedianMs: Object.fromEntries(COUNTERS.map(counter => [counter, round(row.exactMedianMs[counter], 3)])),
		exactRunsMs: Object.fromEntries(COUNTERS.map(counter => [counter, row.exactRunsMs[counter].map(ms => round(ms, 3))])),
		estimateMedianMs: round(row.estimateMedianMs, 4),
		exactOverEstimate: round(row.exactOverEstimate, 1),
	})),
	errors: results.errors.map(row => ({...row, estimateErrorPct: round(row.estimateErrorPct, 2), threeCharsErrorPct: round(row.threeCharsErrorPct, 2)})),
});

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(1) : value.toFixed(3));
const signedPct = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(1)}%`;

function speedTable(encoding: Encoding, speed: readonly SpeedRow[]): string {
	return textTable(
		[`${encoding}, text`, 'tokens', 'js-tiktoken ms', 'estimate ms', 'exact/estimate', 'gpt-tokenizer ms', 'no cache ms', 'js-tiktoken/gpt-tokenizer'],
		speed
			.filter(row => row.encoding === encoding)
			.map(row => [
				textLabel(row),
				String(row.exactTokens),
				ms(row.exactMedianMs['js-tiktoken']),
				ms(row.estimateMedianMs),
				`${row.exactOverEstimate.toFixed(0)}×`,
				ms(row.exactMedianMs['gpt-tokenizer']),
				ms(row.exactMedianMs['gpt-tokenizer-uncached']),
				`${(row.exactMedianMs['js-tiktoken'] / row.exactMedianMs['gpt-tokenizer']).toFixed(1)}×`,
			]),
	);
}

function errorTable(errors: readonly ErrorRow[]): string {
	return textTable(
		['samples', 'chars', 'exact tokens', 'estimate', 'error', '3 chars/token', 'error'],
		errors.map(row => [`${row.encoding} ${row.kind}`, String(row.chars), String(row.exactTokens), String(row.estimateTokens), signedPct(row.estimateErrorPct), String(row.threeCharsTokens), signedPct(row.threeCharsErrorPct)]),
	);
}

function loadTable(loads: readonly LoadRow[]): string {
	return textTable(
		['encoder, first use', 'load ms', 'heap MB', 'RSS MB'],
		loads.map(row => [`${COUNTER_LABELS[row.counter]}, ${row.encoding}`, row.loadMs.toFixed(0), mb(row.heapBytes).toFixed(1), mb(row.rssBytes).toFixed(1)]),
	);
}

export function tokensTable(results: TokensResults): string {
	const errorLines = maxEstimateErrors(results.errors).map(
		row => `${row.encoding}: estimate's largest error ${signedPct(row.errorPct)} (${row.kind}), ${row.withinBound ? 'within' : 'OUTSIDE'} the ±${ESTIMATE_ERROR_BOUND * 100}% bound`,
	);
	const speedLines = slowestSpeedups(results.speed).map(
		row => `${row.encoding}: at ${sizeLabel(TARGET_CHARS)} chars the estimate is at least ${row.ratio.toFixed(0)}× faster than js-tiktoken (${row.kind}), target ${TARGET_SPEED_RATIO}×: ${row.meetsTarget ? 'met' : 'MISSED'}`,
	);
	const countLine =
		results.mismatches.length === 0
			? `gpt-tokenizer's counts equal js-tiktoken's on all ${results.countsCompared} texts compared`
			: `gpt-tokenizer's counts differ from js-tiktoken's on ${results.mismatches.length} of ${results.countsCompared} texts: ${results.mismatches.join('; ')}`;
	const cacheLine =
		"gpt-tokenizer's merge cache is emptied before each run, but a sized text repeats its kind's samples, so 'no cache' is its speed on text it has not seen";
	return [
		...ENCODINGS.map(encoding => speedTable(encoding, results.speed)),
		errorTable(results.errors),
		loadTable(results.loads),
		[...speedLines, ...errorLines, countLine, cacheLine].join('\n'),
	].join('\n\n');
}
