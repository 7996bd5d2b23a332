import {startEmbeddedPostgres} from '../postgres/embedded/embedded-server.js';
import {createDemoDatabase} from './postgres-demo-database.js';
import {startPostgresTraffic} from './postgres-traffic.js';

export interface RunningPostgresDemo {
	/** The demo's new-api database (a superuser URL: the dashboard's PostgreSQL view sees everything). */
	readonly url: string;
	/** Stops the traffic, drops the database and stops the server; safe to call more than once. */
	stop(): Promise<void>;
}

/**
 * The moving demo on an embedded PostgreSQL server: the new-api fixture ending now, with new-api's
 * sessions writing and reading it. Rejects when the server cannot start (no binaries for this
 * platform, no room), so the caller can fall back to the SQLite demo. A killed process leaves
 * nothing running: the server follows its parent, the traffic its IPC channel, and the next demo
 * drops a database left behind.
 */
export async function startPostgresDemo(): Promise<RunningPostgresDemo> {
	const server = await startEmbeddedPostgres({name: 'demo'});
	try {
		const database = await createDemoDatabase(server.url);
		try {
			const traffic = startPostgresTraffic(database.url);
			let stopping: Promise<void> | undefined;
			return {
				url: database.url,
				stop: () =>
					(stopping ??= (async () => {
						await traffic.stop();
						await database.drop().catch(() => undefined); // the next demo sweeps it
						await server.stop();
					})()),
			};
		} catch (error) {
			await database.drop();
			throw error;
		}
	} catch (error) {
		await server.stop();
		throw error;
	}
}
