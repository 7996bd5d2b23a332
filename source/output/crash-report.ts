import {inspect} from 'node:util';
import {registerSecret} from './secret-registry.js';
import {terminalSafe} from './terminal-safe.js';

// What an unexpected failure prints instead of Node's report, which shows the whole error (its
// message, its properties, its stack) as it is: one line with every known secret masked, after the
// terminal is given back, so the line is seen and the shell is usable.

/** Set (to anything but empty) to have the stack printed after the line, masked as well. */
export const CRASH_STACK_ENV = 'RELAYTOP_DEBUG';

/** An unexpected failure (EX_SOFTWARE in sysexits.h): not an error of the target or of the input. */
const EXIT_CRASH = 70;

/** Secrets in the environment: a crash may come before they are taken into use, or from code that read them anyway. */
const ENVIRONMENT_SECRETS = ['PGPASSWORD', 'RELAYTOP_KEY'];

const restorers = new Set<() => void>();

/**
 * Registers what puts the terminal back (leaving the alternate screen) before a crash is reported:
 * a line written in the alternate screen would vanish with it. Returns the unregistration.
 */
export function restoreBeforeCrashReport(restore: () => void): () => void {
	restorers.add(restore);
	return () => restorers.delete(restore);
}

function messageOf(error: unknown): string {
	if (error instanceof Error) return error.message === '' ? error.name : error.message;
	return typeof error === 'string' ? error : inspect(error, {depth: 2, breakLength: Number.POSITIVE_INFINITY});
}

/** `relaytop crashed: <first line of the message>`, and with `withStack` the stack, each line masked. */
export function crashReport(error: unknown, withStack: boolean): string {
	const line = messageOf(error)
		.split(/\r\n|\r|\n/u)
		.map(part => part.trim())
		.find(part => part !== '');
	const stack = withStack && error instanceof Error && error.stack !== undefined ? error.stack.split('\n').map(frame => `  ${terminalSafe(frame)}\n`) : [];
	return [`relaytop crashed: ${terminalSafe(line ?? 'unknown error')}\n`, ...stack].join('');
}

/**
 * Gives the terminal back (each restorer, then cooked mode), then writes the report to stderr,
 * with the environment's secrets masked too, used or not.
 */
export function reportCrash(error: unknown, env: NodeJS.ProcessEnv = process.env): void {
	for (const name of ENVIRONMENT_SECRETS) registerSecret(env[name]);
	for (const restore of restorers) {
		try {
			restore();
		} catch {
			// the report matters more than a terminal left half restored
		}
	}
	try {
		if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
	} catch {
		// the same
	}
	process.stderr.write(crashReport(error, (env[CRASH_STACK_ENV] ?? '') !== ''));
}

/** Reports the crash (reportCrash) and ends the process with EXIT_CRASH. */
export function exitOnCrash(error: unknown): never {
	reportCrash(error);
	process.exit(EXIT_CRASH);
}
