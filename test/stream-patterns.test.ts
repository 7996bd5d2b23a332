import {describe, expect, it} from 'vitest';
import {outcomePattern, recentOutcomes, streamOf} from '../source/usage/stream-patterns.js';
import type {RequestRecord, Status} from '../source/usage/types.js';

const request = (account: string, model: string, status: Status, timestampMs: number): RequestRecord => ({
	timestampMs, model, account, apiKey: 'k', apiKeyLabel: 'k', status, inputTokens: 0, outputTokens: 0, totalTokens: 0, latencyMs: null, costUsd: null,
});

describe('recent outcomes per stream', () => {
	it('keeps the newest outcomes of each account × model, oldest first', () => {
		const newestFirst = [
			request('alice', 'gpt-5', 'failed', 9),
			request('bob', 'gpt-5', 'success', 8),
			request('alice', 'gpt-5', 'success', 7),
			request('alice', 'o3', 'failed', 6),
			request('alice', 'gpt-5', 'success', 5),
		];
		const outcomes = recentOutcomes(newestFirst);
		expect(outcomePattern(outcomes.get(streamOf(newestFirst[0]!))!)).toBe('..x');
		expect(outcomePattern(outcomes.get(streamOf(newestFirst[1]!))!)).toBe('.');
		expect(outcomePattern(outcomes.get(streamOf(newestFirst[3]!))!)).toBe('x');
	});

	it('keeps at most the given number, the newest ones', () => {
		const newestFirst = Array.from({length: 25}, (_, n) => request('a', 'm', n % 5 === 0 ? 'failed' : 'success', 100 - n));
		expect(outcomePattern(recentOutcomes(newestFirst, 10).get(streamOf(newestFirst[0]!))!)).toBe('....x....x');
	});
});
