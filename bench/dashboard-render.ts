import {spawnSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {TABLE_CHROME} from '../source/ui/views/groups-view.js';
import {distribution, type Distribution} from './percentiles.js';
import {textTable} from './text-table.js';

// Per-frame render time of the real dashboard (source/ui/app.tsx) at 200×60, in memory, for the
// overview and for a table of more than 50 rows. Each view runs in its own process
// (dashboard-render-worker.tsx) so one view's JIT and heap never shape the other's figures.

export const RENDER_VIEWS = ['overview', 'apiKeys'] as const;
export type RenderView = (typeof RENDER_VIEWS)[number];

export const RENDER_VIEW_LABELS: Record<RenderView, string> = {
	overview: 'overview',
	apiKeys: 'API keys table',
};

export const RENDER_SIZE = {columns: 200, rows: 60} as const;

/** The table must show at least this many rows; the demo has 79 API keys in its default 24 h. */
export const TABLE_ROWS_WANTED = 50;

/** Short, so frames come quickly; the scheduler's floor is 100 ms. Each frame costs the same at 2 s. */
export const REFRESH_INTERVAL_MS = 200;

// Mirrors app.tsx's layout arithmetic (its FRAME_CHROME is not exported): the body is the terminal
// less one row and 4 rows of chrome, and a table's page is the body less its heading and column
// titles, less one. tableRowsOf checks the result against the page count on screen.
const FRAME_CHROME = 4;
const TABLE_PAGE_SIZE = Math.max(1, Math.min(500, Math.max(4, RENDER_SIZE.rows - 1 - FRAME_CHROME) - TABLE_CHROME - 1));

/** A worker's report, printed as JSON on its stdout. */
export interface RenderReport {
	readonly view: RenderView;
	readonly columns: number;
	readonly rows: number;
	readonly refreshIntervalMs: number;
	/** From render() to the first screen with all of the view's data. */
	readonly dataAfterMs: number;
	readonly warmUpFrames: number;
	readonly measuringS: number;
	/** Ink's onRender renderTime, one per frame drawn. */
	readonly inkRenderMs: readonly number[];
	/** The baseline: Ink's renderTime for the last frame's text as one text node. */
	readonly floorRenderMs: readonly number[];
	readonly tableRows: {readonly shown: number; readonly expected: number; readonly totalItems: number} | null;
	readonly reactBuild: 'development' | 'production';
	readonly firstDataFrame: string;
	readonly lastFrame: string;
}

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/gu;
/** A frame without its colour codes. */
export const plain = (frame: string): string => frame.replace(ANSI, '');

const TITLE = /^(?:API keys|Accounts by \S+) · .*page (\d+)\/(\d+) · ([\d,]+) items/u;
const STATUS_BAR = /^[●‖] /u;

/**
 * The data rows of the table on a screen: the lines between its column titles and the status bar.
 * null when no table is on screen. `expected` is what the page should hold at this terminal size.
 */
export function tableRowsOf(frame: string): {rows: number; expected: number; totalItems: number} | null {
	const lines = plain(frame).split('\n');
	const titleAt = lines.findIndex(line => TITLE.test(line));
	if (titleAt === -1) {
		return null;
	}
	const [, page, pages, items] = TITLE.exec(lines[titleAt]!)!;
	const totalItems = Number(items!.replaceAll(',', ''));
	if (Number(pages) !== Math.max(1, Math.ceil(totalItems / TABLE_PAGE_SIZE))) {
		throw new Error(`the screen shows ${pages} pages of ${totalItems} items: the page size is not ${TABLE_PAGE_SIZE} (has app.tsx's layout changed?)`);
	}
	let rows = 0;
	for (const line of lines.slice(titleAt + 2)) {
		if (STATUS_BAR.test(line)) {
			break;
		}
		rows += line.trim() === '' ? 0 : 1;
	}
	const expected = Math.min(TABLE_PAGE_SIZE, totalItems - (Number(page) - 1) * TABLE_PAGE_SIZE);
	return {rows, expected, totalItems};
}

export interface RenderSettings {
	readonly warmUpFrames: number;
	readonly frames: number;
	readonly timeoutS: number;
}

export const renderSettings = (quick: boolean): RenderSettings => (quick ? {warmUpFrames: 5, frames: 20, timeoutS: 60} : {warmUpFrames: 100, frames: 600, timeoutS: 300});

const WORKER = fileURLToPath(new URL('./dashboard-render-worker.js', import.meta.url));

function runView(view: RenderView, settings: RenderSettings): RenderReport {
	const child = spawnSync(process.execPath, [WORKER, view, String(settings.warmUpFrames), String(settings.frames), String(settings.timeoutS)], {
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'pipe'],
		maxBuffer: 64 * 1024 * 1024,
		// A colour terminal, as an operator's: Ink then writes colour codes, as it does for them.
		// React's production build, as `relaytop` loads it.
		env: {...process.env, FORCE_COLOR: '1', NODE_ENV: 'production'},
	});
	if (child.error !== undefined) {
		throw new Error(`render worker (${view}) did not start: ${child.error.message}`);
	}
	if (child.status !== 0) {
		throw new Error(`render worker (${view}) failed: ${child.stderr.trim() || `exit ${child.status ?? child.signal}`}`);
	}
	const report = JSON.parse(child.stdout) as RenderReport;
	if (view !== 'overview' && (report.tableRows === null || report.tableRows.shown < TABLE_ROWS_WANTED)) {
		throw new Error(`${view} showed ${report.tableRows?.shown ?? 0} rows, fewer than ${TABLE_ROWS_WANTED}: the benchmark needs a taller terminal or more rows`);
	}
	return report;
}

