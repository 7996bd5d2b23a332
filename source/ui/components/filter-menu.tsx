import {Box, Text} from 'ink';
import {terminalSafe} from '../../output/terminal-safe.js';
import type {Choice, Facets} from '../../usage/types.js';
import type {FilterField, FilterMenu as Menu} from '../dashboard-state.js';
import {THEME} from '../theme.js';
import {ShapedText} from './shaped-text.js';

const FACET_OF: Record<Exclude<FilterField, 'status'>, keyof Facets> = {
	account: 'accounts',
	provider: 'providers',
	channel: 'channels',
	group: 'groups',
	model: 'models',
	apiKey: 'apiKeys',
};

/** The choices for one field: "any" first (clears it), then what the data holds. */
export function filterChoices(field: FilterField, facets: Facets | undefined): Array<Choice | null> {
	if (field === 'status') {
		return [null, {value: 'success', label: 'success'}, {value: 'failed', label: 'failed'}];
	}
	return [null, ...(facets?.[FACET_OF[field]] ?? [])];
}

interface Props {
	readonly menu: Menu;
	readonly fields: readonly FilterField[];
	readonly current: Partial<Record<FilterField, string>>;
	readonly facets: Facets | undefined;
	readonly height: number;
}

/** A list windowed around its cursor, so long facet lists never outgrow the frame. */
function windowed<T>(items: readonly T[], index: number, height: number): Array<[T, number]> {
	const size = Math.max(1, height);
	const start = Math.max(0, Math.min(items.length - size, index - Math.floor(size / 2)));
	return items.slice(start, start + size).map((item, offset) => [item, start + offset]);
}

export function FilterMenu({menu, fields, current, facets, height}: Props) {
	if (menu.field === null) {
		return (
			<Box flexDirection="column">
				<Text bold>Filter by · Enter choose · Esc close</Text>
				{windowed(fields, menu.index, height - 1).map(([field, index]) => (
					<ShapedText key={field} inverse={index === menu.index}>
						{field.padEnd(10)}
						<Text color={THEME.muted}>{current[field] === undefined ? 'any' : terminalSafe(current[field]!)}</Text>
					</ShapedText>
				))}
			</Box>
		);
	}
	const choices = filterChoices(menu.field, facets);
	return (
		<Box flexDirection="column">
			<Text bold>
				{menu.field} · Enter choose · Esc back{facets === undefined && menu.field !== 'status' ? ' · loading…' : ''}
			</Text>
			{windowed(choices, menu.index, height - 1).map(([choice, index]) => (
				<ShapedText key={choice?.value ?? '\u0000any'} inverse={index === menu.index}>
					{choice === null ? 'any' : terminalSafe(choice.label)}
					{choice !== null && choice.label !== choice.value ? <Text color={THEME.muted}> {terminalSafe(choice.value)}</Text> : null}
				</ShapedText>
			))}
		</Box>
	);
}
