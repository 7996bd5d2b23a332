// Names come from the database and are untrusted: an escape sequence in an account name must not
// recolour, retitle or clear the operator's terminal. Controls become visible, inert stand-ins.

const C0_OR_DEL = /[\u0000-\u001f\u007f]/gu;
const C1 = /[\u0080-\u009f]/gu;
// Bidirectional overrides and isolates can reorder what the eye reads (the "Trojan Source" trick).
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const LINE_BREAKS = /[\u2028\u2029]/gu;

/** Control pictures for C0 (␛ for ESC, ␀ for NUL…), ␡ for DEL, � for C1 and bidi controls. */
export function terminalSafe(text: string): string {
	return text
		.replace(C0_OR_DEL, character => {
			const code = character.charCodeAt(0);
			return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
		})
		.replace(C1, '\ufffd')
		.replace(BIDI, '\ufffd')
		.replace(LINE_BREAKS, ' ');
}
