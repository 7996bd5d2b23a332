import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {packageRoot} from '../source/fixtures/fixture-files.js';

// The real binary in a real terminal (tmux), as an operator runs it: keys in, screen out.
// CI is unset for the app: Ink draws only the last frame when it thinks it runs in CI.

const session = `relaytop-e2e-${process.pid}`;
const scratch = mkdtempSync(join(tmpdir(), 'relaytop-e2e-'));
const tmux = (...args: string[]) => execFileSync('tmux', args, {encoding: 'utf8'});
const screen = () => tmux('capture-pane', '-p', '-t', session);

async function until(ready: (text: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const text = screen();
		if (ready(text)) {
			return text;
		}
		if (Date.now() > deadline) {
			throw new Error(`${what} never showed; the screen:\n${text}`);
		}
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

/** Process ids of `pid`'s children (none once it and they are gone). */
function childrenOf(pid: string): string[] {
	try {
		return execFileSync('pgrep', ['-P', pid], {encoding: 'utf8'}).trim().split('\n').filter(line => line !== '');
	} catch {
		return []; // pgrep exits 1 when it finds none
	}
}

const alive = (pid: string): boolean => {
	try {
		process.kill(Number(pid), 0);
		return true;
	} catch {
		return false;
	}
};

/** relaytop under the pane's shell, and the demo's processes under it: the server and new-api's traffic. */
function demoProcesses(): {relaytop: string; children: string[]} {
	const shell = tmux('list-panes', '-t', session, '-F', '#{pane_pid}').trim();
	const relaytop = childrenOf(shell)[0]!;
	return {relaytop, children: childrenOf(relaytop)};
}

afterAll(() => {
	try {
		tmux('kill-session', '-t', session);
	} catch {
		// already gone
	}
	rmSync(scratch, {recursive: true, force: true});
});

describe('relaytop in tmux', () => {
	it('runs the moving demo, follows keys, re-lays out on resize, and quits restoring the terminal and stopping the demo', async () => {
		const cli = join(packageRoot(), 'dist', 'source', 'cli.js');
		const command = `env -u CI TMPDIR=${scratch} ${process.execPath} ${cli}; echo "relaytop exited with $?"; sleep 60`;
		tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', command);

		const overview = await until(text => text.includes('requests/min') && /rpm [1-9]/u.test(text), 'the overview');
		expect(overview).toContain('1 Overview');
		expect(overview).toContain('new-api (PostgreSQL)'); // the demo runs on embedded PostgreSQL
		const {children} = demoProcesses();
		expect(children.length).toBeGreaterThanOrEqual(2); // the server and the traffic

		tmux('send-keys', '-t', session, '2');
		const narrow = await until(text => text.includes('Accounts by user') && text.includes('alice'), 'the accounts view');
		expect(narrow).not.toContain('cached');
		expect(narrow.split('\n').every(line => line.length <= 100)).toBe(true);

		tmux('resize-window', '-t', session, '-x', '160', '-y', '40');
		await until(text => text.includes('cached') && text.includes('output'), 'the wide layout');

		tmux('send-keys', '-t', session, 'q');
		const after = await until(text => text.includes('relaytop exited with'), 'the exit');
		expect(after).toContain('relaytop exited with 0');
		expect(after).not.toContain('Accounts by user'); // the alternate screen was left
		expect(children.filter(alive)).toEqual([]);
	});

	it('shuts down in order on SIGHUP: exits 129 (not a crash), leaves the alternate screen, stops the demo server and its traffic', async () => {
		tmux('kill-session', '-t', session);
		const cli = join(packageRoot(), 'dist', 'source', 'cli.js');
		tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', `env -u CI TMPDIR=${scratch} ${process.execPath} ${cli}; echo "relaytop exited with $?"; sleep 60`);
		await until(text => text.includes('requests/min'), 'the overview');
		const {relaytop, children} = demoProcesses();
		expect(children.length).toBeGreaterThanOrEqual(2);
		process.kill(Number(relaytop), 'SIGHUP');
		const after = await until(text => text.includes('relaytop exited with'), 'the exit');
		expect(after).toContain('relaytop exited with 129'); // 128 + SIGHUP; a crash in teardown would be 139
		expect(after).not.toContain('requests/min');
		expect(children.filter(alive)).toEqual([]);
	});

	it('draws no colour with NO_COLOR, and keeps the screen within the pane', async () => {
		tmux('kill-session', '-t', session);
		const cli = join(packageRoot(), 'dist', 'source', 'cli.js');
		const command = `env -u CI NO_COLOR=1 TMPDIR=${scratch} ${process.execPath} ${cli}; sleep 60`;
		tmux('new-session', '-d', '-s', session, '-x', '90', '-y', '26', command);
		await until(text => text.includes('requests/min') && text.includes('● live'), 'the overview');
		const styled = tmux('capture-pane', '-p', '-e', '-t', session);
		expect(styled).not.toMatch(/\u001b\[[0-9;]*(?:3[0-7]|9[0-7]|38;)/u); // no foreground colour
		expect(styled.split('\n').filter(line => line !== '').length).toBeLessThanOrEqual(25);
		tmux('send-keys', '-t', session, 'q');
	});
});
