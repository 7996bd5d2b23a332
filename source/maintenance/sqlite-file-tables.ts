import {closeSync, fstatSync, openSync, readSync} from 'node:fs';

// The tables a SQLite file's schema names, read from its bytes without SQLite. A file a writer left
// inside a transaction (a hot rollback journal) cannot be read by SQLite without first playing the
// journal back, which writes to it; this reads the file as it lies, and writes nothing. Only the
// schema table's b-tree is walked (https://www.sqlite.org/fileformat2.html), and only the first two
// columns of its rows, `type` and `name`; only the main file is read, never a WAL (a hot journal
// belongs to rollback mode). The bytes may be hostile or damaged: each page is taken at most once
// (no b-tree or overflow page belongs to two places), and the walk and each row it reads are
// bounded, so what it holds stays small whatever the file says.

const MAGIC = 'SQLite format 3\0';
const INTERIOR_TABLE = 0x05;
const LEAF_TABLE = 0x0d;
/** More schema pages, overflow pages included, than any store has. */
const MAX_PAGES = 10_000;
/** A row's record header, `type` and `name` together: far longer than any gateway's table name. */
const MAX_ROW_PREFIX = 64 * 1024;
/** Those of every row together (cells may overlap, each taking the others' bytes into its name). */
const MAX_ROW_PREFIXES = 4 * 1024 * 1024;

class Unreadable extends Error {}

/** A varint at `offset`: its value (exact up to 2^53) and length. */
function varint(bytes: Buffer, offset: number): [value: number, length: number] {
	let value = 0;
	for (let index = 0; index < 9; index++) {
		const byte = bytes[offset + index];
		if (byte === undefined) throw new Unreadable();
		if (index === 8) return [value * 256 + byte, 9];
		value = value * 128 + (byte & 0x7f);
		if (byte < 0x80) return [value, index + 1];
	}
	throw new Unreadable();
}

/** The size of a record column of serial type `type`. */
function columnSize(type: number): number {
	if (type >= 12) return Math.floor((type - 12) / 2);
	return [0, 1, 2, 3, 4, 6, 8, 8, 0, 0][type] ?? 0;
}

/** A text column of serial type `type`, or null for any other type. */
function text(bytes: Buffer, type: number, encoding: number): string | null {
	if (type < 13 || type % 2 === 0) return null;
	if (encoding === 1) return bytes.toString('utf8');
	if (encoding === 2) return bytes.toString('utf16le');
	return Buffer.from(bytes).swap16().toString('utf16le');
}

/**
 * The names of the tables in `path`'s schema (sqlite_master rows of type 'table'), or null when its
 * bytes are not a schema this reader can follow: not SQLite, damaged, caught half-rewritten, or
 * past the bounds above.
 */
export function sqliteFileTables(path: string): Set<string> | null {
	const fd = openSync(path, 'r');
	try {
		const header = Buffer.alloc(100);
		if (readSync(fd, header, 0, 100, 0) < 100 || header.toString('latin1', 0, 16) !== MAGIC) return null;
		const rawPageSize = header.readUInt16BE(16);
		const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
		const usable = pageSize - header[20]!;
		const encoding = header.readUInt32BE(56);
		if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0 || usable < 480 || ![1, 2, 3].includes(encoding)) return null;
		const pageCount = Math.floor(fstatSync(fd).size / pageSize);
		const taken = new Set<number>();
		/** Claims page `number` for one place in the schema: a page outside the file, one claimed before, or one too many is damage. */
		const claim = (number: number): number => {
			if (number < 1 || number > pageCount || taken.has(number) || taken.size >= MAX_PAGES) throw new Unreadable();
			taken.add(number);
			return number;
		};
		const readPage = (number: number): Buffer => {
			const page = Buffer.alloc(pageSize);
			if (readSync(fd, page, 0, pageSize, (number - 1) * pageSize) < pageSize) throw new Unreadable();
			return page;
		};
		/** The first `length` bytes of a row's payload: the part kept in its cell, then overflow pages from `next`, only as many as that takes. */
		const payloadPrefix = (local: Buffer, next: number, length: number): Buffer => {
			const parts = [local.subarray(0, length)];
			let have = parts[0]!.length;
			for (let page = next; have < length; ) {
				const overflow = readPage(claim(page));
				const part = overflow.subarray(4, Math.min(usable, 4 + length - have));
				parts.push(part);
				have += part.length;
				page = overflow.readUInt32BE(0);
			}
			return Buffer.concat(parts);
		};
		// A leaf cell's payload beyond this many bytes spills to overflow pages (the file format's X and M).
		const maxLocal = usable - 35;
		const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
		const tables = new Set<string>();
		let prefixes = 0;
		const pending = [claim(1)];
		while (pending.length > 0) {
			const number = pending.pop()!;
			const page = readPage(number);
			const at = number === 1 ? 100 : 0;
			const kind = page[at];
			if (kind !== INTERIOR_TABLE && kind !== LEAF_TABLE) return null;
			const cells = page.readUInt16BE(at + 3);
			const pointers = at + (kind === INTERIOR_TABLE ? 12 : 8);
			if (kind === INTERIOR_TABLE) pending.push(claim(page.readUInt32BE(at + 8)));
			for (let cell = 0; cell < cells; cell++) {
				const offset = page.readUInt16BE(pointers + 2 * cell);
				if (kind === INTERIOR_TABLE) {
					pending.push(claim(page.readUInt32BE(offset)));
					continue;
				}
				const [payload, payloadLength] = varint(page, offset);
				const [, rowidLength] = varint(page, offset + payloadLength);
				const start = offset + payloadLength + rowidLength;
				const spill = minLocal + ((payload - minLocal) % (usable - 4));
				const localLength = payload <= maxLocal ? payload : spill <= maxLocal ? spill : minLocal;
				// A payload longer than the file's pages could hold is damage, however little of it is read.
				if (Math.ceil((payload - localLength) / (usable - 4)) > pageCount) return null;
				const local = page.subarray(start, start + localLength);
				// The record header's first varints always lie in the cell: it keeps at least minLocal bytes.
				const [headerSize, headerLength] = varint(local, 0);
				const [typeType, typeLength] = varint(local, headerLength);
				const [nameType, nameLength] = varint(local, headerLength + typeLength);
				const typeAt = headerSize;
				const nameAt = typeAt + columnSize(typeType);
				const nameEnd = nameAt + columnSize(nameType);
				prefixes += nameEnd;
				if (headerSize < headerLength + typeLength + nameLength || nameEnd > payload || nameEnd > MAX_ROW_PREFIX || prefixes > MAX_ROW_PREFIXES) return null;
				const record = payload === localLength ? local : payloadPrefix(local, page.readUInt32BE(start + localLength), nameEnd);
				if (nameEnd > record.length) return null;
				if (text(record.subarray(typeAt, nameAt), typeType, encoding) === 'table') {
					const name = text(record.subarray(nameAt, nameEnd), nameType, encoding);
					if (name !== null) tables.add(name);
				}
			}
		}
		return tables;
	} catch (error) {
		if (error instanceof Unreadable || error instanceof RangeError) return null;
		throw error;
	} finally {
		closeSync(fd);
	}
}
