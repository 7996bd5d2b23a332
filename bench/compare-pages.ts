import type {PageRow} from './accounts-page.js';

// Sums of a million floats in a different order differ in the last few bits, never more.
const COST_TOLERANCE = 1e-9;

const agrees = (a: PageRow, b: PageRow): boolean =>
	a.key === b.key && a.calls === b.calls && Math.abs(a.costUsd - b.costUsd) <= COST_TOLERANCE * Math.max(Math.abs(a.costUsd), Math.abs(b.costUsd), 1);

/** Why two pages differ (keys, their order, calls or cost), or null when they agree. */
export function pageDifference(expected: readonly PageRow[], actual: readonly PageRow[]): string | null {
	for (let index = 0; index < Math.max(expected.length, actual.length); index++) {
		const a = expected[index];
		const b = actual[index];
		if (a === undefined || b === undefined || !agrees(a, b)) {
			return `row ${index + 1}: ${JSON.stringify(a ?? 'none')} vs ${JSON.stringify(b ?? 'none')}`;
		}
	}
	return null;
}
