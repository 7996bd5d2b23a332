import {Box, Text} from 'ink';
import {truncate} from '../../output/format.js';
import {bindingsFor, shownKey, type ViewId} from '../keymap.js';
import {THEME} from '../theme.js';

/** The footer: the bindings of this view that have a hint, as "key hint", cut to the width. */
export function KeyHints({view, width, writable}: {readonly view: ViewId; readonly width: number; readonly writable: boolean}) {
	const hints = bindingsFor(view, writable)
		.filter(binding => binding.hint !== undefined)
		.map(binding => `${shownKey(binding.keys[0]!)} ${binding.hint}`)
		.join('  ');
	return (
		<Text color={THEME.muted} wrap="truncate-end">
			{truncate(hints, width)}
		</Text>
	);
}

/** The `?` overlay: every binding of this view, generated from the keymap. */
export function HelpOverlay({view, height, writable}: {readonly view: ViewId; readonly height: number; readonly writable: boolean}) {
	const bindings = bindingsFor(view, writable);
	return (
		<Box flexDirection="column">
			<Text bold>Keys</Text>
			{bindings.slice(0, Math.max(1, height - 1)).map(binding => (
				<Text key={binding.command} wrap="truncate-end">
					<Text color={THEME.accent}>{binding.keys.map(shownKey).join(' ').padEnd(14)}</Text>
					{binding.help}
				</Text>
			))}
		</Box>
	);
}
