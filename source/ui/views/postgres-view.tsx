import {Box, Text} from 'ink';
import {THEME} from '../theme.js';

/** Until the PostgreSQL capability lands: what it will show and how to attach a server. */
export function PostgresView() {
	return (
		<Box flexDirection="column">
			<Text bold>PostgreSQL</Text>
			<Text>Sessions, blocking, top statements and table health show here</Text>
			<Text>when relaytop reads new-api&apos;s logs from a PostgreSQL server:</Text>
			<Text color={THEME.accent}>  relaytop postgres://user@host:5432/newapi</Text>
			<Text color={THEME.muted}>This source is a SQLite file: there is no server to watch.</Text>
		</Box>
	);
}
