// The dashboard's demo on embedded PostgreSQL: the fixture ending now, new-api's sessions at work,
// and nothing left behind; the SQLite demo when the server cannot start.

import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {dirname} from 'node:path';
import pg from 'pg';
import {describe, expect, it} from 'vitest';
import {startLiveDemo} from '../source/demo/live-demo.js';
import {startPostgresDemo} from '../source/demo/postgres-demo.js';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
	const end = Date.now() + deadlineMs;
	for (;;) {
		const value = await check();
		if (value !== undefined) return value;
		if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
		await sleep(200);
	}
}

describe('PostgreSQL demo', () => {
	it('serves the fixture ending now, with new-api writing, reading and idling, until stop() removes it all', async () => {
		const demo = await startPostgresDemo();
		const client = new pg.Client({connectionString: demo.url});
		await client.connect();
		let stopped = false;
		try {
			const one = async <T,>(text: string): Promise<T> => (await client.query(text)).rows[0] as T;
			const {newest} = await one<{newest: string}>('SELECT max(created_at) AS newest FROM logs WHERE type IN (2, 5)');
			expect(Math.abs(Number(newest) - Date.now() / 1000)).toBeLessThan(120);
			const {rows: before} = await one<{rows: string}>('SELECT count(*) AS rows FROM logs');
			expect(Number(before)).toBeGreaterThan(50_000);
			// Created in the demo database, so the Postgres view has top statements to show.
			expect((await client.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")).rowCount).toBe(1);
			await waitFor('new requests', async () => (Number((await one<{rows: string}>('SELECT count(*) AS rows FROM logs')).rows) > Number(before) ? true : undefined));
			// Writers and an idle pool as a gateway holds them, and the admin pages' readers.
			const sessions = await waitFor('the gateway sessions', async () => {
				const {rows} = await client.query<{application_name: string; n: number}>(
					"SELECT application_name, count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'new-api%' GROUP BY 1",
				);
				const byName = Object.fromEntries(rows.map(row => [row.application_name, row.n]));
				return (byName['new-api'] ?? 0) >= 11 && byName['new-api-admin'] === 2 && byName['new-api-batch'] === 1 ? byName : undefined;
			});
			expect(sessions['new-api']).toBe(11); // 3 writers and 8 idle
			// The traffic's settings came over IPC: no command line shows the server's password.
			const password = decodeURIComponent(new URL(demo.url).password);
			expect(password.length).toBeGreaterThan(8);
			const commandLines = readdirSync('/proc')
				.filter(name => /^\d+$/u.test(name))
				.map(pid => {
					try {
						return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
					} catch {
						return '';
					}
				});
			expect(commandLines.some(line => line.includes('postgres-traffic-process'))).toBe(true);
			expect(commandLines.filter(line => line.includes(password))).toEqual([]);
			await client.end();
			await demo.stop();
			stopped = true;
			const after = new pg.Client({connectionString: demo.url, connectionTimeoutMillis: 2000});
			await expect(after.connect()).rejects.toThrow(); // the server is gone
		} finally {
			if (!stopped) {
				await client.end().catch(() => undefined);
				await demo.stop();
			}
		}
	});

	it('falls back to the SQLite demo, saying why, when the server cannot start', async () => {
		const notes: string[] = [];
		const demo = await startLiveDemo(
			line => notes.push(line),
			async () => {
				throw new Error('embedded PostgreSQL did not start: no binaries for this platform');
			},
		);
		try {
			expect(demo.target).toMatch(/newapi\.sqlite$/u);
			expect(existsSync(demo.target)).toBe(true);
			expect(notes).toEqual(['embedded PostgreSQL did not start: no binaries for this platform; the demo runs on SQLite']);
		} finally {
			await demo.stop();
		}
		expect(existsSync(dirname(demo.target))).toBe(false);
	});
});
