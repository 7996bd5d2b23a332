import {encoderFor} from './encoders.js';
import {encodingForModel, type Encoding} from './model-encoding.js';
import {estimateTokens} from './token-estimate.js';

// Token counts for a model: exact through its encoder, or estimated when an exact count would cost
// more than it is worth.

export interface TokenCount {
	readonly tokens: number;
	readonly encoding: Encoding;
	/** Counted by the encoder; false: estimated. */
	readonly exact: boolean;
	/** The model is not OpenAI's: its own tokenizer would count differently. */
	readonly approximate: boolean;
}

/**
 * Above this many cost units an exact count is replaced by the estimate. A unit is a Latin, digit or
 * punctuation character; a Han, kana or Hangul character is CJK_UNIT_COST units, because js-tiktoken
 * spends 0.35-0.5 µs on the first and 10-20 µs on the second (measured on this machine,
 * `relaytop tokens --bench`). 20,000 units are about 10 ms of counting whatever the script.
 */
export const EXACT_UP_TO_UNITS = 20_000;
export const CJK_UNIT_COST = 30;

/** What an exact count of `text` would cost, in units (stops counting once past the limit). */
export function exactCostUnits(text: string, limit = Number.POSITIVE_INFINITY): number {
	let units = 0;
	for (let i = 0; i < text.length && units <= limit; i++) {
		const code = text.charCodeAt(i);
		units += (code >= 0x3040 && code <= 0x30ff) || (code >= 0x3400 && code <= 0x9fff) || (code >= 0xac00 && code <= 0xd7af) ? CJK_UNIT_COST : 1;
	}
	return units;
}

/**
 * The exact count of `text` for `model`. Special-token text such as `<|endoftext|>` in the input is
 * counted as the text it is, never refused: prompts are untrusted.
 */
export async function countTokens(text: string, model: string): Promise<TokenCount> {
	const {encoding, approximate} = encodingForModel(model);
	const encoder = await encoderFor(encoding);
	return {tokens: encoder.encode(text, [], []).length, encoding, exact: true, approximate};
}

/** Exact up to EXACT_UP_TO_UNITS, the estimate above it (no encoder is loaded for a long text). */
export async function countOrEstimate(text: string, model: string): Promise<TokenCount> {
	if (exactCostUnits(text, EXACT_UP_TO_UNITS) <= EXACT_UP_TO_UNITS) return countTokens(text, model);
	const {encoding, approximate} = encodingForModel(model);
	return {tokens: estimateTokens(text, encoding), encoding, exact: false, approximate};
}
