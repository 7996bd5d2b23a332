import {statSync} from 'node:fs';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {writeCpaFixture} from '../source/fixtures/cpa-fixture.js';
import {ensureStore, packageRoot} from '../source/fixtures/fixture-files.js';

export interface BenchStore {
	readonly path: string;
	readonly events: number;
	readonly bytes: number;
	/** The newest event: the benchmark's range ends here. */
	readonly endMs: number;
	/** null when a cached store was reused. */
	readonly buildMs: number | null;
}

// The name carries the generator settings (ensureStore checks the generator's version), so a store
// built with other settings or by an older generator is never reused.
const storePath = (events: number): string => join(packageRoot(), 'bench', '.cache', `cpa-${events}-events-no-raw-json.sqlite`);

/** The CPA-Manager store of `events` requests, built once and cached in bench/.cache/. */
export function ensureBenchStore(events: number, onBuild: (path: string) => void): BenchStore {
	const path = storePath(events);
	const started = performance.now();
	const built = ensureStore(path, partial => {
		onBuild(path);
		writeCpaFixture(partial, {requests: events, withoutRawJson: true});
	});
	const buildMs = built ? performance.now() - started : null;
	const db = new Database(path, {readonly: true, fileMustExist: true});
	try {
		const facts = db.prepare('SELECT count(*) AS events, max(timestamp_ms) AS endMs FROM usage_events').get() as {events: number; endMs: number};
		return {path, events: facts.events, bytes: statSync(path).size, endMs: facts.endMs, buildMs};
	} finally {
		db.close();
	}
}
