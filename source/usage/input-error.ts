/** A problem with what the user asked for. Its message is one line, safe to print as is. */
export class InputError extends Error {
	override readonly name = 'InputError';
}
