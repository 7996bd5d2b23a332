import {clockTicksPerSecond, processCpuTicks, threadsOf, type ThreadSample} from './proc-stats.js';
import {startRelaytop, type StopReport} from './relaytop-in-tmux.js';
import {textTable} from './text-table.js';

// The CPU the real `relaytop` demo (no target) uses at the default 2 s interval, from the kernel's
// utime + stime: its process, that process's main thread and query worker apart, and the demo's
// traffic simulator, which stands in for the gateway, separately.
//
// The simulator runs as a child process of relaytop's (source/demo/traffic-process.ts); it used to
// run as a worker thread, and both layouts are recognized. Node 20 names no thread (no `comm` of
// its own), so worker threads are told apart another way. Event-loop threads wait in epoll; Node's
// helper threads (V8's platform workers, libuv's pool) wait on futexes, except one: the platform's
// delayed-task scheduler, started with the process. meow sets process.title ("relaytop") before the
// dashboard starts, and a new thread inherits the name of the thread that creates it, so worker
// threads are the epoll-waiting threads named after the title. With two of them, the simulator is
// the older: cli/run.ts starts the demo before the query worker.

export interface CpuSettings {
	readonly warmUpS: number;
	readonly durationS: number;
	readonly intervalS: number;
}

export const cpuSettings = (quick: boolean): CpuSettings => ({warmUpS: quick ? 2 : 10, durationS: quick ? 6 : 60, intervalS: 2});

const CLASSIFY_EVERY_MS = 250;
const CURVE_EVERY_S = 10;

type ThreadRole = 'main' | 'query worker' | 'traffic simulator' | 'other';

export interface ThreadCpu {
	readonly tid: number;
	readonly comm: string;
	readonly role: ThreadRole;
	/** Seen waiting in epoll_wait, as an event loop does. */
	readonly eventLoop: boolean;
	readonly cpuS: number;
	readonly percentOfCore: number;
}

export interface ChildCpu {
	readonly pid: number;
	readonly command: string;
	readonly role: 'traffic simulator' | 'other';
	readonly cpuS: number;
	readonly percentOfCore: number;
}

