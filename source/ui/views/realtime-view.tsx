import {Box, Text} from 'ink';
import {thousands} from '../../output/format.js';
import {requestColumnsWithRecent} from '../../output/usage-columns.js';
import {outcomePattern, recentOutcomes, streamOf} from '../../usage/stream-patterns.js';
import type {RequestPage} from '../../usage/types.js';
import {DataTable} from '../components/data-table.js';
import {ShapedText} from '../components/shaped-text.js';
import {THEME} from '../theme.js';
import {pagesOf} from './groups-view.js';
import {staleTag} from './stale-tag.js';

interface Props {
	readonly page: RequestPage | undefined;
	/** The newest requests of the range, for each stream's recent outcomes. */
	readonly recent: RequestPage | undefined;
	readonly selected: number;
	readonly failedOnly: boolean;
	/** When the rows on screen were read, once they are stale (stale-tag.tsx); absent while live. */
	readonly staleSince?: number;
	readonly width: number;
}

export function RealtimeView({page, recent, selected, failedOnly, staleSince, width}: Props) {
	const outcomes = recentOutcomes(recent?.items ?? []);
	return (
		<Box flexDirection="column">
			<ShapedText>
				<Text bold>Requests</Text>
				{staleTag(staleSince)}
				<Text color={THEME.muted}>
					{' '}
					· newest first{failedOnly ? ' · failed only' : ''} · page {page?.page ?? 1}/{pagesOf(page)} · {thousands(page?.totalItems ?? 0)} items
				</Text>
			</ShapedText>
			<DataTable columns={requestColumnsWithRecent(row => outcomePattern(outcomes.get(streamOf(row)) ?? []))} rows={page?.items ?? []} width={width} selected={selected} tone={row => (row.status === 'failed' ? 'error' : undefined)} empty="no requests in this range" />
		</Box>
	);
}
