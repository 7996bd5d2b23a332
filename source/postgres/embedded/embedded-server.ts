import {type ChildProcess, spawn} from 'node:child_process';
import {closeSync, existsSync, mkdirSync, openSync, rmSync, statSync, truncateSync} from 'node:fs';
import {createServer, type AddressInfo} from 'node:net';
import {platform} from 'node:os';
import {dirname, join} from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import pg from 'pg';
import {findPostgresBinaries} from './binaries.js';
import {defaultBaseFolder, type FolderLock, lockFolder, logReason, prepareFolder, privateFolder, sweepPrivateFolders} from './data-dir.js';
import {type RunAs, runAsUser} from './os-user.js';

/*
 * A throwaway PostgreSQL server for the demo and the tests, run from the binaries npm installs
 * (see binaries.ts). What it guarantees:
 * - It prints nothing: initdb's and the server's output go to `<dataDir>.log`.
 * - It listens on 127.0.0.1 only, on a port the OS picked, without a Unix socket; the superuser
 *   `postgres` logs in with a random password kept in the data folder (scram-sha-256).
 * - It does not outlive us. On Linux it is started through `setpriv --pdeathsig INT`, so the
 *   kernel asks it for a fast shutdown when the thread that started it dies, even by SIGKILL;
 *   start it from the main thread. Elsewhere a process 'exit' handler does the same on a normal
 *   exit, and a server orphaned by a killed process is shut down by the next start on its folder.
 * - Two processes never share a data folder: the second one (a lock names a live process) gets
 *   a private folder, initialised afresh and deleted at stop.
 * Not for data anyone cares about: fsync is off.
 */

export interface EmbeddedPostgresOptions {
	/** PostgreSQL major to run: the default package's, or an aliased binaries package (see binaries.ts). */
	readonly major?: number;
	/** A folder holding initdb and postgres, instead of the installed packages. */
	readonly binDir?: string;
	/**
	 * The data folder. Default: `<cache>/relaytop/postgres/pg<major>[-<name>]`, where cache is
	 * $XDG_CACHE_HOME or ~/.cache, or /var/tmp when the server's OS user cannot enter it (root).
	 */
	readonly dataDir?: string;
	/** Suffix of the default data folder, to keep clusters apart (e.g. "test"). */
	readonly name?: string;
	/** Keep the data folder for the next run (default). false: a private folder deleted at stop. */
	readonly persistent?: boolean;
	/** A fixed port; default: one the OS picks. */
	readonly port?: number;
	/** pg_stat_statements.track = all (statements inside functions too) instead of top. */
	readonly trackAllStatements?: boolean;
	/** Extra or overriding server settings, passed as `-c name=value`. */
	readonly settings?: Readonly<Record<string, string | number | boolean>>;
	/** As root: create the `postgres` OS user when it is missing (default true). */
	readonly createPostgresUser?: boolean;
	/** How long to wait for the server to accept connections (default 60 s). */
	readonly startTimeoutMs?: number;
}

export interface EmbeddedPostgres {
	/** postgres://postgres:<password>@127.0.0.1:<port>/postgres — a superuser. */
	readonly url: string;
	/** server_version_num, e.g. 180004. */
	readonly versionNum: number;
	readonly major: number;
	readonly port: number;
	readonly dataDir: string;
	/** initdb's and the server's output. */
	readonly logFile: string;
	/** Whether an existing cluster was reused (false: initialised by this start). */
	readonly reused: boolean;
	/** The postmaster's pid. */
	readonly pid: number;
	/** Fast shutdown; resolves when the server has exited. Safe to call twice. */
	stop(): Promise<void>;
}

/** Settings for a 2 GB box that also runs the dashboard; each one exists in PostgreSQL 10 to 18. */
function serverSettings(options: EmbeddedPostgresOptions): [string, string][] {
	const settings: Record<string, string> = {
		listen_addresses: '127.0.0.1',
		unix_socket_directories: '',
		max_connections: '100',
		shared_buffers: '64MB',
		max_wal_size: '256MB',
		shared_preload_libraries: 'pg_stat_statements',
		'pg_stat_statements.track': options.trackAllStatements ? 'all' : 'top',
		track_io_timing: 'on',
		fsync: 'off',
		synchronous_commit: 'off',
		full_page_writes: 'off',
		logging_collector: 'off',
		log_destination: 'stderr',
	};
	for (const [name, value] of Object.entries(options.settings ?? {})) {
		settings[name] = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
	}
	return Object.entries(settings);
}

