export function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

// Workers run with --expose-gc: collecting before each run keeps one run's garbage out of the
// next run's time.
const collectGarbage = (globalThis as {gc?: () => void}).gc ?? (() => {});

export interface Timed<T> {
	readonly result: T;
	readonly ms: number;
}

export async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
	collectGarbage();
	const started = performance.now();
	const result = await work();
	return {result, ms: performance.now() - started};
}
