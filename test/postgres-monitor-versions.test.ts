// The statements and progress panels on the oldest PostgreSQL the embedded package ships with
// pg_stat_statements (10: total_time, no CREATE INDEX progress) and on 18 (total_exec_time,
// pg_stat_statements_info). The machine's 15 runs the full monitor suite in CI.

import pg from 'pg';
import {afterAll, describe, expect, it} from 'vitest';
import type {PanelResult} from '../source/postgres/monitor/panel-result.js';
import {PostgresMonitor} from '../source/postgres/monitor/postgres-monitor.js';
import {freshDatabaseOn, TEST_POSTGRES_MAJORS, testPostgresVersion} from './support/postgres-server.js';

const opened: pg.Client[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
	await Promise.all(opened.map(client => client.end().catch(() => undefined)));
	for (const cleanup of cleanups) await cleanup();
});

async function connect(url: string, application: string): Promise<pg.Client> {
	const client = new pg.Client({connectionString: url, application_name: application});
	client.on('error', () => undefined);
	await client.connect();
	opened.push(client);
	return client;
}

function ok<T>(panel: PanelResult<T> | undefined): T {
	if (panel?.status !== 'ok') throw new Error(`panel not ok: ${JSON.stringify(panel)}`);
	return panel.data;
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
	const deadline = Date.now() + 15_000;
	for (;;) {
		const value = await read();
		if (done(value)) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

describe.each(TEST_POSTGRES_MAJORS)('PostgreSQL %i', major => {
	const setUp = async () => {
		const server = await testPostgresVersion(major);
		const database = await freshDatabaseOn(server, `relaytop_versions_${major}`);
		cleanups.push(database.drop);
		const admin = await connect(database.url, 'versions-admin');
		await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
		return {server, database, admin, monitorDb: await connect(database.url, 'relaytop')};
	};
	let ready: ReturnType<typeof setUp> | undefined;
	const context = () => (ready ??= setUp());

	it('reads statements with the columns of its extension version, with rates between samples', async () => {
		const {server, database, monitorDb} = await context();
		expect(Math.floor(server.versionNum / 10_000)).toBe(major);
		const monitor = new PostgresMonitor({statements: {limit: 500}});
		const first = ok((await monitor.snapshot(monitorDb, ['statements'])).statements);
		expect(first.totalColumn).toBe(major >= 13 ? 'total_exec_time' : 'total_time');
		const work = await connect(database.url, 'versions-work');
		for (let i = 0; i < 9; i++) await work.query('SELECT $1::int AS versions_probe', [i]);
		const second = ok((await monitor.snapshot(monitorDb, ['statements'])).statements);
		const probe = second.top.find(stat => stat.query?.includes('versions_probe'));
		expect(probe).toMatchObject({calls: 9, own: false});
		expect(probe!.interval!.calls).toBe(9);
		expect(probe!.interval!.callsPerS).toBeGreaterThan(0);
		expect(second.statsResetAtMs === null).toBe(major < 14); // pg_stat_statements_info arrived with 1.9 (PostgreSQL 14)
	});

	it('shows a VACUUM in progress, and CREATE INDEX progress where the server has it (12+)', async () => {
		const {database, admin, monitorDb} = await context();
		await admin.query("CREATE TABLE vac_versions AS SELECT i AS id, repeat('x', 200) AS pad FROM generate_series(1, 2000) AS i");
		// A cursor keeps a page pinned: VACUUM (FREEZE) waits for it, in plain sight.
		const reader = await connect(database.url, 'versions-cursor');
		await reader.query('BEGIN');
		await reader.query('DECLARE pinned CURSOR FOR SELECT * FROM vac_versions');
		await reader.query('FETCH 1 FROM pinned');
		const vacuumer = await connect(database.url, 'versions-vacuum');
		const vacuumerPid = (await vacuumer.query<{pid: number}>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
		const vacuuming = vacuumer.query('VACUUM (FREEZE) vac_versions').catch(() => undefined);
		const monitor = new PostgresMonitor();
		try {
			const seen = await waitFor(
				async () => ok((await monitor.snapshot(monitorDb, ['progress'])).progress),
				progress => progress.vacuums.some(row => row.pid === vacuumerPid),
				'the vacuum in progress',
			);
			expect(seen.vacuums.find(row => row.pid === vacuumerPid)).toMatchObject({relation: 'vac_versions', autovacuum: false, phase: 'scanning heap'});
			expect(seen.createIndexSupported).toBe(major >= 12);
		} finally {
			await reader.query('COMMIT');
			await vacuuming;
		}
	});
});
