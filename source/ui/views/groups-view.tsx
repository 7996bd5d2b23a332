import {Box, Text} from 'ink';
import {thousands} from '../../output/format.js';
import {terminalSafe} from '../../output/terminal-safe.js';
import {groupColumns, modelColumns} from '../../output/usage-columns.js';
import type {GroupPage, ModelUsage} from '../../usage/types.js';
import {DataTable} from '../components/data-table.js';
import {ShapedText} from '../components/shaped-text.js';
import type {Drill} from '../dashboard-state.js';
import {THEME} from '../theme.js';
import {staleTag} from './stale-tag.js';

interface Props {
	readonly title: string;
	readonly page: GroupPage | undefined;
	readonly selected: number;
	readonly drill: Drill | null;
	readonly drillModels: readonly ModelUsage[] | undefined;
	/** When the rows on screen were read, once they are stale (stale-tag.tsx); absent while live. */
	readonly staleSince?: number;
	readonly width: number;
}

export const pagesOf = (page: {totalItems: number; pageSize: number} | undefined): number => (page === undefined ? 1 : Math.max(1, Math.ceil(page.totalItems / page.pageSize)));

/** Lines above a table's rows: the heading and the column titles. */
export const TABLE_CHROME = 2;

export function GroupsView({title, page, selected, drill, drillModels, staleSince, width}: Props) {
	if (drill !== null) {
		return (
			<Box flexDirection="column">
				<ShapedText>
					<Text bold>{terminalSafe(drill.label)}</Text>
					<Text color={THEME.muted}> by model · Esc back</Text>
					{staleTag(staleSince)}
				</ShapedText>
				<DataTable columns={modelColumns} rows={drillModels ?? []} width={width} empty="no requests in this range" />
			</Box>
		);
	}
	const sort = page === undefined ? '' : ` · sorted by ${page.sortKey} ${page.sortDirection === 'asc' ? '▲' : '▼'}`;
	return (
		<Box flexDirection="column">
			<ShapedText>
				<Text bold>{title}</Text>
				{staleTag(staleSince)}
				<Text color={THEME.muted}>
					{sort} · page {page?.page ?? 1}/{pagesOf(page)} · {thousands(page?.totalItems ?? 0)} items
				</Text>
			</ShapedText>
			<DataTable columns={groupColumns(page?.sortKey ?? 'totalCalls', page?.sortDirection ?? 'desc')} rows={page?.items ?? []} width={width} selected={selected} empty="no requests in this range" />
		</Box>
	);
}
