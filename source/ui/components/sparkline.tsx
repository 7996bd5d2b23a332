import {Text} from 'ink';
import {THEME} from '../theme.js';
import {ShapedText} from './shaped-text.js';

const BARS = '▁▂▃▄▅▆▇█';

/** Values scaled to the largest one, one cell each; an empty series is a flat line. */
export function sparkline(values: readonly number[]): string {
	const top = Math.max(0, ...values);
	return values.map(value => (top === 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((value / top) * (BARS.length - 1)))])).join('');
}

export function Sparkline({label, values, summary}: {readonly label: string; readonly values: readonly number[]; readonly summary: string}) {
	return (
		<ShapedText>
			<Text color={THEME.muted}>{label.padEnd(13)}</Text>
			<Text color={THEME.accent}>{sparkline(values)}</Text>
			<Text color={THEME.muted}> {summary}</Text>
		</ShapedText>
	);
}
