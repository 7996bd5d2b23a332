import {closeSync, fstatSync, openSync, readSync} from 'node:fs';

// The tables a SQLite file's schema names, read from its bytes without SQLite. A file a writer left
// inside a transaction (a hot rollback journal) cannot be read by SQLite without first playing the
// journal back, which writes to it; this reads the file as it lies, and writes nothing. Only the
// schema table's b-tree is walked (https://www.sqlite.org/fileformat2.html), and only the first two
// columns of its rows, `type` and `name`; only the main file is read, never a WAL (a hot journal
// belongs to rollback mode).

const MAGIC = 'SQLite format 3\0';
const INTERIOR_TABLE = 0x05;
const LEAF_TABLE = 0x0d;
/** More schema pages than any store has: a cycle in a damaged file ends here. */
const MAX_PAGES = 10_000;

class Unreadable extends Error {}

/** A varint at `offset`: its value (exact up to 2^53) and length. */
function varint(page: Buffer, offset: number): [value: number, length: number] {
	let value = 0;
	for (let index = 0; index < 9; index++) {
		const byte = page[offset + index];
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
 * bytes are not a schema this reader can follow: not SQLite, damaged, or caught half-rewritten.
 */
export function sqliteFileTables(path: string): Set<string> | null {
	const fd = openSync(path, 'r');
	try {
		const size = fstatSync(fd).size;
		const header = Buffer.alloc(100);
		if (readSync(fd, header, 0, 100, 0) < 100 || header.toString('latin1', 0, 16) !== MAGIC) return null;
		const rawPageSize = header.readUInt16BE(16);
		const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
		const usable = pageSize - header[20]!;
		const encoding = header.readUInt32BE(56);
		if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0 || ![1, 2, 3].includes(encoding)) return null;
		const readPage = (number: number): Buffer => {
			if (number < 1 || number * pageSize > size) throw new Unreadable();
			const page = Buffer.alloc(pageSize);
			readSync(fd, page, 0, pageSize, (number - 1) * pageSize);
			return page;
		};
		/** Pages read so far, overflow pages too. */
		let visited = 0;
		/** A row's payload: the part kept in its cell, then the rest, from the chain of overflow pages starting at `next`. */
		const withOverflow = (local: Buffer, next: number, payload: number): Buffer => {
			const parts = [local];
			let length = local.length;
			for (let page = next; length < payload; ) {
				if (++visited > MAX_PAGES) throw new Unreadable();
				const overflow = readPage(page);
				const part = overflow.subarray(4, Math.min(usable, 4 + payload - length));
				parts.push(part);
				length += part.length;
				page = overflow.readUInt32BE(0);
			}
			return Buffer.concat(parts);
		};
		// A leaf cell's payload beyond this many bytes spills to overflow pages (the file format's X and M).
		const maxLocal = usable - 35;
		const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
		const tables = new Set<string>();
		const pending = [1];
		while (pending.length > 0) {
			if (++visited > MAX_PAGES) return null;
			const number = pending.pop()!;
			const page = readPage(number);
			const at = number === 1 ? 100 : 0;
			const kind = page[at];
			if (kind !== INTERIOR_TABLE && kind !== LEAF_TABLE) return null;
			const cells = page.readUInt16BE(at + 3);
			const pointers = at + (kind === INTERIOR_TABLE ? 12 : 8);
			if (kind === INTERIOR_TABLE) pending.push(page.readUInt32BE(at + 8));
			for (let cell = 0; cell < cells; cell++) {
				const offset = page.readUInt16BE(pointers + 2 * cell);
				if (kind === INTERIOR_TABLE) {
					pending.push(page.readUInt32BE(offset));
					continue;
				}
				const [payload, payloadLength] = varint(page, offset);
				const [, rowidLength] = varint(page, offset + payloadLength);
				const start = offset + payloadLength + rowidLength;
				const spill = minLocal + ((payload - minLocal) % (usable - 4));
				const local = payload <= maxLocal ? payload : spill <= maxLocal ? spill : minLocal;
				const record = payload === local ? page.subarray(start, start + local) : withOverflow(page.subarray(start, start + local), page.readUInt32BE(start + local), payload);
				const [headerSize, headerLength] = varint(record, 0);
				const [typeType, typeLength] = varint(record, headerLength);
				const [nameType] = varint(record, headerLength + typeLength);
				const typeAt = headerSize;
				const nameAt = typeAt + columnSize(typeType);
				const nameEnd = nameAt + columnSize(nameType);
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
