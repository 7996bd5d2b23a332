// A response body read as it arrives, with a running count: past the limit the connection is
// closed at once, so a huge or endless answer costs at most the limit in memory.

/** The body ended before its end: past the limit (closed here), or broken off (by the server, a proxy or a timeout). */
export class BodyCutShort extends Error {
	override readonly name = 'BodyCutShort';
	constructor(
		/** Bytes received before it ended. */
		readonly received: number,
		readonly overLimit: boolean,
		options?: ErrorOptions,
	) {
		super(overLimit ? 'the body passed its limit' : 'the body was cut short', options);
	}
}

export interface BodyText {
	readonly text: string;
	/** Bytes as received: what the answer cost on the wire. */
	readonly bytes: number;
}

export async function boundedText(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<BodyText> {
	if (body === null) return {text: '', bytes: 0};
	const reader = body.getReader();
	const decoder = new TextDecoder();
	// Decoded chunk by chunk: a raw chunk is dropped once decoded, never joined into a second copy.
	const parts: string[] = [];
	let received = 0;
	for (;;) {
		const next = await reader.read().catch((error: unknown) => {
			throw new BodyCutShort(received, false, {cause: error});
		});
		if (next.done) break;
		received += next.value.byteLength;
		if (received > maxBytes) {
			// Cancelling closes the connection: the server sees it and stops sending.
			await reader.cancel().catch(() => undefined);
			throw new BodyCutShort(received, true);
		}
		parts.push(decoder.decode(next.value, {stream: true}));
	}
	parts.push(decoder.decode());
	return {text: parts.join(''), bytes: received};
}
