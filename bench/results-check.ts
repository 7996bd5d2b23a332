import {readFileSync} from 'node:fs';
import {basename} from 'node:path';

// What a results file in bench/results/ must hold to be worth reading: the run header every writer
// puts first (when, on what, from which code) and what it measured, then its benchmark's key
// figures, each of a sane kind.
// A figure that is missing, NaN (written as null), negative or a date in the future means the run
// or its writer broke, whatever the figure says. Checked after every benchmark (run.ts) and on the
// committed files (test/bench-results.test.ts). Values are never judged against targets.

/**
 * What a value must be. `positive`: a finite number > 0 (times, sizes, ratios); `non-negative`:
 * finite ≥ 0; `number`: finite (signed errors); `count`: an integer ≥ 0; `text`: a non-empty
 * string; `list`: an array, possibly empty; `date`: an ISO timestamp, not in the future.
 */
type Kind = 'positive' | 'non-negative' | 'number' | 'count' | 'text' | 'boolean' | 'list' | 'date';

/**
 * Key figures by path: dot-separated keys, `*` for every element of an array or value of an object
 * (at least one). A kind ending in `?` allows null.
 */
type Figures = Readonly<Record<string, Kind | `${Kind}?`>>;

const EVERY_FILE: Figures = {
	date: 'date',
	'machine.cpu': 'text',
	'machine.cpuCount': 'count',
	'machine.totalMemoryMb': 'positive',
	'machine.node': 'text',
	'machine.platform': 'text',
	'source.commit': 'text?',
	'source.uncommitted': 'list',
	'source.distSourceBuiltAt': 'date?',
	benchmark: 'text',
};

