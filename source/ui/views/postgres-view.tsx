import {Box, Text} from 'ink';
import {THEME} from '../theme.js';

/** Until the PostgreSQL capability lands: what it will show and how to attach a server. */
export function PostgresView() {
	return (
		<Box flexDirection="column">
			<Text bold>PostgreSQL</Text>
			<Text>Live server activity (sessions, blocking, top statements, table health) appears here</Text>
			<Text>when relaytop reads new-api&apos;s logs from PostgreSQL:</Text>
			<Text color={THEME.accent}>  relaytop postgres://user@host:5432/newapi</Text>
			<Text color={THEME.muted}>This source is not PostgreSQL, so there is nothing to show.</Text>
		</Box>
	);
}
