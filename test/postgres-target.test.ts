import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {numberedPlaceholders} from '../source/sources/postgres/pg-placeholders.js';
import {postgresConfig, targetFromEnvironment} from '../source/sources/postgres/pg-target.js';
import {passwordFromFile, passwordFromText} from '../source/sources/postgres/pgpass.js';

const folder = mkdtempSync(join(tmpdir(), 'relaytop-pgpass-'));
afterAll(() => rmSync(folder, {recursive: true, force: true}));

const passwordOf = async (config: ReturnType<typeof postgresConfig>) =>
	typeof config.password === 'function' ? await config.password() : config.password;

describe('numbered placeholders', () => {
	it('numbers each ? in order', () => {
		expect(numberedPlaceholders('SELECT ? + ?, x FROM t WHERE a = ? LIMIT ?')).toBe('SELECT $1 + $2, x FROM t WHERE a = $3 LIMIT $4');
	});

	it('leaves a ? in a string, a quoted name or a comment alone', () => {
		expect(numberedPlaceholders(`SELECT substring(o FROM '(-?[0-9]+)'), "a?b", 'it''s?' -- why?\nFROM t WHERE x = ? /* ? */ AND y = ?`)).toBe(
			`SELECT substring(o FROM '(-?[0-9]+)'), "a?b", 'it''s?' -- why?\nFROM t WHERE x = $1 /* ? */ AND y = $2`,
		);
	});
});

describe('password file', () => {
	const wanted = {host: 'db.internal', port: 5432, database: 'newapi', user: 'observer'};

	it('takes the first matching line, with * as a wildcard and \\ escapes', () => {
		const text = ['# comment', 'other:5432:newapi:observer:no', 'db.internal:5432:*:observer:p\\:ss\\\\word', '*:*:*:*:fallback'].join('\n');
		expect(passwordFromText(text, wanted)).toBe('p:ss\\word');
		expect(passwordFromText(text, {...wanted, user: 'someone'})).toBe('fallback');
		expect(passwordFromText('db.internal:5433:*:*:x', wanted)).toBeUndefined();
	});

	it('matches localhost for a Unix socket, as libpq does', () => {
		expect(passwordFromText('localhost:5432:newapi:observer:local', {...wanted, host: '/var/run/postgresql'})).toBe('local');
	});

	it('ignores a file others may read', () => {
		const file = join(folder, 'pgpass');
		writeFileSync(file, 'db.internal:5432:newapi:observer:secret\n');
		chmodSync(file, 0o600);
		expect(passwordFromFile(wanted, {PGPASSFILE: file})).toBe('secret');
		chmodSync(file, 0o644);
		expect(passwordFromFile(wanted, {PGPASSFILE: file})).toBeUndefined();
		expect(passwordFromFile(wanted, {PGPASSFILE: join(folder, 'missing')})).toBeUndefined();
	});
});

describe('PostgreSQL target', () => {
	it('always connects as relaytop, whatever the URL says', () => {
		const config = postgresConfig('postgres://u@db:5433/newapi?application_name=sneaky&sslmode=require', {});
		expect(config.application_name).toBe('relaytop');
		expect(config.connectionString).not.toContain('sneaky');
		expect(config.connectionString).toContain('sslmode=require');
		expect(config.user).toBe('u');
	});

	it('fills what the URL leaves out from PGUSER and the password file', async () => {
		const file = join(folder, 'pgpass-target');
		writeFileSync(file, 'db:5433:newapi:alice:from-file\n');
		chmodSync(file, 0o600);
		const config = postgresConfig('postgres://db:5433/newapi', {PGUSER: 'alice', PGPASSFILE: file});
		expect(config.user).toBe('alice');
		expect(await passwordOf(config)).toBe('from-file');
		// A password in the URL or in PGPASSWORD wins; the file is not read.
		expect(postgresConfig('postgres://alice:inline@db:5433/newapi', {PGPASSFILE: file}).password).toBeUndefined();
		expect(postgresConfig('postgres://db:5433/newapi', {PGUSER: 'alice', PGPASSWORD: 'env', PGPASSFILE: file}).password).toBeUndefined();
	});

	it('reads the database from PGDATABASE for the password file when the URL has none', async () => {
		const file = join(folder, 'pgpass-db');
		writeFileSync(file, 'db:5432:fromenv:bob:right\ndb:5432:bob:bob:wrong\n');
		chmodSync(file, 0o600);
		expect(await passwordOf(postgresConfig('postgres://bob@db', {PGDATABASE: 'fromenv', PGPASSFILE: file}))).toBe('right');
		expect(await passwordOf(postgresConfig('postgres://bob@db', {PGPASSFILE: file}))).toBe('wrong'); // libpq: database defaults to the user
	});

	it('takes DATABASE_URL as the target only when it names PostgreSQL', () => {
		expect(targetFromEnvironment({DATABASE_URL: 'postgresql://x@y/z'})).toBe('postgresql://x@y/z');
		expect(targetFromEnvironment({DATABASE_URL: 'mysql://x@y/z'})).toBeUndefined();
		expect(targetFromEnvironment({})).toBeUndefined();
	});
});
