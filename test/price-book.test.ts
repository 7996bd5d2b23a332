import {describe, expect, it} from 'vitest';
import {FIXTURE_PRICES} from '../source/fixtures/cpa-fixture.js';
import {isValidPrice, PriceBook, type ModelPrice} from '../source/usage/price-book.js';

const book = new PriceBook(
	new Map(Object.entries(FIXTURE_PRICES).map(([model, [prompt, completion, cache]]): [string, ModelPrice] => [model, {prompt, completion, cache}])),
);

describe('price lookup', () => {
	it.each([
		['gpt-5', 'gpt-5', 'exact'],
		['gpt-5-codex', 'GPT-5-Codex', 'case-insensitive'],
		['openai/gpt-4o', 'gpt-4o', 'basename after the provider prefix'],
		['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5', 'date suffix removed'],
		['claude-3-5-haiku-241022', 'claude-3-5-haiku', 'six-digit date suffix removed'],
		['claude-opus-4-1-20250805', 'anthropic/claude-opus-4-1', 'date removed, matched to a prefixed key'],
		['  gemini-2.5-pro ', 'gemini-2.5-pro', 'surrounding spaces'],
	])('prices %s by %s (%s)', (model, key) => {
		expect(book.lookup(model)?.key).toBe(key);
	});

	it('has no price for an unknown model, an empty or a missing name', () => {
		expect(book.lookup('qwen3-coder-plus')).toBeNull();
		expect(book.lookup('')).toBeNull();
		expect(book.lookup(null)).toBeNull();
	});

	it('prices the resolved model before the requested alias', () => {
		expect(book.priceFor('gemini-2.5-flash', 'fast')?.key).toBe('Gemini-2.5-Flash');
		expect(book.priceFor(null, 'gpt-5')?.key).toBe('gpt-5');
		expect(book.priceFor('qwen3-coder-plus', 'gpt-5')?.key).toBe('gpt-5');
	});

	it('lets the shortest key win a collision', () => {
		const collide = new PriceBook(
			new Map([
				['vendor-long/Model-X', {prompt: 1, completion: 1, cache: 1}],
				['b/model-x', {prompt: 2, completion: 2, cache: 2}],
				['a/model-x', {prompt: 3, completion: 3, cache: 3}],
			]),
		);
		expect(collide.lookup('model-x')?.key).toBe('a/model-x');
	});

	it('refuses negative or non-finite rates', () => {
		expect(isValidPrice({prompt: 1, completion: 2, cache: 0})).toBe(true);
		expect(isValidPrice({prompt: -1, completion: 2, cache: 0})).toBe(false);
		expect(isValidPrice({prompt: 1, completion: Number.NaN, cache: 0})).toBe(false);
		expect(isValidPrice({prompt: 1, completion: 2, cache: Number.POSITIVE_INFINITY})).toBe(false);
	});
});
