import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, describe, expect, it} from 'vitest';
import {writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {FIXTURE_REQUESTS, fixturePath} from '../source/fixtures/fixture-files.js';
import {writeNewApiFixture} from '../source/fixtures/newapi-fixture.js';
import {lookupPrice} from './support/cpa-oracle.js';

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-fixtures-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

const dump = (path: string, table: string) => {
	const db = new Database(path, {readonly: true});
	const rows = db.prepare(`SELECT * FROM ${table} ORDER BY 1`).all();
	db.close();
	return rows;
};

describe('fixture generator', () => {
	it('writes the same data for the same seed', () => {
		for (const [write, table] of [[writeNewApiFixture, 'logs'], [writeCpaFixture, 'usage_events']] as const) {
			const [a, b] = [join(scratch, `a-${table}.sqlite`), join(scratch, `b-${table}.sqlite`)];
			write(a, {requests: 1500});
			write(b, {requests: 1500});
			expect(dump(a, table)).toEqual(dump(b, table));
			write(join(scratch, `c-${table}.sqlite`), {requests: 1500, seed: 7});
			expect(dump(join(scratch, `c-${table}.sqlite`), table)).not.toEqual(dump(a, table));
		}
	});

	it('gives new-api the upstream index set, every log type, and the awkward rows', () => {
		const db = new Database(fixturePath('newapi'), {readonly: true});
		const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'logs'").all() as Array<{name: string}>).map(r => r.name).sort();
		expect(indexes).toEqual([
			'idx_created_at_id', 'idx_created_at_type', 'idx_logs_channel_id', 'idx_logs_group', 'idx_logs_ip', 'idx_logs_model_name', 'idx_logs_request_id',
			'idx_logs_token_id', 'idx_logs_token_name', 'idx_logs_upstream_request_id', 'idx_logs_user_id', 'idx_logs_username', 'idx_user_id_id', 'index_username_model_name',
		]);
		const count = (where: string) => (db.prepare(`SELECT count(*) AS n FROM logs WHERE ${where}`).get() as {n: number}).n;
		expect(count('type IN (2, 5)')).toBeGreaterThanOrEqual(50_000);
		for (const type of [1, 3, 4, 6, 7]) {
			expect(count(`type = ${type}`), `type ${type}`).toBeGreaterThan(0);
		}
		expect(count("type = 2 AND json_valid(other) AND json_extract(other, '$.cache_tokens') > 0")).toBeGreaterThan(100);
		expect(count("json_valid(other) AND json_extract(other, '$.frt') IS NOT NULL")).toBeGreaterThan(100);
		expect(count("other = ''")).toBeGreaterThan(0);
		expect(count('other IS NULL AND type = 2')).toBeGreaterThan(0);
		expect(count("other <> '' AND NOT json_valid(other)")).toBeGreaterThan(0);
		expect(count('type = 2 AND prompt_tokens + completion_tokens = 0')).toBeGreaterThan(0);
		expect(count('prompt_tokens + completion_tokens > 1000000')).toBe(1);
		expect(count("username = 'evil' || char(27) || '[31mred' || char(27) || '[0m'")).toBeGreaterThan(0);
		expect(count("username GLOB '*[一-龥]*'")).toBeGreaterThan(0);
		// quota follows the billing formula: model_ratio · group_ratio · (uncached + cached · cache_ratio + completion · completion_ratio)
		const row = db.prepare("SELECT * FROM logs WHERE type = 2 AND model_name = 'gpt-4o' AND json_valid(other) AND json_extract(other, '$.cache_tokens') > 0 LIMIT 1").get() as {quota: number; prompt_tokens: number; completion_tokens: number; other: string};
		const other = JSON.parse(row.other) as {cache_tokens: number; cache_ratio: number; completion_ratio: number; model_ratio: number; group_ratio: number};
		const prompt = row.prompt_tokens - other.cache_tokens + other.cache_tokens * other.cache_ratio;
		expect(row.quota).toBe(Math.round((prompt + row.completion_tokens * other.completion_ratio) * other.model_ratio * other.group_ratio));
		db.close();
	});

	it('gives CPA-Manager its FTS index, aliases, and prices reachable only through the lookup rules', () => {
		const db = new Database(fixturePath('cpa'), {readonly: true});
		const count = (sql: string) => (db.prepare(sql).get() as {n: number}).n;
		expect(count('SELECT count(*) AS n FROM usage_events')).toBe(FIXTURE_REQUESTS);
		expect(count('SELECT count(*) AS n FROM usage_events_fts')).toBe(FIXTURE_REQUESTS);
		expect(count('SELECT count(*) AS n FROM api_key_aliases_fts')).toBe(count('SELECT count(*) AS n FROM api_key_aliases'));
		expect(count('SELECT count(*) AS n FROM usage_events WHERE failed <> 0')).toBeGreaterThan(0);
		expect(count('SELECT count(*) AS n FROM usage_events WHERE total_tokens > 1000000')).toBe(1);
		expect(count("SELECT count(*) AS n FROM usage_events WHERE instr(account_snapshot, char(27)) > 0")).toBeGreaterThan(0);
		expect(count("SELECT count(*) AS n FROM usage_events WHERE account_snapshot LIKE ' %' || char(12288)")).toBeGreaterThan(0);
		const prices = new Map((db.prepare('SELECT model, prompt_per_1m, completion_per_1m, cache_per_1m FROM model_prices').all() as Array<Record<string, number | string>>).map(p => [String(p.model), [Number(p.prompt_per_1m), Number(p.completion_per_1m), Number(p.cache_per_1m)]]));
		const priced = (m: {model: string; resolved_model: string | null}) => (lookupPrice(prices, m.resolved_model) ?? lookupPrice(prices, m.model)) !== null;
		const models = db.prepare('SELECT DISTINCT model, resolved_model FROM usage_events').all() as Array<{model: string; resolved_model: string | null}>;
		expect(models.filter(m => !priced(m)).map(m => m.model)).toEqual(['qwen3-coder-plus']);
		const onlyByRule = models.filter(m => !prices.has(m.model) && priced(m));
		expect(onlyByRule.length).toBeGreaterThanOrEqual(5);
		db.close();
	});
});
