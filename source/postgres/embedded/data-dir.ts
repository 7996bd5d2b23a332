import {execFileSync, spawn} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {homedir} from 'node:os';
import {basename, dirname, join} from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import {canReach, type RunAs} from './os-user.js';

/** Written by us into every data folder we initialise: the marker that the folder is ours to wipe. */
const MARKER = 'relaytop-embedded.json';

interface Marker {
	readonly major: number;
	readonly password: string;
}

/** Folders the server's user must enter get this mode when we create them. */
const SHARED_MODE = 0o755;

function nearestExisting(path: string): string {
	while (!existsSync(path) && dirname(path) !== path) {
		path = dirname(path);
	}
	return path;
}

/**
 * Where data folders live by default: the user's cache folder (as fixture-files.ts falls back
 * to), or, when the server runs as another OS user who cannot enter it (root's home is mode 700),
 * /var/tmp/relaytop-postgres.
 */
export function defaultBaseFolder(runAs: RunAs | undefined): string {
	const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'relaytop', 'postgres');
	if (runAs === undefined) {
		return cache;
	}
	for (const folder of [cache, '/var/tmp/relaytop-postgres']) {
		try {
			if (!canReach(runAs, nearestExisting(folder))) {
				continue; // do not even create it
			}
			mkdirSync(folder, {recursive: true});
			chmodSync(folder, SHARED_MODE);
			if (canReach(runAs, folder)) {
				return folder;
			}
		} catch {
			// try the next one
		}
	}
	throw new Error(`found no folder the "${runAs.name}" OS user can enter for the data folder: pass dataDir`);
}

/** Whether process `pid` runs; a zombie (dead, not yet reaped: common right after a kill) does not. */
export const isAlive = (pid: number): boolean => {
	try {
		process.kill(pid, 0);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EPERM') {
			return false;
		}
	}
	if (!existsSync('/proc/self/stat')) {
		return true;
	}
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		return stat[stat.lastIndexOf(')') + 2] !== 'Z';
	} catch {
		return false;
	}
};

const readPid = (file: string): number | undefined => {
	try {
		const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
		return Number.isInteger(pid) && pid > 0 ? pid : undefined;
	} catch {
		return undefined;
	}
};

const isFresh = (file: string): boolean => {
	try {
		return Date.now() - statSync(file).mtimeMs < 5_000;
	} catch {
		return false;
	}
};

/** An exclusive claim on a data folder by this process: `<dataDir>.lock` holding "pid token". */
export interface FolderLock {
	release(): void;
}

/**
 * Claims `dataDir`, or returns undefined when a live process holds it. A lock left by a dead
 * process is taken over: renamed away first, so of two processes finding the same stale lock
 * only one takes it. (A pid reused by an unrelated process reads as held: the caller then uses
 * a private folder, which is slower but safe.)
 */
export function lockFolder(dataDir: string): FolderLock | undefined {
	const path = `${dataDir}.lock`;
	const token = `${process.pid} ${randomBytes(6).toString('hex')}\n`;
	for (let attempt = 0; attempt < 3; attempt++) {
		try {
			writeFileSync(path, token, {flag: 'wx', mode: 0o644});
			return {
				release: () => {
					try {
						if (readFileSync(path, 'utf8') === token) {
							rmSync(path, {force: true});
						}
					} catch {
						// already gone
					}
				},
			};
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		}
		const owner = readPid(path);
		if (owner === undefined ? isFresh(path) : isAlive(owner)) {
			return undefined; // held (an empty lock may be one being written right now)
		}
		const stale = `${path}.stale-${process.pid}`;
		try {
			renameSync(path, stale);
		} catch {
			continue; // someone else took it over first: try again
		}
		const taken = readPid(stale);
		if (taken !== undefined && taken !== owner && isAlive(taken)) {
			// a live process re-locked between our read and our rename: give its lock back
			try {
				renameSync(stale, path);
			} catch {
				// nothing more we can do
			}
			return undefined;
		}
		rmSync(stale, {force: true});
	}
	return undefined;
}

