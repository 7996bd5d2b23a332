import type {RequestRecord, Status} from './types.js';

/** A stream is one account's use of one model: the unit whose health the realtime view tracks. */
export const streamOf = (request: RequestRecord): string => `${request.account}\u0000${request.model}`;

const RECENT_OUTCOMES = 10;

/**
 * The last outcomes of each stream, oldest first, from requests listed newest first. Only the
 * requests given are seen: a stream quieter than the list's span shows fewer outcomes.
 */
export function recentOutcomes(newestFirst: readonly RequestRecord[], size = RECENT_OUTCOMES): Map<string, Status[]> {
	const outcomes = new Map<string, Status[]>();
	for (const request of newestFirst) {
		const stream = streamOf(request);
		const seen = outcomes.get(stream) ?? [];
		if (seen.length < size) {
			seen.push(request.status);
			outcomes.set(stream, seen);
		}
	}
	for (const seen of outcomes.values()) {
		seen.reverse();
	}
	return outcomes;
}

/** ASCII, one cell per outcome: `.` success, `x` failure (dot glyphs are wide in CJK locales). */
export const outcomePattern = (outcomes: readonly Status[]): string => outcomes.map(outcome => (outcome === 'success' ? '.' : 'x')).join('');
