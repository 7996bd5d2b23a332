/**
 * The query builders write `?` placeholders (SQLite's form); PostgreSQL numbers them: `$1`, `$2`…
 * A `?` inside a string literal, a quoted identifier or a comment is text and stays as it is.
 */
export function numberedPlaceholders(text: string): string {
	let out = '';
	let count = 0;
	let index = 0;
	while (index < text.length) {
		const char = text[index]!;
		const quote = char === "'" || char === '"' ? char : undefined;
		if (quote !== undefined) {
			// A doubled quote inside is an escaped quote, which the scan passes over as two ends.
			const end = text.indexOf(quote, index + 1);
			const stop = end === -1 ? text.length : end + 1;
			out += text.slice(index, stop);
			index = stop;
		} else if (text.startsWith('--', index)) {
			const end = text.indexOf('\n', index);
			const stop = end === -1 ? text.length : end;
			out += text.slice(index, stop);
			index = stop;
		} else if (text.startsWith('/*', index)) {
			const end = text.indexOf('*/', index + 2);
			const stop = end === -1 ? text.length : end + 2;
			out += text.slice(index, stop);
			index = stop;
		} else {
			out += char === '?' ? `$${++count}` : char;
			index += 1;
		}
	}
	return out;
}
