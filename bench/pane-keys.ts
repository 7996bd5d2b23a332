import {execFileSync} from 'node:child_process';
import {readFileSync} from 'node:fs';

// Key presses to a process running in a tmux pane, as an operator types them: the pane is found
// from the process, whichever session started it.

const tmux = (...args: string[]): string => execFileSync('tmux', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});

function parentOf(pid: number): number | undefined {
	try {
		const match = /^PPid:\s+(\d+)$/mu.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
		return match === null ? undefined : Number(match[1]);
	} catch {
		return undefined;
	}
}

/** A function that types keys into the tmux pane `pid` runs in (it or an ancestor is the pane's process). */
export function keysTo(pid: number): (...keys: string[]) => void {
	const panes = new Map(
		tmux('list-panes', '-a', '-F', '#{pane_pid} #{pane_id}')
			.trim()
			.split('\n')
			.map(line => line.split(' ') as [string, string])
			.map(([panePid, paneId]) => [Number(panePid), paneId]),
	);
	let pane: string | undefined;
	for (let ancestor: number | undefined = pid; pane === undefined && ancestor !== undefined && ancestor > 1; ancestor = parentOf(ancestor)) {
		pane = panes.get(ancestor);
	}
	if (pane === undefined) {
		throw new Error(`process ${pid} runs in no tmux pane`);
	}
	const target = pane;
	// -l: the keys as text, so "1" is typed, not read as a key name.
	return (...keys) => void tmux('send-keys', '-t', target, '-l', keys.join(''));
}
