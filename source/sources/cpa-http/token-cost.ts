import type {ModelPrice, PriceBook} from '../../usage/price-book.js';

/** Token sums of some requests of one model pair; `cached` is max(cached_tokens, cache_tokens). */
export interface BillableTokens {
	readonly input: number;
	readonly cached: number;
	readonly output: number;
}

/**
 * USD at a per-1M price, by the SQLite source's rule (reference §4): cached input at the cache
 * rate, the rest of the input at the prompt rate, output at the completion rate, none below 0.
 */
export function costAt(tokens: BillableTokens, price: ModelPrice): number {
	const cached = Math.max(tokens.cached, 0);
	const prompt = Math.max(tokens.input - cached, 0);
	return (prompt * price.prompt + cached * price.cache + Math.max(tokens.output, 0) * price.completion) / 1_000_000;
}

/** Priced by the resolved model first, then the requested one; null when neither has a price. */
export function costOf(prices: PriceBook, model: string, resolvedModel: string | null, tokens: BillableTokens): number | null {
	const priced = prices.priceFor(resolvedModel, model);
	return priced === null ? null : costAt(tokens, priced.price);
}
