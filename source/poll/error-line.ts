/**
 * A failure as one line for the status bar: the first non-blank line of its message. Never throws,
 * whatever was thrown.
 */
export function errorLine(error: unknown): string {
	const line = describe(error)
		.split(/\r\n|\r|\n/u)
		.map((part) => part.trim())
		.find((part) => part !== '');
	return line ?? 'unknown error';
}

function describe(error: unknown): string {
	try {
		// Node reports a refused connection to every address of a host as an AggregateError with no message.
		if (error instanceof AggregateError && error.message === '' && error.errors.length > 0) {
			return describe(error.errors[0]);
		}
		if (error instanceof Error) return error.message === '' ? error.name : error.message;
		return String(error);
	} catch {
		return '';
	}
}
