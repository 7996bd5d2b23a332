import {encoderFor} from './encoders.js';
import {encodingForModel, type Encoding} from './model-encoding.js';
import {continuesPiece, isCjk} from './token-estimate.js';

// Token counts for a model through its encoder, and when an exact count costs more than it is worth
// (then the estimate, token-estimate.ts, stands in).

export interface TokenCount {
	readonly tokens: number;
	readonly encoding: Encoding;
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
/**
 * js-tiktoken's merge loop is quadratic in one piece's length: 20,000 letters without a space take
 * half a minute, 666 Han characters without punctuation 0.3 s. A piece longer than this is estimated.
 */
export const LONGEST_EXACT_PIECE = 256;

/** What an exact count of `text` would cost, in units; Infinity for a piece too long to count exactly. */
export function exactCostUnits(text: string, limit = Number.POSITIVE_INFINITY): number {
	let units = 0;
	let piece = 0;
	for (let i = 0; i < text.length && units <= limit; i++) {
		const code = text.charCodeAt(i);
		piece = i > 0 && continuesPiece(text.charCodeAt(i - 1), code) ? piece + 1 : 1;
		if (piece > LONGEST_EXACT_PIECE) return Number.POSITIVE_INFINITY;
		units += isCjk(code) ? CJK_UNIT_COST : 1;
	}
	return units;
}

/** An exact count of `text` is cheap enough: about 10 ms at most. */
export const exactIsCheap = (text: string): boolean => exactCostUnits(text, EXACT_UP_TO_UNITS) <= EXACT_UP_TO_UNITS;

/**
 * The exact count of `text` for `model`. Special-token text such as `<|endoftext|>` in the input is
 * counted as the text it is, never refused: prompts are untrusted.
 */
export async function countTokens(text: string, model: string): Promise<TokenCount> {
	const {encoding, approximate} = encodingForModel(model);
	const encoder = await encoderFor(encoding);
	return {tokens: encoder.encode(text, [], []).length, encoding, approximate};
}
