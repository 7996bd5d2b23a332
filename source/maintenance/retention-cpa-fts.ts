import type Database from 'better-sqlite3';
import type {FtsPlan} from './retention-plan.js';

// CPA-Manager's usage_events_fts during retention. It stores its own copy of each event (not an
// external-content table) and only an insert trigger feeds it, so deleting events leaves their
// index rows behind: search would still find them. Its event_id column is UNINDEXED, so
// `DELETE … WHERE event_id IN (…)` would read the whole index for every batch. Instead, one pass at
// the start maps event ids to index rowids in a TEMP table (the user's schema is left alone: no
// trigger is added), and each batch deletes its index rows by rowid, in the events' transaction.

const MAP = 'temp.relaytop_retention_fts';

export function hasEventsFts(db: Database.Database): boolean {
	return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage_events_fts'").get() !== undefined;
}

/** The largest event id ever given out: sqlite_sequence remembers it even when the last events are gone. */
export function eventIdHorizon(db: Database.Database): number {
	const sequence = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'").get() === undefined
		? undefined
		: (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'usage_events'").get() as {seq: number} | undefined);
	const {maxId} = db.prepare('SELECT coalesce(max(id), 0) AS maxId FROM usage_events').get() as {maxId: number};
	return Math.max(maxId, sequence?.seq ?? 0);
}

/** The statements, and the horizon they use; `maxOldId` is the plan's last old event (0: none). */
export function ftsSql(cutoff: number, idHorizon: number, maxOldId: number) {
	const joined = `FROM usage_events_fts f LEFT JOIN usage_events e ON e.id = f.event_id WHERE f.event_id <= ${idHorizon}`;
	return {
		idHorizon,
		count: `SELECT count(*) FILTER (WHERE e.id IS NULL) AS orphans, count(*) FILTER (WHERE e.timestamp_ms < ${cutoff}) AS rows ${joined}`,
		createMap: `CREATE TEMP TABLE relaytop_retention_fts (fts_rowid INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, orphan INTEGER NOT NULL)`,
		// The index rows of every event up to the last old one, and every orphan.
		fillMap: `INSERT INTO ${MAP} (fts_rowid, event_id, orphan) SELECT f.rowid, f.event_id, e.id IS NULL ${joined} AND (e.id IS NULL OR f.event_id <= ${maxOldId})`,
		indexMap: `CREATE INDEX temp.relaytop_retention_fts_event ON relaytop_retention_fts (event_id)`,
		indexOrphans: `CREATE INDEX temp.relaytop_retention_fts_orphan ON relaytop_retention_fts (orphan, event_id)`,
		// The window's index rows whose event is gone: deleted just before in the same transaction, or orphans.
		deleteWindow: `DELETE FROM usage_events_fts WHERE rowid IN (SELECT m.fts_rowid FROM ${MAP} m WHERE m.event_id >= ? AND m.event_id < ? AND NOT EXISTS (SELECT 1 FROM usage_events e WHERE e.id = m.event_id))`,
		nextOrphan: `SELECT event_id FROM ${MAP} WHERE orphan = 1 AND event_id >= ? ORDER BY event_id LIMIT 1`,
		orphanRange: `SELECT min(event_id) AS first, max(event_id) AS last FROM ${MAP} WHERE orphan = 1`,
		dropMap: `DROP TABLE IF EXISTS ${MAP}`,
	};
}

type FtsSql = ReturnType<typeof ftsSql>;

/** The dry run's part: index rows that go with the old events, and orphans. One pass over the index. */
export function planFts(db: Database.Database, sql: FtsSql): FtsPlan {
	const counts = db.prepare(sql.count).get() as {orphans: number; rows: number};
	return {rows: counts.rows, orphans: counts.orphans, idHorizon: sql.idHorizon};
}

/** The map for one run; `drop` it when the run ends. */
export interface FtsMap {
	/** The orphans' event id range: windows must cover it as well as the old events'. */
	readonly orphanRange: {readonly first: number; readonly last: number} | null;
	/** Inside the batch's transaction, after its events are deleted. Returns index rows deleted. */
	deleteWindow(lo: number, hi: number): number;
	nextOrphan(from: number): number | null;
	drop(): void;
}

export function openFtsMap(db: Database.Database, sql: FtsSql): FtsMap {
	db.exec(sql.dropMap);
	db.exec(sql.createMap);
	db.exec(sql.fillMap);
	db.exec(sql.indexMap);
	db.exec(sql.indexOrphans);
	const range = db.prepare(sql.orphanRange).get() as {first: number | null; last: number | null};
	const deleteWindow = db.prepare(sql.deleteWindow);
	const nextOrphan = db.prepare(sql.nextOrphan).pluck();
	return {
		orphanRange: range.first === null || range.last === null ? null : {first: range.first, last: range.last},
		deleteWindow: (lo, hi) => deleteWindow.run(lo, hi).changes,
		nextOrphan: from => (nextOrphan.get(from) as number | undefined) ?? null,
		drop: () => db.exec(sql.dropMap),
	};
}
