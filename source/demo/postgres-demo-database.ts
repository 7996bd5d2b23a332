import pg from 'pg';
import {ensureFixture, FIXTURE_VERSION} from '../fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../fixtures/newapi-postgres-fixture.js';
import {isAlive} from '../postgres/embedded/data-dir.js';

// The demo's new-api database on the embedded server: the fixture is loaded once into a template
// database; each run clones it (a file copy, far faster than loading) and moves it to end now.

/** Bumped when the template's contents change, so an older cached one is not used. */
const TEMPLATE_VERSION = 2;
const TEMPLATE = `relaytop_demo_template_v${FIXTURE_VERSION}_${TEMPLATE_VERSION}`;
const RUN_PREFIX = 'relaytop_demo_run_';

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({connectionString: url, application_name: 'relaytop-demo-setup'});
	await client.connect();
	try {
		return await work(client);
	} finally {
		await client.end();
	}
}

const databaseUrl = (serverUrl: string, database: string): string => {
	const url = new URL(serverUrl);
	url.pathname = `/${database}`;
	return url.toString();
};

/** The template, loaded from the fixture under another name first, so a half-loaded one never counts. */
async function ensureTemplate(serverUrl: string): Promise<void> {
	const exists = await withClient(serverUrl, async client => {
		// Templates of earlier versions only take room.
		const {rows} = await client.query<{datname: string}>("SELECT datname FROM pg_database WHERE datname LIKE 'relaytop\\_demo\\_template\\_%' AND datname <> $1", [TEMPLATE]);
		for (const {datname} of rows) {
			await client.query(`DROP DATABASE IF EXISTS "${datname}"`);
		}
		return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE])).rowCount === 1;
	});
	if (exists) {
		return;
	}
	const loading = `${TEMPLATE}_loading_${process.pid}`;
	await withClient(serverUrl, client => client.query(`DROP DATABASE IF EXISTS "${loading}"`).then(() => client.query(`CREATE DATABASE "${loading}"`)));
	await withClient(databaseUrl(serverUrl, loading), async client => {
		await loadNewApiIntoPostgres(client, ensureFixture('newapi'));
		// The server preloads it; created here, the Postgres view has top statements to show.
		await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
	});
	await withClient(serverUrl, client => client.query(`ALTER DATABASE "${loading}" RENAME TO "${TEMPLATE}"`));
}

/** Run databases left by a demo whose process is gone (killed before it could drop its own). */
async function dropLeftovers(serverUrl: string): Promise<void> {
	await withClient(serverUrl, async client => {
		const {rows} = await client.query<{datname: string}>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${RUN_PREFIX}%`]);
		for (const {datname} of rows) {
			const pid = Number(datname.slice(RUN_PREFIX.length).split('_')[0]);
			if (!isAlive(pid)) {
				await client.query(`DROP DATABASE IF EXISTS "${datname}"`);
			}
		}
	});
}

export interface DemoDatabase {
	readonly url: string;
	drop(): Promise<void>;
}

/** A new database holding the new-api fixture, its newest request moved to `nowMs`. */
export async function createDemoDatabase(serverUrl: string, nowMs: number = Date.now()): Promise<DemoDatabase> {
	await ensureTemplate(serverUrl);
	await dropLeftovers(serverUrl);
	const name = `${RUN_PREFIX}${process.pid}_${Date.now().toString(36)}`;
	await withClient(serverUrl, client => client.query(`CREATE DATABASE "${name}" TEMPLATE "${TEMPLATE}"`));
	const url = databaseUrl(serverUrl, name);
	const drop = () => withClient(serverUrl, client => client.query(`DROP DATABASE IF EXISTS "${name}"`)).then(() => undefined);
	try {
		await withClient(url, async client => {
			const {rows} = await client.query<{newest: string}>('SELECT max(created_at) AS newest FROM logs WHERE type IN (2, 5)');
			// One shift for every row keeps the fixture's history (daily rhythm, last-minute burst) intact.
			await client.query('UPDATE logs SET created_at = created_at + $1', [Math.floor(nowMs / 1000) - Number(rows[0]!.newest)]);
			// The shift leaves a dead copy of every row, and a clone starts without statistics: the
			// Health view would report the demo's own setup as bloat.
			await client.query('VACUUM (ANALYZE) logs');
			// Nor should the setup's own statements top the demo's statement list.
			await client.query('SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)');
		});
	} catch (error) {
		await drop();
		throw error;
	}
	return {url, drop};
}
