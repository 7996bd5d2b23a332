import {readdirSync, readFileSync} from 'node:fs';
import {setTimeout as sleep} from 'node:timers/promises';
import {clockTicksPerSecond, procAvailable} from './proc-stats.js';

// How busy the machine was apart from the benchmark (other engineers' test suites may run meanwhile):
// the whole machine's CPU from /proc/stat, less this process's and the embedded server's (the
// postmaster, its live backends, and the backends it has reaped: cutime + cstime).

interface ProcStat {
	readonly ppid: number;
	/** utime + stime */
	readonly own: number;
	/** cutime + cstime: children waited for. */
	readonly children: number;
}

function procStat(pid: number | 'self'): ProcStat | null {
	try {
		const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
		const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
		const field = (number: number) => Number(fields[number - 3]);
		return {ppid: field(4), own: field(14) + field(15), children: field(16) + field(17)};
	} catch {
		return null; // gone meanwhile
	}
}

const pids = (): number[] => readdirSync('/proc').filter(name => /^\d+$/u.test(name)).map(Number);

function systemTicks(): {busy: number; total: number} {
	const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
	const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/u).slice(1).map(Number) as number[];
	const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
	return {busy, total: busy + idle! + iowait!};
}

export interface CpuSnapshot {
	readonly atMs: number;
	readonly busy: number;
	readonly total: number;
	readonly own: number;
	readonly server: number;
}

export function cpuSnapshot(serverPid: number | null): CpuSnapshot | null {
	if (!procAvailable()) return null;
	const system = systemTicks();
	const self = procStat('self');
	let server = 0;
	if (serverPid !== null) {
		const postmaster = procStat(serverPid);
		server = postmaster === null ? 0 : postmaster.own + postmaster.children;
		for (const pid of pids()) {
			const stat = procStat(pid);
			if (stat !== null && stat.ppid === serverPid) server += stat.own;
		}
	}
	return {atMs: performance.now(), busy: system.busy, total: system.total, own: self === null ? 0 : self.own + self.children, server};
}

export interface CpuShare {
	readonly wallS: number;
	/** Of the whole machine (all CPUs = 100 %). */
	readonly machineBusyPercent: number;
	/** In percent of one core. */
	readonly benchmarkPercentOfCore: number;
	readonly serverPercentOfCore: number;
	/** Everything else: other processes, the kernel on their behalf. */
	readonly othersPercentOfCore: number;
}

export function cpuShare(from: CpuSnapshot | null, to: CpuSnapshot | null): CpuShare | null {
	if (from === null || to === null) return null;
	const wallS = (to.atMs - from.atMs) / 1000;
	const perCore = (ticks: number) => Number(((ticks / clockTicksPerSecond() / wallS) * 100).toFixed(1));
	const busy = to.busy - from.busy;
	const own = to.own - from.own;
	const server = to.server - from.server;
	return {
		wallS: Number(wallS.toFixed(1)),
		machineBusyPercent: Number(((busy / Math.max(1, to.total - from.total)) * 100).toFixed(1)),
		benchmarkPercentOfCore: perCore(own),
		serverPercentOfCore: perCore(server),
		othersPercentOfCore: perCore(Math.max(0, busy - own - server)),
	};
}

export interface IdleSample {
	readonly seconds: number;
	readonly machineBusyPercent: number;
	/** The busiest other processes over the window, percent of one core. */
	readonly top: ReadonlyArray<{readonly pid: number; readonly command: string; readonly percentOfCore: number}>;
}

function command(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 100);
	} catch {
		return '?';
	}
}

/** The machine while the benchmark does nothing: who else is using the CPUs. */
export async function idleSample(seconds: number): Promise<IdleSample | null> {
	if (!procAvailable()) return null;
	const before = new Map(pids().map(pid => [pid, procStat(pid)?.own ?? 0]));
	const system = systemTicks();
	await sleep(seconds * 1000);
	const after = systemTicks();
	const top = pids()
		.filter(pid => pid !== process.pid)
		.map(pid => ({pid, ticks: (procStat(pid)?.own ?? 0) - (before.get(pid) ?? 0)}))
		.filter(entry => entry.ticks > 0)
		.sort((a, b) => b.ticks - a.ticks)
		.slice(0, 5)
		.map(entry => ({pid: entry.pid, command: command(entry.pid), percentOfCore: Number(((entry.ticks / clockTicksPerSecond() / seconds) * 100).toFixed(1))}));
	return {seconds, machineBusyPercent: Number((((after.busy - system.busy) / Math.max(1, after.total - system.total)) * 100).toFixed(1)), top};
}

export interface OtherProcess {
	readonly command: string;
	readonly cpuS: number;
	readonly percentOfCore: number;
}

export interface OthersSampler {
	/** The busiest other commands over the window (processes not this one, not the server's). */
	stop(): OtherProcess[];
}

function statWithStart(pid: number): {ppid: number; own: number; start: number; comm: string} | null {
	try {
		const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
		const fields = text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
		const field = (number: number) => Number(fields[number - 3]);
		return {ppid: field(4), own: field(14) + field(15), start: field(22), comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'))};
	} catch {
		return null;
	}
}

/**
 * Samples every process every `everyMs` and adds up the CPU of the others by command: names who
 * else kept the machine busy. A process that lives less than one interval is missed.
 */
export function startOthersSampler(serverPid: number | null, everyMs = 2000): OthersSampler | null {
	if (!procAvailable()) return null;
	const ticks = clockTicksPerSecond();
	const uptimeTicks = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * ticks;
	const startedTicks = uptimeTicks();
	const startedMs = performance.now();
	const seen = new Map<number, number>();
	const byCommand = new Map<string, number>();
	const sample = () => {
		for (const pid of pids()) {
			if (pid === process.pid || pid === serverPid) continue;
			const stat = statWithStart(pid);
			if (stat === null || (serverPid !== null && stat.ppid === serverPid)) continue;
			const before = seen.get(pid) ?? (stat.start >= startedTicks ? 0 : stat.own);
			seen.set(pid, stat.own);
			if (stat.own > before) {
				const key = command(pid) || `[${stat.comm}]`;
				byCommand.set(key, (byCommand.get(key) ?? 0) + stat.own - before);
			}
		}
	};
	sample();
	const timer = setInterval(sample, everyMs);
	timer.unref();
	return {
		stop() {
			clearInterval(timer);
			sample();
			const wallS = (performance.now() - startedMs) / 1000;
			return [...byCommand]
				.sort((a, b) => b[1] - a[1])
				.slice(0, 6)
				.map(([name, used]) => ({command: name.slice(0, 100), cpuS: Number((used / ticks).toFixed(1)), percentOfCore: Number(((used / ticks / wallS) * 100).toFixed(1))}));
		},
	};
}
