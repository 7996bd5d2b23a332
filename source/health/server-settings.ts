import {queryRows, type Queryable} from '../postgres/monitor/queryable.js';

/** One row of pg_settings, with its value in base units: bytes for memory, ms for time. */
export interface ServerSetting {
	readonly name: string;
	/** As PostgreSQL shows it: '128MB', 'on', '0.2', '-1'. */
	readonly shown: string;
	/** Bytes, milliseconds, or the plain number; null for booleans and strings. */
	readonly value: number | null;
	readonly text: string;
	/** 'postmaster': a restart applies a change; 'sighup': a reload; others: a reload or a session. */
	readonly context: string;
	/** Where the value comes from: 'default', 'configuration file', 'command line', 'environment variable', … */
	readonly source: string;
	/** A changed value waits for a restart. */
	readonly pendingRestart: boolean;
}

interface SettingRow {
	name: string;
	setting: string;
	unit: string | null;
	context: string;
	source: string;
	pending_restart: boolean;
	vartype: string;
}

const MEMORY_UNITS: Readonly<Record<string, number>> = {B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4};
const TIME_UNITS: Readonly<Record<string, number>> = {us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000};

const MB = 1024 ** 2;

/** How PostgreSQL prints a value: memory in the largest whole unit, else the setting and its unit. */
function shownValue(setting: string, unit: string | null, value: number | null): string {
	if (unit === null || value === null || value <= 0) return setting;
	if (!/B$/u.test(unit)) return `${setting}${unit}`;
	for (const [name, size] of [['TB', 1024 ** 4], ['GB', 1024 ** 3], ['MB', MB], ['kB', 1024]] as const) if (value % size === 0) return `${value / size}${name}`;
	return `${value}B`;
}

/** pg_settings.setting in its unit ('8kB', 'MB', 's'…) → bytes or ms; -1 and 0 stay as they are (off, unlimited). */
export function baseValue(setting: string, unit: string | null, vartype: string): number | null {
	if (vartype !== 'integer' && vartype !== 'real') return null;
	const number = Number(setting);
	if (!Number.isFinite(number)) return null;
	if (unit === null || number <= 0) return number;
	const match = /^(\d*)\s*([A-Za-z]+)$/u.exec(unit);
	const multiple = match?.[1] === '' || match === null ? 1 : Number(match[1]);
	const factor = MEMORY_UNITS[match?.[2] ?? ''] ?? TIME_UNITS[match?.[2] ?? ''] ?? 1;
	return number * multiple * factor;
}

// Only pg_settings' own columns: current_setting() raises for a setting the role may not read
// (shared_preload_libraries without pg_read_all_settings), where the view leaves the row out.
const SETTINGS_SQL = `SELECT name, setting, unit, context, source, pending_restart, vartype
FROM pg_settings WHERE name = ANY($1::text[])`;

export async function readServerSettings(db: Queryable, names: readonly string[]): Promise<Map<string, ServerSetting>> {
	const rows = await queryRows<SettingRow>(db, SETTINGS_SQL, [[...names]]);
	return new Map(
		rows.map(row => [
			row.name,
			{
				name: row.name,
				shown: shownValue(row.setting, row.unit, baseValue(row.setting, row.unit, row.vartype)),
				value: baseValue(row.setting, row.unit, row.vartype),
				text: row.setting,
				context: row.context,
				source: row.source,
				pendingRestart: row.pending_restart,
			},
		]),
	);
}
