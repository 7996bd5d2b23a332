import {localTime, thousands} from '../../output/format.js';
import {SHORT_RANGE} from '../../usage/aggregation.js';
import type {Aggregation} from '../../usage/types.js';

/**
 * How a long range's figures were reached, for the line under the KPIs: from a rollup (when it was
 * last reconciled with a full load, and how many rows it merged since), or by direct queries when
 * a rollup could not hold the range. Nothing for a short range, which is always queried directly.
 */
export function aggregationNote(aggregation: Aggregation | undefined): {text: string; warn: boolean} | null {
	if (aggregation === undefined) return null;
	if (aggregation.mode === 'rollup') {
		const merged = aggregation.mergedRows === 0 ? '' : ` · ${thousands(aggregation.mergedRows)} rows merged since`;
		return {text: `range kept in memory · reconciled ${localTime(aggregation.reconciledAtMs).slice(11)}${merged}`, warn: false};
	}
	return aggregation.reason === SHORT_RANGE ? null : {text: `range queried in full: ${aggregation.reason}`, warn: true};
}
