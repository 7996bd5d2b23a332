/** Runs `work` again and again until at least `minMs` have passed; the mean milliseconds of one run. */
export function meanRunMs(work: () => void, minMs: number): number {
	let runs = 0;
	const started = performance.now();
	do {
		work();
		runs++;
	} while (performance.now() - started < minMs);
	return (performance.now() - started) / runs;
}
