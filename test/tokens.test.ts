import {spawnSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {countingCost, HEAVY_SHARE} from '../source/tokens/counting-cost.js';
import {encoderFor} from '../source/tokens/encoders.js';
import {encodingForModel, ENCODINGS, type Encoding} from '../source/tokens/model-encoding.js';
import {SAMPLE_KINDS, sampleTexts} from '../source/tokens/sample-texts.js';
import {countTokens, EXACT_UP_TO_UNITS, exactIsCheap, LONGEST_EXACT_PIECE} from '../source/tokens/token-counter.js';
import {ESTIMATE_ERROR_BOUND, estimateTokens, threeCharsPerToken} from '../source/tokens/token-estimate.js';
import type {TokenizerThroughput} from '../source/tokens/tokenizer-throughput.js';
import type {Rate, Summary} from '../source/usage/types.js';

// The counter against published tokenizations, the estimate against exact counts of the committed
// sample texts, the cost-of-counting arithmetic, and `relaytop tokens` as a real process.

const exactCount = async (text: string, encoding: Encoding): Promise<number> => (await encoderFor(encoding)).encode(text, [], []).length;

describe('exact counts', () => {
	// OpenAI's cookbook, "How to count tokens with tiktoken" (tiktoken is great!; compare_encodings).
	const PUBLISHED: ReadonlyArray<{text: string; cl100k_base: number[]; o200k_base: number[] | null}> = [
		{text: 'tiktoken is great!', cl100k_base: [83, 1609, 5963, 374, 2294, 0], o200k_base: null},
		{text: 'antidisestablishmentarianism', cl100k_base: [519, 85342, 34500, 479, 8997, 2191], o200k_base: [493, 129901, 376, 160388, 21203, 2367]},
		{text: '2 + 2 = 4', cl100k_base: [17, 489, 220, 17, 284, 220, 19], o200k_base: [17, 659, 220, 17, 314, 220, 19]},
		{text: 'お誕生日おめでとう', cl100k_base: [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699], o200k_base: [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669]},
	];

	it.each(PUBLISHED)('$text gives its published tokens in both encodings', async ({text, cl100k_base, o200k_base}) => {
		expect((await encoderFor('cl100k_base')).encode(text, [], [])).toEqual(cl100k_base);
		if (o200k_base !== null) expect((await encoderFor('o200k_base')).encode(text, [], [])).toEqual(o200k_base);
		expect((await countTokens(text, 'gpt-4')).tokens).toBe(cl100k_base.length);
		if (o200k_base !== null) expect((await countTokens(text, 'gpt-4o')).tokens).toBe(o200k_base.length);
	});

	it('counts <|endoftext|> in the input as text, never throwing', async () => {
		const SPECIAL_IDS: Record<Encoding, number> = {o200k_base: 199_999, cl100k_base: 100_257};
		for (const model of ['gpt-4o', 'gpt-4']) {
			const {encoding} = encodingForModel(model);
			const encoder = await encoderFor(encoding);
			const text = 'hello <|endoftext|> world';
			// The library's default refuses the text, and with specials allowed it reads one special token.
			expect(() => encoder.encode(text)).toThrow();
			expect(encoder.encode(text, 'all')).toContain(SPECIAL_IDS[encoding]);
			const asText = encoder.encode(text, [], []);
			expect(asText).not.toContain(SPECIAL_IDS[encoding]);
			expect(encoder.decode(asText)).toBe(text);
			expect((await countTokens(text, model)).tokens).toBe(asText.length);
			expect((await countTokens('<|endoftext|>', model)).tokens).toBe(7); // < | end of text | >
		}
	});
});

describe('model → encoding', () => {
	it.each([
		['gpt-4o-2024-11-20', 'gpt-4o', 'o200k_base'],
		['openai/GPT-4o-mini', 'gpt-4o-mini', 'o200k_base'],
		['ft:gpt-4o-mini-2024-07-18:acme::AbC123', 'gpt-4o-mini', 'o200k_base'],
		['openai/ft:gpt-4o-mini:acme::AbC123', 'gpt-4o-mini', 'o200k_base'],
		['gpt-realtime-2025-08-28', 'gpt-realtime', 'o200k_base'],
		['davinci-002', 'davinci-002', 'cl100k_base'],
		['chatgpt-4o-latest', 'chatgpt-4o', 'o200k_base'],
		['gpt-4.1-mini', 'gpt-4.1-mini', 'o200k_base'],
		['gpt-5-codex', 'gpt-5-codex', 'o200k_base'],
		['o1', 'o1', 'o200k_base'],
		['o3-mini-2025-01-31', 'o3-mini', 'o200k_base'],
		['gpt-4-0613', 'gpt-4', 'cl100k_base'],
		['gpt-4-turbo-preview', 'gpt-4-turbo', 'cl100k_base'],
		['azure/gpt-35-turbo-0125', 'gpt-35-turbo', 'cl100k_base'],
		['text-embedding-3-small', 'text-embedding-3-small', 'cl100k_base'],
	])('%s is %s, counted with %s exactly', (name, model, encoding) => {
		expect(encodingForModel(name)).toEqual({model, encoding, approximate: false});
	});

	it.each(['claude-sonnet-4-5-20250929', 'gemini-2.5-pro', 'deepseek-chat', 'qwen3-coder-plus', 'o10-mini', 'gpt4o'])('%s falls back to o200k_base, marked approximate', async name => {
		const mapping = encodingForModel(name);
		expect(mapping).toMatchObject({encoding: 'o200k_base', approximate: true});
		const count = await countTokens('お誕生日おめでとう', name);
		expect(count).toEqual({tokens: 8, encoding: 'o200k_base', approximate: true});
	});
});

describe('the estimate', () => {
	const samples = sampleTexts();

	it('has samples of every kind', () => {
		expect(new Set(samples.map(sample => sample.kind))).toEqual(new Set(SAMPLE_KINDS));
	});

	for (const encoding of ENCODINGS) {
		it(`stays within ±${ESTIMATE_ERROR_BOUND * 100}% of the exact ${encoding} count on every sample, where 3 chars/token does not`, async () => {
			const ruleErrors: number[] = [];
			for (const sample of samples) {
				const exact = await exactCount(sample.text, encoding);
				const error = estimateTokens(sample.text, encoding) / exact - 1;
				expect(Math.abs(error), `${sample.name}: ${(error * 100).toFixed(1)}%`).toBeLessThanOrEqual(ESTIMATE_ERROR_BOUND);
				ruleErrors.push(threeCharsPerToken(sample.text) / exact - 1);
			}
			// The seed's rule over-counts prose and code, and under-counts CJK by half or more.
			expect(Math.max(...ruleErrors)).toBeGreaterThan(0.25);
			expect(Math.min(...ruleErrors)).toBeLessThan(-0.5);
		});
	}

	it('is 0 for empty text', () => {
		for (const encoding of ENCODINGS) expect(estimateTokens('', encoding)).toBe(0);
	});

	it('counts exactly up to about 10 ms of work: a CJK character weighs more, and a long piece is never cheap', () => {
		expect(exactIsCheap('hello world')).toBe(true);
		const words = 'the quick brown fox jumps over the lazy dog ';
		expect(exactIsCheap(words.repeat(Math.floor(EXACT_UP_TO_UNITS / words.length)))).toBe(true);
		expect(exactIsCheap(words.repeat(Math.ceil(EXACT_UP_TO_UNITS / words.length) + 1))).toBe(false);
		expect(exactIsCheap('誕生日。'.repeat(100))).toBe(true);
		expect(exactIsCheap('誕生日。'.repeat(250))).toBe(false); // 250 × (3 × 30 + 1) units
		// js-tiktoken's merge is quadratic in a piece: letters, spaces or Han with no break in between.
		for (const piece of ['a', ' ', '誕']) {
			expect(exactIsCheap(piece.repeat(LONGEST_EXACT_PIECE))).toBe(true);
			expect(exactIsCheap(piece.repeat(LONGEST_EXACT_PIECE + 1))).toBe(false);
		}
		expect(exactIsCheap('a.'.repeat(LONGEST_EXACT_PIECE * 2))).toBe(true);
	});
});

describe('the cost of counting at the current rate', () => {
	const throughput: TokenizerThroughput = {encoding: 'o200k_base', latinTokensPerS: 400_000, cjkTokensPerS: 50_000, machine: 'test', measuredAtMs: 0};
	const summary = (requests: number, input: number): Summary => ({
		totalRequests: requests,
		successCount: requests,
		failureCount: 0,
		totalTokens: input,
		tokens: {input, output: 0, reasoning: 0, cached: 0},
		latencyMsAvg: null,
		costUsd: 0,
		unpricedRequests: 0,
	});
	const rate = (rpm: number): Rate => ({windowS: 60, rpm, tpm: 0});

	it('is prompt tokens per second over the tokenizer speed, for Latin and for CJK prompts', () => {
		const cost = countingCost(rate(600), summary(1000, 2_000_000), throughput); // 10 requests/s of 2,000 tokens
		expect(cost.promptTokensPerRequest).toBe(2000);
		expect(cost.tokensPerS).toBe(20_000);
		expect(cost.coreShare.latin).toBeCloseTo(0.05, 10);
		expect(cost.coreShare.cjk).toBeCloseTo(0.4, 10);
		expect(cost.verdict).toBe('noticeable');
		expect(cost.assumptions.join(' ')).toMatch(/400000 tokens\/s for English or code, 50000 for Chinese or Japanese/u);
	});

	it('says when CountToken=false is worth considering, and when counting is not the problem', () => {
		const heavy = countingCost(rate(6000), summary(10, 20_000), throughput); // 100/s × 2,000 = 200k tokens/s
		expect(heavy.coreShare.latin).toBeGreaterThanOrEqual(HEAVY_SHARE);
		expect(heavy.verdict).toBe('heavy');
		expect(heavy.advice).toContain('CountToken=false');
		const light = countingCost(rate(60), summary(10, 5_000), throughput);
		expect(light.verdict).toBe('negligible');
		expect(light.advice).not.toContain('CountToken=false');
		const cjkOnly = countingCost(rate(60), summary(1, 15_000), throughput); // 15k tokens/s: 3.75% Latin, 30% CJK
		expect(cjkOnly.verdict).toBe('noticeable');
		expect(cjkOnly.advice).toMatch(/30% of a core if the prompts are mostly Chinese or Japanese/u);
		expect(countingCost(rate(0), summary(0, 0), throughput).verdict).toBe('idle');
	});
});

describe('relaytop tokens', () => {
	const ROOT = packageRoot();
	const CLI = join(ROOT, 'dist', 'source', 'cli.js');
	const folder = mkdtempSync(join(tmpdir(), 'relaytop-tokens-'));
	afterAll(() => rmSync(folder, {recursive: true, force: true}));
	const run = (args: readonly string[], input = '') => spawnSync(process.execPath, [CLI, 'tokens', ...args], {cwd: ROOT, encoding: 'utf8', input});

	it('prints the exact count, the estimate and the 3-chars rule with their times, for a file and for stdin', async () => {
		const text = 'antidisestablishmentarianism <|endoftext|> お誕生日おめでとう\n';
		const file = join(folder, 'prompt.txt');
		writeFileSync(file, text);
		const exact = await exactCount(text, 'cl100k_base');
		const fromFile = run(['--model', 'gpt-4-0613', file]);
		expect(fromFile.status, fromFile.stderr).toBe(0);
		expect(fromFile.stdout).toMatch(/^model +gpt-4-0613 → cl100k_base$/mu);
		expect(fromFile.stdout).toMatch(new RegExp(`^exact +${exact} tokens +[\\d.]+ (?:ms|µs)$`, 'mu'));
		expect(fromFile.stdout).toMatch(new RegExp(`^estimate +${estimateTokens(text, 'cl100k_base')} tokens +[+−][\\d.]+% +[\\d.]+ (?:ms|µs)$`, 'mu'));
		expect(fromFile.stdout).toMatch(new RegExp(`^3 chars/token +${threeCharsPerToken(text)} tokens`, 'mu'));
		const json = run(['--json', '--model', 'claude-opus-4', '-'], text);
		expect(json.status, json.stderr).toBe(0);
		expect(JSON.parse(json.stdout)).toMatchObject({model: 'claude-opus-4', encoding: 'o200k_base', approximate: true, characters: text.length, counter_uses: 'exact', exact_tokens: await exactCount(text, 'o200k_base')});
	});

	it('--bench prints throughput and error for every sample kind', () => {
		const result = run(['--bench']);
		expect(result.status, result.stderr).toBe(0);
		for (const kind of SAMPLE_KINDS) expect(result.stdout).toMatch(new RegExp(`^${kind} +[\\d,]+ +[\\d,]+ +[\\d.]+ +[\\d.]+ +\\d+× +[+−][\\d.]+% +[+−][\\d.]+%$`, 'mu'));
	});

	it.each([
		[['no-such-file.txt'], /^relaytop: cannot read no-such-file.txt: no such file\n$/u],
		[['--bench', 'prompt.txt'], /^relaytop: --bench measures the sample texts; it takes no FILE\n$/u],
		[['a.txt', 'b.txt'], /^relaytop: expected one FILE \(or -\), got 2\n$/u],
		[['--model', ' ', '-'], /^relaytop: --model is empty\n$/u],
		[['--once', 'prompt.txt'], /^relaytop: --once does not go with relaytop tokens\n$/u],
		[['--bench', '--json'], /^relaytop: --bench prints a table; --json goes with a FILE\n$/u],
	])('%j is one line and exit 2', (args, message) => {
		const result = run(args);
		expect(result.status).toBe(2);
		expect(result.stdout).toBe('');
		expect(result.stderr).toMatch(message);
	});

	it('--bench without tokens is a usage error', () => {
		const result = spawnSync(process.execPath, [CLI, '--bench'], {cwd: ROOT, encoding: 'utf8', input: ''});
		expect(result.status).toBe(2);
		expect(result.stderr).toBe('relaytop: --bench goes with relaytop tokens\n');
	});
});
