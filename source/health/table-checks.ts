import {bytes} from '../output/format.js';
import {terminalSafe} from '../output/terminal-safe.js';
import type {TableStats, TablesSnapshot} from '../postgres/monitor/table-stats.js';
import {fix, type HealthCheck, type Severity} from './health-check.js';

// Table health: dead rows, autovacuum keeping up, a `logs` table grown past what one table should
// hold, and its own autovacuum settings. The gateway's table is always reported; other large
// tables only when their dead rows call for a VACUUM.

export interface TableThresholds {
	/** Dead share of the rows: warning, critical (with at least `deadMinimum` dead rows). */
	readonly deadWarning: number;
	readonly deadCritical: number;
	readonly deadMinimum: number;
	/** Rows past which the notes advise partitioning by time. */
	readonly partitionRows: number;
	/** Rows past which the table's own autovacuum settings matter. */
	readonly autovacuumSettingsRows: number;
	/** Hours since the last vacuum, with dead rows past the trigger, before autovacuum counts as behind. */
	readonly autovacuumBehindHours: number;
}

export const TABLE_THRESHOLDS: TableThresholds = {deadWarning: 0.1, deadCritical: 0.4, deadMinimum: 1000, partitionRows: 10_000_000, autovacuumSettingsRows: 100_000, autovacuumBehindHours: 24};

/** The notes' autovacuum scale factors, for the gateway's table. */
export const TABLE_SCALE_FACTOR = 0.05;

export interface TableFacts {
	readonly tables: TablesSnapshot;
	/** The server's autovacuum_vacuum_scale_factor and autovacuum_analyze_scale_factor. */
	readonly serverScaleFactors: {readonly vacuum: number; readonly analyze: number};
	readonly nowMs: number;
	readonly thresholds?: Partial<TableThresholds>;
}

const percent = (ratio: number): string => `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`;

function deadStatus(table: TableStats, thresholds: TableThresholds): Severity {
	if (table.deadRatio === null || table.nDeadTup < thresholds.deadMinimum) return 'ok';
	return table.deadRatio >= thresholds.deadCritical ? 'critical' : table.deadRatio >= thresholds.deadWarning ? 'warning' : 'ok';
}

/**
 * Another table's dead rows: small tables the gateway updates all the time (users, tokens, channels
 * without BATCH_UPDATE) churn between autovacuum rounds, so only rows past the autovacuum trigger
 * count, and never as critical.
 */
function otherDeadStatus(table: TableStats, thresholds: TableThresholds): Severity {
	if (table.nDeadTup <= table.autovacuumAtDeadTuples) return 'ok';
	return deadStatus(table, thresholds) === 'ok' ? 'ok' : 'warning';
}

function deadTuplesCheck(table: TableStats, status: Severity): HealthCheck {
	const name = terminalSafe(table.qualifiedName);
	return {
		id: `table.${table.qualifiedName}.dead_tuples`,
		group: 'tables',
		title: `${name} dead rows`,
		status,
		summary: `${table.nDeadTup} dead of ${table.nLiveTup + table.nDeadTup} rows (${percent(table.deadRatio ?? 0)}), ${bytes(table.sizeBytes)}`,
		evidence: [
			{label: 'dead rows', value: table.nDeadTup, unit: 'count'},
			{label: 'live rows', value: table.nLiveTup, unit: 'count'},
			{label: 'dead share', value: table.deadRatio, unit: 'ratio'},
			{label: 'size', value: table.sizeBytes, unit: 'bytes'},
			{label: 'autovacuum at dead rows', value: Math.round(table.autovacuumAtDeadTuples), unit: 'count'},
		],
		fix:
			status === 'ok'
				? null
				: fix('sql', [`VACUUM (ANALYZE) ${table.qualifiedName};`], 'runs without blocking reads or writes; if dead rows come back fast, autovacuum is behind: see its settings', {
						kind: 'vacuum',
						table: table.qualifiedName,
					}),
	};
}

function autovacuumCheck(table: TableStats, thresholds: TableThresholds, nowMs: number): HealthCheck {
	const lastMs = Math.max(table.lastAutovacuumAtMs ?? Number.NEGATIVE_INFINITY, table.lastVacuumAtMs ?? Number.NEGATIVE_INFINITY);
	const ageS = Number.isFinite(lastMs) ? (nowMs - lastMs) / 1000 : null;
	const behind = table.nDeadTup > table.autovacuumAtDeadTuples && (ageS === null || ageS > thresholds.autovacuumBehindHours * 3600);
	const status: Severity = !table.autovacuumEnabled ? 'critical' : behind ? 'warning' : 'ok';
	const name = terminalSafe(table.qualifiedName);
	const when = ageS === null ? 'never vacuumed' : `last vacuumed ${Math.round(ageS / 60)} min ago`;
	return {
		id: `table.${table.qualifiedName}.autovacuum`,
		group: 'tables',
		title: `${name} autovacuum`,
		status,
		summary: !table.autovacuumEnabled
			? 'autovacuum is off for this table (or the server): dead rows are never cleaned'
			: behind
				? `${table.nDeadTup} dead rows, past the ${Math.round(table.autovacuumAtDeadTuples)} that start a vacuum, and ${when}: autovacuum is not keeping up`
				: `${when}, ${table.autovacuumCount} autovacuums since the statistics were reset`,
		evidence: [
			{label: 'autovacuum enabled', value: table.autovacuumEnabled},
			{label: 'last autovacuum', value: table.lastAutovacuumAtMs === null ? null : (nowMs - table.lastAutovacuumAtMs) / 1000, unit: 's'},
			{label: 'last manual vacuum', value: table.lastVacuumAtMs === null ? null : (nowMs - table.lastVacuumAtMs) / 1000, unit: 's'},
			{label: 'autovacuums', value: table.autovacuumCount, unit: 'count'},
			{label: 'dead rows', value: table.nDeadTup, unit: 'count'},
		],
		fix: !table.autovacuumEnabled
			? fix('sql', [`ALTER TABLE ${table.qualifiedName} RESET (autovacuum_enabled);`, "ALTER SYSTEM SET autovacuum = 'on';", 'SELECT pg_reload_conf();'], 'the first line for the table, the others for the server, whichever is off')
			: behind
				? fix('sql', [`VACUUM (ANALYZE) ${table.qualifiedName};`], 'then lower its scale factors (see its autovacuum settings) so autovacuum starts sooner', {kind: 'vacuum', table: table.qualifiedName})
				: null,
	};
}

