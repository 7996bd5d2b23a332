import {spawnSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {createDemoStore, type DemoStore} from '../source/demo/demo-store.js';
import {packageRoot} from '../source/package-root.js';
import {openTarget} from '../source/sources/open-target.js';
import {countTokens} from '../source/tokens/token-counter.js';
import {encoderLoads} from '../source/tokens/encoders.js';
import {App} from '../source/ui/app.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {renderInk} from './support/render-ink.js';

// The dashboard shows what counting prompts would cost at its rpm, yet never loads an encoder: the
// tokenizer's speed is measured in a worker thread. Checked in this process (its own file, so no
// other test has loaded an encoder) and, import by import, in real processes.

let store: DemoStore;
let source: UsageSource;
let cache: string;
const savedCache = process.env.XDG_CACHE_HOME;

beforeAll(() => {
	cache = mkdtempSync(join(tmpdir(), 'relaytop-cache-'));
	process.env.XDG_CACHE_HOME = cache; // nothing measured yet: the worker must run
	store = createDemoStore();
	source = openTarget(store.path);
});

afterAll(async () => {
	if (savedCache === undefined) delete process.env.XDG_CACHE_HOME;
	else process.env.XDG_CACHE_HOME = savedCache;
	await source.close();
	store.remove();
	rmSync(cache, {recursive: true, force: true});
});

it('shows the cost of counting on the overview without loading an encoder in the dashboard process', async () => {
	const app = renderInk(<App source={source} initial={{...initialState(source.capabilities.dimensions), view: 'overview'}} />, {columns: 160, rows: 30});
	try {
		const frame = await app.until(screen => /counting ≈ [\d.]+% of a core \(CJK [\d.]+%\)/u.test(screen), 20_000);
		expect(frame).toMatch(/^tokens in .* · counting ≈/mu);
		// Measured and remembered, by a worker: this process has no encoder.
		const remembered = JSON.parse(readFileSync(join(cache, 'relaytop', 'tokenizer-throughput.json'), 'utf8')) as {latinTokensPerS: number; cjkTokensPerS: number};
		expect(remembered.latinTokensPerS).toBeGreaterThan(remembered.cjkTokensPerS);
		expect(remembered.cjkTokensPerS).toBeGreaterThan(0);
		expect(encoderLoads()).toEqual([]);
	} finally {
		app.unmount();
	}
	// A token feature used here loads exactly the one encoder it needs.
	await countTokens('hello world', 'gpt-4o');
	expect(encoderLoads().map(load => load.encoding)).toEqual(['o200k_base']);
});

describe('imports, as a real process records them', () => {
	const ROOT = packageRoot();
	const folder = mkdtempSync(join(tmpdir(), 'relaytop-imports-'));
	afterAll(() => rmSync(folder, {recursive: true, force: true}));

	/** Runs node with the import log hooks; the imports of js-tiktoken or encoders.js it saw, as "specifier <- importer". */
	function importsOf(args: readonly string[], env: Record<string, string> = {}): {status: number | null; stdout: string; imports: string[]} {
		const log = join(folder, `imports-${Math.random().toString(36).slice(2)}.log`);
		writeFileSync(log, '');
		const result = spawnSync(process.execPath, ['--import', join(ROOT, 'test', 'support', 'import-log.mjs'), ...args], {
			cwd: ROOT,
			encoding: 'utf8',
			input: '',
			env: {...process.env, ...env, RELAYTOP_IMPORT_LOG: log},
		});
		return {status: result.status, stdout: result.stdout, imports: readFileSync(log, 'utf8').split('\n').filter(line => line !== '')};
	}
	const importer = (line: string): string => line.split(' <- ')[1]!.replace(/^.*\/dist\/source\//u, '');

	it('the dashboard and its views import neither js-tiktoken nor the encoders', () => {
		const run = importsOf(['--input-type=module', '-e', `await import(${JSON.stringify(join(ROOT, 'dist', 'source', 'ui', 'run-dashboard.js'))}); await import(${JSON.stringify(join(ROOT, 'dist', 'source', 'cli', 'run.js'))});`]);
		expect(run.status).toBe(0);
		expect(run.imports).toEqual([]);
	});

	it('--once measures the tokenizer in its worker thread only: the encoders come from the worker, js-tiktoken from the encoders', () => {
		const run = importsOf([join(ROOT, 'dist', 'source', 'cli.js'), store.path, '--once'], {XDG_CACHE_HOME: join(folder, 'cache')});
		expect(run.status).toBe(0);
		expect(run.stdout).toMatch(/^counting (?:≈|idle)/mu);
		expect(run.imports.length).toBeGreaterThan(0); // the hooks saw the measurement
		for (const line of run.imports) {
			expect(importer(line), line).toBe(line.startsWith('js-tiktoken') ? 'tokens/encoders.js' : 'tokens/throughput-worker.js');
		}
	});
});
