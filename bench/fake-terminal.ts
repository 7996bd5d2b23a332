import {EventEmitter} from 'node:events';

// A terminal in memory for Ink, at a size the benchmark chooses: a stdout that keeps only the last
// frame (a long run draws thousands) and a stdin keys can be written to. Adapted from
// test/support/render-ink.tsx, which bench/ must not import.

export class Screen extends EventEmitter {
	lastFrame = '';
	frames = 0;
	isTTY = true;
	constructor(
		public columns: number,
		public rows: number,
	) {
		super();
	}
	write = (frame: string): boolean => {
		this.lastFrame = frame;
		this.frames += 1;
		return true;
	};
}

export class Keys extends EventEmitter {
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