function sizeCheck(table: TableStats, thresholds: TableThresholds): HealthCheck {
	const rows = table.nLiveTup;
	const big = rows > thresholds.partitionRows;
	return {
		id: `table.${table.qualifiedName}.size`,
		group: 'tables',
		title: `${terminalSafe(table.qualifiedName)} size`,
		status: big ? 'warning' : 'ok',
		summary: `${rows} rows, ${bytes(table.sizeBytes)} with indexes${big ? `: past ${thresholds.partitionRows / 1_000_000}M rows, partition it by time` : ''}`,
		evidence: [
			{label: 'rows (estimate)', value: rows, unit: 'count'},
			{label: 'size with indexes', value: table.sizeBytes, unit: 'bytes'},
			{label: 'heap', value: table.tableBytes, unit: 'bytes'},
		],
		fix: big
			? fix(
					'advice',
					[
						'relaytop maintain retention TARGET --keep 30d   (dry run; add --apply)',
						`then partition ${table.qualifiedName} by created_at (one partition per month), so old months go with DROP TABLE instead of DELETE`,
					],
					'retention first: it shrinks what a partitioned copy has to move',
				)
			: null,
	};
}

function autovacuumSettingsCheck(table: TableStats, facts: TableFacts, thresholds: TableThresholds): HealthCheck {
	const effective = (option: string, server: number): {value: number; own: boolean} => {
		const own = table.reloptions[option];
		return own === undefined ? {value: server, own: false} : {value: Number(own), own: true};
	};
	const vacuum = effective('autovacuum_vacuum_scale_factor', facts.serverScaleFactors.vacuum);
	const analyze = effective('autovacuum_analyze_scale_factor', facts.serverScaleFactors.analyze);
	const rows = table.nLiveTup;
	const high = rows >= thresholds.autovacuumSettingsRows && (vacuum.value > TABLE_SCALE_FACTOR || analyze.value > TABLE_SCALE_FACTOR);
	const origin = (setting: {own: boolean}): string => (setting.own ? 'the table’s own' : 'the server’s');
	return {
		id: `table.${table.qualifiedName}.autovacuum_settings`,
		group: 'tables',
		title: `${terminalSafe(table.qualifiedName)} autovacuum settings`,
		status: high ? 'warning' : 'ok',
		summary: `vacuum at ${percent(vacuum.value)} dead (${origin(vacuum)}), analyze at ${percent(analyze.value)} changed (${origin(analyze)})${high ? `: ${Math.round(vacuum.value * rows)} dead rows wait for a vacuum; ${percent(TABLE_SCALE_FACTOR)} suits a table this size` : ''}`,
		evidence: [
			{label: 'autovacuum_vacuum_scale_factor', value: vacuum.value},
			{label: 'autovacuum_analyze_scale_factor', value: analyze.value},
			{label: 'set on the table', value: vacuum.own || analyze.own},
			{label: 'recommended', value: TABLE_SCALE_FACTOR},
			{label: 'rows (estimate)', value: rows, unit: 'count'},
		],
		fix: high
			? fix(
					'sql',
					[`ALTER TABLE ${table.qualifiedName} SET (autovacuum_vacuum_scale_factor = ${TABLE_SCALE_FACTOR}, autovacuum_analyze_scale_factor = ${TABLE_SCALE_FACTOR});`],
					'a catalog change, instant; autovacuum picks it up at its next round',
					{kind: 'tableSettings', table: table.qualifiedName, settings: {autovacuum_vacuum_scale_factor: TABLE_SCALE_FACTOR, autovacuum_analyze_scale_factor: TABLE_SCALE_FACTOR}},
				)
			: null,
	};
}

/** The table checks from one read of the table statistics; pure. */
export function tableChecks(facts: TableFacts): HealthCheck[] {
	const thresholds = {...TABLE_THRESHOLDS, ...facts.thresholds};
	const gateway = facts.tables.table;
	const others = facts.tables.largest.filter(table => table.qualifiedName !== gateway?.qualifiedName && otherDeadStatus(table, thresholds) !== 'ok');
	const otherChecks = others.map(table => deadTuplesCheck(table, otherDeadStatus(table, thresholds)));
	if (gateway === null) {
		return [
			{
				id: `table.${facts.tables.requested}.missing`,
				group: 'tables',
				title: terminalSafe(facts.tables.requested),
				status: 'warning',
				summary: `no table ${terminalSafe(facts.tables.requested)} here: is this the gateway’s logs database (--logs-db when logs live apart)?`,
				evidence: [],
				fix: null,
			},
			...otherChecks,
		];
	}
	return [
		deadTuplesCheck(gateway, deadStatus(gateway, thresholds)),
		autovacuumCheck(gateway, thresholds, facts.nowMs),
		sizeCheck(gateway, thresholds),
		autovacuumSettingsCheck(gateway, facts, thresholds),
		...otherChecks,
	];
}
