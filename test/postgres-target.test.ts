import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import pg from 'pg';
import {afterAll, describe, expect, it} from 'vitest';
import {numberedPlaceholders} from '../source/sources/postgres/pg-placeholders.js';
import {postgresConfig, targetFromEnvironment} from '../source/sources/postgres/pg-target.js';
import {passwordFromFile, passwordFromText} from '../source/sources/postgres/pgpass.js';

const folder = mkdtempSync(join(tmpdir(), 'relaytop-pgpass-'));
afterAll(() => rmSync(folder, {recursive: true, force: true}));

/** The user and password pg connects with, given the config (pg's own reading of it, no connection). */
function connectsAs(config: pg.ClientConfig): {user: string | undefined; password: unknown} {
	const client = new pg.Client(config) as pg.Client & {password: unknown};
	return {user: client.user, password: client.password};
}

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

	it('fills what the URL leaves out from PGUSER and the password file', () => {
		const file = join(folder, 'pgpass-target');
		writeFileSync(file, 'db:5433:newapi:alice:from-file\n');
		chmodSync(file, 0o600);
		const config = postgresConfig('postgres://db:5433/newapi', {PGUSER: 'alice', PGPASSFILE: file});
		expect(config.user).toBe('alice');
		expect(connectsAs(config)).toEqual({user: 'alice', password: 'from-file'});
		// A password in the URL (as its user part or a parameter) or in PGPASSWORD wins; the file is not read.
		expect(connectsAs(postgresConfig('postgres://alice:inline@db:5433/newapi', {PGPASSFILE: file})).password).toBe('inline');
		expect(connectsAs(postgresConfig('postgres://db:5433/newapi?password=param', {PGUSER: 'alice', PGPASSFILE: file})).password).toBe('param');
		expect(postgresConfig('postgres://db:5433/newapi', {PGUSER: 'alice', PGPASSWORD: 'env', PGPASSFILE: file}).connectionString).not.toContain('from-file');
	});

	it('gives the password file\'s password to a URL without a host (a local socket), where the user part cannot hold it', () => {
		const file = join(folder, 'pgpass-socket');
		writeFileSync(file, 'localhost:5432:newapi:alice:over-the-socket\n');
		chmodSync(file, 0o600);
		// pg, given no password, would read the file itself, with a deprecation warning on stderr under the dashboard.
		expect(connectsAs(postgresConfig('postgres:///newapi', {PGUSER: 'alice', PGPASSFILE: file}))).toEqual({user: 'alice', password: 'over-the-socket'});
		expect(connectsAs(postgresConfig('postgres:///newapi?host=localhost', {PGUSER: 'alice', PGPASSFILE: file}))).toEqual({user: 'alice', password: 'over-the-socket'});
		// A user given as a parameter is the one the file is searched for, and stays the one that connects.
		writeFileSync(file, 'localhost:5432:newapi:bob:for-bob\n');
		expect(connectsAs(postgresConfig('postgres:///newapi?user=bob', {PGUSER: 'alice', PGPASSFILE: file}))).toEqual({user: 'bob', password: 'for-bob'});
	});

	it('reads the database from PGDATABASE for the password file when the URL has none', () => {
		const file = join(folder, 'pgpass-db');
		writeFileSync(file, 'db:5432:fromenv:bob:right\ndb:5432:bob:bob:wrong\n');
		chmodSync(file, 0o600);
		expect(connectsAs(postgresConfig('postgres://bob@db', {PGDATABASE: 'fromenv', PGPASSFILE: file})).password).toBe('right');
		expect(connectsAs(postgresConfig('postgres://bob@db', {PGPASSFILE: file})).password).toBe('wrong'); // libpq: database defaults to the user
	});

	it('takes DATABASE_URL as the target only when it names PostgreSQL', () => {
		expect(targetFromEnvironment({DATABASE_URL: 'postgresql://x@y/z'})).toBe('postgresql://x@y/z');
		expect(targetFromEnvironment({DATABASE_URL: 'mysql://x@y/z'})).toBeUndefined();
		expect(targetFromEnvironment({})).toBeUndefined();
	});
});
