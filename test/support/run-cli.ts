// The built CLI (dist/source/cli.js) as a real child process, as the end-to-end tests run it: from
// the package folder, no terminal, empty stdin, no colour, with what it printed and how it ended.

import {spawn, spawnSync} from 'node:child_process';
import {join} from 'node:path';
import {packageRoot} from '../../source/package-root.js';

const ROOT = packageRoot();

/** The built CLI: the tests run what `npm run build` made, never the sources. */
export const CLI = join(ROOT, 'dist', 'source', 'cli.js');

/** The default test timeout: a child still running by then is hung. */
const GUARD_MS = 60_000;

export interface CliResult {
	/** null when a signal ended it. */
	readonly code: number | null;
	readonly signal: NodeJS.Signals | null;
	readonly stdout: string;
	readonly stderr: string;
}

export interface RunOptions {
	/** Set over this process's environment; a variable given as undefined is removed. */
	readonly env?: NodeJS.ProcessEnv;
	/** When the child is killed (SIGKILL): a guard against a hung child, not a timing assertion. */
	readonly guardMs?: number;
}

export interface AsyncRunOptions extends RunOptions {
	/** Gets the child's pid as soon as it is spawned, before it has printed anything. */
	readonly onStart?: (pid: number) => void;
	/** Sees stderr as it arrives (with everything so far), and may signal the process. */
	readonly onStderr?: (soFar: string, signal: (name: NodeJS.Signals) => void) => void;
}

function environment(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
	// FORCE_COLOR for chalk (under Ink): it ignores NO_COLOR and would follow a FORCE_COLOR set here.
	const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...overrides};
	for (const [name, value] of Object.entries(env)) {
		if (value === undefined) delete env[name];
	}
	return env;
}

/**
 * Runs the CLI and blocks until it ends; throws if it cannot be started or outlives the guard.
 * Only for a CLI that talks to nothing in this process: a server here could not answer it.
 */
export function runCliSync(args: readonly string[], options: RunOptions = {}): CliResult {
	const result = spawnSync(process.execPath, [CLI, ...args], {
		cwd: ROOT,
		encoding: 'utf8',
		input: '',
		maxBuffer: 256 * 1024 * 1024,
		timeout: options.guardMs ?? GUARD_MS,
		killSignal: 'SIGKILL',
		env: environment(options.env),
	});
	if (result.error !== undefined) {
		throw result.error;
	}
	return {code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr};
}

/**
 * Runs the CLI without blocking this process (a server it talks to may live here). Rejects only if
 * it cannot be started; a child the guard killed resolves with its signal and what it printed.
 */
export function runCli(args: readonly string[], options: AsyncRunOptions = {}): Promise<CliResult> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [CLI, ...args], {cwd: ROOT, env: environment(options.env), stdio: ['ignore', 'pipe', 'pipe']});
		let stdout = '';
		let stderr = '';
		child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
		child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
			stderr += chunk;
			options.onStderr?.(stderr, name => child.kill(name));
		});
		const guard = setTimeout(() => child.kill('SIGKILL'), options.guardMs ?? GUARD_MS);
		child.on('error', error => {
			clearTimeout(guard);
			reject(error);
		});
		child.on('close', (code, signal) => {
			clearTimeout(guard);
			resolve({code, signal, stdout, stderr});
		});
		if (child.pid !== undefined) options.onStart?.(child.pid);
	});
}
