import {adviseIndexes} from '../maintenance/index-maintenance.js';
import {DEFAULT_LOCK_TIMEOUT_MS} from '../maintenance/maintenance-limits.js';
import {indexChecks} from './index-checks.js';
import type {HealthResult} from './postgres-health.js';
import {readSqliteFile, sqliteFileChecks} from './sqlite-checks.js';

/** A SQLite store's checks: the file, and the index advisor on its table. Synchronous work: run it off the UI thread. */
export async function sqliteHealth(path: string): Promise<HealthResult> {
	const advice = await adviseIndexes({engine: 'sqlite', path, busyTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS});
	return {machine: null, checks: [...sqliteFileChecks(readSqliteFile(path)), ...indexChecks(advice)]};
}