export interface CpuResults {
	readonly command: string;
	readonly readyAfterS: number;
	readonly wallS: number;
	readonly clockTicksPerS: number;
	/** The target figure: relaytop's process, every thread of it. */
	readonly processPercentOfCore: number;
	/** null when the threads could not be told apart (see threadNote). */
	readonly byThread: {readonly main: number; readonly queryWorker: number; readonly simulatorThread: number | null; readonly otherThreads: number} | null;
	readonly threadNote: string;
	/** Where the demo's traffic simulator ran, and its CPU there. */
	readonly simulator: {readonly runsAs: 'own process' | 'thread of relaytop' | 'not found'; readonly percentOfCore: number | null};
	readonly threads: readonly ThreadCpu[];
	readonly childProcesses: readonly ChildCpu[];
	/** relaytop's process, in percent of one core, per CURVE_EVERY_S window. */
	readonly curve: ReadonlyArray<{readonly fromS: number; readonly toS: number; readonly percentOfCore: number}>;
	readonly stop: StopReport;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

function cpuTicksOrNull(pid: number): number | null {
	try {
		return processCpuTicks(pid);
	} catch {
		return null; // exited
	}
}

export async function runCpuBenchmark(settings: CpuSettings, log: (line: string) => void): Promise<CpuResults> {
	log(`relaytop demo CPU: --interval ${settings.intervalS}, ${settings.warmUpS} s warm-up + ${settings.durationS} s in tmux…`);
	const ticksPerS = clockTicksPerSecond();
	const run = await startRelaytop(['--interval', String(settings.intervalS)]);
	let measured: Omit<CpuResults, 'stop'>;
	try {
		const pid = run.pid;
		const eventLoops = new Set<number>();
		const classify = (threads: readonly ThreadSample[]) => {
			for (const thread of threads) {
				if (thread.wchan.includes('epoll')) eventLoops.add(thread.tid);
			}
		};
		const watch = async (untilMs: number, onTick?: (now: number) => void) => {
			while (performance.now() < untilMs) {
				classify(threadsOf(pid));
				onTick?.(performance.now());
				await sleep(Math.min(CLASSIFY_EVERY_MS, Math.max(0, untilMs - performance.now())));
			}
		};

		await watch(performance.now() + settings.warmUpS * 1000);
		const children = run.children();
		const before = threadsOf(pid);
		const totalBefore = processCpuTicks(pid);
		const childrenBefore = children.map(child => cpuTicksOrNull(child.pid));
		const started = performance.now();
		const curve: Array<{fromS: number; toS: number; percentOfCore: number}> = [];
		let window = {at: started, ticks: totalBefore};
		await watch(started + settings.durationS * 1000, now => {
			if (now - window.at >= CURVE_EVERY_S * 1000) {
				const ticks = processCpuTicks(pid);
				curve.push({fromS: round((window.at - started) / 1000, 1), toS: round((now - started) / 1000, 1), percentOfCore: round(((ticks - window.ticks) / ticksPerS / ((now - window.at) / 1000)) * 100)});
				window = {at: now, ticks};
			}
		});
		const after = threadsOf(pid);
		const totalAfter = processCpuTicks(pid);
		const childrenAfter = children.map(child => cpuTicksOrNull(child.pid));
		const wallS = (performance.now() - started) / 1000;
		classify(after);
		const percent = (ticks: number) => round((ticks / ticksPerS / wallS) * 100);

		const main = after.find(thread => thread.tid === pid);
		const title = main?.comm ?? '?';
		const workers = after.filter(thread => thread.tid !== pid && eventLoops.has(thread.tid) && thread.comm === title && title !== 'node');
		// None: the demo on PostgreSQL, whose queries need no worker thread.
		const identified = main !== undefined && workers.length <= 2;
		const roleOf = (thread: ThreadSample): ThreadRole => {
			if (thread.tid === pid) return 'main';
			if (identified && workers.length > 0 && thread.tid === workers.at(-1)!.tid) return 'query worker';
			if (identified && workers.length === 2 && thread.tid === workers[0]!.tid) return 'traffic simulator';
			return 'other';
		};
		const threads = after.map((thread): ThreadCpu => {
			const ticks = thread.cpuTicks - (before.find(earlier => earlier.tid === thread.tid)?.cpuTicks ?? 0);
			return {tid: thread.tid, comm: thread.comm, role: roleOf(thread), eventLoop: eventLoops.has(thread.tid), cpuS: round(ticks / ticksPerS), percentOfCore: percent(ticks)};
		});
		const childProcesses = children.flatMap((child, index): ChildCpu[] => {
			const [ticksBefore, ticksAfter] = [childrenBefore[index], childrenAfter[index]];
			if (ticksBefore === null || ticksBefore === undefined || ticksAfter === null || ticksAfter === undefined) return [];
			const ticks = ticksAfter - ticksBefore;
			return [{pid: child.pid, command: child.command, role: /traffic-/u.test(child.command) ? 'traffic simulator' : 'other', cpuS: round(ticks / ticksPerS), percentOfCore: percent(ticks)}];
		});
		const roleTotal = (role: ThreadRole) => round(threads.filter(thread => thread.role === role).reduce((sum, thread) => sum + thread.percentOfCore, 0));
		const processPercent = percent(totalAfter - totalBefore);
		const simulatorProcess = childProcesses.find(child => child.role === 'traffic simulator');
		const simulatorThread = identified && workers.length === 2;
		measured = {
			command: run.command,
			readyAfterS: round(run.readyAfterMs / 1000),
			wallS: round(wallS),
			clockTicksPerS: ticksPerS,
			processPercentOfCore: processPercent,
			byThread: identified
				? {
						main: roleTotal('main'),
						queryWorker: roleTotal('query worker'),
						simulatorThread: simulatorThread ? roleTotal('traffic simulator') : null,
						// The rest of the process: V8's platform threads (GC among them), libuv's pool, exited threads.
						otherThreads: round(processPercent - roleTotal('main') - roleTotal('query worker') - roleTotal('traffic simulator')),
					}
				: null,
			threadNote: identified
				? `threads have no names of their own (comm is "node", or "${title}" for those created after meow set process.title); worker threads were told apart as the event-loop (epoll-waiting) threads named "${title}": ${workers.map(thread => `tid ${thread.tid} ${roleOf(thread)}`).join(', ')}`
				: `the worker threads could not be told apart (${workers.length} epoll-waiting threads named "${title}", at most 2 expected): only the process total is reported`,
			simulator: simulatorProcess !== undefined
				? {runsAs: 'own process', percentOfCore: simulatorProcess.percentOfCore}
				: simulatorThread
					? {runsAs: 'thread of relaytop', percentOfCore: roleTotal('traffic simulator')}
					: {runsAs: 'not found', percentOfCore: null},
			threads,
			childProcesses,
			curve,
		};
	} catch (error) {
		await run.stop();
		throw error;
	}
	return {...measured, stop: await run.stop()};
}

export const cpuResultsFile = (settings: CpuSettings, results: CpuResults) => ({
	benchmark: `CPU of the relaytop demo process (no target) in a 200×60 tmux pane, overview view, --interval ${settings.intervalS}`,
	target: '≤ 3 % of one core',
	sizes: {warmUpS: settings.warmUpS, durationS: settings.durationS, intervalS: settings.intervalS},
	method: 'utime + stime from /proc/<pid>/stat (the process, and each child process) and /proc/<pid>/task/<tid>/stat (each thread), in clock ticks, over durationS after warmUpS from the first screen with data, divided by wall time',
	...results,
});

export function cpuTable(settings: CpuSettings, results: CpuResults): string {
	const percent = (value: number | null | undefined) => (value === null || value === undefined ? '-' : value.toFixed(2));
	const simulator = results.simulator.runsAs === 'own process' ? 'simulator (own process)' : 'simulator';
	return textTable(
		['relaytop demo CPU (% of a core)', 'over s', 'relaytop process', 'main', 'query worker', 'other threads', simulator],
		[
			[
				`--interval ${settings.intervalS}`,
				String(settings.durationS),
				percent(results.processPercentOfCore),
				percent(results.byThread?.main),
				percent(results.byThread?.queryWorker),
				percent(results.byThread?.otherThreads),
				percent(results.simulator.percentOfCore),
			],
		],
	);
}
