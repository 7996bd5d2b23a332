/** A problem with what the user asked for. Its message is one line, safe to print as is. */
export class InputError extends Error {
	override readonly name = 'InputError';
}

const QUOTED_MAX = 60;

/** A value the user gave, for a message: JSON-quoted so that it stays on one line, and cut short. */
export function quoted(value: unknown): string {
	let shown = '';
	for (const character of String(value)) {
		if (JSON.stringify(shown + character).length > QUOTED_MAX) {
			return `${JSON.stringify(shown).slice(0, -1)}…"`;
		}
		shown += character;
	}
	return JSON.stringify(shown);
}
