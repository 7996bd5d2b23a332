import Database from 'better-sqlite3';
import pg from 'pg';
import {describe, expect, it} from 'vitest';
import {postgresNewApiDialect} from '../source/sources/newapi/newapi-postgres.js';
import {sqliteNewApiDialect} from '../source/sources/newapi/newapi-sqlite.js';
import {testPostgres, testPostgresVersion} from './support/postgres-server.js';

// new-api's `other.cache_tokens`, read by PostgreSQL from text (no safe cast to jsonb before 16)
// and by SQLite with its JSON functions: the same number for what new-api writes, and 0, never an
// error, for text that is empty, cut short or not JSON.

const OTHERS: ReadonlyArray<string | null> = [
	null,
	'',
	'{}',
	'[]',
	'null',
	'not json',
	'{"cache_tokens":5}',
	'{"admin_info":{"use_channel":["3"]},"cache_ratio":0.1,"cache_tokens":1500,"completion_ratio":4,"group_ratio":1,"model_ratio":1.25}',
	'{"frt":812,"model_ratio":2.5}',
	'{"a":1,"cache_tokens":123,"z":"}"}',
	'  {"cache_tokens": 7}  ',
	'\n{"cache_tokens":8}\t',
	'\r\n\t {"cache_tokens":9}\r\n',
	'{"cache_tokens"   :   21}',
	'{"cache_tokens":-3}',
	'{"cache_tokens":0}',
	'{"cache_tokens":null}',
	'{"cache_tokens":1.5}',
	'{"cache_tokens":99999999999}',
	'{"x":"ü日本語 — ✓","cache_tokens":33}',
	`{"x":"${'é'.repeat(500)}","cache_tokens":44}`,
	'{"cache_tokens":12',
	'{"cache_tokens":12,"x":"',
	'{"cache_tokens":',
	'"cache_tokens":5}',
	`{"cache_tokens":${' '.repeat(30)}1234567890}`,
	'{"cache_tokens"\f:5}',
	'{"cache_tokens":\v5}',
	'{"error":{"message":"upstream timeout","type":"new_api_error"}}',
];

function sqliteValues(): number[] {
	const db = new Database(':memory:');
	try {
		const read = db.prepare(`SELECT ${sqliteNewApiDialect.cachedTokens('other')} AS n FROM (SELECT ? AS other)`);
		return OTHERS.map(other => Number((read.get(other) as {n: number | bigint}).n));
	} finally {
		db.close();
	}
}

async function postgresValues(url: string, others: ReadonlyArray<string | null> = OTHERS): Promise<number[]> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		const {rows} = await client.query<{n: string}>(
			`SELECT ${postgresNewApiDialect.cachedTokens('other')} AS n FROM unnest($1::text[]) WITH ORDINALITY AS given(other, at) ORDER BY at`,
			[others],
		);
		return rows.map(row => Number(row.n));
	} finally {
		await client.end();
	}
}

describe('other.cache_tokens on both engines', () => {
	const expected = sqliteValues();

	it('SQLite reads the numbers new-api writes and 0 for the rest', () => {
		expect(expected).toEqual([0, 0, 0, 0, 0, 0, 5, 1500, 0, 123, 7, 8, 9, 21, 0, 0, 0, 1, 99_999_999_999, 33, 44, 0, 0, 0, 0, 1_234_567_890, 0, 0, 0]);
	});

	it('PostgreSQL reads the same', async () => {
		expect(await postgresValues((await testPostgres()).url)).toEqual(expected);
	});

	it('PostgreSQL reads 64 characters past the key: a number ending beyond gives 0, never a number cut short', async () => {
		const padded = (spaces: number) => `{"cache_tokens":${' '.repeat(spaces)}1234567890}`;
		// ':' + spaces + 10 digits + the '}' that ends the number: 63 and 64 characters fit, 65 and 66 do not.
		expect(await postgresValues((await testPostgres()).url, [padded(51), padded(52), padded(53), padded(54)])).toEqual([1_234_567_890, 1_234_567_890, 0, 0]);
	});

	it('PostgreSQL 10 reads the same', async () => {
		expect(await postgresValues((await testPostgresVersion(10)).url)).toEqual(expected);
	});
});
