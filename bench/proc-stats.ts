import {execFileSync} from 'node:child_process';
import {existsSync, readdirSync, readFileSync} from 'node:fs';

// What Linux's /proc says about a process and its threads: memory from status, CPU time from stat.

export const procAvailable = (): boolean => existsSync('/proc/self/status') && existsSync('/proc/self/task');

let clockTicks: number | undefined;

/** Clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
	if (clockTicks === undefined) {
		const reported = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim());
		clockTicks = Number.isInteger(reported) && reported > 0 ? reported : 100;
	}
	return clockTicks;
}

export interface Memory {
	/** Resident set size now, in KB. */
	readonly rssKb: number;
	/** The peak resident set size so far, in KB. */
	readonly hwmKb: number;
}

export function memoryOf(pid: number): Memory {
	const status = readFileSync(`/proc/${pid}/status`, 'utf8');
	const field = (name: string): number => {
		const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'mu').exec(status);
		if (match === null) {
			throw new Error(`/proc/${pid}/status has no ${name}`);
		}
		return Number(match[1]);
	};
	return {rssKb: field('VmRSS'), hwmKb: field('VmHWM')};
}

interface Stat {
	readonly comm: string;
	readonly state: string;
	/** utime + stime, in clock ticks. */
	readonly cpuTicks: number;
	/** Since boot, in clock ticks. */
	readonly startTicks: number;
}

/** /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat. The name is in parentheses and may hold spaces. */
function parseStat(path: string): Stat {
	const text = readFileSync(path, 'utf8');
	const open = text.indexOf('(');
	const close = text.lastIndexOf(')');
	// Fields from the state on: state is field 3, utime 14, stime 15, starttime 22 (1-based).
	const fields = text.slice(close + 2).trim().split(' ');
	const field = (number: number): string => fields[number - 3]!;
	return {comm: text.slice(open + 1, close), state: field(3), cpuTicks: Number(field(14)) + Number(field(15)), startTicks: Number(field(22))};
}

/** The process's CPU time, all threads, living and exited, in clock ticks. */
export const processCpuTicks = (pid: number): number => parseStat(`/proc/${pid}/stat`).cpuTicks;

export interface ThreadSample {
	readonly tid: number;
	readonly comm: string;
	readonly cpuTicks: number;
	readonly startTicks: number;
	/** Where the thread sleeps in the kernel ('do_epoll_wait', 'futex_wait_queue'…), '0' when running. */
	readonly wchan: string;
}

export function threadsOf(pid: number): ThreadSample[] {
	const samples: ThreadSample[] = [];
	for (const name of readdirSync(`/proc/${pid}/task`)) {
		try {
			const stat = parseStat(`/proc/${pid}/task/${name}/stat`);
			let wchan = '?';
			try {
				wchan = readFileSync(`/proc/${pid}/task/${name}/wchan`, 'utf8').trim();
			} catch {
				// unreadable here: left as '?'
			}
			samples.push({tid: Number(name), comm: stat.comm, cpuTicks: stat.cpuTicks, startTicks: stat.startTicks, wchan});
		} catch {
			// the thread ended between the listing and the read
		}
	}
	return samples.sort((a, b) => a.tid - b.tid);
}

/** The process is gone, or a zombie no one has reaped yet. */
export function hasExited(pid: number): boolean {
	try {
		return parseStat(`/proc/${pid}/stat`).state === 'Z';
	} catch {
		return true;
	}
}
