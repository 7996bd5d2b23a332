import {bytes} from '../output/format.js';
import {fix, type Evidence, type HealthCheck, type Severity} from './health-check.js';
import type {MachineFacts} from './machine-facts.js';
import type {ServerSetting} from './server-settings.js';

// The server settings of the tuning notes (§5: 512MB shared_buffers, 4MB work_mem, 128MB
// maintenance_work_mem, 1.5GB effective_cache_size and 50 connections for 2 GB and one core),
// scaled to the machine's RAM and cores, and judged with a tolerance: a setting is flagged when it
// is off by a factor that matters, not for differing from a rule of thumb.

const MB = 1024 ** 2;
const GB = 1024 ** 3;

interface Recommendation {
	/** As ALTER SYSTEM takes it. */
	readonly shown: string;
	/** In base units (bytes, ms) or as the number; null for on/off. */
	readonly value: number | null;
	/** Why this value, in a few words. */
	readonly basis: string;
}

interface Verdict {
	readonly status: Severity;
	readonly why: string;
}

interface SettingRule {
	readonly name: string;
	recommend(machine: MachineFacts): Recommendation;
	judge(value: number | null, text: string, recommended: Recommendation, context: RuleContext): Verdict;
}

interface RuleContext {
	readonly machine: MachineFacts;
	readonly settings: ReadonlyMap<string, ServerSetting>;
}

const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));

/** Bytes as PostgreSQL takes them: whole GB when exact, else whole MB. */
export const pgSize = (value: number): string => (value % GB === 0 ? `${value / GB}GB` : `${Math.max(1, Math.round(value / MB))}MB`);

const ramText = (machine: MachineFacts): string => bytes(machine.ramBytes);

const memory = (value: number, basis: string): Recommendation => {
	const rounded = Math.max(MB, Math.round(value / MB) * MB);
	return {shown: pgSize(rounded), value: rounded, basis};
};

const OK: Verdict = {status: 'ok', why: ''};
const low = (why: string): Verdict => ({status: 'warning', why});

const RULES: readonly SettingRule[] = [
	{
		name: 'shared_buffers',
		recommend: machine => memory(machine.ramBytes * 0.25, `25% of ${ramText(machine)} RAM`),
		judge: (value, _text, recommended, {machine}) =>
			value !== null && value < recommended.value! / 2
				? low('low: reads miss PostgreSQL’s cache and go to the OS')
				: value !== null && value > machine.ramBytes * 0.4
					? low('high: leaves too little RAM for the OS cache and the sessions')
					: OK,
	},
	{
		name: 'effective_cache_size',
		recommend: machine => memory(machine.ramBytes * 0.75, `75% of ${ramText(machine)} RAM`),
		judge: (value, _text, recommended, {machine}) =>
			value !== null && value < recommended.value! / 2
				? low('low: the planner thinks little is cached and passes over index scans')
				: value !== null && value > machine.ramBytes
					? low('more than the machine’s RAM: the planner counts on a cache that is not there')
					: OK,
	},
	{
		name: 'work_mem',
		recommend: machine => memory(clamp(machine.ramBytes / 512, 4 * MB, 64 * MB), `RAM / 512, 4MB to 64MB`),
		judge: (value, _text, recommended, {machine, settings}) => {
			const connections = settings.get('max_connections')?.value ?? 0;
			if (value !== null && value < recommended.value! / 2) return low('low: sorts and hashes spill to temporary files');
			if (value !== null && value * connections > machine.ramBytes) return low(`high: ${connections} connections each sorting with ${bytes(value)} can take more than the RAM`);
			return OK;
		},
	},
	{
		name: 'maintenance_work_mem',
		recommend: machine => memory(clamp(machine.ramBytes / 16, 64 * MB, 2 * GB), 'RAM / 16, 64MB to 2GB'),
		judge: (value, _text, recommended, {machine}) =>
			value !== null && value < recommended.value! / 2
				? low('low: VACUUM and CREATE INDEX take more passes')
				: value !== null && value > machine.ramBytes / 4
					? low('high: every autovacuum worker may take this much')
					: OK,
	},
	{
		name: 'max_connections',
		recommend: machine => {
			const value = clamp(25 * (machine.cores + 1), 50, 400);
			return {shown: String(value), value, basis: `for ${machine.cores} core${machine.cores === 1 ? '' : 's'}`};
		},
		judge: (value, _text, recommended, {machine}) =>
			value !== null && value > recommended.value! * 2
				? low(`far above what ${machine.cores} core${machine.cores === 1 ? '' : 's'} can serve: each connection costs memory, and active ones fight for the CPU`)
				: OK,
	},
	{
		name: 'log_min_duration_statement',
		recommend: () => ({shown: '1000', value: 1000, basis: 'log statements over 1 s'}),
		judge: value => (value === -1 ? low('slow statements leave no trace in the log') : value === 0 ? low('every statement is logged, which costs I/O and CPU') : OK),
	},
	{
		name: 'track_io_timing',
		recommend: () => ({shown: 'on', value: null, basis: 'I/O time in pg_stat_statements and EXPLAIN'}),
		judge: (_value, text) => (text === 'on' ? OK : low('statements’ I/O time is not measured')),
	},
	{
		name: 'autovacuum',
		recommend: () => ({shown: 'on', value: null, basis: 'dead rows must be cleaned'}),
		judge: (_value, text) => (text === 'on' ? OK : {status: 'critical', why: 'dead rows pile up and tables bloat'}),
	},
	{
		name: 'autovacuum_max_workers',
		recommend: machine => {
			const value = machine.cores <= 2 ? 2 : 3;
			return {shown: String(value), value, basis: `for ${machine.cores} core${machine.cores === 1 ? '' : 's'}`};
		},
		judge: (value, _text, _recommended, {machine}) => (value !== null && value > machine.cores + 2 ? low(`more workers than ${machine.cores} core${machine.cores === 1 ? '' : 's'} can run beside the queries`) : OK),
	},
	{
		name: 'autovacuum_vacuum_scale_factor',
		recommend: () => ({shown: '0.05', value: 0.05, basis: 'vacuum at 5% dead rows'}),
		judge: value => (value !== null && value > 0.1 ? low('high: a big table waits for many dead rows before a vacuum') : OK),
	},
	{
		name: 'autovacuum_analyze_scale_factor',
		recommend: () => ({shown: '0.05', value: 0.05, basis: 'analyze at 5% changed rows'}),
		judge: value => (value !== null && value > 0.1 ? low('high: statistics of a big table go stale') : OK),
	},
];

