// One view of the real dashboard, rendered in memory, in its own process: `node
// dashboard-render-worker.js <overview|apiKeys> <warmUpFrames> <frames> <timeoutS>`. Prints a
// RenderReport as JSON. The App reads a demo store copy (the fixture shifted to end now) through
// openTarget, with the demo's traffic simulator appending rows, and refreshes on a short interval:
// every frame measured is one a data refresh (or the status bar's clock) caused.
import {render, Text} from 'ink';
import {createDemoStore} from '../source/demo/demo-store.js';
import {startTrafficSimulator, type TrafficSimulator} from '../source/demo/traffic-simulator.js';
import {openTarget} from '../source/sources/open-target.js';
import {App} from '../source/ui/app.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {plain, RENDER_SIZE, RENDER_VIEWS, REFRESH_INTERVAL_MS, tableRowsOf, type RenderReport, type RenderView} from './dashboard-render.js';
import {Keys, Screen} from './fake-terminal.js';

const POLL_MS = 20;

function parseArgs(argv: readonly string[]): {view: RenderView; warmUpFrames: number; frames: number; timeoutMs: number} {
	const [view, warmUpFrames, frames, timeoutS] = argv;
	if (!RENDER_VIEWS.includes(view as RenderView) || !(Number(warmUpFrames) >= 0) || !(Number(frames) >= 1) || !(Number(timeoutS) > 0)) {
		throw new Error(`usage: dashboard-render-worker.js <${RENDER_VIEWS.join('|')}> <warmUpFrames> <frames> <timeoutS>; got: ${argv.join(' ')}`);
	}
	return {view: view as RenderView, warmUpFrames: Number(warmUpFrames), frames: Number(frames), timeoutMs: Number(timeoutS) * 1000};
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** The screen shows the view with its data, all of it: what a frame worth measuring looks like. */
function dataShown(view: RenderView, coloured: string): boolean {
	const frame = plain(coloured);
	if (view === 'overview') {
		return /\d requests · /u.test(frame) && frame.includes('requests/min') && /^model\s+requests/mu.test(frame) && /rpm [1-9]/u.test(frame);
	}
	const table = tableRowsOf(frame);
	return table !== null && table.rows > 0 && table.rows === table.expected;
}

/**
 * Ink on the in-memory screen, every commit drawn at once, so each frame's time is its own (the
 * real app throttles drawing to 15 fps, which changes how many frames there are, not what one costs).
 */
const measuredInk = (screen: Screen, onRender: (metrics: {renderTime: number}) => void) => ({
	stdout: screen as unknown as NodeJS.WriteStream,
	stdin: new Keys() as unknown as NodeJS.ReadStream,
	stderr: new Screen(RENDER_SIZE.columns, RENDER_SIZE.rows) as unknown as NodeJS.WriteStream,
	debug: true,
	exitOnCtrlC: false,
	patchConsole: false,
	onRender,
});

async function measure(source: UsageSource, view: RenderView, warmUpFrames: number, frames: number, timeoutMs: number): Promise<RenderReport> {
	const screen = new Screen(RENDER_SIZE.columns, RENDER_SIZE.rows);
	// Changed by the callbacks below: `as` keeps TypeScript from narrowing it to its first value.
	let phase = 'loading' as 'loading' | 'warm-up' | 'measuring' | 'done';
	let warmUpSeen = 0;
	const inkMs: number[] = [];
	let measuringStartedAt = 0;
	let measuringEndedAt = 0;

	// Ink's own figure: the time to turn the laid-out tree into the screen's text (render-node-to-output),
	// called once per frame drawn. It leaves out React's render and Yoga's layout, which come before.
	const onInkRender = ({renderTime}: {renderTime: number}) => {
		if (phase === 'warm-up') {
			warmUpSeen += 1;
			if (warmUpSeen >= warmUpFrames) {
				phase = 'measuring';
				measuringStartedAt = performance.now();
			}
		} else if (phase === 'measuring') {
			inkMs.push(renderTime);
			if (inkMs.length >= frames) {
				phase = 'done';
				measuringEndedAt = performance.now();
			}
		}
	};
	const initial = {...initialState(source.capabilities.dimensions, {intervalMs: REFRESH_INTERVAL_MS}), view};
	const instance = render(<App source={source} initial={initial} />, measuredInk(screen, onInkRender));
	const started = performance.now();
	let dataAfterMs = 0;
	let firstDataFrame = '';
	let lastFrame = '';
	try {
		for (;;) {
			if (phase === 'loading' && dataShown(view, screen.lastFrame)) {
				dataAfterMs = performance.now() - started;
				firstDataFrame = screen.lastFrame;
				phase = warmUpFrames === 0 ? 'measuring' : 'warm-up';
				measuringStartedAt = performance.now();
			}
			if (phase === 'done') {
				lastFrame = screen.lastFrame; // before unmount() writes its own
				break;
			}
			if (performance.now() - started > timeoutMs) {
				throw new Error(`${view}: ${phase} after ${timeoutMs / 1000} s (${inkMs.length} of ${frames} frames); last screen:\n${screen.lastFrame}`);
			}
			await sleep(POLL_MS);
		}
	} finally {
		instance.unmount();
	}
	if (!dataShown(view, lastFrame)) {
		throw new Error(`${view}: the last measured frame does not show the view's data:\n${lastFrame}`);
	}
	const table = tableRowsOf(lastFrame);
	const floorMs = await floorRenderMs(lastFrame, frames);
	return {
		view,
		columns: RENDER_SIZE.columns,
		rows: RENDER_SIZE.rows,
		refreshIntervalMs: REFRESH_INTERVAL_MS,
		dataAfterMs,
		warmUpFrames: warmUpSeen,
		measuringS: (measuringEndedAt - measuringStartedAt) / 1000,
		inkRenderMs: inkMs,
		floorRenderMs: floorMs,
		tableRows: table === null ? null : {shown: table.rows, expected: table.expected, totalItems: table.totalItems},
		reactBuild: process.env.NODE_ENV === 'production' ? 'production' : 'development',
		firstDataFrame,
		lastFrame,
	};
}

/**
 * The baseline, in the same process: Ink drawing the very same screen (characters and colours)
 * as one text node, so nothing of relaytop's is in it: what Ink 6 costs for that many characters.
 */
async function floorRenderMs(frame: string, frames: number): Promise<number[]> {
	const times: number[] = [];
	const screen = new Screen(RENDER_SIZE.columns, RENDER_SIZE.rows);
	const instance = render(<Text>{frame}</Text>, measuredInk(screen, ({renderTime}) => times.push(renderTime)));
	try {
		for (let index = 0; times.length < frames + 1 && index < frames * 10; index++) {
			// A trailing space changes the tree (so Ink draws) but not what it shows.
			instance.rerender(<Text>{index % 2 === 0 ? `${frame} ` : frame}</Text>);
			await sleep(1);
		}
	} finally {
		instance.unmount();
	}
	return times.slice(1); // the first frame is the mount
}

async function main(): Promise<void> {
	const {view, warmUpFrames, frames, timeoutMs} = parseArgs(process.argv.slice(2));
	const store = createDemoStore();
	let simulator: TrafficSimulator | undefined;
	let source: UsageSource | undefined;
	try {
		simulator = startTrafficSimulator(store.path, {onError: error => process.stderr.write(`traffic simulator: ${error.message}\n`)});
		source = openTarget(store.path);
		const report = await measure(source, view, warmUpFrames, frames, timeoutMs);
		process.stdout.write(`${JSON.stringify(report)}\n`);
	} finally {
		await source?.close();
		await simulator?.stop();
		store.remove();
	}
}

main().catch((error: unknown) => {
	process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(1);
});
