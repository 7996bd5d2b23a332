import type pg from 'pg';
import {markSql} from '../postgres/monitor/queryable.js';

// The table-level fixes of the health checks, on the maintenance connection: a VACUUM (ANALYZE)
// and a table's own autovacuum settings.

/** How long a VACUUM waits for its lock: a regular autovacuum gives way to it after deadlock_timeout. */
export const VACUUM_LOCK_TIMEOUT = '10s';

/** Runs `work` with statement_timeout off (a VACUUM takes as long as it takes) and the given lock wait, then sets both back. */
export async function withoutStatementTimeout(client: Pick<pg.ClientBase, 'query'>, lift: readonly string[], restore: string, work: () => Promise<unknown>): Promise<void> {
	const [setting] = (await client.query<{statement: string; lock: string}>(markSql("SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock"))).rows;
	for (const statement of lift) await client.query(markSql(statement));
	let failed = true;
	try {
		await work();
		failed = false;
	} finally {
		// After a failure the connection may be gone: report the failure, not the restore's.
		await client.query(markSql(restore), [setting!.statement, setting!.lock]).catch((error: unknown) => {
			if (!failed) throw error;
		});
	}
}

export const RESTORE_TIMEOUTS = "SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false)";

/** The table as regclass prints it: quoted where needed, so it can go into a statement as is. */
async function regclassName(client: Pick<pg.ClientBase, 'query'>, table: string): Promise<string> {
	const {rows} = await client.query<{name: string | null}>(markSql('SELECT to_regclass($1::text)::text AS name'), [table]);
	const name = rows[0]?.name ?? null;
	if (name === null) throw new Error(`table ${table} not found`);
	return name;
}

export const vacuumSql = (table: string): string => `VACUUM (ANALYZE) ${table}`;

/**
 * VACUUM skips, with a mere warning, a table the role may not vacuum: asked first, so that a skip
 * is not reported as done. Owners (and, before PostgreSQL 17, the database's owner) may; from 17,
 * whoever holds MAINTAIN on it.
 */
const MAY_VACUUM_SQL = `SELECT current_setting('is_superuser') = 'on' OR pg_has_role(c.relowner, 'USAGE')
	OR CASE WHEN current_setting('server_version_num')::int >= 170000 THEN has_table_privilege(c.oid, 'MAINTAIN') ELSE pg_has_role(d.datdba, 'USAGE') END AS allowed
FROM pg_class c, pg_database d WHERE c.oid = to_regclass($1::text) AND d.datname = current_database()`;

/** VACUUM (ANALYZE), outside any transaction, without a statement timeout. */
export async function vacuumTable(client: Pick<pg.ClientBase, 'query'>, table: string): Promise<void> {
	const name = await regclassName(client, table);
	const {rows} = await client.query<{allowed: boolean}>(markSql(MAY_VACUUM_SQL), [name]);
	if (rows[0]?.allowed !== true) throw new Error(`this role may not VACUUM ${name}: it must own the table (or, on PostgreSQL 17+, hold MAINTAIN on it)`);
	await withoutStatementTimeout(client, ['SET statement_timeout = 0', `SET lock_timeout = '${VACUUM_LOCK_TIMEOUT}'`], RESTORE_TIMEOUTS, () => client.query(markSql(vacuumSql(name))));
}

/** Storage parameters relaytop sets: numbers only, names from this list. */
export const TABLE_SETTINGS = ['autovacuum_vacuum_scale_factor', 'autovacuum_analyze_scale_factor'] as const;
export type TableSetting = (typeof TABLE_SETTINGS)[number];

export function tableSettingsSql(table: string, settings: Readonly<Partial<Record<TableSetting, number>>>): string {
	const pairs = Object.entries(settings).map(([name, value]) => {
		if (!(TABLE_SETTINGS as readonly string[]).includes(name) || !Number.isFinite(value)) throw new Error(`not a setting relaytop sets: ${name} = ${value}`);
		return `${name} = ${value}`;
	});
	return `ALTER TABLE ${table} SET (${pairs.join(', ')})`;
}

/** ALTER TABLE … SET (…): a catalog change, under the connection's lock_timeout. */
export async function setTableSettings(client: Pick<pg.ClientBase, 'query'>, table: string, settings: Readonly<Partial<Record<TableSetting, number>>>): Promise<void> {
	await client.query(markSql(tableSettingsSql(await regclassName(client, table), settings)));
}
