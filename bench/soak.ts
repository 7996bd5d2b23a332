import {VIEW_TITLES, VIEWS, type ViewId} from '../source/ui/keymap.js';
import {keysTo} from './pane-keys.js';
import {childrenOf, handlesOf, nameOf, tcpSocketsByInode, titleOf, type TcpSocket} from './process-handles.js';
import {hasExited, memoryOf} from './proc-stats.js';
import {startRelaytop, TMUX_SIZE, type StopReport} from './relaytop-in-tmux.js';
import {countRange, cycleSummaries, handleChanges, memoryFigures, type CountRange, type ProcessFigures, type SoakSample} from './soak-figures.js';
import {textTable} from './text-table.js';

// The real `relaytop` demo (no target: embedded PostgreSQL with new-api's sessions at work) left
// running at a 1 s refresh, its views visited in turn, each for the same time: whether its memory
// grows, and whether anything it holds open (file descriptors, threads, TCP sockets, the server's
// backends for its connections) or the demo's own processes pile up. soak-figures.ts sums the
// samples up, like with like.
// The server side is read from the server's processes: one backend per connection, its title
// naming the client's port, matched with the ports of relaytop's sockets. No login is needed for
// that, so the demo's password stays where it is.

export interface SoakSettings {
	readonly durationS: number;
	/** relaytop's --interval. */
	readonly intervalS: number;
	readonly sampleEveryS: number;
	/** How long each view stays on screen; a cycle through every view is VIEWS.length × this. */
	readonly viewDwellS: number;
}

export const soakSettings = (quick: boolean): SoakSettings =>
	quick ? {durationS: 60, intervalS: 1, sampleEveryS: 5, viewDwellS: 5} : {durationS: 1800, intervalS: 1, sampleEveryS: 10, viewDwellS: 20};

const cycleSeconds = (settings: SoakSettings): number => VIEWS.length * settings.viewDwellS;
const samplesPerCycle = (settings: SoakSettings): number => cycleSeconds(settings) / settings.sampleEveryS;

/** Text only its view shows, below the tab bar (which names every view). */
const VIEW_MARKS: Record<ViewId, RegExp> = {
	overview: /^requests\/min /mu,
	accounts: /^Accounts by /mu,
	apiKeys: /^API keys · /mu,
	realtime: /^Requests · newest first/mu,
	postgres: /^PostgreSQL \d+/mu,
	health: /^Health · /mu,
};