export interface RenderViewResult {
	readonly label: string;
	readonly framesMeasured: number;
	readonly warmUpFrames: number;
	readonly measuringS: number;
	readonly framesPerS: number;
	readonly dataAfterMs: number;
	readonly tableRows: RenderReport['tableRows'];
	/** The target figure: Ink's renderTime. */
	readonly inkRenderMs: Distribution;
	/** The same screen as one text node: what Ink costs for the characters alone. */
	readonly floorRenderMs: Distribution;
	readonly reactBuild: RenderReport['reactBuild'];
	readonly inkRenderMsAll: readonly number[];
	readonly lastFrame: readonly string[];
}

const round = (value: number, digits = 3): number => Number(value.toFixed(digits));

function summarize(report: RenderReport): RenderViewResult {
	return {
		label: RENDER_VIEW_LABELS[report.view],
		framesMeasured: report.inkRenderMs.length,
		warmUpFrames: report.warmUpFrames,
		measuringS: round(report.measuringS, 2),
		framesPerS: round(report.inkRenderMs.length / report.measuringS, 1),
		dataAfterMs: round(report.dataAfterMs, 0),
		tableRows: report.tableRows,
		inkRenderMs: distribution(report.inkRenderMs),
		floorRenderMs: distribution(report.floorRenderMs),
		reactBuild: report.reactBuild,
		inkRenderMsAll: report.inkRenderMs.map(ms => round(ms)),
		lastFrame: plain(report.lastFrame).split('\n'),
	};
}

export type RenderResults = Record<RenderView, RenderViewResult>;

export function runRenderBenchmark(settings: RenderSettings, log: (line: string) => void): RenderResults {
	const results = {} as RenderResults;
	for (const view of RENDER_VIEWS) {
		log(`dashboard render, ${RENDER_VIEW_LABELS[view]} at ${RENDER_SIZE.columns}×${RENDER_SIZE.rows}: ${settings.warmUpFrames} warm-up + ${settings.frames} frames…`);
		results[view] = summarize(runView(view, settings));
	}
	return results;
}

/** What goes into bench/results/, besides the date and machine. */
export const renderResultsFile = (settings: RenderSettings, results: RenderResults) => ({
	benchmark: `dashboard render time per frame: the real App in memory at ${RENDER_SIZE.columns}×${RENDER_SIZE.rows}, on a demo store copy with the demo's traffic, refreshing every ${REFRESH_INTERVAL_MS} ms`,
	target: 'Ink renderTime median ≤ 10 ms',
	sizes: {
		columns: RENDER_SIZE.columns,
		rows: RENDER_SIZE.rows,
		tablePageSize: TABLE_PAGE_SIZE,
		warmUpFrames: settings.warmUpFrames,
		frames: settings.frames,
	},
	method: [
		'each view in its own node process; createDemoStore() copy opened with openTarget (queries on the main thread), startTrafficSimulator appending rows',
		'Ink render(…, {debug: true, onRender}): every commit is drawn at once; colour on (FORCE_COLOR=1)',
		"inkRenderMs: Ink's onRender renderTime, i.e. render-node-to-output and the screen's text, without React or Yoga",
		"React's production build (NODE_ENV=production), as relaytop's dashboard loads it; it has no Profiler timings, so React's and Yoga's share of a frame shows in the CPU benchmark only",
		'frames counted after the view first shows all its data, and after the warm-up frames',
		"floorRenderMs, the baseline, in the same process after the measurement: Ink's renderTime for the last frame's text (its colours included) drawn as a single Text node, as many frames; the app's median over it is relaytop's own share",
	],
	views: results,
});

export function renderTable(results: RenderResults): string {
	const ms = (value: number) => value.toFixed(2);
	return textTable(
		['dashboard render (200×60)', 'frames', 'rows', 'Ink median ms', 'Ink p95 ms', 'same text as one node, median ms', 'ratio'],
		RENDER_VIEWS.map(view => {
			const r = results[view];
			return [r.label, String(r.framesMeasured), r.tableRows === null ? '-' : String(r.tableRows.shown), ms(r.inkRenderMs.median), ms(r.inkRenderMs.p95), ms(r.floorRenderMs.median), `${(r.inkRenderMs.median / r.floorRenderMs.median).toFixed(2)}×`];
		}),
	);
}