/** Each benchmark's results file (bench/results/<name>.json, or <name>-quick.json) and its key figures. */
const FIGURES: Readonly<Record<string, Figures>> = {
	'range-rollups': {
		'results.stores.*.rows': 'count',
		'results.stores.*.writerRowsPerS': 'positive',
		'results.stores.*.ranges.*.direct.refreshMs.median': 'positive',
		'results.stores.*.ranges.*.direct.timedOut': 'count',
		'results.stores.*.ranges.*.direct.serverMsPerRefresh': 'non-negative?',
		'results.stores.*.ranges.*.rollup.firstLoadMs': 'positive',
		'results.stores.*.ranges.*.rollup.refreshMs.median': 'positive',
		'results.stores.*.ranges.*.rollup.serverMsPerRefresh': 'non-negative?',
		'results.stores.*.ranges.*.rollup.groups': 'count',
		'results.stores.*.ranges.*.rollup.heapMb': 'number',
		'results.stores.*.ranges.*.speedup': 'non-negative',
		'results.bytesPerGroup': 'positive',
		'results.cap.mb': 'positive',
	},
	'accounts-total-cost': {
		'sizes.events': 'count',
		'sizes.storeMb': 'positive',
		storeBuildS: 'positive?',
		runs: 'count',
		'approaches.push-down.medianMs': 'positive',
		'approaches.in-memory.medianMs': 'positive',
		'approaches.*.minMs': 'positive',
		'approaches.*.runsMs.*': 'positive',
		'approaches.*.peakRssMb': 'positive',
		'ratios.medianTime': 'positive',
		'ratios.peakRss': 'positive',
	},
	'dashboard-render': {
		'sizes.frames': 'count',
		'views.overview.inkRenderMs.median': 'positive',
		'views.apiKeys.inkRenderMs.median': 'positive',
		'views.*.inkRenderMs.p95': 'positive',
		'views.*.floorRenderMs.median': 'positive',
		'views.*.framesMeasured': 'count',
		'views.*.framesPerS': 'positive',
	},
	'demo-cpu': {
		'sizes.durationS': 'positive',
		readyAfterS: 'positive',
		wallS: 'positive',
		processPercentOfCore: 'positive',
		'simulator.percentOfCore': 'non-negative?',
		'threads.*.cpuS': 'non-negative',
		'stop.exitCode': 'count?',
		'stop.childrenLeftRunning': 'count',
	},
	'demo-rss': {
		'sizes.durationS': 'positive',
		readyAfterS: 'positive',
		finalRssMb: 'positive',
		maxSampledRssMb: 'positive',
		peakRssMb: 'positive',
		simulatorFinalRssMb: 'positive?',
		'samples.*.tS': 'non-negative',
		'samples.*.rssMb': 'positive',
		'stop.exitCode': 'count?',
		'stop.childrenLeftRunning': 'count',
	},
	pgqueries: {
		'server.version': 'text',
		'table.rows': 'count',
		'table.build.builtAt': 'date',
		'table.build.totalS': 'positive',
		'table.last24h.requests': 'count',
		'target.msPerRefresh': 'positive',
		'target.met': 'boolean',
		'sets.*.views.*.serverMsPerRefresh': 'positive',
		'sets.*.views.*.serverMsPerRefreshWithReloads': 'positive',
		'sets.*.views.*.load.serverMs': 'positive',
		'sets.*.views.*.load.reloadEveryS': 'positive',
		'sets.*.views.*.clientMsPerRefresh': 'positive',
		'sets.*.views.*.refreshes': 'count',
		'sets.*.views.*.panels.*.failures': 'count',
		'sets.*.plans.*.durationMs': 'positive',
		'sets.*.advisor.proposals': 'list',
		'sets.covering.indexes.*.buildS': 'non-negative',
		'sets.covering.indexes.*.sizeMb': 'positive',
	},
	'cpa-http': {
		events: 'count',
		'settings.runs': 'count',
		'apis.paged.medianMs': 'positive',
		'apis.legacy.medianMs': 'positive',
		'apis.*.requestsPerCycle': 'count',
		'apis.*.bytesPerCycle': 'positive',
		'apis.*.runs.*.ms': 'positive',
		bytesRatio: 'positive',
		timeRatio: 'positive',
	},
	tokens: {
		'settings.sizes.*.chars': 'count',
		'loads.*.loadMs': 'positive',
		'loads.*.heapMb': 'number',
		'speed.*.exactTokens': 'count',
		'speed.*.exactMedianMs.*': 'positive',
		'speed.*.estimateMedianMs': 'positive',
		'speed.*.exactOverEstimate': 'positive',
		'errors.*.exactTokens': 'count',
		'errors.*.estimateErrorPct': 'number',
		'maxEstimateError.*.errorPct': 'number',
		'slowestSpeedupAtTarget.*.ratio': 'positive',
		'countCheck.compared': 'count',
	},
	doctor: {
		'settings.runs': 'count',
		'rows.*.case': 'text',
		'rows.*.median_ms': 'positive',
		'rows.*.runs_ms.*': 'positive',
		'rows.*.exit_code': 'count?',
	},
	observer: {
		'settings.seconds': 'positive',
		pg_activity_version: 'text',
		server_version_num: 'count',
		'runs.*.cpu_seconds': 'positive',
		'runs.*.peak_rss_mb': 'positive',
		'runs.*.server_ms': 'positive',
		'runs.*.calls': 'count',
		'runs.*.queries_per_refresh': 'positive',
	},
	scale: {
		'sizes.postgresRows.*': 'count',
		'sizes.sqliteRequests.*': 'count',
		'method.queries.*.id': 'text',
		'stores.*.kind': 'text',
		'stores.*.rows': 'count',
		'stores.*.sizeMb': 'positive',
		'stores.*.requests.*': 'count',
		'stores.*.requests.24h': 'positive',
		failures: 'list',
		// A query may fail (a statement timeout without the index is a finding); the 60 s rate with the advisor's index may not.
		'stores.*.states.*.queries.*.medianMs': 'positive?',
		'stores.*.states.*.queries.*.runsMs': 'list',
		'stores.*.states.advisor.queries.rate.medianMs': 'positive',
		'stores.*.states.advisor.built.*.buildS': 'non-negative',
		'thirtyDaySummary.targetMs': 'positive',
	},
	maintenance: {
		wallS: 'positive',
		'table.rows': 'count',
		'table.build.builtAt': 'date',
		'indexes.summary.*.beforeMedianMs': 'positive',
		'indexes.summary.*.afterMedianMs': 'positive',
		'indexes.ratios.*.median': 'positive',
		'retention.batched.deleted': 'count',
		'retention.batched.rowsPerSecond': 'positive',
		'retention.unbounded.status': 'text',
	},
	soak: {
		'sizes.durationS': 'positive',
		'sizes.intervalS': 'positive',
		'sizes.warmUpS': 'positive',
		'sizes.cycles': 'count',
		readyAfterS: 'positive',
		database: 'text',
		'met.rssGrowth': 'boolean',
		'met.handlesConstant': 'boolean',
		'rss.atWarmUpEndMb': 'positive',
		'rss.endMb': 'positive',
		'rss.growthPct': 'number',
		'rss.cycleMeanGrowthPct': 'number',
		'rss.maxMb': 'positive',
		'rss.peakMb': 'positive',
		'rss.cycleMeansMb.*': 'positive',
		'rss.cycleFloorGrowthPct': 'number',
		'anonRss.growthPct': 'number',
		'handles.*.atWarmUpEnd': 'count',
		'handles.*.end': 'count',
		'handles.*.min': 'count',
		'handles.*.max': 'count',
		'handles.*.constant': 'boolean',
		'handles.*.samePerPhase': 'boolean',
		'cycles.*.rssMeanMb': 'positive',
		'cycles.*.fdsMax': 'count',
		'cycles.*.serverConnectionsMax': 'count',
		'rssSeries.relaytopMb.*': 'positive',
		handleChanges: 'list',
		'screens.samplesOffView': 'list',
		'screens.alerts': 'count',
		'stop.exitCode': 'count?',
		'stop.childrenLeftRunning': 'count',
	},
};

