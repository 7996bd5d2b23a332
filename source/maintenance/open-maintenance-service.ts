import {isPostgresTarget} from '../sources/postgres/pg-target.js';
import {localMaintenance, type MaintenanceService} from './maintenance-service.js';
import {openMaintenanceTarget} from './maintenance-target.js';
import {workerMaintenance} from './worker-maintenance.js';

/**
 * The dashboard's maintenance service for its target. Nothing connects or starts until the panel
 * first reads: a PostgreSQL session opens on first query, the SQLite worker on first call.
 */
export async function openMaintenanceService(target: string, options: {readonly logsDb?: string} = {}): Promise<MaintenanceService> {
	return isPostgresTarget(target) ? localMaintenance(await openMaintenanceTarget(target, options)) : workerMaintenance(target);
}
