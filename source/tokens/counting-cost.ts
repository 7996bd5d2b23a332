import type {Rate, Summary} from '../usage/types.js';
import type {TokenizerThroughput} from './tokenizer-throughput.js';

// What counting every request's prompt costs a gateway at the rate it serves now: the prompt tokens
// per second it would count, over how many tokens per second one core counts. The tuning notes blame
// CPU spikes at high rpm on this; the figure says whether that is plausible here.

/** A share of one core above which counting is worth turning off (on a 1-vCPU server, a quarter of it). */
export const HEAVY_SHARE = 0.25;
/** Below this it is noise. */
export const NOTICEABLE_SHARE = 0.05;

export type CountingVerdict = 'idle' | 'negligible' | 'noticeable' | 'heavy';

export interface CountingCost {
	readonly rpm: number;
	/** Input tokens per request over the range, as the provider reported them. */
	readonly promptTokensPerRequest: number;
	/** Prompt tokens per second a counting gateway tokenizes at this rpm. */
	readonly tokensPerS: number;
	/** Fractions of one core: prompts in English or code, and prompts in Chinese or Japanese. */
	readonly coreShare: {readonly latin: number; readonly cjk: number};
	readonly verdict: CountingVerdict;
	readonly advice: string;
	readonly assumptions: readonly string[];
	readonly throughput: TokenizerThroughput;
}

const ADVICE: Record<CountingVerdict, string> = {
	idle: 'no requests in the last minute: nothing is being counted',
	negligible: 'token counting is not what loads the gateway',
	noticeable: 'token counting is a visible part of the load; CountToken=false only if the CPU is short',
	heavy: 'token counting may dominate the CPU: consider CountToken=false and trusting the provider-reported usage',
};

const share = (value: number): string => `${(value * 100).toFixed(value < 0.1 ? 1 : 0)}%`;

export function countingCost(rate: Rate, summary: Summary, throughput: TokenizerThroughput): CountingCost {
	const promptTokensPerRequest = summary.totalRequests === 0 ? 0 : summary.tokens.input / summary.totalRequests;
	const tokensPerS = (rate.rpm / 60) * promptTokensPerRequest;
	const coreShare = {latin: tokensPerS / throughput.latinTokensPerS, cjk: tokensPerS / throughput.cjkTokensPerS};
	const verdict: CountingVerdict =
		rate.rpm === 0 ? 'idle' : coreShare.latin >= HEAVY_SHARE ? 'heavy' : coreShare.latin >= NOTICEABLE_SHARE || coreShare.cjk >= HEAVY_SHARE ? 'noticeable' : 'negligible';
	const cjkNote = verdict === 'noticeable' && coreShare.latin < NOTICEABLE_SHARE ? ` (${share(coreShare.cjk)} of a core if the prompts are mostly Chinese or Japanese)` : '';
	return {
		rpm: rate.rpm,
		promptTokensPerRequest,
		tokensPerS,
		coreShare,
		verdict,
		advice: `${ADVICE[verdict]}${cjkNote}`,
		assumptions: [
			'the gateway counts each request prompt once, locally (new-api with CountToken=true; since 2025-12 it counts only OpenAI models exactly, so this is an upper bound)',
			`prompt size: the range's average input tokens per request (${Math.round(promptTokensPerRequest)}), as the provider reported them`,
			`tokenizer speed: js-tiktoken ${throughput.encoding} on this machine, ${Math.round(throughput.latinTokensPerS)} tokens/s for English or code, ${Math.round(throughput.cjkTokensPerS)} for Chinese or Japanese; the gateway's own tokenizer may be faster`,
		],
		throughput,
	};
}

/** One short phrase for a status line: "counting ≈ 0.4% of a core (CJK 9%)". */
export const countingPhrase = (cost: CountingCost): string =>
	cost.verdict === 'idle' ? 'counting idle' : `counting ≈ ${share(cost.coreShare.latin)} of a core (CJK ${share(cost.coreShare.cjk)})`;