/** Whether process `pid` is a postgres started with `-D dataDir`. */
function runsOn(pid: number, dataDir: string): boolean {
	try {
		const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
		return args.some((arg, index) => arg === '-D' && args[index + 1] === dataDir);
	} catch {
		try {
			return ` ${execFileSync('ps', ['-o', 'command=', '-p', String(pid)], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim()} `.includes(` -D ${dataDir} `);
		} catch {
			return false;
		}
	}
}

/** Sends `signal` to `pid` and waits up to `ms` for it to end; true when it ended. */
export async function signalAndWait(pid: number, signal: NodeJS.Signals, ms: number): Promise<boolean> {
	try {
		process.kill(pid, signal);
	} catch {
		return !isAlive(pid);
	}
	for (const end = Date.now() + ms; Date.now() < end; await delay(25)) {
		if (!isAlive(pid)) {
			return true;
		}
	}
	return !isAlive(pid);
}

/**
 * Clears what a killed earlier run left in a data folder we now hold the lock of. A postmaster
 * still running on it is an orphan (its owner is gone, or we would not hold the lock): it gets
 * a fast shutdown. A postmaster.pid naming a dead process, or a process that is not a postmaster
 * of this folder (the pid was reused), is removed: PostgreSQL would refuse to start while its
 * pid is alive.
 */
export async function clearLeftovers(dataDir: string): Promise<void> {
	const pidFile = join(dataDir, 'postmaster.pid');
	const pid = readPid(pidFile);
	if (pid === undefined) {
		rmSync(pidFile, {force: true});
		return;
	}
	if (isAlive(pid) && runsOn(pid, dataDir)) {
		const ended = (await signalAndWait(pid, 'SIGINT', 15_000)) || (await signalAndWait(pid, 'SIGQUIT', 5_000)) || (await signalAndWait(pid, 'SIGKILL', 5_000));
		if (!ended) {
			throw new Error(`an earlier PostgreSQL (pid ${pid}) still runs on ${dataDir} and does not stop`);
		}
	}
	rmSync(pidFile, {force: true});
}

