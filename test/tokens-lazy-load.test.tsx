import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, expect, it} from 'vitest';
import {createDemoStore, type DemoStore} from '../source/demo/demo-store.js';
import {openTarget} from '../source/sources/open-target.js';
import {countTokens} from '../source/tokens/token-counter.js';
import {encoderLoads} from '../source/tokens/encoders.js';
import {App} from '../source/ui/app.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {renderInk} from './support/render-ink.js';

// The dashboard shows what counting prompts would cost at its rpm, yet never loads an encoder: the
// tokenizer's speed is measured in a worker thread. Its own file, so no other test has loaded one.

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
