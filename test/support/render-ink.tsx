import {EventEmitter} from 'node:events';
import {render} from 'ink';
import type {ReactElement} from 'react';

// Ink rendered into memory at a size the test chooses (and can change), with keys written to a
// fake stdin. Frames are whole screens (debug mode), so lastFrame() is what a terminal would show.

class Screen extends EventEmitter {
	frames: string[] = [];
	isTTY = true;
	constructor(
		public columns: number,
		public rows: number,
	) {
		super();
	}
	write = (frame: string): boolean => {
		this.frames.push(frame);
		return true;
	};
	resize(columns: number, rows: number): void {
		this.columns = columns;
		this.rows = rows;
		this.emit('resize');
	}
}

class Keys extends EventEmitter {
	isTTY = true;
	private pending: string[] = [];
	write(data: string): void {
		this.pending.push(data);
		this.emit('readable');
	}
	read(): string | null {
		return this.pending.shift() ?? null;
	}
	setEncoding(): void {}
	setRawMode(): void {}
	resume(): void {}
	pause(): void {}
	ref(): void {}
	unref(): void {}
}

export const KEY = {
	up: '\u001b[A',
	down: '\u001b[B',
	pageUp: '\u001b[5~',
	pageDown: '\u001b[6~',
	home: '\u001b[H',
	end: '\u001b[F',
	tab: '\t',
	shiftTab: '\u001b[Z',
	escape: '\u001b',
	enter: '\r',
	backspace: '\u007f',
	ctrlC: '\u0003',
} as const;

export function renderInk(tree: ReactElement, size: {columns: number; rows: number}, options: {screenReader?: boolean} = {}) {
	const stdout = new Screen(size.columns, size.rows);
	const stdin = new Keys();
	const instance = render(tree, {
		stdout: stdout as unknown as NodeJS.WriteStream,
		stdin: stdin as unknown as NodeJS.ReadStream,
		stderr: new Screen(size.columns, size.rows) as unknown as NodeJS.WriteStream,
		debug: true,
		isScreenReaderEnabled: options.screenReader ?? false,
		exitOnCtrlC: false,
		patchConsole: false,
	});
	const lastFrame = () => stdout.frames.at(-1) ?? '';
	return {
		lastFrame,
		stdout,
		press: (...keys: string[]) => {
			for (const key of keys) {
				stdin.write(key);
			}
		},
		/** Waits until the screen satisfies `ready`; fails with the last screen after `timeoutMs`. */
		async until(ready: (frame: string) => boolean, timeoutMs = 10_000): Promise<string> {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const frame = lastFrame();
				if (ready(frame)) {
					return frame;
				}
				if (Date.now() > deadline) {
					throw new Error(`screen never got there; last screen:\n${frame}`);
				}
				await new Promise(resolve => setTimeout(resolve, 20));
			}
		},
		waitUntilExit: () => instance.waitUntilExit(),
		unmount: () => instance.unmount(),
	};
}