/** The status bar when a panel failed: the figures on screen are stale. */
const ALERT = /(?:stale: |unreachable \().*$/mu;

/** A client backend's title: "postgres: <user> <database> 127.0.0.1(<port>) <state>". */
const CLIENT_PORT = /\s[\d.:a-f]+\((\d+)\)(?:\s|$)/u;

function figuresOf(pid: number, tcp: ReadonlyMap<string, TcpSocket>, backendPorts: ReadonlySet<number>): ProcessFigures {
	const handles = handlesOf(pid, tcp);
	return {rssKb: memoryOf(pid).rssKb, handles, serverConnections: handles.tcp.filter(socket => backendPorts.has(socket.localPort)).length};
}

/** One reading of relaytop, its traffic process and its PostgreSQL server. */
function sampleDemo(relaytopPid: number, trafficPid: number | undefined): Omit<SoakSample, 'tS' | 'view' | 'onView' | 'alert'> {
	const children = childrenOf(relaytopPid);
	const postmaster = children.find(child => nameOf(child) === 'postgres');
	const postgres = postmaster === undefined ? [] : [postmaster, ...childrenOf(postmaster)];
	const backendPorts = new Set(
		postgres
			.map(pid => CLIENT_PORT.exec(titleOf(pid))?.[1])
			.filter(port => port !== undefined)
			.map(Number),
	);
	const tcp = tcpSocketsByInode();
	let traffic: ProcessFigures | null = null;
	if (trafficPid !== undefined && !hasExited(trafficPid)) {
		try {
			traffic = figuresOf(trafficPid, tcp, backendPorts);
		} catch {
			// it exited between the check and the read: counted as missing
		}
	}
	return {
		relaytop: figuresOf(relaytopPid, tcp, backendPorts),
		relaytopChildren: children.length,
		traffic,
		postgresProcesses: postmaster === undefined ? null : postgres.length,
		clientBackends: postmaster === undefined ? null : backendPorts.size,
	};
}

export interface SoakRun {
	readonly command: string;
	readonly readyAfterS: number;
	/** VmHWM of relaytop's process at the end: the kernel's peak, between samples too. */
	readonly peakRssKb: number;
	readonly samples: readonly SoakSample[];
	readonly stop: StopReport;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const mb = (kb: number): number => Number((kb / 1024).toFixed(1));

export async function runSoak(settings: SoakSettings, log: (line: string) => void): Promise<SoakRun> {
	const cycleS = cycleSeconds(settings);
	if (settings.viewDwellS % settings.sampleEveryS !== 0 || settings.durationS % cycleS !== 0 || settings.durationS < 2 * cycleS) {
		throw new Error(`a soak needs whole samples per view and at least two whole cycles of ${cycleS} s`);
	}
	log(
		`relaytop demo soak: --interval ${settings.intervalS} for ${settings.durationS} s in tmux, ${VIEWS.length} views ${settings.viewDwellS} s each, a sample every ${settings.sampleEveryS} s…`,
	);
	const run = await startRelaytop(['--interval', String(settings.intervalS)]);
	let measured: Omit<SoakRun, 'stop'>;
	try {
		if (!new RegExp(`every ${settings.intervalS} s`, 'u').test(run.screen())) {
			throw new Error(`the status bar does not show a ${settings.intervalS} s interval; the screen:\n${run.screen()}`);
		}
		const press = keysTo(run.pid);
		const trafficPid = run.children().find(child => /traffic-/u.test(child.command))?.pid;
		const perView = settings.viewDwellS / settings.sampleEveryS;
		const count = settings.durationS / settings.sampleEveryS;
		const samples: SoakSample[] = [];
		let peakRssKb = 0;
		const started = performance.now();
		const until = (seconds: number) => sleep(Math.max(0, started + seconds * 1000 - performance.now()));
		for (let index = 0; index < count; index++) {
			const tS = index * settings.sampleEveryS;
			await until(tS);
			if (hasExited(run.pid)) {
				throw new Error(`relaytop exited after ${tS} s; the screen:\n${run.screen()}`);
			}
			const screen = run.screen();
			const view = Math.floor(index / perView) % VIEWS.length;
			const shown = VIEWS[view]!;
			samples.push({tS, view: shown, onView: VIEW_MARKS[shown].test(screen), alert: ALERT.exec(screen)?.[0].trim() ?? null, ...sampleDemo(run.pid, trafficPid)});
			peakRssKb = memoryOf(run.pid).hwmKb;
			if ((index + 1) % samplesPerCycle(settings) === 0) {
				log(`  ${tS} s: relaytop RSS ${mb(samples.at(-1)!.relaytop.rssKb)} MB`);
			}
			// The next view comes halfway to the next sample: what a view closes a fixed time after it is
			// left then goes between the same two samples in every cycle, never during one.
			if ((index + 1) % perView === 0 && index + 1 < count) {
				await until(tS + settings.sampleEveryS / 2);
				press(String(((view + 1) % VIEWS.length) + 1));
			}
		}
		measured = {command: run.command, readyAfterS: Number((run.readyAfterMs / 1000).toFixed(2)), peakRssKb, samples};
	} catch (error) {
		await run.stop();
		throw error;
	}
	return {...measured, stop: await run.stop()};
}

const RSS_GROWTH_TARGET_PCT = 10;

export function soakResultsFile(settings: SoakSettings, run: SoakRun) {
	const {samples} = run;
	const perCycle = samplesPerCycle(settings);
	const counts = (of: (sample: SoakSample) => ProcessFigures | null) => ({
		fds: countRange(samples, perCycle, sample => of(sample)?.handles.fds ?? null),
		threads: countRange(samples, perCycle, sample => of(sample)?.handles.threads ?? null),
		tcpSockets: countRange(samples, perCycle, sample => of(sample)?.handles.tcp.length ?? null),
		tcpNotEstablished: countRange(samples, perCycle, sample => of(sample)?.handles.tcp.filter(socket => socket.state !== 'ESTABLISHED').length ?? null),
		serverConnections: countRange(samples, perCycle, sample => of(sample)?.serverConnections ?? null),
		otherSockets: countRange(samples, perCycle, sample => of(sample)?.handles.otherSockets ?? null),
		pipes: countRange(samples, perCycle, sample => of(sample)?.handles.pipes ?? null),
		anonInodes: countRange(samples, perCycle, sample => of(sample)?.handles.anonInodes ?? null),
		files: countRange(samples, perCycle, sample => of(sample)?.handles.files ?? null),
	});
	const handles = {...counts(sample => sample.relaytop), childProcesses: countRange(samples, perCycle, sample => sample.relaytopChildren)};
	const rss = memoryFigures(samples, perCycle, sample => sample.relaytop.rssKb);
	const alerts = samples.filter(sample => sample.alert !== null);
	const cycleS = cycleSeconds(settings);
	return {
		benchmark: `the relaytop demo (no target) at --interval ${settings.intervalS} for ${settings.durationS / 60} minutes in a ${TMUX_SIZE.columns}×${TMUX_SIZE.rows} tmux pane, cycling its views: resident memory and what it holds open`,
		target: `RSS growth ≤ ${RSS_GROWTH_TARGET_PCT} % after the warm-up (sample to sample and cycle mean to cycle mean); open handles and connections constant (alike in every cycle)`,
		sizes: {durationS: settings.durationS, intervalS: settings.intervalS, sampleEveryS: settings.sampleEveryS, viewDwellS: settings.viewDwellS, warmUpS: cycleS, cycles: settings.durationS / cycleS},
		method: [
			`Views in turn, ${settings.viewDwellS} s each (${VIEWS.map(view => VIEW_TITLES[view]).join(', ')}), by their number keys pressed halfway between two samples; a sample every ${settings.sampleEveryS} s.`,
			`The warm-up is the first cycle through every view (${cycleS} s): a view opens what it needs on its first visit. Growth: the warm-up's last sample against the run's last, both in the Health view; and whole cycles after the warm-up, by mean and floor.`,
			"From /proc: VmRSS and RssAnon (the heap's part; the JS heap itself is out of reach from outside) of relaytop's node process, its fds by kind, Threads, and its TCP sockets (fd socket inodes found in /proc/net/tcp{,6}).",
			"Server connections: the embedded server's backends, one per connection, whose title names a port of the process's sockets. The demo's traffic process (new-api's sessions) is measured the same way, apart; PostgreSQL's processes are counted whole (autovacuum and parallel workers come and go).",
			'A count is constant when it holds the same value at the same point of every cycle after the warm-up (samePerPhase): a connection a view closes after it is left, and opens on its next visit, moves alike in every cycle; handleChanges lists every move.',
		].join(' '),
		command: run.command,
		readyAfterS: run.readyAfterS,
		database: samples[0]!.postgresProcesses === null ? 'SQLite (embedded PostgreSQL did not start)' : 'embedded PostgreSQL',
		// Both readings of the growth, so neither a lucky last sample nor a lucky cycle passes alone.
		met: {
			rssGrowth: rss.growthPct <= RSS_GROWTH_TARGET_PCT && rss.cycleMeanGrowthPct <= RSS_GROWTH_TARGET_PCT,
			handlesConstant: Object.values(handles).every(range => range?.samePerPhase === true),
		},
		rss: {...rss, peakMb: mb(run.peakRssKb), atStartMb: mb(samples[0]!.relaytop.rssKb)},
		anonRss: memoryFigures(samples, perCycle, sample => sample.relaytop.handles.anonRssKb),
		handles,
		handleChanges: handleChanges(samples),
		traffic: samples.every(sample => sample.traffic !== null)
			? {rss: memoryFigures(samples, perCycle, sample => sample.traffic!.rssKb), handles: counts(sample => sample.traffic)}
			: null,
		postgres: {
			processes: countRange(samples, perCycle, sample => sample.postgresProcesses),
			clientBackends: countRange(samples, perCycle, sample => sample.clientBackends),
		},
		screens: {
			samplesOffView: samples.filter(sample => !sample.onView).map(sample => ({tS: sample.tS, view: sample.view})),
			alerts: alerts.length,
			firstAlerts: alerts.slice(0, 5).map(sample => ({tS: sample.tS, view: sample.view, alert: sample.alert})),
		},
		cycles: cycleSummaries(samples, perCycle),
		rssSeries: {
			everyS: settings.sampleEveryS,
			relaytopMb: samples.map(sample => mb(sample.relaytop.rssKb)),
			trafficMb: samples.map(sample => (sample.traffic === null ? null : mb(sample.traffic.rssKb))),
		},
		stop: run.stop,
	};
}

export type SoakResults = ReturnType<typeof soakResultsFile>;

const shownRange = (range: CountRange | null): string =>
	range === null ? '-' : `${range.constant ? String(range.min) : `${range.min}–${range.max}`}${range.samePerPhase ? '' : ' (moves)'}`;

const memoryRow = (label: string, memory: SoakResults['rss'] | NonNullable<SoakResults['traffic']>['rss'], peak: string): string[] => [
	label,
	memory.atWarmUpEndMb.toFixed(1),
	memory.endMb.toFixed(1),
	memory.growthPct.toFixed(2),
	memory.cycleMeanGrowthPct.toFixed(2),
	memory.cycleFloorGrowthPct.toFixed(2),
	memory.maxMb.toFixed(1),
	peak,
];

export function soakTable(results: SoakResults): string {
	const {rss, handles, traffic, postgres} = results;
	const lines = [
		textTable(
			['relaytop demo soak', 'RSS MB at warm-up end', 'at end', 'growth %', 'cycle means growth %', 'cycle floors growth %', 'max MB', 'peak (VmHWM) MB'],
			[
				memoryRow(`--interval ${results.sizes.intervalS}, ${results.sizes.durationS} s`, rss, rss.peakMb.toFixed(1)),
				...(traffic === null ? [] : [memoryRow('traffic process', traffic.rss, '-')]),
			],
		),
		textTable(
			['after the warm-up (min–max)', 'fds', 'threads', 'TCP sockets', 'server connections', 'child processes'],
			[
				['relaytop', shownRange(handles.fds), shownRange(handles.threads), shownRange(handles.tcpSockets), shownRange(handles.serverConnections), shownRange(handles.childProcesses)],
				...(traffic === null ? [] : [['traffic process', shownRange(traffic.handles.fds), shownRange(traffic.handles.threads), shownRange(traffic.handles.tcpSockets), shownRange(traffic.handles.serverConnections), '-']]),
				['PostgreSQL (client backends / processes)', '-', '-', '-', shownRange(postgres.clientBackends), shownRange(postgres.processes)],
			],
		),
		`target: ${results.target}: RSS ${results.met.rssGrowth ? 'met' : 'NOT met'}, handles ${results.met.handlesConstant ? 'constant' : 'NOT constant'}`,
	];
	if (results.screens.samplesOffView.length > 0) {
		lines.push(`warning: ${results.screens.samplesOffView.length} sample(s) did not show their view's own text`);
	}
	if (results.screens.alerts > 0) {
		lines.push(`warning: ${results.screens.alerts} sample(s) showed a failed panel, first: ${results.screens.firstAlerts[0]!.alert}`);
	}
	return lines.join('\n');
}
