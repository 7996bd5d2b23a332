import {startDemo} from './demo.js';
import {startPostgresDemo, type RunningPostgresDemo} from './postgres-demo.js';

export interface LiveDemo {
	/** What the dashboard opens: a postgres:// URL or a SQLite file. */
	readonly target: string;
	stop(): Promise<void>;
}

/**
 * The dashboard's demo: on embedded PostgreSQL, so the PostgreSQL view has a server to show; on
 * a SQLite copy when that server cannot start. `note` hears why, in one line.
 */
export async function startLiveDemo(note: (line: string) => void, startServerDemo: () => Promise<RunningPostgresDemo> = startPostgresDemo): Promise<LiveDemo> {
	try {
		const demo = await startServerDemo();
		return {target: demo.url, stop: demo.stop};
	} catch (error) {
		note(`${error instanceof Error ? error.message : String(error)}; the demo runs on SQLite`);
		const demo = await startDemo();
		return {target: demo.path, stop: demo.stop};
	}
}
