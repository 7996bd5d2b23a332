// The benchmark results in bench/results/: every benchmark's committed full-size file, and any
// quick run's file left in the working tree, holds its key figures with sane values
// (bench/results-check.ts); and the check does fail on a broken file.

import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {checkResultsFile, checkResultsPath, RESULTS_NAMES} from '../bench/results-check.js';
import {packageRoot} from '../source/fixtures/fixture-files.js';

const RESULTS = join(packageRoot(), 'bench', 'results');

const files = readdirSync(RESULTS).filter(name => name.endsWith('.json'));
const quickFiles = files.filter(name => name.endsWith('-quick.json'));
const fullFiles = files.filter(name => !quickFiles.includes(name));

describe('bench/results', () => {
	it.each(RESULTS_NAMES)('has a full-size %s.json', name => {
		expect(existsSync(join(RESULTS, `${name}.json`))).toBe(true);
	});

	it.each(fullFiles)('%s passes the results check', file => {
		expect(checkResultsPath(join(RESULTS, file))).toEqual([]);
	});

	// A file no entry knows would get only the header check.
	it.each(files)('%s is a known benchmark', file => {
		expect(RESULTS_NAMES).toContain(file.replace(/(?:-quick)?\.json$/u, ''));
	});

	// Quick files are gitignored: whichever a local run left (none on a fresh clone).
	it('every quick results file present passes the results check', () => {
		expect(quickFiles.flatMap(file => checkResultsPath(join(RESULTS, file)))).toEqual([]);
	});
});

describe('checkResultsFile', () => {
	const NOW = Date.parse('2026-11-23T12:00:00.000Z');
	// A doctor results file as the benchmark writes it.
	const good = () => ({
		date: '2026-11-22T23:38:06.322Z',
		machine: {cpu: 'AMD EPYC', cpuCount: 2, totalMemoryMb: 24105, node: 'v20.20.2', platform: 'linux 6.18.44'},
		source: {commit: 'c5f4aed846a1ade718fb5665ee2a07a7bb79695f', uncommitted: [] as string[], distSourceBuiltAt: '2026-11-22T23:37:30.896Z' as string | null},
		benchmark: 'doctor',
		settings: {runs: 2},
		rows: [
			{case: '--json snapshot (baseline)', target: 'demo', runs_ms: [440, 423], median_ms: 431.5, exit_code: 0 as number | null},
			{case: 'doctor', target: 'demo', runs_ms: [549, 565], median_ms: 557, exit_code: 1 as number | null},
		],
	});

	it('passes a good file, full-size or quick', () => {
		expect(checkResultsFile('doctor', good(), NOW)).toEqual([]);
		expect(checkResultsFile('doctor-quick', good(), NOW)).toEqual([]);
	});

	it('reports a missing header key and a missing key figure', () => {
		const json = good();
		Reflect.deleteProperty(json, 'source');
		Reflect.deleteProperty(json.rows[1]!, 'median_ms');
		expect(checkResultsFile('doctor', json, NOW)).toEqual(['doctor: source: missing', 'doctor: rows[1].median_ms: missing']);
	});

	it('reports NaN, negative, fractional and empty figures', () => {
		const json = good();
		json.machine.cpu = '';
		json.settings.runs = 2.5;
		json.rows[0]!.median_ms = Number.NaN;
		json.rows[1]!.runs_ms = [549, -3];
		expect(checkResultsFile('doctor', json, NOW)).toEqual([
			'doctor: machine.cpu: "" is not a non-empty string',
			'doctor: settings.runs: 2.5 is not an integer ≥ 0',
			'doctor: rows[0].median_ms: NaN is not a finite number > 0',
			'doctor: rows[1].runs_ms[1]: -3 is not a finite number > 0',
		]);
	});

	it('reports an empty list of figures', () => {
		expect(checkResultsFile('doctor', {...good(), rows: []}, NOW)).toContain('doctor: rows: empty');
	});

	it('allows null only where a figure may be missing', () => {
		const json = good();
		json.rows[1]!.exit_code = null; // killed by a signal
		json.source.distSourceBuiltAt = null; // no build found
		expect(checkResultsFile('doctor', json, NOW)).toEqual([]);
		expect(checkResultsFile('doctor', {...json, settings: {runs: null}}, NOW)).toEqual(['doctor: settings.runs: null is not an integer ≥ 0']);
	});

	it('reports a date in the future and one that is not ISO', () => {
		const json = good();
		json.date = '2026-11-24T00:00:00.000Z';
		json.source.distSourceBuiltAt = 'yesterday';
		expect(checkResultsFile('doctor', json, NOW)).toEqual([
			'doctor: date: "2026-11-24T00:00:00.000Z" is not a past date',
			'doctor: source.distSourceBuiltAt: "yesterday" is not an ISO date or null',
		]);
	});

	it('reports a soak file without its memory, handle and cycle figures', () => {
		const {date, machine, source} = good();
		const problems = checkResultsFile('soak-quick', {date, machine, source, benchmark: 'soak'}, NOW);
		for (const missing of ['rss', 'anonRss', 'handles', 'cycles', 'rssSeries', 'met', 'stop']) {
			expect(problems).toContain(`soak-quick: ${missing}: missing`);
		}
	});

	it('reports a soak handle count that is not a count, and a growth that is not a number', () => {
		// The committed file with the header of the doctor file above, dated before NOW.
		const {date, machine, source} = good();
		const committed = JSON.parse(readFileSync(join(RESULTS, 'soak.json'), 'utf8')) as {handles: {fds: {max: unknown}}; rss: {growthPct: unknown}};
		const json = {...committed, date, machine, source};
		json.handles.fds.max = 25.5;
		json.rss.growthPct = null;
		expect(checkResultsFile('soak', json, NOW)).toEqual(['soak: rss.growthPct: null is not a finite number', 'soak: handles.fds.max: 25.5 is not an integer ≥ 0']);
	});

	it('checks only the header of a benchmark whose figures it does not know yet', () => {
		const {date, machine, source, benchmark} = good();
		const header = {date, machine, source, benchmark};
		expect(checkResultsFile('new-benchmark', header, NOW)).toEqual([]);
		Reflect.deleteProperty(header, 'machine');
		expect(checkResultsFile('new-benchmark-quick', header, NOW)).toEqual(['new-benchmark-quick: machine: missing']);
	});
});
