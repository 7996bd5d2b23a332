import {truncate} from '../../../output/format.js';
import {terminalSafe} from '../../../output/terminal-safe.js';
import type {PanelUnavailable} from '../../../postgres/monitor/panel-result.js';
import {THEME} from '../../theme.js';
import {oneLine, wrapText} from './pg-format.js';
import {ShapedText} from '../../components/shaped-text.js';

/** Hint lines at most: a hint longer than that is cut (the preload hint is the longest, about 190 characters). */
const HINT_LINES = 2;

/** What a panel that has no data says in place of its section: why, then what to do. Pure. */
export function unavailableLines(title: string, panel: PanelUnavailable, width: number, maxLines = 1 + HINT_LINES): string[] {
	const why = truncate(terminalSafe(`${title}: ${oneLine(panel.message)}`), width);
	if (maxLines <= 1) return [truncate(terminalSafe(`${title}: ${oneLine(panel.message)} — ${oneLine(panel.hint)}`), width)];
	const hint = wrapText(`→ ${oneLine(panel.hint)}`, width);
	const room = maxLines - 1;
	const shown = hint.length > room ? [...hint.slice(0, room - 1), truncate(hint.slice(room - 1).join(' '), width)] : hint;
	return [why, ...shown];
}

export function UnavailableNotice({lines}: {readonly lines: readonly string[]}) {
	return (
		<ShapedText color={THEME.warn}>
			{lines.join('\n')}
		</ShapedText>
	);
}
