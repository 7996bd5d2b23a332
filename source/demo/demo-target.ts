import Database from 'better-sqlite3';
import {ensureFixture} from '../fixtures/fixture-files.js';

export interface DemoTarget {
	readonly path: string;
	/** The fixture's own "now": its newest request, so relative ranges and rpm show its traffic. */
	readonly nowMs: number;
}

/** With no target, relaytop shows the new-api fixture, generated on first use. */
export function demoTarget(): DemoTarget {
	const path = ensureFixture('newapi');
	const db = new Database(path, {readonly: true, fileMustExist: true});
	try {
		const {newest} = db.prepare('SELECT max(created_at) AS newest FROM logs WHERE type IN (2, 5)').get() as {newest: number};
		return {path, nowMs: newest * 1000};
	} finally {
		db.close();
	}
}
