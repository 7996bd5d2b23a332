import {Text} from 'ink';
import {localTime} from '../../output/format.js';
import type {PanelState} from '../../poll/poll-scheduler.js';
import {THEME} from '../theme.js';

// Figures kept on screen after their refresh failed are marked as such, with the time they are
// from; and all of them once the server is out of reach, before each panel's own next try fails
// too. A panel merely reloading for a new question (a page, a sort) is not marked: its reload
// lands within a refresh, and a tag flashing on every key would teach the eye to ignore it.

/**
 * When the oldest figures on screen were read, if a panel that drew them has failed since (any of
 * them, while the server cannot be reached); else undefined.
 */
export function staleSince(panels: ReadonlyArray<PanelState<unknown> | undefined>, unreachable = false): number | undefined {
	const kept = panels.flatMap(panel => (panel?.data !== undefined && panel.lastSuccessAt !== undefined && (unreachable || panel.error !== undefined) ? [panel.lastSuccessAt] : []));
	return kept.length === 0 ? undefined : Math.min(...kept);
}

export const staleText = (since: number): string => `stale · last updated ${localTime(since).slice(11)}`;

/** The mark after a view's title, a <Text> for a ShapedText to hold: nothing while the figures are live. */
export function staleTag(since: number | undefined) {
	if (since === undefined) return null;
	return <Text color={THEME.warn}>{` · ${staleText(since)}`}</Text>;
}
