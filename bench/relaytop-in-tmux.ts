import {execFileSync} from 'node:child_process';
import {mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join, relative} from 'node:path';
import {packageRoot} from '../source/fixtures/fixture-files.js';
import {hasExited} from './proc-stats.js';

// The real `relaytop` binary in a real terminal (tmux), as an operator runs it, for the process
// benchmarks. Whatever happens, the session and the process are gone at the end: stop() on the
// normal path, and exit and signal handlers if the benchmark itself dies.

export const TMUX_SIZE = {columns: 200, rows: 60} as const;

const READY_TIMEOUT_MS = 60_000;
/** The demo may take up to 10 s to stop its simulator (SQLite's busy wait); then a signal. */
const QUIT_TIMEOUT_MS = 20_000;
const KILL_TIMEOUT_MS = 5_000;

const tmux = (...args: string[]): string => execFileSync('tmux', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

export function tmuxAvailable(): boolean {
	try {
		tmux('-V');
		return true;
	} catch {
		return false;
	}
}

export interface StopReport {
	/** It quit on `q` by itself, within the time allowed. */
	readonly quitOnQ: boolean;
	readonly exitCode: number | null;
	/** The demo's temporary store copy was gone afterwards. */
	readonly demoCopyRemoved: boolean;
	/** Processes relaytop had started that were still running 5 s after it exited (then killed). */
	readonly childrenLeftRunning: number;
}

export interface RelaytopRun {
	readonly pid: number;
	/** The command as run, paths relative to the package. */
	readonly command: string;
	/** From starting tmux to the first screen with the demo's data. */
	readonly readyAfterMs: number;
	screen(): string;
	/** The node processes relaytop started (the demo's traffic simulator runs as one), now. */
	children(): ChildProcess[];
	/** Sends `q`, waits for the exit, then removes whatever is left; safe to call more than once. */
	stop(): Promise<StopReport>;
}

function parentOf(pid: number): number | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
	} catch {
		return undefined;
	}
}

/** The processes under `root`, itself included. */
function familyOf(root: number): Set<number> {
	const all = readdirSync('/proc').filter(name => /^\d+$/u.test(name)).map(Number);
	const family = new Set([root]);
	for (let grew = true; grew; ) {
		grew = false;
		for (const pid of all) {
			const parent = parentOf(pid);
			if (!family.has(pid) && parent !== undefined && family.has(parent)) {
				family.add(pid);
				grew = true;
			}
		}
	}
	return family;
}

function isNode(pid: number): boolean {
	try {
		return readlinkSync(`/proc/${pid}/exe`) === realpathSync(process.execPath);
	} catch {
		return false;
	}
}

function commandLineOf(pid: number): string {
	try {
		// Results are committed: a password in a URL on a command line never reaches them.
		return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().replace(/(\/\/[^\s:/@]+:)[^\s@]+@/gu, '$1***@');
	} catch {
		return '';
	}
}

/** The node process running under the pane: the pane's shell runs it as a child (or is it, after exec). */
function findNodeProcess(panePid: number): number | undefined {
	const matches = [...familyOf(panePid)].filter(isNode);
	return matches.length === 1 ? matches[0] : undefined;
}

export interface ChildProcess {
	readonly pid: number;
	/** Its command line, package paths relative. */
	readonly command: string;
}

async function until<T>(what: string, timeoutMs: number, check: () => T | undefined, lastWords: () => string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = check();
		if (value !== undefined) {
			return value;
		}
		if (Date.now() > deadline) {
			throw new Error(`${what} not within ${timeoutMs / 1000} s; ${lastWords()}`);
		}
		await sleep(100);
	}
}

