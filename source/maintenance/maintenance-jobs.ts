import {openSqliteReadOnly} from '../sources/sqlite/open-sqlite.js';
import type {IndexTarget} from './index-maintenance.js';
import {DEFAULT_LOCK_TIMEOUT_MS} from './maintenance-limits.js';
import type {MaintenanceTarget} from './maintenance-target.js';
import {openSqliteWritable} from './open-sqlite-writable.js';
import type {ApplyRetentionOptions, PlanRetentionOptions, RetentionPlan, RetentionResult} from './retention-plan.js';
import {applyPostgresRetention, planPostgresRetention} from './retention-postgres.js';
import {applySqliteRetention, planSqliteRetention} from './retention-sqlite.js';

// The jobs on an opened target, whatever its engine: what `relaytop maintain` and the dashboard's
// maintenance panel both run.

/** The advisor's view of the target; `writable` adds the maintenance connection a build needs. */
export async function indexTargetOf(target: MaintenanceTarget, writable: boolean): Promise<IndexTarget> {
	if (target.engine === 'sqlite') return {engine: 'sqlite', path: target.path, busyTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS};
	return writable ? {engine: 'postgres', observer: target.observer, maintenance: await target.writer()} : {engine: 'postgres', observer: target.observer};
}

/** The retention dry run: PostgreSQL through the observer, SQLite on a read-only handle. */
export async function planRetentionOn(target: MaintenanceTarget, choice: PlanRetentionOptions): Promise<RetentionPlan> {
	if (target.engine === 'postgres') return planPostgresRetention(target.observer, choice);
	const db = openSqliteReadOnly(target.path);
	try {
		return planSqliteRetention(db, {...choice, store: target.schema});
	} finally {
		db.close();
	}
}

/**
 * Carries out a plan: PostgreSQL on the maintenance connection, asking the observer (which
 * reconnects by itself) after a break whether the batch in flight committed; SQLite on a handle
 * opened for writing only now.
 */
export async function applyRetentionOn(target: MaintenanceTarget, plan: RetentionPlan, options: ApplyRetentionOptions): Promise<RetentionResult> {
	if (target.engine === 'postgres') return applyPostgresRetention(await target.writer(), plan, {...options, checkOn: target.observer});
	const db = openSqliteWritable(target.path, DEFAULT_LOCK_TIMEOUT_MS);
	try {
		return await applySqliteRetention(db, plan, options);
	} finally {
		db.close();
	}
}