/**
 * The results file names (without -quick and .json) of the benchmarks whose figures are known. A new
 * benchmark's file gets the checks every file gets until its key figures are added above.
 */
export const RESULTS_NAMES: readonly string[] = Object.keys(FIGURES);

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/u;

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** What `value` should have been for `kind`, or null when it is. */
function unmet(kind: Kind, value: unknown, nowMs: number): string | null {
	switch (kind) {
		case 'positive':
			return isFiniteNumber(value) && value > 0 ? null : 'a finite number > 0';
		case 'non-negative':
			return isFiniteNumber(value) && value >= 0 ? null : 'a finite number ≥ 0';
		case 'number':
			return isFiniteNumber(value) ? null : 'a finite number';
		case 'count':
			return Number.isSafeInteger(value) && (value as number) >= 0 ? null : 'an integer ≥ 0';
		case 'text':
			return typeof value === 'string' && value.trim() !== '' ? null : 'a non-empty string';
		case 'boolean':
			return typeof value === 'boolean' ? null : 'true or false';
		case 'list':
			return Array.isArray(value) ? null : 'a list';
		case 'date':
			if (typeof value !== 'string' || !ISO_DATE.test(value) || Number.isNaN(Date.parse(value))) return 'an ISO date';
			return Date.parse(value) <= nowMs ? null : 'a past date';
	}
}

const shown = (value: unknown): string => (typeof value === 'number' || value === undefined ? String(value) : JSON.stringify(value));

interface Found {
	readonly at: string;
	readonly value: unknown;
}

/** The values at `path`; what is missing on the way goes to `problems`. */
function valuesAt(json: unknown, path: string, problems: string[]): Found[] {
	let found: Found[] = [{at: '', value: json}];
	for (const key of path.split('.')) {
		const next: Found[] = [];
		for (const {at, value} of found) {
			if (value === null || typeof value !== 'object') {
				problems.push(`${at || 'the file'}: ${shown(value)} is not an object or a list`);
			} else if (key === '*') {
				const entries = Object.entries(value);
				if (entries.length === 0) problems.push(`${at}: empty`);
				next.push(...entries.map(([name, item]) => ({at: Array.isArray(value) ? `${at}[${name}]` : `${at}.${name}`, value: item})));
			} else if (Object.hasOwn(value, key)) {
				next.push({at: at === '' ? key : `${at}.${key}`, value: (value as Record<string, unknown>)[key]});
			} else {
				problems.push(`${at === '' ? key : `${at}.${key}`}: missing`);
			}
		}
		found = next;
	}
	return found;
}

/** `name`'s results file name without `-quick`: both sizes hold the same figures. */
const benchmarkOf = (name: string): string => name.replace(/-quick$/u, '');

/**
 * The problems of results file `name` (e.g. "doctor" or "doctor-quick") holding `json`; empty when
 * it is fine.
 */
export function checkResultsFile(name: string, json: unknown, nowMs = Date.now()): string[] {
	const problems: string[] = [];
	for (const [path, expected] of Object.entries({...EVERY_FILE, ...FIGURES[benchmarkOf(name)]})) {
		const nullable = expected.endsWith('?');
		const kind = expected.replace(/\?$/u, '') as Kind;
		for (const {at, value} of valuesAt(json, path, problems)) {
			const wanted = nullable && value === null ? null : unmet(kind, value, nowMs);
			if (wanted !== null) problems.push(`${at}: ${shown(value)} is not ${wanted}${nullable ? ' or null' : ''}`);
		}
	}
	// A missing object is reported once, not once per figure under it.
	return [...new Set(problems)].map(problem => `${name}: ${problem}`);
}

/** The problems of the results file at `path` (bench/results/<name>.json). */
export function checkResultsPath(path: string): string[] {
	let json: unknown;
	try {
		json = JSON.parse(readFileSync(path, 'utf8'));
	} catch (error) {
		return [`${path}: not readable JSON (${(error as Error).message})`];
	}
	return checkResultsFile(basename(path, '.json'), json);
}
