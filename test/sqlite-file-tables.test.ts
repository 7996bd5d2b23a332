import {spawnSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, join} from 'node:path';
import {pathToFileURL} from 'node:url';
import Database from 'better-sqlite3';
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest';
import {CPA_DDL} from '../source/fixtures/cpa-schema.js';
import {fixturePath, packageRoot} from '../source/fixtures/fixture-files.js';
import {LOGS_DDL} from '../source/fixtures/newapi-schema.js';
import {sqliteFileTables} from '../source/maintenance/sqlite-file-tables.js';

// A schema's tables read from a SQLite file's bytes, without SQLite: on files SQLite wrote, the
// tables SQLite lists; on files built here byte by byte, hostile or damaged, null, in bounded
// memory (https://www.sqlite.org/fileformat2.html is the reference for every byte written).

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-file-tables-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

const open: Database.Database[] = [];
afterEach(() => {
	for (const db of open.splice(0)) {
		db.close();
	}
});
const track = (db: Database.Database) => (open.push(db), db);
const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The tables SQLite itself lists in the file's schema. */
function tablesBySqlite(path: string): Set<string> {
	return new Set(track(new Database(path, {readonly: true, fileMustExist: true})).prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
}

/** new-api's logs in rollback-journal mode, rows enough for a transaction to spill into the file. */
function newApiStore(name: string): string {
	const path = join(scratch, `${name}.db`);
	const db = new Database(path);
	for (const statement of LOGS_DDL) {
		db.exec(statement);
	}
	const insert = db.prepare("INSERT INTO logs (id, user_id, created_at, type, content, username, model_name, other) VALUES (?, 1, ?, 2, ?, 'alice', 'gpt-4o', '{}')");
	db.transaction(() => {
		for (let id = 1; id <= 2000; id++) insert.run(id, 1_790_000_000 + id, `request ${id} `.padEnd(200, 'x'));
	})();
	db.close();
	return path;
}

/** A CPA-Manager store in WAL mode, checkpointed as its writer closes. */
function cpaStore(name: string): string {
	const path = join(scratch, `${name}.sqlite`);
	const db = new Database(path);
	db.pragma('journal_mode = WAL');
	for (const statement of CPA_DDL) {
		db.exec(statement);
	}
	db.close();
	return path;
}

/**
 * A schema far bigger than a page, on small pages: interior pages, and rows whose `name` lies
 * past their cell on overflow pages; views and indexes between the tables.
 */
function wideSchema(name: string, encoding: string): string {
	const path = join(scratch, `${name}.db`);
	const db = new Database(path);
	db.pragma('page_size = 512');
	db.pragma(`encoding = '${encoding}'`);
	for (let n = 0; n < 80; n++) {
		db.exec(`CREATE TABLE "t${n}_${'ü'.repeat(n * 3)}" (a, b DEFAULT '${'y'.repeat(n * 11)}')`);
		if (n % 10 === 0) db.exec(`CREATE INDEX "i${n}" ON "t${n}_${'ü'.repeat(n * 3)}" (a); CREATE VIEW "v${n}" AS SELECT ${n}`);
	}
	db.close();
	return path;
}

describe("a schema's tables read from the file's bytes, without SQLite", () => {
	it('are the tables SQLite lists: the gateways\' stores, and a schema over many small pages in each text encoding', () => {
		const paths = [
			fixturePath('newapi'), fixturePath('cpa'), newApiStore('schema-newapi'), cpaStore('schema-cpa'),
			...['UTF-8', 'UTF-16le', 'UTF-16be'].map(encoding => wideSchema(`schema-${encoding}`, encoding)),
		];
		for (const path of paths) {
			const tables = tablesBySqlite(path);
			expect(tables.size).toBeGreaterThan(0);
			expect(sqliteFileTables(path), path).toEqual(tables);
		}
		expect(tablesBySqlite(paths.at(-1)!).size).toBe(80);
	});

	it('read only as far as each row\'s name: a table whose statement runs on over more overflow pages than a schema has', () => {
		const path = join(scratch, 'schema-long-sql.db');
		const db = new Database(path);
		db.pragma('page_size = 512');
		db.exec('CREATE TABLE logs (id)');
		// Some 11,000 overflow pages of 508 bytes: past the bound on pages the walk takes.
		db.exec(`CREATE TABLE notes (body DEFAULT '${'n'.repeat(5_500_000)}')`);
		db.exec('CREATE TABLE usage_events (id)');
		db.close();
		expect(sqliteFileTables(path)).toEqual(new Set(['logs', 'notes', 'usage_events']));
		expect(tablesBySqlite(path)).toEqual(new Set(['logs', 'notes', 'usage_events']));
	});

	it('give up on a name past 64 KiB rather than read it all: null, whatever SQLite makes of it', () => {
		const path = join(scratch, 'schema-long-name.db');
		const db = new Database(path);
		db.exec('CREATE TABLE logs (id)');
		db.exec(`CREATE TABLE "${'n'.repeat(70_000)}" (id)`);
		db.close();
		expect(tablesBySqlite(path).size).toBe(2);
		expect(sqliteFileTables(path)).toBeNull();
	});

	it('read a file left with a hot journal as it lies, and write nothing; null for bytes that are no schema they can follow', () => {
		const source = newApiStore('schema-hot-source');
		const path = join(scratch, 'schema-hot.db');
		const db = track(new Database(source));
		db.pragma('cache_size = 2');
		db.exec('BEGIN');
		db.exec('DELETE FROM logs');
		copyFileSync(source, path);
		copyFileSync(`${source}-journal`, `${path}-journal`);
		db.exec('ROLLBACK');
		const before = [digest(path), digest(`${path}-journal`)];
		expect(sqliteFileTables(path)).toEqual(new Set(['logs']));
		expect([digest(path), digest(`${path}-journal`)]).toEqual(before);

		const text = join(scratch, 'schema-text.db');
		writeFileSync(text, 'not a database, '.repeat(100));
		expect(sqliteFileTables(text)).toBeNull();
		// The first page alone of a schema that goes on over others.
		const cut = join(scratch, 'schema-cut.db');
		writeFileSync(cut, readFileSync(wideSchema('schema-cut-source', 'UTF-8')).subarray(0, 512));
		expect(sqliteFileTables(cut)).toBeNull();
	});
});

// ---------------------------------------------------------------------------------------------
// Files built byte by byte.

/** A varint as the file format writes it (values below 2^56: seven bits a byte, high bit on all but the last). */
function varint(value: number): Buffer {
	const groups: number[] = [];
	for (let rest = value; groups.length === 0 || rest > 0; rest = Math.floor(rest / 128)) {
		groups.unshift(rest % 128);
	}
	return Buffer.from(groups.map((group, index) => (index < groups.length - 1 ? group | 0x80 : group)));
}

/** The 100-byte file header: UTF-8, no reserved bytes, rollback journal. */
function fileHeader(pageSize: number, pages: number): Buffer {
	const header = Buffer.alloc(100);
	header.write('SQLite format 3\0', 0, 'latin1');
	header.writeUInt16BE(pageSize === 65_536 ? 1 : pageSize, 16);
	header.set([1, 1, 0, 64, 32, 32], 18);
	header.writeUInt32BE(1, 24); // change counter
	header.writeUInt32BE(pages, 28);
	header.writeUInt32BE(1, 40); // schema cookie
	header.writeUInt32BE(4, 44); // schema format
	header.writeUInt32BE(1, 56); // UTF-8
	header.writeUInt32BE(1, 92); // version-valid-for, the change counter
	header.writeUInt32BE(3_045_000, 96);
	return header;
}

/** A table b-tree page: a leaf, or an interior page with its right-most child; cells from the page's end, pointers in order. */
function tablePage(pageSize: number, first: boolean, cells: readonly Buffer[], rightChild?: number): Buffer {
	const page = Buffer.alloc(pageSize);
	const at = first ? 100 : 0;
	page[at] = rightChild === undefined ? 0x0d : 0x05;
	page.writeUInt16BE(cells.length, at + 3);
	const pointers = at + (rightChild === undefined ? 8 : 12);
	let end = pageSize;
	for (const [index, cell] of cells.entries()) {
		end -= cell.length;
		cell.copy(page, end);
		page.writeUInt16BE(end, pointers + 2 * index);
	}
	page.writeUInt16BE(end % 65_536, at + 5);
	if (rightChild !== undefined) page.writeUInt32BE(rightChild, at + 8);
	return page;
}

/** An overflow page: the next page of the chain (0 for none), then content. */
function overflowPage(pageSize: number, next: number, fill: string): Buffer {
	const page = Buffer.alloc(pageSize, fill);
	page.writeUInt32BE(next, 0);
	return page;
}

/** The overflow pages holding `rest` of a payload, numbered on from `first`. */
function overflowChain(pageSize: number, rest: Buffer, first: number): Buffer[] {
	const pages: Buffer[] = [];
	for (let offset = 0; offset < rest.length; offset += pageSize - 4) {
		const page = overflowPage(pageSize, offset + pageSize - 4 < rest.length ? first + pages.length + 1 : 0, '\0');
		rest.copy(page, 4, offset, offset + pageSize - 4);
		pages.push(page);
	}
	return pages;
}

/** An interior cell: its left child's page number, then the largest rowid under it. */
function interiorCell(child: number, rowid: number): Buffer {
	const pointer = Buffer.alloc(4);
	pointer.writeUInt32BE(child, 0);
	return Buffer.concat([pointer, varint(rowid)]);
}

/** A sqlite_master record: type, name, tbl_name, rootpage, sql; `nameBytes` declares a name of another length than it holds. */
function schemaRecord(type: string, name: string, rootpage: number, sql: string, nameBytes = Buffer.byteLength(name)): Buffer {
	const texts = [type, name, name, sql].map(value => Buffer.from(value));
	const types = [13 + 2 * texts[0]!.length, 13 + 2 * nameBytes, 13 + 2 * texts[2]!.length, 1, 13 + 2 * texts[3]!.length];
	const serials = Buffer.concat(types.map(varint));
	return Buffer.concat([varint(serials.length + 1), serials, texts[0]!, texts[1]!, texts[2]!, Buffer.from([rootpage]), texts[3]!]);
}

/** How much of a payload of `payload` bytes a leaf cell keeps, the rest on overflow pages (the format's X, M and K; no reserved bytes). */
function localBytes(pageSize: number, payload: number): number {
	const maxLocal = pageSize - 35;
	const minLocal = Math.floor(((pageSize - 12) * 32) / 255) - 23;
	const spill = minLocal + ((payload - minLocal) % (pageSize - 4));
	return payload <= maxLocal ? payload : spill <= maxLocal ? spill : minLocal;
}

/** A leaf cell declaring `payload` bytes of `record` (which may hold more or fewer), the part past the cell from overflow page `overflow`. */
function leafCell(pageSize: number, rowid: number, record: Buffer, payload = record.length, overflow = 0): Buffer {
	const local = localBytes(pageSize, payload);
	const kept = Buffer.alloc(local);
	record.copy(kept, 0, 0, local);
	const pointer = Buffer.alloc(local < payload ? 4 : 0);
	if (local < payload) pointer.writeUInt32BE(overflow, 0);
	return Buffer.concat([varint(payload), varint(rowid), kept, pointer]);
}

const LOGS_ROW = schemaRecord('table', 'logs', 2, 'CREATE TABLE logs (id)');

function writePages(name: string, pageSize: number, pages: readonly Buffer[]): string {
	const path = join(scratch, `${name}.db`);
	const first = Buffer.from(pages[0]!);
	fileHeader(pageSize, pages.length).copy(first, 0);
	writeFileSync(path, Buffer.concat([first, ...pages.slice(1)]));
	return path;
}

/** A schema of one table, `logs` on page 2, from the builders every file below is made with. */
const wellFormed = (pageSize: number) => writePages(`crafted-${pageSize}`, pageSize, [tablePage(pageSize, true, [leafCell(pageSize, 1, LOGS_ROW)]), tablePage(pageSize, false, [])]);

describe('files built byte by byte', () => {
	it('a well-formed one is what SQLite reads too: the builders write the format, so a hostile file is hostile only where it says', () => {
		for (const pageSize of [512, 65_536]) {
			const path = wellFormed(pageSize);
			expect(tablesBySqlite(path)).toEqual(new Set(['logs']));
			expect(track(new Database(path, {readonly: true})).prepare('SELECT count(*) FROM logs').pluck().get()).toBe(0);
			expect(sqliteFileTables(path)).toEqual(new Set(['logs']));
		}
		// Over an interior page, and with the name past the cell on a chain of overflow pages.
		const longName = `logs_${'n'.repeat(900)}`;
		const spilled = schemaRecord('table', longName, 4, `CREATE TABLE ${longName} (id)`);
		const chain = overflowChain(512, spilled.subarray(localBytes(512, spilled.length)), 5);
		expect(chain.length).toBeGreaterThan(1);
		const tree = writePages('crafted-tree', 512, [
			tablePage(512, true, [interiorCell(2, 1)], 3),
			tablePage(512, false, [leafCell(512, 1, LOGS_ROW)]),
			tablePage(512, false, [leafCell(512, 2, spilled, spilled.length, 5)]),
			tablePage(512, false, []),
			...chain,
		]);
		expect(tablesBySqlite(tree)).toEqual(new Set(['logs', longName]));
		expect(sqliteFileTables(tree)).toEqual(new Set(['logs', longName]));
	});

	it('a page that is the child of two cells is damage, not the same rows twice', () => {
		const path = writePages('crafted-shared-child', 512, [tablePage(512, true, [interiorCell(2, 1)], 2), tablePage(512, false, [leafCell(512, 1, LOGS_ROW)])]);
		expect(sqliteFileTables(path)).toBeNull();
	});

	it('a name whose overflow chain comes back on itself is damage, not the chain\'s bytes read again', () => {
		const name = `logs${'x'.repeat(1200)}`;
		const record = schemaRecord('table', name, 2, '');
		const path = writePages('crafted-overflow-loop-short', 512, [tablePage(512, true, [leafCell(512, 1, record, record.length, 2)]), overflowPage(512, 2, 'x')]);
		expect(sqliteFileTables(path)).toBeNull();
	});
});

// ---------------------------------------------------------------------------------------------
// Hostile files, each read in a child whose heap is 64 MB: an abort on the heap limit, or anything
// but "null", fails. The child runs the built module (rebuild first: npx tsc -p tsconfig.json).

const MODULE = join(packageRoot(), 'dist', 'source', 'maintenance', 'sqlite-file-tables.js');
const READ = `
const {sqliteFileTables} = await import(process.argv[1]);
const tables = sqliteFileTables(process.argv[2]);
console.log(tables === null ? 'null' : JSON.stringify([...tables]));
`;

function readInSmallHeap(path: string): {status: number | null; stdout: string; stderr: string} {
	const result = spawnSync(process.execPath, ['--max-old-space-size=64', '--input-type=module', '-e', READ, pathToFileURL(MODULE).href, path], {encoding: 'utf8', timeout: 120_000});
	return {status: result.status, stdout: result.stdout, stderr: result.stderr.split('\n').slice(0, 5).join('\n')};
}

const HOSTILE: Array<[string, () => string]> = [
	[
		'a single 64 KiB page whose 32,000 cells and right-most pointer all lead back to itself',
		() => {
			const page = tablePage(65_536, true, [interiorCell(1, 1)], 1);
			const cells = Math.floor((65_536 - 112 - 5) / 2);
			page.writeUInt16BE(cells, 103);
			const cell = page.readUInt16BE(112);
			for (let index = 1; index < cells; index++) page.writeUInt16BE(cell, 112 + 2 * index);
			return writePages('hostile-self-loop', 65_536, [page]);
		},
	],
	[
		'a 64 KiB page of 3,000 cells 16 bytes apart, each a table whose name runs on over the others to the end of the page',
		() => {
			const page = Buffer.alloc(65_536);
			const cells = 3000;
			for (let index = 0; index < cells; index++) {
				const offset = 8200 + 16 * index;
				const name = 65_536 - offset - 16;
				const serials = Buffer.concat([23, 13 + 2 * name].map(varint));
				const cell = Buffer.concat([varint(1 + serials.length + 5 + name), varint(index + 1), varint(1 + serials.length), serials, Buffer.from('table')]);
				expect(cell.length).toBeLessThanOrEqual(16);
				cell.copy(page, offset);
				page.writeUInt16BE(offset, 108 + 2 * index);
			}
			page[100] = 0x0d;
			page.writeUInt16BE(cells, 103);
			page.writeUInt16BE(8200, 105);
			return writePages('hostile-overlapping-names', 65_536, [page]);
		},
	],
	[
		'children past the end of the file, and page 0',
		() => writePages('hostile-out-of-range', 512, [tablePage(512, true, [interiorCell(2, 1), interiorCell(0, 2), interiorCell(4_000_000_000, 3)], 99), tablePage(512, false, [leafCell(512, 1, LOGS_ROW)])]),
	],
	[
		'a row whose overflow chain loops between two pages, its name running on past both',
		() => {
			const name = `logs${'x'.repeat(2000)}`;
			const record = schemaRecord('table', name, 2, '');
			return writePages('hostile-overflow-loop', 512, [tablePage(512, true, [leafCell(512, 1, record, record.length, 2)]), overflowPage(512, 3, 'x'), overflowPage(512, 2, 'x')]);
		},
	],
	[
		'a row declaring 2^40 bytes, on 64 KiB pages whose overflow chain loops on itself',
		() => writePages('hostile-2-40', 65_536, [tablePage(65_536, true, [leafCell(65_536, 1, LOGS_ROW, 2 ** 40, 2)]), overflowPage(65_536, 2, 'x')]),
	],
	[
		'a name declared 16 MiB long, in a file with the 64 KiB pages such a row takes',
		() => {
			const record = schemaRecord('table', 'logs', 2, '', 2 ** 24);
			const path = writePages('hostile-name-16-mib', 65_536, [tablePage(65_536, true, [leafCell(65_536, 1, record, 2 ** 25, 2)]), overflowPage(65_536, 0, 'x')]);
			// Holes, not bytes: the file has the pages such a payload needs.
			truncateSync(path, 2 ** 26);
			return path;
		},
	],
	[
		'a row declaring 2^40 bytes whose name fits the cell but whose record header claims 2^40 bytes',
		() => {
			const record = Buffer.concat([varint(2 ** 40), LOGS_ROW.subarray(1)]);
			return writePages('hostile-header-2-40', 512, [tablePage(512, true, [leafCell(512, 1, record, 2 ** 40, 2)]), overflowPage(512, 2, 'x')]);
		},
	],
];

/** Beside `path`, the journal a writer of another file left when killed inside a transaction: SQLite then reads nothing of `path` read-only. */
function leaveHotJournal(path: string): void {
	const writer = join(scratch, `${basename(path)}-writer.db`);
	const db = track(new Database(writer));
	db.exec('CREATE TABLE notes (body)');
	db.transaction(() => {
		for (let n = 0; n < 200; n++) db.prepare('INSERT INTO notes VALUES (?)').run('.'.repeat(300));
	})();
	db.pragma('cache_size = 2');
	db.exec('BEGIN');
	db.exec("UPDATE notes SET body = 'overwritten'");
	copyFileSync(`${writer}-journal`, `${path}-journal`);
	db.exec('ROLLBACK');
	expect(() => track(new Database(path, {readonly: true})).prepare('SELECT count(*) FROM sqlite_master').get()).toThrow(expect.objectContaining({code: 'SQLITE_READONLY_ROLLBACK'}));
}

const CLI = join(packageRoot(), 'dist', 'source', 'cli.js');

describe('hostile files, in a 64 MB heap', () => {
	beforeAll(() => {
		for (const built of [MODULE, CLI]) {
			if (!existsSync(built)) {
				throw new Error(`${built} is missing: build first (npx tsc -p tsconfig.json)`);
			}
		}
	});

	it.each(HOSTILE)('%s: null', (_what, write) => {
		const path = write();
		expect(readInSmallHeap(path)).toEqual({status: 0, stdout: 'null\n', stderr: ''});
		expect(sqliteFileTables(path)).toBeNull();
	});

	it.each(HOSTILE)('%s, with a hot journal: maintain --apply refuses it in one line, the file and the journal as they were', (_what, write) => {
		const path = write();
		leaveHotJournal(path);
		const before = [digest(path), digest(`${path}-journal`)];
		const result = spawnSync(process.execPath, ['--max-old-space-size=64', CLI, 'maintain', 'retention', path, '--keep', '30d', '--apply'], {encoding: 'utf8', timeout: 120_000, env: {...process.env, NO_COLOR: '1'}});
		expect([result.status, result.stdout], result.stderr.slice(0, 500)).toEqual([2, '']);
		expect(result.stderr).toMatch(/^relaytop: [^\n]+ holds a write its writer left unfinished[^\n]*\n$/u);
		expect([digest(path), digest(`${path}-journal`)]).toEqual(before);
	});
});
