import {escapeControls} from './escape-controls.js';
import {maskSecrets} from './secret-registry.js';

/**
 * Text from outside (the database, a server, an error) as it may be shown: every known secret
 * masked, then its controls made inert (escape-controls.ts). The one gate on the way to the
 * terminal, so the data itself stays as it is; pass text through it before cutting it to a width,
 * which could otherwise leave a secret's start.
 */
export const terminalSafe = (text: string): string => escapeControls(maskSecrets(text));

/**
 * terminalSafe, except for `own`: pieces of the text that are relaytop's own words (a target it
 * has already redacted), which are escaped but never masked, as --json leaves its source alone: a
 * password that is also a word of them (`postgres`) would garble them and show itself by the gap.
 */
export function terminalSafeExcept(text: string, own: readonly string[]): string {
	const [piece, ...rest] = own.filter(word => word !== '');
	if (piece === undefined) return terminalSafe(text);
	return text
		.split(piece)
		.map(part => terminalSafeExcept(part, rest))
		.join(escapeControls(piece));
}
