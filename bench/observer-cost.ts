import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {join} from 'node:path';
import pg from 'pg';
import {ensureFixture, packageRoot} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import {startEmbeddedPostgres} from '../source/postgres/embedded/embedded-server.js';
import {databaseUrl} from './pg-logs-table.js';
import {clockTicksPerSecond, memoryOf, processCpuTicks} from './proc-stats.js';
import {textTable} from './text-table.js';
import {median} from './timing.js';

// What watching a PostgreSQL server costs, relaytop's PostgreSQL view against pg_activity: both in
// a real terminal (tmux) against one embedded server under the same pgbench load, at a 2 s
// refresh, alternating. Each connects as a role of its own, so pg_stat_statements tells their
// server time and calls apart; the client's CPU and peak RSS come from /proc. pg_activity is
// Debian's package, installed here (as root) when missing; CI never runs this.

export interface ObserverSettings {
	readonly rounds: number;
	readonly seconds: number;
	/** pgbench's fixed rate, transactions per second, over 4 clients. */
	readonly loadTps: number;
}

export const observerSettings = (quick: boolean): ObserverSettings => (quick ? {rounds: 1, seconds: 8, loadTps: 100} : {rounds: 3, seconds: 60, loadTps: 100});

const TOOLS = ['relaytop', 'pg_activity'] as const;
export type Tool = (typeof TOOLS)[number];

export interface ObserverRun {
	readonly tool: Tool;
	readonly round: number;
	readonly cpuSeconds: number;
	readonly peakRssMb: number;
	readonly serverMs: number;
	readonly calls: number;
	readonly queriesPerRefresh: number;
}

export interface ObserverResults {
	readonly pgActivityVersion: string;
	readonly serverVersion: number;
	readonly runs: readonly ObserverRun[];
}

const REFRESH_S = 2;
const PASSWORD = 'bench-observer';
const ROLES: Record<Tool, string> = {relaytop: 'bench_relaytop', pg_activity: 'bench_pg_activity'};
const DATABASE = 'observer_bench';
/** A tool's first screens (connecting, reading the catalog) are not its steady cost. */
const WARMUP_MS = 6000;

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const tmux = (...args: string[]): string => execFileSync('tmux', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

function has(command: string): boolean {
	try {
		execFileSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'});
		return true;
	} catch {
		return false;
	}
}

/** pg_activity and pgbench: Debian's packages, installed now when missing and this is root. */
function ensureTools(log: (line: string) => void): string {
	if (!has('pg_activity') || !has('pgbench')) {
		if (process.getuid?.() !== 0) throw new Error('pg_activity and pgbench are needed: apt-get install pg-activity postgresql-client');
		log('observer: installing pg-activity and postgresql-client (apt)');
		execFileSync('apt-get', ['install', '-y', '-qq', 'pg-activity', 'postgresql-client'], {stdio: 'ignore'});
	}
	return execFileSync('pg_activity', ['--version'], {encoding: 'utf8'}).trim();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
	const client = new pg.Client({connectionString: url});
	await client.connect();
	try {
		return await work(client);
	} finally {
		await client.end();
	}
}


/** The tool in its own tmux session, `exec`ed so the pane's process is the tool's. */
function startTool(tool: Tool, serverUrl: string, port: number): {pid: number; session: string} {
	const session = `relaytop-observer-${tool}-${process.pid}`;
	const role = ROLES[tool];
	const program =
		tool === 'relaytop'
			? [process.execPath, join(packageRoot(), 'dist', 'source', 'cli.js'), databaseUrl(serverUrl, DATABASE, {user: role, password: PASSWORD}), '--interval', String(REFRESH_S), '--read-only']
			: ['pg_activity', '-h', '127.0.0.1', '-p', String(port), '-U', role, '-d', DATABASE, '--refresh', String(REFRESH_S)];
	// exec env, which execs the tool: the pane's process is the tool's.
	tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '60', `exec env -u CI NODE_ENV=production PGPASSWORD=${PASSWORD} ${program.map(quote).join(' ')}`);
	const pid = Number(tmux('display-message', '-p', '-t', session, '#{pane_pid}').trim());
	return {pid, session};
}

async function stopTool(session: string): Promise<void> {
	try {
		tmux('send-keys', '-t', session, 'q');
		await sleep(1500);
		tmux('kill-session', '-t', session);
	} catch {
		// already gone
	}
}

/** pgbench as the server's superuser, whose password is in its URL. */
const superuserPassword = (url: string): string => decodeURIComponent(new URL(url).password);

function startLoad(port: number, password: string, seconds: number, tps: number): ChildProcess {
	const child = spawn('pgbench', ['-n', '-c', '4', '-j', '2', '-R', String(tps), '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', DATABASE], {
		env: {...process.env, PGPASSWORD: password},
		stdio: 'ignore',
	});
	return child;
}

interface ServerFigures {
	readonly calls: number;
	readonly ms: number;
}

async function serverFigures(adminUrl: string, role: string): Promise<ServerFigures> {
	return withClient(adminUrl, async client => {
		const {rows} = await client.query<{calls: number | null; ms: number | null}>(
			'SELECT sum(s.calls)::float8 AS calls, sum(s.total_exec_time)::float8 AS ms FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1',
			[role],
		);
		return {calls: rows[0]?.calls ?? 0, ms: rows[0]?.ms ?? 0};
	});
}

