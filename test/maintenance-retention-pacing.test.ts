import {describe, expect, it} from 'vitest';
import {nextWindow, writerGap} from '../source/maintenance/retention-batches.js';

// SQLite retention resizes its id window so each transaction stays near its target and a waiting
// writer gets the lock between batches (retention-batches.ts WriterPacing).

describe('nextWindow', () => {
	it('shrinks a window that ran over the target in proportion, never below one id', () => {
		expect(nextWindow(5000, 800, 200, 5000)).toBe(1250);
		expect(nextWindow(3, 10_000, 200, 5000)).toBe(1);
	});

	it('doubles a window well under the target, up to the --batch cap', () => {
		expect(nextWindow(1000, 50, 200, 5000)).toBe(2000);
		expect(nextWindow(4000, 10, 200, 5000)).toBe(5000);
	});

	it('keeps a window near the target', () => {
		expect(nextWindow(1200, 150, 200, 5000)).toBe(1200);
		expect(nextWindow(1200, 200, 200, 5000)).toBe(1200);
	});
});

describe('writerGap', () => {
	const pacing = {targetBatchMs: 200, maxGapMs: 120, firstWindow: 250};

	it('leaves the lock free longer than a writer waiting since the batch began sleeps before its next try', () => {
		// SQLite's busy handler: sleeps of 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms.
		const sleeps = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, ...Array.from({length: 50}, () => 100)];
		for (const tookMs of [0.2, 1, 3, 7, 18, 40, 90, 150, 200, 400]) {
			let waited = 0;
			let next = sleeps[0]!;
			for (const sleep of sleeps) {
				next = sleep;
				if (waited + sleep > tookMs) break; // the try that comes after the batch ends
				waited += sleep;
			}
			expect(writerGap(tookMs, pacing), `batch of ${tookMs} ms`).toBeGreaterThan(next - (tookMs - waited));
		}
	});

	it('never pauses longer than its cap', () => {
		expect(writerGap(1000, pacing)).toBe(120);
	});
});
