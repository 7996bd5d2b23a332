import {readFileSync, statSync} from 'node:fs';
import {homedir} from 'node:os';
import {join} from 'node:path';

/** What a password file entry is matched against. */
export interface PasswordFor {
	readonly host: string;
	readonly port: number;
	readonly database: string;
	readonly user: string;
}

/** A line's fields: `:` separates them, `\` escapes `:` and `\`. */
function fieldsOf(line: string): string[] {
	const fields: string[] = [];
	let field = '';
	for (let index = 0; index < line.length; index++) {
		const char = line[index]!;
		if (char === '\\' && index + 1 < line.length) {
			field += line[++index];
		} else if (char === ':' && fields.length < 4) {
			fields.push(field);
			field = '';
		} else {
			field += char;
		}
	}
	fields.push(field);
	return fields;
}

/**
 * The password for a connection from a libpq password file: the first entry whose host, port,
 * database and user match (`*` matches anything; `localhost` also matches a Unix socket, as in
 * libpq). Undefined when no entry matches.
 */
export function passwordFromText(text: string, wanted: PasswordFor): string | undefined {
	const host = wanted.host.startsWith('/') ? 'localhost' : wanted.host;
	const values = [host, String(wanted.port), wanted.database, wanted.user];
	for (const line of text.split(/\r?\n/u)) {
		if (line.trim() === '' || line.startsWith('#')) {
			continue;
		}
		const fields = fieldsOf(line);
		if (fields.length === 5 && values.every((value, index) => fields[index] === '*' || fields[index] === value)) {
			return fields[4];
		}
	}
	return undefined;
}

/**
 * PGPASSFILE or ~/.pgpass, read as libpq reads it: a file others may read or write is ignored
 * (libpq does the same), and a missing file means no password.
 */
export function passwordFromFile(wanted: PasswordFor, env: NodeJS.ProcessEnv = process.env): string | undefined {
	const file = env.PGPASSFILE ?? join(homedir(), '.pgpass');
	try {
		const stats = statSync(file);
		if (!stats.isFile() || (stats.mode & 0o077) !== 0) {
			return undefined;
		}
		return passwordFromText(readFileSync(file, 'utf8'), wanted);
	} catch {
		return undefined;
	}
}