async function measure(tool: Tool, round: number, port: number, adminUrl: string, settings: ObserverSettings): Promise<ObserverRun> {
	const load = startLoad(port, superuserPassword(adminUrl), Math.ceil(WARMUP_MS / 1000 + settings.seconds + 5), settings.loadTps);
	const {pid, session} = startTool(tool, adminUrl, port);
	try {
		await sleep(tool === 'relaytop' ? 2500 : WARMUP_MS);
		// relaytop starts on its overview: the PostgreSQL view is 5.
		if (tool === 'relaytop') {
			tmux('send-keys', '-t', session, '5');
			await sleep(WARMUP_MS - 2500);
		}
		await withClient(adminUrl, client => client.query('SELECT pg_stat_statements_reset()'));
		const ticksBefore = processCpuTicks(pid);
		await sleep(settings.seconds * 1000);
		const ticks = processCpuTicks(pid) - ticksBefore;
		const peakRssMb = memoryOf(pid).hwmKb / 1024;
		const server = await serverFigures(adminUrl, ROLES[tool]);
		return {
			tool,
			round,
			cpuSeconds: ticks / clockTicksPerSecond(),
			peakRssMb,
			serverMs: server.ms,
			calls: server.calls,
			queriesPerRefresh: server.calls / (settings.seconds / REFRESH_S),
		};
	} finally {
		await stopTool(session);
		load.kill();
	}
}

export async function runObserverBenchmark(settings: ObserverSettings, log: (line: string) => void): Promise<ObserverResults> {
	const pgActivityVersion = ensureTools(log);
	const server = await startEmbeddedPostgres({name: 'bench-observer', persistent: false});
	try {
		const adminUrl = databaseUrl(server.url, DATABASE);
		await withClient(server.url, async client => {
			await client.query(`CREATE DATABASE ${DATABASE}`);
			for (const role of Object.values(ROLES)) await client.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
		});
		log('observer: loading the new-api fixture and pgbench tables');
		await withClient(adminUrl, async client => {
			await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
			await loadNewApiIntoPostgres(client, ensureFixture('newapi'));
		});
		execFileSync('pgbench', ['-i', '-q', '-s', '10', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', DATABASE], {env: {...process.env, PGPASSWORD: superuserPassword(server.url)}, stdio: 'ignore'});
		const runs: ObserverRun[] = [];
		for (let round = 1; round <= settings.rounds; round++) {
			// Alternating, and each round in the other order, so drift favours neither.
			const order = round % 2 === 1 ? TOOLS : [...TOOLS].reverse();
			for (const tool of order) {
				log(`observer: round ${round}, ${tool}, ${settings.seconds} s`);
				runs.push(await measure(tool, round, server.port, adminUrl, settings));
			}
		}
		return {pgActivityVersion, serverVersion: server.versionNum, runs};
	} finally {
		await server.stop();
	}
}

export const observerResultsFile = (settings: ObserverSettings, results: ObserverResults): object => ({
	benchmark: 'observer',
	settings: {...settings, refresh_s: REFRESH_S, load: `pgbench -c 4 -j 2 -R ${settings.loadTps}, scale 10`},
	pg_activity_version: results.pgActivityVersion,
	server_version_num: results.serverVersion,
	runs: results.runs.map(run => ({
		tool: run.tool,
		round: run.round,
		cpu_seconds: run.cpuSeconds,
		peak_rss_mb: run.peakRssMb,
		server_ms: run.serverMs,
		calls: run.calls,
		queries_per_refresh: run.queriesPerRefresh,
	})),
});

function observerSummary(results: ObserverResults): Record<Tool, {cpuSeconds: number; peakRssMb: number; serverMs: number; queriesPerRefresh: number}> {
	const of = (tool: Tool) => {
		const runs = results.runs.filter(run => run.tool === tool);
		return {
			cpuSeconds: median(runs.map(run => run.cpuSeconds)),
			peakRssMb: median(runs.map(run => run.peakRssMb)),
			serverMs: median(runs.map(run => run.serverMs)),
			queriesPerRefresh: median(runs.map(run => run.queriesPerRefresh)),
		};
	};
	return {relaytop: of('relaytop'), pg_activity: of('pg_activity')};
}

export function observerTable(results: ObserverResults): string {
	const summary = observerSummary(results);
	const row = (label: string, value: (tool: Tool) => number, digits: number): string[] => [
		label,
		...TOOLS.map(tool => value(tool).toFixed(digits)),
		`${(value('relaytop') / value('pg_activity')).toFixed(2)}×`,
	];
	return textTable(
		['median per run', 'relaytop', 'pg_activity', 'relaytop / pg_activity'],
		[
			row('client CPU s', tool => summary[tool].cpuSeconds, 2),
			row('client peak RSS MB', tool => summary[tool].peakRssMb, 0),
			row('server time ms', tool => summary[tool].serverMs, 1),
			row('queries per refresh', tool => summary[tool].queriesPerRefresh, 1),
		],
	);
}
