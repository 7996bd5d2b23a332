import {InputError} from '../../usage/input-error.js';
import type {TimelineBucket, UsageQuery} from '../../usage/types.js';
import {num, type Row} from './decode.js';

export const MAX_TIMELINE_BUCKETS = 1440;

/** A checked timeline request over the window (endMs − buckets·bucketMs, endMs]. */
export interface TimelineWindow {
	readonly endMs: number;
	readonly bucketMs: number;
	readonly buckets: number;
	/** The query narrowed to the window, as the inclusive range the request-rows builders take. */
	readonly query: UsageQuery;
}

/** Every timeline that reaches an engine is checked here: the SQL does integer arithmetic on these. */
export function timelineWindow(query: UsageQuery, bucketMs: number, buckets: number): TimelineWindow {
	if (!Number.isSafeInteger(bucketMs) || bucketMs < 1) {
		throw new InputError(`bucket length must be a whole number of milliseconds from 1, got ${bucketMs}`);
	}
	if (!Number.isSafeInteger(buckets) || buckets < 1 || buckets > MAX_TIMELINE_BUCKETS) {
		throw new InputError(`buckets must be a whole number from 1 to ${MAX_TIMELINE_BUCKETS}, got ${buckets}`);
	}
	const {endMs} = query.range;
	const openStartMs = endMs - buckets * bucketMs;
	if (!Number.isSafeInteger(endMs) || !Number.isSafeInteger(openStartMs)) {
		throw new InputError(`a timeline needs an end in whole milliseconds and a window within the safe integers; got ${buckets} × ${bucketMs} ms to ${endMs}`);
	}
	return {endMs, bucketMs, buckets, query: {range: {startMs: openStartMs + 1, endMs}, filters: query.filters}};
}

/** Rows of timelineSql into every bucket, oldest first; a bucket without a row is all zeros. */
export function fillTimeline(rows: readonly Row[], window: TimelineWindow): TimelineBucket[] {
	const byAge = new Map(rows.map(row => [num(row.buckets_back), row]));
	return Array.from({length: window.buckets}, (_, index) => {
		const row = byAge.get(window.buckets - 1 - index);
		return {startMs: window.endMs - (window.buckets - index) * window.bucketMs, requests: num(row?.requests), tokens: num(row?.tokens)};
	});
}
