import {copyFileSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {ensureFixture} from '../fixtures/fixture-files.js';

export interface DemoStore {
	/** The demo's new-api database, a private copy of the fixture. */
	readonly path: string;
	/** Deletes the copy and its folder; safe to call more than once. */
	remove(): void;
}

export interface DemoStoreOptions {
	/** Where the newest fixture request lands; the current time by default. */
	readonly nowMs?: number;
	/** The folder to create the copy's own temporary folder in; the OS temporary folder by default. */
	readonly directory?: string;
}

/**
 * A temporary copy of the new-api fixture whose requests end now, so relative ranges, rpm and the
 * realtime view show its traffic. The fixture itself is only read.
 */
export function createDemoStore(options: DemoStoreOptions = {}): DemoStore {
	const fixture = ensureFixture('newapi');
	const folder = mkdtempSync(join(options.directory ?? tmpdir(), 'relaytop-demo-'));
	const path = join(folder, 'newapi.sqlite');
	const remove = () => rmSync(folder, {recursive: true, force: true, maxRetries: 3});
	try {
		copyFileSync(fixture, path);
		const db = new Database(path);
		try {
			const {newest} = db.prepare('SELECT max(created_at) AS newest FROM logs WHERE type IN (2, 5)').get() as {newest: number};
			// One shift for every row keeps the fixture's history (daily rhythm, last-minute burst) intact.
			db.prepare('UPDATE logs SET created_at = created_at + ?').run(Math.floor((options.nowMs ?? Date.now()) / 1000) - newest);
			// WAL: the dashboard's reads and the simulator's writes never wait for each other.
			db.pragma('journal_mode = WAL');
		} finally {
			db.close();
		}
	} catch (error) {
		remove();
		throw error;
	}
	return {path, remove};
}
