import type {PostgresTrafficSettings} from './postgres-traffic-process.js';
import {requestsPerMinuteOf, startTrafficProcess, type TrafficSimulator, type TrafficSimulatorOptions} from './traffic-simulator.js';

/**
 * new-api's load on the demo database at `url`, from a child process: several writers, a batch
 * updater that makes them wait on row locks, admin readers, an idle pool and, now and then, a
 * session idle in transaction.
 */
export function startPostgresTraffic(url: string, options: TrafficSimulatorOptions = {}): TrafficSimulator {
	return startTrafficProcess('postgres-traffic-process.js', seed => ({url, requestsPerMinute: requestsPerMinuteOf(options), seed}) satisfies PostgresTrafficSettings, options);
}
