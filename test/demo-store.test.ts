import {createHash} from 'node:crypto';
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import Database from 'better-sqlite3';
import {afterAll, describe, expect, it} from 'vitest';
import {createDemoStore} from '../source/demo/demo-store.js';
import {fixturePath} from '../source/fixtures/fixture-files.js';

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-demo-store-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

const createdAt = (path: string) => {
	const db = new Database(path, {readonly: true});
	const rows = db.prepare('SELECT id, created_at, type FROM logs ORDER BY id').all() as Array<{id: number; created_at: number; type: number}>;
	const journal = db.pragma('journal_mode', {simple: true});
	db.close();
	return {rows, journal};
};

describe('demo store', () => {
	it('is a WAL copy of the fixture shifted by one constant so its newest request is now; the fixture is untouched', () => {
		const fixture = fixturePath('newapi');
		const before = sha256(fixture);
		const nowMs = Date.UTC(2031, 0, 2, 3, 4, 5, 678);

		const store = createDemoStore({nowMs, directory: scratch});
		expect(dirname(store.path).startsWith(join(scratch, 'relaytop-demo-'))).toBe(true);

		const original = createdAt(fixture);
		const copy = createdAt(store.path);
		expect(copy.journal).toBe('wal');
		expect(copy.rows.length).toBe(original.rows.length);
		const shift = Math.floor(nowMs / 1000) - Math.max(...original.rows.filter(r => r.type === 2 || r.type === 5).map(r => r.created_at));
		expect(shift).toBeGreaterThan(0);
		expect(copy.rows).toEqual(original.rows.map(r => ({...r, created_at: r.created_at + shift})));
		expect(Math.max(...copy.rows.map(r => r.created_at))).toBe(Math.floor(nowMs / 1000));
		expect(sha256(fixture)).toBe(before);

		store.remove();
		expect(existsSync(dirname(store.path))).toBe(false);
		expect(() => store.remove()).not.toThrow();
	});

	it('ends at the current time by default', () => {
		const store = createDemoStore({directory: scratch});
		try {
			const newest = Math.max(...createdAt(store.path).rows.map(r => r.created_at));
			expect(Math.abs(newest - Date.now() / 1000)).toBeLessThan(5);
		} finally {
			store.remove();
		}
	});
});
