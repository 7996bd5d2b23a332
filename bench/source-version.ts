import {execFileSync} from 'node:child_process';
import {readdirSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {packageRoot} from '../source/fixtures/fixture-files.js';

// What the figures were measured on: the commit, the source files changed since, and when
// dist/source was last built. dist/source can be rebuilt by someone else while a benchmark runs;
// a process started after that runs other code.

export interface SourceVersion {
	readonly commit: string | null;
	/** `git status --porcelain` lines for source/ and package files. */
	readonly uncommitted: readonly string[];
	/** The newest modification of a file in dist/source, ISO, or null when there is none. */
	readonly distSourceBuiltAt: string | null;
}

function git(...args: string[]): string | null {
	try {
		return execFileSync('git', args, {cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']});
	} catch {
		return null;
	}
}

function newestMtimeMs(folder: string): number {
	let newest = 0;
	for (const entry of readdirSync(folder, {withFileTypes: true})) {
		const path = join(folder, entry.name);
		newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
	}
	return newest;
}

export function distSourceBuiltAt(): string | null {
	try {
		const newest = newestMtimeMs(join(packageRoot(), 'dist', 'source'));
		return newest === 0 ? null : new Date(newest).toISOString();
	} catch {
		return null;
	}
}

export function sourceVersion(): SourceVersion {
	return {
		commit: git('rev-parse', 'HEAD')?.trim() ?? null,
		uncommitted: (git('status', '--porcelain', '--', 'source', 'package.json', 'package-lock.json') ?? '').split('\n').filter(line => line.trim() !== ''),
		distSourceBuiltAt: distSourceBuiltAt(),
	};
}
