import {Box, Text} from 'ink';
import {terminalSafe} from '../../output/terminal-safe.js';
import type {Confirm} from '../dashboard-state.js';
import {THEME} from '../theme.js';

/** A write waiting for y: what it does, the exact SQL (wrapped, never cut), and a caution if there is one. Default no. */
export function ConfirmDialog({confirm, height}: {readonly confirm: Confirm; readonly height: number}) {
	const sqlLines = confirm.sql.flatMap(statement => terminalSafe(statement).split('\n'));
	const room = Math.max(1, height - 4 - (confirm.note === null ? 0 : 1));
	return (
		<Box flexDirection="column">
			<Text bold color={THEME.warn} wrap="truncate-end">
				{terminalSafe(confirm.title)}
			</Text>
			{sqlLines.slice(0, room).map((line, index) => (
				<Text key={index} color={THEME.accent} wrap="wrap">
					{`  ${line}`}
				</Text>
			))}
			{sqlLines.length > room ? <Text color={THEME.muted}>{`  … ${sqlLines.length - room} more lines`}</Text> : null}
			{confirm.note === null ? null : (
				<Text color={THEME.muted} wrap="truncate-end">
					{terminalSafe(confirm.note)}
				</Text>
			)}
			<Text>
				<Text bold>Run it? </Text>
				<Text color={THEME.muted}>y runs · any other key cancels</Text>
			</Text>
		</Box>
	);
}
