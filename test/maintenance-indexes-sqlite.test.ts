import {mkdtempSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, describe, expect, it} from 'vitest';
import {writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {writeNewApiFixture} from '../source/fixtures/newapi-fixture.js';
import {adviseIndexes, applyProposal, repairIndex} from '../source/maintenance/index-maintenance.js';
import type {IndexBuildProgress} from '../source/maintenance/index-advisor.js';

// Real SQLite files from the fixture generators (upstream DDL), reshaped into the stores found in the
// field. Every outcome is checked in the file's own catalog and query plans, not through the advisor.

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-index-advisor-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

let files = 0;
/** A fresh copy of a generated store, reshaped by `change`. */
function store(kind: 'newapi' | 'cpa', change: (db: Database.Database) => void = () => undefined): string {
	const path = join(scratch, `${kind}-${++files}.sqlite`);
	if (kind === 'newapi') writeNewApiFixture(path, {requests: 3000});
	else writeCpaFixture(path, {requests: 2000});
	const db = new Database(path);
	change(db);
	db.close();
	return path;
}

/** An old one-api store: idx_created_at_id with its columns swapped, no (created_at, type), no (user_id, id). */
const oneApiEra = (db: Database.Database): void => {
	db.exec('DROP INDEX idx_created_at_id; DROP INDEX idx_created_at_type; DROP INDEX idx_user_id_id');
	db.exec('CREATE INDEX `idx_created_at_id` ON `logs`(`id`,`created_at`)');
};

/** pragma index_list and index_info of the file, read on a connection of its own. */
function catalog(path: string, table: string): Map<string, string[]> {
	const db = new Database(path, {readonly: true});
	try {
		const names = db.prepare('SELECT name FROM pragma_index_list(?)').pluck().all(table) as string[];
		return new Map(names.map(name => [name, db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(name) as string[]]));
	} finally {
		db.close();
	}
}

function plan(path: string, query: string): string {
	const db = new Database(path, {readonly: true});
	try {
		return (db.prepare(`EXPLAIN QUERY PLAN ${query}`).all() as Array<{detail: string}>).map(row => row.detail).join(' | ');
	} finally {
		db.close();
	}
}

const RATE_QUERY = 'SELECT count(*), sum(prompt_tokens) FROM logs WHERE created_at >= 1790000000 AND type IN (2, 5)';
const USER_PAGE_QUERY = 'SELECT * FROM logs WHERE user_id = 3 ORDER BY id DESC LIMIT 20';

describe('new-api store', () => {
	it('proposes nothing for the upstream index set, and measures the table', async () => {
		const path = store('newapi');
		const advice = await adviseIndexes({engine: 'sqlite', path});
		expect(advice).toMatchObject({engine: 'sqlite', table: 'logs', proposals: [], repairs: [], building: []});
		expect(advice.verdicts.map(verdict => verdict.status)).toEqual(['served', 'served']);
		const db = new Database(path, {readonly: true});
		const rows = db.prepare('SELECT count(*) FROM logs').pluck().get() as number;
		db.close();
		expect(advice.rows).toBe(rows);
		expect(advice.tableBytes).toBeGreaterThan(0);
		expect(advice.tableBytes).toBeLessThan(advice.totalBytes);
		expect(advice.totalBytes).toBeLessThanOrEqual(statSync(path).size);
	});

	it('builds (created_at, type) on a one-api store; (user_id) already serves user pages there, since the rowid ends every index', async () => {
		const path = store('newapi', oneApiEra);
		expect(plan(path, RATE_QUERY)).toMatch(/^SCAN logs/u);
		// The planner's own view of (user_id): no sort for ORDER BY id, which is the rowid.
		expect(plan(path, USER_PAGE_QUERY)).toBe('SEARCH logs USING INDEX idx_logs_user_id (user_id=?)');

		const advice = await adviseIndexes({engine: 'sqlite', path});
		expect(advice.verdicts[1]).toMatchObject({status: 'served', servedBy: ['idx_logs_user_id']});
		expect(advice.proposals.map(({name, sql}) => ({name, sql}))).toEqual([
			{name: 'idx_created_at_type', sql: 'CREATE INDEX IF NOT EXISTS "idx_created_at_type" ON "logs" ("created_at", "type")'},
		]);
		expect(catalog(path, 'logs').has('idx_created_at_type')).toBe(false);

		const progress: IndexBuildProgress[] = [];
		const result = await applyProposal({engine: 'sqlite', path}, advice.proposals[0]!, {onProgress: update => progress.push(update)});
		expect(result).toMatchObject({index: 'idx_created_at_type', status: 'done', valid: true, error: null, statements: [advice.proposals[0]!.sql]});
		expect(progress.map(update => update.phase)).toEqual(['building index']);
		expect(catalog(path, 'logs').get('idx_created_at_type')).toEqual(['created_at', 'type']);
		expect(plan(path, RATE_QUERY)).toContain('idx_created_at_type');

		expect((await adviseIndexes({engine: 'sqlite', path})).proposals).toEqual([]);
	});

	it('chooses another name when idx_created_at_type exists on other columns, and builds it', async () => {
		const path = store('newapi', db => {
			oneApiEra(db);
			db.exec('CREATE INDEX idx_created_at_type ON logs (type, created_at)');
		});
		const [proposal] = (await adviseIndexes({engine: 'sqlite', path})).proposals;
		expect(proposal).toMatchObject({name: 'idx_created_at_type_2', columns: ['created_at', 'type']});
		expect((await applyProposal({engine: 'sqlite', path}, proposal!)).status).toBe('done');
		const indexes = catalog(path, 'logs');
		expect(indexes.get('idx_created_at_type_2')).toEqual(['created_at', 'type']);
		expect(indexes.get('idx_created_at_type')).toEqual(['type', 'created_at']);
	});

	it('refuses a proposal whose name was taken since the advice, and builds nothing once aborted', async () => {
		const path = store('newapi', oneApiEra);
		const [proposal] = (await adviseIndexes({engine: 'sqlite', path})).proposals;
		const aborted = await applyProposal({engine: 'sqlite', path}, proposal!, {signal: AbortSignal.abort()});
		expect(aborted).toMatchObject({status: 'aborted', valid: false, statements: []});
		expect(catalog(path, 'logs').has(proposal!.name)).toBe(false);

		const db = new Database(path);
		db.exec(`CREATE INDEX "${proposal!.name.toUpperCase()}" ON logs (model_name)`);
		db.close();
		const stale = await applyProposal({engine: 'sqlite', path}, proposal!);
		expect(stale).toMatchObject({status: 'failed', error: `${proposal!.name} exists now: advise again`});
		expect(catalog(path, 'logs').get(proposal!.name.toUpperCase())).toEqual(['model_name']);
		await expect(repairIndex({engine: 'sqlite', path}, {index: 'x', reason: '', estimateSeconds: 0, options: []}, 'drop')).rejects.toThrow(/no INVALID/u);
	});
});

describe('CPA-Manager store', () => {
	it('proposes nothing: idx_usage_events_timestamp serves the time windows', async () => {
		const path = store('cpa');
		const advice = await adviseIndexes({engine: 'sqlite', path});
		expect(advice).toMatchObject({table: 'usage_events', proposals: [], repairs: []});
		expect(advice.verdicts).toEqual([expect.objectContaining({status: 'served', servedBy: ['idx_usage_events_timestamp']})]);
	});

	it('proposes and builds idx_usage_events_timestamp where it is missing', async () => {
		const path = store('cpa', db => db.exec('DROP INDEX idx_usage_events_timestamp'));
		const [proposal] = (await adviseIndexes({engine: 'sqlite', path})).proposals;
		expect(proposal!.sql).toBe('CREATE INDEX IF NOT EXISTS "idx_usage_events_timestamp" ON "usage_events" ("timestamp_ms")');
		expect((await applyProposal({engine: 'sqlite', path}, proposal!)).status).toBe('done');
		expect(catalog(path, 'usage_events').get('idx_usage_events_timestamp')).toEqual(['timestamp_ms']);
		expect((await adviseIndexes({engine: 'sqlite', path})).proposals).toEqual([]);
	});
});
