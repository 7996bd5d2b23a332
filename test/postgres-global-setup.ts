import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import pg from 'pg';
import type {TestProject} from 'vitest/node';
import {type EmbeddedPostgres, startEmbeddedPostgres} from '../source/postgres/embedded/embedded-server.js';

/*
 * Embedded PostgreSQL servers for the whole vitest run, started on first use. This runs in the
 * main vitest process, which outlives every worker: it serves GET /server?major=N on a loopback
 * port (given to the workers with `provide`) and starts each major's server at most once, when a
 * worker first asks for it (see test/support/postgres-server.ts). Nothing starts for a run that
 * needs no PostgreSQL, nor for the default server when RELAYTOP_TEST_PG names one. Teardown stops
 * them all; a killed vitest takes them along (see embedded-server.ts).
 */

/** Drops what earlier runs left in the reused test cluster (their databases, when they were killed). */
async function dropLeftovers(server: EmbeddedPostgres): Promise<void> {
	if (!server.reused) {
		return;
	}
	const client = new pg.Client({connectionString: server.url});
	await client.connect();
	try {
		const {rows} = await client.query<{datname: string}>("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'");
		for (const {datname} of rows) {
			await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(datname)}`);
		}
	} finally {
		await client.end();
	}
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
	const servers = new Map<string, Promise<EmbeddedPostgres>>();
	const serverFor = (major: number | undefined): Promise<EmbeddedPostgres> => {
		const key = String(major ?? 'default');
		let server = servers.get(key);
		if (server === undefined) {
			server = startEmbeddedPostgres({...(major === undefined ? {} : {major}), name: 'test'}).then(async started => {
				await dropLeftovers(started);
				return started;
			});
			servers.set(key, server);
		}
		return server;
	};
	const respond = (request: IncomingMessage, response: ServerResponse): void => {
		const url = new URL(request.url ?? '/', 'http://broker');
		const major = url.searchParams.get('major');
		if (url.pathname !== '/server' || (major !== null && !/^\d+$/u.test(major))) {
			response.writeHead(404).end();
			return;
		}
		serverFor(major === null ? undefined : Number(major)).then(
			server => response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({url: server.url, versionNum: server.versionNum})),
			(error: unknown) => response.writeHead(500, {'content-type': 'application/json'}).end(JSON.stringify({error: (error as Error).message})),
		);
	};
	const broker = createServer(respond);
	await new Promise<void>(resolve => broker.listen(0, '127.0.0.1', resolve));
	project.provide('relaytopPostgresBroker', `http://127.0.0.1:${(broker.address() as AddressInfo).port}`);
	return async () => {
		broker.closeAllConnections();
		await new Promise(resolve => broker.close(resolve));
		const started = await Promise.allSettled(servers.values());
		await Promise.all(started.map(result => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
	};
}
