import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, describe, expect, it} from 'vitest';
import {openTarget} from '../source/sources/open-target.js';
import {InputError} from '../source/usage/input-error.js';
import type {UsageQuery} from '../source/usage/types.js';

// Stores in the shapes found in the field: one-api's logs, and a CPA-Manager store from before the
// snapshot migrations, the full-text index and the price table. Figures are worked out by hand.

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-variants-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

const T = Date.UTC(2026, 10, 1, 12);
const all: UsageQuery = {range: {startMs: null, endMs: T}, filters: {}};
const page = {page: 1, pageSize: 20, sortKey: 'totalCalls', sortDirection: 'desc'} as const;

describe('one-api logs (no token_id, group, other or use_time; latency in elapsed_time)', () => {
	const path = join(scratch, 'one-api.db');
	const db = new Database(path);
	db.exec(`CREATE TABLE logs (id integer PRIMARY KEY, user_id integer, created_at integer, type integer, content text, username text DEFAULT '',
		token_name text DEFAULT '', model_name text DEFAULT '', quota integer DEFAULT 0, prompt_tokens integer DEFAULT 0,
		completion_tokens integer DEFAULT 0, channel_id integer DEFAULT 0, elapsed_time integer DEFAULT 0, is_stream numeric DEFAULT false)`);
	const insert = db.prepare('INSERT INTO logs (created_at, type, username, token_name, model_name, quota, prompt_tokens, completion_tokens, channel_id, elapsed_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
	const s = T / 1000;
	insert.run(s - 30, 2, 'root', 'ci', 'gpt-4o', 1000, 100, 50, 1, 1200);
	insert.run(s - 20, 2, 'root', 'ci', 'gpt-4o', 500, 40, 10, 1, 800);
	insert.run(s - 10, 5, 'guest', 'web', 'gpt-4o-mini', 0, 0, 0, 2, 100);
	insert.run(s - 5, 1, 'guest', '', '', 0, 0, 0, 0, 0); // a top-up: not a request
	db.close();

	it('reads totals, latency from elapsed_time, and cost from quota', async () => {
		const source = openTarget(path);
		const summary = await source.summary(all);
		expect(summary).toMatchObject({totalRequests: 3, successCount: 2, failureCount: 1, totalTokens: 200, tokens: {input: 140, output: 60, cached: 0, reasoning: 0}, unpricedRequests: 0});
		expect(summary.latencyMsAvg).toBe(700);
		expect(summary.costUsd).toBeCloseTo(1500 / 500_000, 12);
		await source.close();
	});

	it('groups API keys by token name, and every request in the group "-"', async () => {
		const source = openTarget(path);
		const keys = await source.apiKeys(all, page);
		expect(keys.items.map(item => [item.key, item.totalRequests])).toEqual([['ci', 2], ['web', 1]]);
		const groups = await source.groups(all, 'group', page);
		expect(groups.items.map(item => [item.key, item.totalRequests])).toEqual([['-', 3]]);
		expect((await source.summary({...all, filters: {group: '-'}})).totalRequests).toBe(3);
		expect((await source.summary({...all, filters: {group: 'vip'}})).totalRequests).toBe(0);
		expect((await source.summary({...all, filters: {apiKey: 'web'}})).totalRequests).toBe(1);
		await source.close();
	});
});

describe('a CPA-Manager store from before the snapshots, full-text search and prices', () => {
	const path = join(scratch, 'old-usage.sqlite');
	const db = new Database(path);
	db.exec(`create table usage_events (id integer primary key autoincrement, request_id text, event_hash text not null unique,
		timestamp_ms integer not null, timestamp text not null, provider text, model text not null, endpoint text, method text, path text,
		auth_type text, auth_index text, source text, source_hash text, api_key_hash text, input_tokens integer not null default 0,
		output_tokens integer not null default 0, reasoning_tokens integer not null default 0, cached_tokens integer not null default 0,
		cache_tokens integer not null default 0, total_tokens integer not null default 0, latency_ms integer, failed integer not null default 0,
		raw_json text, created_at_ms integer not null)`);
	const insert = db.prepare('insert into usage_events (event_hash, timestamp_ms, timestamp, provider, model, auth_index, source, input_tokens, output_tokens, total_tokens, failed, created_at_ms) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
	insert.run('a', T - 3000, 'x', 'codex', 'gpt-5', 'idx-1', 'ali***@example.com', 100, 10, 110, 0, T);
	insert.run('b', T - 2000, 'x', 'codex', 'gpt-5', 'idx-1', 'ali***@example.com', 200, 20, 220, 1, T);
	insert.run('c', T - 1000, 'x', 'gemini', 'gemini-2.5-pro', 'idx-2', null, 300, 30, 330, 0, T);
	db.close();

	it('counts every request as unpriced, and groups accounts by source, then auth index', async () => {
		const source = openTarget(path);
		const summary = await source.summary(all);
		expect(summary).toMatchObject({totalRequests: 3, failureCount: 1, totalTokens: 660, costUsd: 0, unpricedRequests: 3});
		const accounts = await source.groups(all, 'account', page);
		expect(accounts.items.map(item => [item.key, item.totalRequests, item.unpricedRequests])).toEqual([['ali***@example.com', 2, 2], ['idx-2', 1, 1]]);
		const models = await source.models(all);
		expect(models.map(model => [model.model, model.unpricedRequests])).toEqual([['gpt-5', 2], ['gemini-2.5-pro', 1]]);
		await source.close();
	});

	it('says search needs the full-text index instead of finding nothing', async () => {
		const source = openTarget(path);
		await expect(source.summary({...all, filters: {search: 'codex'}})).rejects.toThrow(InputError);
		await expect(source.summary({...all, filters: {search: 'codex'}})).rejects.toThrow(/usage_events_fts/);
		await source.close();
	});
});
