import type {Choice} from './types.js';

const codeUnitOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Facet order: case-insensitive by label, then by value; plain code-unit order, no locale. */
export const byLabel = (a: Choice, b: Choice): number =>
	codeUnitOrder(a.label.toLowerCase(), b.label.toLowerCase()) || codeUnitOrder(a.value, b.value);