/** The node flags in a script's `#!/usr/bin/env -S node …` line: relaytop runs as its bin would. */
function nodeFlagsOf(script: string): string[] {
	const [first = ''] = readFileSync(script, 'utf8').split('\n', 1);
	const words = first.replace(/^#!\s*/u, '').split(/\s+/u);
	return words.slice(words.indexOf('node') + 1);
}

/**
 * Starts `relaytop <args>` (no target: the moving demo) in a detached tmux session of TMUX_SIZE and
 * resolves once its overview shows data. CI is unset for it, as Ink draws only the last frame in CI.
 */
export async function startRelaytop(args: readonly string[]): Promise<RelaytopRun> {
	const root = packageRoot();
	const cli = join(root, 'dist', 'source', 'cli.js');
	const session = `relaytop-bench-${process.pid}-${Date.now()}`;
	// The demo's temporary copy goes to a folder of ours, so we can see it removed on quit.
	const scratch = mkdtempSync(join(tmpdir(), 'relaytop-bench-'));
	const relaytop = [process.execPath, ...nodeFlagsOf(cli), cli, ...args].map(quote).join(' ');
	const command = `env -u CI TMPDIR=${quote(scratch)} ${relaytop}; echo "relaytop exited with $?"; sleep 600`;

	let pid: number | undefined;
	/** relaytop's own child processes, as last seen: orphans once it exits, so remembered. */
	let children: number[] = [];
	let cleaned = false;
	const screen = () => {
		try {
			return tmux('capture-pane', '-p', '-t', session);
		} catch {
			return '';
		}
	};
	/** Synchronous, so it can run from an exit handler too. */
	const cleanUp = () => {
		if (cleaned) return;
		cleaned = true;
		for (const leftover of [...(pid === undefined ? [] : [pid]), ...children]) {
			if (!hasExited(leftover)) {
				try {
					process.kill(leftover, 'SIGKILL');
				} catch {
					// already gone
				}
			}
		}
		try {
			tmux('kill-session', '-t', session);
		} catch {
			// already gone
		}
		rmSync(scratch, {recursive: true, force: true});
	};
	const onExit = () => cleanUp();
	const onSignal = (signal: NodeJS.Signals) => {
		cleanUp();
		process.exit(signal === 'SIGINT' ? 130 : 143);
	};
	const unregister = () => {
		process.off('exit', onExit);
		process.off('SIGINT', onSignal);
		process.off('SIGTERM', onSignal);
	};
	process.on('exit', onExit);
	process.once('SIGINT', onSignal);
	process.once('SIGTERM', onSignal);

	const started = performance.now();
	try {
		tmux('new-session', '-d', '-s', session, '-x', String(TMUX_SIZE.columns), '-y', String(TMUX_SIZE.rows), command);
		const panePid = Number(tmux('list-panes', '-t', session, '-F', '#{pane_pid}').trim().split('\n')[0]);
		pid = await until('relaytop’s node process', 10_000, () => findNodeProcess(panePid), () => `pane ${panePid}; the screen:\n${screen()}`);
		await until('the overview with data', READY_TIMEOUT_MS, () => (/requests\/min/u.test(screen()) && /rpm [1-9]/u.test(screen()) ? true : undefined), () => `the screen:\n${screen()}`);
	} catch (error) {
		cleanUp();
		unregister();
		throw error;
	}
	const readyAfterMs = performance.now() - started;
	const nodePid = pid;
	const findChildren = () => [...familyOf(nodePid)].filter(child => child !== nodePid && isNode(child));

	let stopping: Promise<StopReport> | undefined;
	const stop = async (): Promise<StopReport> => {
		try {
			children = findChildren();
			let quitOnQ = false;
			if (!hasExited(nodePid)) {
				tmux('send-keys', '-t', session, 'q');
				const deadline = Date.now() + QUIT_TIMEOUT_MS;
				while (!hasExited(nodePid) && Date.now() < deadline) {
					await sleep(100);
				}
				quitOnQ = hasExited(nodePid);
			}
			if (!quitOnQ && !hasExited(nodePid)) {
				try {
					process.kill(nodePid, 'SIGTERM'); // the demo removes its copy on SIGTERM
				} catch {
					// it exited meanwhile
				}
				const deadline = Date.now() + KILL_TIMEOUT_MS;
				while (!hasExited(nodePid) && Date.now() < deadline) {
					await sleep(100);
				}
			}
			let exitCode: number | null = null;
			try {
				const exitLine = await until('the exit line', 5_000, () => /relaytop exited with (\d+)/u.exec(screen())?.[1], () => '');
				exitCode = Number(exitLine);
			} catch {
				// the shell did not get to say it
			}
			const deadline = Date.now() + KILL_TIMEOUT_MS;
			while (children.some(child => !hasExited(child)) && Date.now() < deadline) {
				await sleep(100);
			}
			const childrenLeftRunning = children.filter(child => !hasExited(child)).length;
			const demoCopyRemoved = readdirSync(scratch).every(name => !name.startsWith('relaytop-demo-'));
			return {quitOnQ, exitCode, demoCopyRemoved, childrenLeftRunning};
		} finally {
			cleanUp();
			unregister();
		}
	};

	return {
		pid: nodePid,
		command: `tmux new-session -x ${TMUX_SIZE.columns} -y ${TMUX_SIZE.rows} "env -u CI node ${relative(root, cli)}${args.length === 0 ? '' : ` ${args.join(' ')}`}"`,
		readyAfterMs,
		screen,
		children: () => {
			children = findChildren();
			return children.map(child => ({pid: child, command: commandLineOf(child).replaceAll(`${root}/`, '')}));
		},
		stop: () => (stopping ??= stop()),
	};
}