const serverEnv = (): NodeJS.ProcessEnv => ({PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', ...(process.env.TZ === undefined ? {} : {TZ: process.env.TZ})});

const setpriv = (): string | undefined => (platform() === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find(path => existsSync(path)) : undefined);

function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.unref();
		server.on('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const {port} = server.address() as AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

const LOG_LIMIT = 5 * 1024 * 1024;

/** Why a start failed, and whether trying again can help. */
class StartFailure extends Error {
	constructor(
		message: string,
		readonly portTaken = false,
		readonly clusterBroken = false,
	) {
		super(message);
	}
}

interface Running {
	readonly child: ChildProcess;
	readonly exited: Promise<void>;
	hasExited(): boolean;
}

function launch(binDir: string, dataDir: string, port: number, settings: [string, string][], runAs: RunAs | undefined, logFile: string): Running {
	const postgres = join(binDir, 'postgres');
	const args = ['-D', dataDir, '-p', String(port), ...settings.flatMap(([name, value]) => ['-c', `${name}=${value}`])];
	const guard = setpriv();
	const logFd = openSync(logFile, 'a');
	let child: ChildProcess;
	try {
		child = spawn(guard ?? postgres, guard === undefined ? args : ['--pdeathsig', 'INT', postgres, ...args], {
			stdio: ['ignore', logFd, logFd],
			detached: true, // its own session: a Ctrl-C on our terminal is ours to handle, not the server's
			env: serverEnv(),
			...(runAs === undefined ? {} : {uid: runAs.uid, gid: runAs.gid}),
		});
	} finally {
		closeSync(logFd);
	}
	child.unref(); // does not keep us alive; stop() or our exit ends it
	let done = false;
	const exited = new Promise<void>(resolve => {
		child.on('exit', () => {
			done = true;
			resolve();
		});
		child.on('error', () => {
			done = true;
			resolve();
		});
	});
	return {child, exited, hasExited: () => done};
}

async function waitReady(running: Running, port: number, password: string, logFile: string, logStart: number, timeoutMs: number): Promise<number> {
	const end = Date.now() + timeoutMs;
	for (;;) {
		if (running.hasExited()) {
			const reason = logReason(logFile, logStart);
			throw new StartFailure(reason, /could not bind|already in use|could not create any TCP\/IP sockets/iu.test(reason), /PANIC|checkpoint record|incompatible with server|invalid (primary|secondary)? ?checkpoint/iu.test(reason));
		}
		const client = new pg.Client({host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres', connectionTimeoutMillis: 2_000});
		client.on('error', () => undefined);
		try {
			await client.connect();
			const {rows} = await client.query<{v: string}>("SELECT current_setting('server_version_num') AS v");
			return Number(rows[0]!.v);
		} catch (error) {
			const code = (error as {code?: string}).code;
			// refused: not listening yet; 57P03: starting up; reset: the port belongs to a dying process
			if (code !== 'ECONNREFUSED' && code !== '57P03' && code !== 'ECONNRESET' && !running.hasExited()) {
				throw new StartFailure(`it started but refused us: ${(error as Error).message}`);
			}
		} finally {
			await client.end().catch(() => undefined);
		}
		if (Date.now() > end) {
			throw new StartFailure(`it did not accept connections within ${Math.round(timeoutMs / 1000)} s (log: ${logFile})`);
		}
		await delay(running.hasExited() ? 0 : 40);
	}
}

/** Ends the server: fast shutdown, then immediate, then SIGKILL; resolves when it has exited. */
async function shutdown(running: Running): Promise<void> {
	running.child.ref();
	for (const [signal, ms] of [
		['SIGINT', 15_000],
		['SIGQUIT', 5_000],
		['SIGKILL', 5_000],
	] as const) {
		if (running.hasExited()) {
			return;
		}
		running.child.kill(signal);
		await Promise.race([running.exited, delay(ms, undefined, {ref: false})]); // the child's handle keeps us alive meanwhile
	}
}

async function start(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
	const runAs = runAsUser(options.createPostgresUser ?? true);
	let base: string | undefined;
	const baseFolder = (): string => (base ??= defaultBaseFolder(runAs));
	const binaries = findPostgresBinaries({
		...(options.major === undefined ? {} : {major: options.major}),
		...(options.binDir === undefined ? {} : {binDir: options.binDir}),
		...(runAs === undefined ? {} : {runAs}),
		cacheRoot: baseFolder,
	});
	const {major, binDir} = binaries;
	if (options.major !== undefined && major !== options.major) {
		throw new Error(`the binaries in ${binDir} are PostgreSQL ${major}, not ${options.major}`);
	}
	const shared = options.dataDir ?? join(baseFolder(), `pg${major}${options.name ? `-${options.name}` : ''}`);
	mkdirSync(dirname(shared), {recursive: true});
	let lock: FolderLock | undefined;
	if (options.persistent ?? true) {
		lock = lockFolder(shared);
	}
	const persistent = lock !== undefined;
	let dataDir = shared;
	if (!persistent) {
		sweepPrivateFolders(dirname(shared));
		dataDir = privateFolder(dirname(shared), major);
	}
	const logFile = `${dataDir}.log`;
	const cleanUp = (): void => {
		lock?.release();
		if (!persistent) {
			rmSync(dataDir, {recursive: true, force: true});
			rmSync(logFile, {force: true});
		}
	};
	try {
		if (existsSync(logFile) && statSync(logFile).size > LOG_LIMIT) {
			truncateSync(logFile, 0);
		}
		const prepare = () => prepareFolder(dataDir, {major, binDir, runAs, logFile, env: serverEnv()});
		let folder = await prepare();
		let wiped = false;
		const settings = serverSettings(options);
		for (let attempt = 1; ; attempt++) {
			const port = options.port ?? (await freePort());
			const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
			const running = launch(binDir, dataDir, port, settings, runAs, logFile);
			try {
				const versionNum = await waitReady(running, port, folder.password, logFile, logStart, options.startTimeoutMs ?? 60_000);
				return handle({running, versionNum, major, port, dataDir, logFile, reused: folder.reused, password: folder.password, cleanUp});
			} catch (error) {
				await shutdown(running);
				if (error instanceof StartFailure && error.portTaken && options.port === undefined && attempt < 3) {
					continue; // another process took the free port first
				}
				if (error instanceof StartFailure && error.clusterBroken && folder.reused && !wiped) {
					// a cached cluster that no longer starts (fsync is off: a crash can break it): make a new one
					wiped = true;
					rmSync(dataDir, {recursive: true, force: true});
					folder = await prepare();
					continue;
				}
				throw new Error(`PostgreSQL ${binaries.version} on ${dataDir}: ${(error as Error).message}${persistent ? ` (log: ${logFile})` : ''}`);
			}
		}
	} catch (error) {
		cleanUp();
		throw error;
	}
}

function handle(parts: {running: Running; versionNum: number; major: number; port: number; dataDir: string; logFile: string; reused: boolean; password: string; cleanUp: () => void}): EmbeddedPostgres {
	const {running, cleanUp} = parts;
	const pid = running.child.pid!;
	// a normal exit without stop(): ask for a fast shutdown (setpriv's pdeathsig covers the rest)
	const onExit = (): void => {
		if (!running.hasExited()) {
			try {
				process.kill(pid, 'SIGINT');
			} catch {
				// gone
			}
		}
		cleanUp();
	};
	process.once('exit', onExit);
	let stopping: Promise<void> | undefined;
	return {
		url: `postgres://postgres:${encodeURIComponent(parts.password)}@127.0.0.1:${parts.port}/postgres`,
		versionNum: parts.versionNum,
		major: parts.major,
		port: parts.port,
		dataDir: parts.dataDir,
		logFile: parts.logFile,
		reused: parts.reused,
		pid,
		stop: () =>
			(stopping ??= (async () => {
				process.off('exit', onExit);
				await shutdown(running);
				cleanUp();
			})()),
	};
}

/**
 * Starts an embedded PostgreSQL server (see the notes at the top of this file). Rejects with a
 * one-line Error when the binaries are missing or the server cannot start, so that a caller can
 * fall back to something else.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
	try {
		return await start(options);
	} catch (error) {
		const message = (error instanceof Error ? error.message : String(error)).replaceAll(/\s+/gu, ' ').trim();
		throw new Error(`embedded PostgreSQL did not start: ${message}`);
	}
}

/** The same with the binaries of another PostgreSQL major (installed under an npm alias, see binaries.ts). */
export function startEmbeddedPostgresVersion(major: number, options: Omit<EmbeddedPostgresOptions, 'major' | 'binDir'> = {}): Promise<EmbeddedPostgres> {
	return startEmbeddedPostgres({...options, major});
}
