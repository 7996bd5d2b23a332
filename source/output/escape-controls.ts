// Names come from the database and are untrusted: an escape sequence in an account name must not
// recolour, retitle or clear the operator's terminal. Controls become visible, inert stand-ins.
// The escaping alone: text on its way to the screen passes terminalSafe, which masks secrets first.

const C0_OR_DEL = /[\u0000-\u001f\u007f]/gu;
const C1 = /[\u0080-\u009f]/gu;
// Bidirectional overrides and isolates can reorder what the eye reads (the "Trojan Source" trick).
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const LINE_BREAKS = /[\u2028\u2029]/gu;
// Invisible characters (format controls and the rest Unicode ignores by default): some terminals
// draw them a cell wide (a soft hyphen, a Hangul filler) and others not at all, which shifts every
// column after them, and each is a character of its own, so thousands hide in a short name. Joiners
// and selectors stay: emoji and scripts need them, and they attach to the character before them.
const INVISIBLE =
	/(?![\u034f\u180b-\u180d\u180f\u200c\u200d\ufe00-\ufe0f\u{e0020}-\u{e007f}\u{e0100}-\u{e01ef}])[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;
// Accents, joiners and selectors stack on the character before them: a few make a letter or an
// emoji, thousands pile up over the lines around it and make a name as long as they like.
const PILE = /[\p{M}\u200c\u200d\ufe00-\ufe0f\u{e0020}-\u{e007f}\u{e0100}-\u{e01ef}]{9,}/gu;
const PILE_KEPT = 8;
// Half of a surrogate pair is no character: output encodes it as U+FFFD, a cell wide, where a
// width count sees nothing.
const LONE_SURROGATE = /\p{Surrogate}/gu;

/**
 * Control pictures for C0 (␛ for ESC, ␀ for NUL…), ␡ for DEL, � for C1, bidi controls, invisible
 * characters and half surrogate pairs; a pile of more than eight accents or joiners keeps eight.
 */
export function escapeControls(text: string): string {
	return text
		.replace(C0_OR_DEL, character => {
			const code = character.charCodeAt(0);
			return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
		})
		.replace(C1, '\ufffd')
		.replace(BIDI, '\ufffd')
		.replace(INVISIBLE, '\ufffd')
		.replace(LONE_SURROGATE, '\ufffd')
		.replace(LINE_BREAKS, ' ')
		.replace(PILE, pile => [...pile].slice(0, PILE_KEPT).join(''));
}
