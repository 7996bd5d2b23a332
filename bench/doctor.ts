import {spawn} from 'node:child_process';
import {join} from 'node:path';
import {startPostgresDemo} from '../source/demo/postgres-demo.js';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {textTable} from './text-table.js';
import {median} from './timing.js';

// `relaytop doctor` wall time, as an on-call engineer runs it: a fresh process each time, on the
// demo (the new-api SQLite fixture) and on the live PostgreSQL demo (embedded server, the fixture
// with new-api's sessions writing). Baseline in the same run: `relaytop --json` on the same target,
// a snapshot that opens the same store.

export interface DoctorSettings {
	readonly runs: number;
}

export const doctorSettings = (quick: boolean): DoctorSettings => ({runs: quick ? 2 : 7});

export interface DoctorRow {
	readonly case: string;
	readonly target: string;
	readonly runsMs: readonly number[];
	readonly medianMs: number;
	readonly exitCode: number | null;
}

export interface DoctorResults {
	readonly rows: readonly DoctorRow[];
}

const CLI = join(packageRoot(), 'dist', 'source', 'cli.js');

function timeCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ms: number; code: number | null}> {
	return new Promise((resolve, reject) => {
		const started = performance.now();
		const child = spawn(process.execPath, [CLI, ...args], {env: {...process.env, DATABASE_URL: '', ...env}, stdio: ['ignore', 'ignore', 'inherit']});
		child.on('error', reject);
		child.on('close', code => resolve({ms: performance.now() - started, code}));
	});
}

async function measure(name: string, target: string, args: readonly string[], runs: number, env: NodeJS.ProcessEnv = {}): Promise<DoctorRow> {
	const runsMs: number[] = [];
	let exitCode: number | null = null;
	for (let run = 0; run < runs; run++) {
		const {ms, code} = await timeCli(args, env);
		runsMs.push(Math.round(ms));
		exitCode = code;
	}
	return {case: name, target, runsMs, medianMs: median(runsMs), exitCode};
}

export async function runDoctorBenchmark(settings: DoctorSettings, log: (line: string) => void): Promise<DoctorResults> {
	const rows: DoctorRow[] = [];
	log('doctor: demo (SQLite fixture)');
	rows.push(await measure('--json snapshot (baseline)', 'demo', ['--json'], settings.runs));
	rows.push(await measure('doctor', 'demo', ['doctor'], settings.runs));
	log('doctor: live PostgreSQL demo');
	const demo = await startPostgresDemo();
	try {
		rows.push(await measure('--json snapshot (baseline)', 'postgres demo', [demo.url, '--json'], settings.runs));
		rows.push(await measure('doctor', 'postgres demo', ['doctor', demo.url], settings.runs));
	} finally {
		await demo.stop();
	}
	return {rows};
}

export const doctorResultsFile = (settings: DoctorSettings, results: DoctorResults): object => ({
	benchmark: 'doctor',
	settings,
	rows: results.rows.map(row => ({case: row.case, target: row.target, runs_ms: row.runsMs, median_ms: row.medianMs, exit_code: row.exitCode})),
});

export function doctorTable(results: DoctorResults): string {
	const baseline = (target: string) => results.rows.find(row => row.target === target && row.case.startsWith('--json'))?.medianMs;
	return textTable(
		['case', 'target', 'median ms', 'vs --json', 'exit'],
		results.rows.map(row => {
			const base = baseline(row.target);
			return [row.case, row.target, String(row.medianMs), base === undefined ? '-' : `${(row.medianMs / base).toFixed(2)}×`, String(row.exitCode)];
		}),
	);
}