/** The settings the checks read. */
export const CHECKED_SETTINGS: readonly string[] = RULES.map(rule => rule.name);

const sqlText = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/**
 * Where a value comes from, when ALTER SYSTEM would not change what the gateway gets: the server's
 * command line, per-database or per-role settings (ALTER DATABASE / ROLE … SET) rank above
 * postgresql.auto.conf; 'client' is this session's own (options in the URL, PGOPTIONS).
 */
function sourceNote(setting: ServerSetting): string | null {
	switch (setting.source) {
		case 'command line':
			return 'set on the server’s command line (postgres -c …, as a container’s command does): change it there; it overrides ALTER SYSTEM';
		case 'database':
		case 'user':
		case 'database user':
		case 'global':
			return `set with ALTER ${setting.source === 'database' ? 'DATABASE' : 'ROLE'} … SET (${setting.source}): change it there; it overrides ALTER SYSTEM`;
		case 'client':
			return 'this is relaytop’s own session’s value (options in the URL or PGOPTIONS), not necessarily the gateway’s';
		default:
			return null;
	}
}

function settingCheck(rule: SettingRule, setting: ServerSetting, context: RuleContext): HealthCheck {
	const recommended = rule.recommend(context.machine);
	const verdict = rule.judge(setting.value, setting.text, recommended, context);
	const restart = setting.context === 'postmaster';
	const evidence: Evidence[] = [
		{label: 'value', value: setting.shown},
		{label: 'recommended', value: recommended.shown},
		{label: 'basis', value: recommended.basis},
		{label: 'source', value: setting.source},
		{label: 'applies after', value: restart ? 'restart' : 'reload'},
	];
	if (setting.pendingRestart) evidence.push({label: 'pending restart', value: true});
	const notes = [restart ? 'needs a restart of PostgreSQL' : null, sourceNote(setting), setting.pendingRestart ? 'a changed value already waits for a restart' : null].filter(note => note !== null);
	return {
		id: `setting.${rule.name}`,
		group: 'settings',
		title: rule.name,
		status: verdict.status,
		summary: verdict.status === 'ok' ? `${setting.shown} (recommended ${recommended.shown})` : `${setting.shown}: ${verdict.why}; recommended ${recommended.shown} (${recommended.basis})`,
		evidence,
		fix:
			verdict.status === 'ok'
				? null
				: fix('settings', [`ALTER SYSTEM SET ${rule.name} = ${sqlText(recommended.shown)};`, restart ? '-- then restart PostgreSQL' : 'SELECT pg_reload_conf();'], notes.length === 0 ? null : notes.join('; ')),
	};
}

/** One check per setting the server reports (an old server may lack one); pure. */
export function settingsChecks(settings: ReadonlyMap<string, ServerSetting>, machine: MachineFacts): HealthCheck[] {
	const context: RuleContext = {machine, settings};
	return RULES.flatMap(rule => {
		const setting = settings.get(rule.name);
		return setting === undefined ? [] : [settingCheck(rule, setting, context)];
	});
}
