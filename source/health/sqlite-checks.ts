import {statSync} from 'node:fs';
import {bytes} from '../output/format.js';
import {openSqliteReadOnly} from '../sources/sqlite/open-sqlite.js';
import {fix, type HealthCheck} from './health-check.js';

// A SQLite store's file: the journal mode that lets the dashboard read while the gateway writes,
// and the free pages that deletes leave behind. Its indexes are the index checks' business.

export interface SqliteFileFacts {
	readonly journalMode: string;
	readonly pageSize: number;
	readonly pageCount: number;
	readonly freelistCount: number;
	/** 'none', 'full' or 'incremental'. */
	readonly autoVacuum: string;
	readonly fileBytes: number;
	/** The write-ahead log beside it; 0 without one. */
	readonly walBytes: number;
}

/** Free space worth a VACUUM: this share of the file, and at least this much. */
export const FREE_SHARE_WARNING = 0.25;
export const FREE_BYTES_WARNING = 64 * 1024 ** 2;

const AUTO_VACUUM = ['none', 'full', 'incremental'];

const sizeOf = (path: string): number => {
	try {
		return statSync(path).size;
	} catch {
		return 0;
	}
};

/** PRAGMAs and file sizes: cheap, whatever the store's size. */
export function readSqliteFile(path: string): SqliteFileFacts {
	const db = openSqliteReadOnly(path);
	try {
		return {
			journalMode: String(db.pragma('journal_mode', {simple: true})),
			pageSize: db.pragma('page_size', {simple: true}) as number,
			pageCount: db.pragma('page_count', {simple: true}) as number,
			freelistCount: db.pragma('freelist_count', {simple: true}) as number,
			autoVacuum: AUTO_VACUUM[db.pragma('auto_vacuum', {simple: true}) as number] ?? 'unknown',
			fileBytes: sizeOf(path),
			walBytes: sizeOf(`${path}-wal`),
		};
	} finally {
		db.close();
	}
}

/** Journal mode and free pages; pure. */
export function sqliteFileChecks(facts: SqliteFileFacts): HealthCheck[] {
	const wal = facts.journalMode.toLowerCase() === 'wal';
	const freeBytes = facts.freelistCount * facts.pageSize;
	const freeShare = facts.pageCount === 0 ? 0 : facts.freelistCount / facts.pageCount;
	const bloated = freeShare >= FREE_SHARE_WARNING && freeBytes >= FREE_BYTES_WARNING;
	return [
		{
			id: 'sqlite.journal_mode',
			group: 'sqlite',
			title: 'journal mode',
			status: wal ? 'ok' : 'warning',
			summary: wal ? 'WAL: readers and the writer do not block each other' : `${facts.journalMode}: every write locks out readers (the dashboard, the gateway’s own pages) until it ends`,
			evidence: [
				{label: 'journal_mode', value: facts.journalMode},
				{label: 'WAL file', value: facts.walBytes, unit: 'bytes'},
			],
			fix: wal ? null : fix('sql', ['PRAGMA journal_mode = WAL;'], 'with the gateway stopped (it needs the only connection); it stays set in the file'),
		},
		{
			id: 'sqlite.free_pages',
			group: 'sqlite',
			title: 'file size and free pages',
			status: bloated ? 'warning' : 'ok',
			summary: `${bytes(facts.fileBytes)}, of which ${bytes(freeBytes)} free (${Math.round(freeShare * 100)}%)${bloated ? ': deleted rows left space the file does not give back' : ''}`,
			evidence: [
				{label: 'file', value: facts.fileBytes, unit: 'bytes'},
				{label: 'free', value: freeBytes, unit: 'bytes'},
				{label: 'free share', value: freeShare, unit: 'ratio'},
				{label: 'pages', value: facts.pageCount, unit: 'count'},
				{label: 'page size', value: facts.pageSize, unit: 'bytes'},
				{label: 'auto_vacuum', value: facts.autoVacuum},
			],
			fix: bloated
				? fix(
						'sql',
						facts.autoVacuum === 'incremental' ? ['PRAGMA incremental_vacuum;'] : ['VACUUM;'],
						facts.autoVacuum === 'incremental' ? 'gives the free pages back without rewriting the file' : 'rewrites the whole file: stop the gateway first and have free disk space the size of the file',
					)
				: null,
		},
	];
}