/** A private data folder name: `pg<major>-tmp-<pid>-<random>` beside the shared ones. */
export const privateFolder = (base: string, major: number): string => join(base, `pg${major}-tmp-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Removes private folders (and their logs) whose process is gone and whose server is not running. */
export function sweepPrivateFolders(base: string): void {
	let names: string[];
	try {
		names = readdirSync(base);
	} catch {
		return;
	}
	for (const name of names) {
		const match = /^pg\d+-tmp-(\d+)-[0-9a-f]+$/u.exec(name);
		if (match === null || isAlive(Number(match[1]))) {
			continue;
		}
		const folder = join(base, name);
		const postmaster = readPid(join(folder, 'postmaster.pid'));
		if (postmaster !== undefined && isAlive(postmaster)) {
			continue;
		}
		rmSync(folder, {recursive: true, force: true});
		rmSync(`${folder}.log`, {force: true});
	}
}

function ownBy(path: string, runAs: RunAs | undefined): void {
	if (runAs !== undefined) {
		chownSync(path, runAs.uid, runAs.gid);
	}
}

const runToEnd = (command: string, args: string[], options: {runAs: RunAs | undefined; logFd: number; env: NodeJS.ProcessEnv}): Promise<number | null> =>
	new Promise((resolve, reject) => {
		const child = spawn(command, args, {
			stdio: ['ignore', options.logFd, options.logFd],
			env: options.env,
			...(options.runAs === undefined ? {} : {uid: options.runAs.uid, gid: options.runAs.gid}),
		});
		child.on('error', reject);
		child.on('exit', code => resolve(code));
	});

export interface PreparedFolder {
	readonly password: string;
	/** Whether an existing cluster is reused (false: initialised now). */
	readonly reused: boolean;
}

function readMarker(dataDir: string): Marker | undefined {
	try {
		const marker = JSON.parse(readFileSync(join(dataDir, MARKER), 'utf8')) as Partial<Marker>;
		return typeof marker.major === 'number' && typeof marker.password === 'string' ? (marker as Marker) : undefined;
	} catch {
		return undefined;
	}
}

/** The tail of a log file, for error messages: its last FATAL/PANIC/ERROR line, or its last line. */
export function logReason(logFile: string, from = 0): string {
	let text = '';
	try {
		text = readFileSync(logFile, 'utf8').slice(from);
	} catch {
		return 'no log';
	}
	const lines = text.split('\n').map(line => line.trim()).filter(line => line !== '');
	const serious = lines.filter(line => /\b(FATAL|PANIC|ERROR)\b|initdb: error|could not|cannot/u.test(line));
	const line = serious.at(-1) ?? lines.at(-1) ?? 'no output';
	return line.replace(/^\S+ \S+ \S+ \[\d+\] /u, ''); // drop the "2026-01-01 10:00:00.000 UTC [123] " prefix
}

/**
 * A data folder initialised for `major`: reused when it holds our marker for that major;
 * re-initialised when it is ours for another major, or half-made; refused when it is somebody
 * else's non-empty folder. initdb writes into a sibling that is renamed into place, so a killed
 * initdb never leaves a half cluster under the real name.
 */
export async function prepareFolder(dataDir: string, options: {major: number; binDir: string; runAs: RunAs | undefined; logFile: string; env: NodeJS.ProcessEnv}): Promise<PreparedFolder> {
	if (existsSync(dataDir)) {
		const marker = readMarker(dataDir);
		let version = '';
		try {
			version = readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim();
		} catch {
			// not a cluster
		}
		if (marker !== undefined && marker.major === options.major && version === String(options.major)) {
			await clearLeftovers(dataDir);
			return {password: marker.password, reused: true};
		}
		if (marker === undefined && readdirSync(dataDir).length > 0) {
			throw new Error(`${dataDir} is not empty and was not made by relaytop: refusing to use it as a data folder`);
		}
		await clearLeftovers(dataDir);
		rmSync(dataDir, {recursive: true, force: true});
	}
	const parent = dirname(dataDir);
	mkdirSync(parent, {recursive: true});
	if (options.runAs !== undefined && !canReach(options.runAs, parent)) {
		throw new Error(`the "${options.runAs.name}" OS user cannot enter ${parent}: choose a data folder it can reach`);
	}
	const staging = join(parent, `.${basename(dataDir)}.init-${process.pid}`);
	const passwordFile = `${staging}.password`;
	rmSync(staging, {recursive: true, force: true});
	mkdirSync(staging, {mode: 0o700});
	ownBy(staging, options.runAs);
	const password = randomBytes(18).toString('base64url');
	writeFileSync(passwordFile, `${password}\n`, {mode: 0o600});
	ownBy(passwordFile, options.runAs);
	const logFd = openSync(options.logFile, 'a');
	const logStart = statSync(options.logFile).size;
	try {
		const code = await runToEnd(join(options.binDir, 'initdb'), ['-D', staging, '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256', `--pwfile=${passwordFile}`, '-E', 'UTF8', '--locale=C', '--no-sync'], {runAs: options.runAs, logFd, env: options.env});
		if (code !== 0) {
			throw new Error(`initdb failed (exit ${code}): ${logReason(options.logFile, logStart)}`);
		}
		writeFileSync(join(staging, MARKER), `${JSON.stringify({major: options.major, password} satisfies Marker)}\n`, {mode: 0o600});
		ownBy(join(staging, MARKER), options.runAs);
		renameSync(staging, dataDir);
	} catch (error) {
		rmSync(staging, {recursive: true, force: true});
		throw error;
	} finally {
		closeSync(logFd);
		rmSync(passwordFile, {force: true});
	}
	return {password, reused: false};
}
