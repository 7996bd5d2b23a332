// CPA-Manager's management API over HTTP(S): one GET at a time per call, authenticated with the
// management key, bounded in time and in size, every failure sorted into what the caller does next.

/** What went wrong, as the source acts on it (reference cpa-manager-usage-api.md §2.1, §2.7). */
export type ManagementErrorKind =
	/** 404 or 405: the endpoint does not exist here; the only case that falls back to the legacy payload. */
	| 'missing-endpoint'
	/** 401 or 403: the key is wrong; retrying will not help. */
	| 'rejected-key'
	/** 5xx. */
	| 'server'
	/** Another 4xx: the request itself was refused (its `error` says why). */
	| 'request'
	| 'timeout'
	/** Refused, reset, unknown host: nothing answered. */
	| 'network'
	/** Not JSON (an HTML login page, a proxy's error page, a cut body). */
	| 'malformed'
	| 'too-large';

export class ManagementError extends Error {
	override readonly name = 'ManagementError';
	constructor(
		readonly kind: ManagementErrorKind,
		message: string,
		readonly status: number | null = null,
	) {
		super(message);
	}
}

/** Only an endpoint that is not there sends the source to the legacy payload: never an outage or a bad key. */
export const fallsBackToLegacy = (error: unknown): boolean => error instanceof ManagementError && error.kind === 'missing-endpoint';

export interface ManagementClientOptions {
	/** http(s)://host:port, maybe with a path prefix; never a query or fragment. */
	readonly baseUrl: string;
	readonly key: string;
	/** Per request, headers and body together. Default 10 s. */
	readonly timeoutMs?: number;
	/** The largest body read; a bigger one is refused, not buffered. Default 64 MiB. */
	readonly maxBytes?: number;
}

export interface ManagementResponse<T> {
	readonly body: T;
	/** Bytes of the body as received: what a refresh costs on the wire. */
	readonly bytes: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** The base address, refused when it is not a plain http(s) URL. */
function checkedBase(baseUrl: string): URL {
	const url = new URL(baseUrl);
	if (!/^https?:$/u.test(url.protocol) || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
		throw new ManagementError('request', 'the CPA-Manager address must be http(s)://host:port, without credentials, query or fragment');
	}
	return url;
}

/** Errors of a connection that was closed under a request before any answer. */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** fetch says only "fetch failed"; what happened is in its cause (ECONNREFUSED, bad port …). */
const causeCode = (error: unknown): string | undefined => (error as {cause?: {code?: string}}).cause?.code;

/** `{"error": "…", "code": "…"}`, the manager's error body, when it is one. */
function errorText(text: string): string | null {
	try {
		const body = JSON.parse(text) as {error?: unknown};
		return typeof body.error === 'string' ? body.error : null;
	} catch {
		return null;
	}
}

export class ManagementClient {
	private readonly base: URL;
	/** The base's path without trailing slashes ('' at the root: a URL's own path is never empty). */
	private readonly prefix: string;
	private readonly timeoutMs: number;
	private readonly maxBytes: number;

	constructor(private readonly options: ManagementClientOptions) {
		this.base = checkedBase(options.baseUrl);
		this.prefix = this.base.pathname.replace(/\/+$/u, '');
		this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
	}

	/** The URL of `path` (which must not end in a slash: the manager would answer with the legacy payload). */
	url(path: string, query: Readonly<Record<string, string | number | undefined>> = {}): URL {
		if (!path.startsWith('/') || path.endsWith('/')) {
			throw new Error(`a management path starts with / and never ends with one: ${path}`);
		}
		const url = new URL(this.base);
		url.pathname = `${this.prefix}${path}`;
		for (const [name, value] of Object.entries(query)) {
			if (value !== undefined) url.searchParams.set(name, String(value));
		}
		return url;
	}

	async get<T>(path: string, query: Readonly<Record<string, string | number | undefined>> = {}, signal?: AbortSignal): Promise<ManagementResponse<T>> {
		const url = this.url(path, query);
		const timeout = AbortSignal.timeout(this.timeoutMs);
		const aborted = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
		const where = `GET ${url.pathname}`;
		const send = () => fetch(url, {headers: {authorization: `Bearer ${this.options.key}`, accept: 'application/json'}, signal: aborted, redirect: 'error'});
		let response: Response;
		try {
			response = await send().catch(async (error: unknown) => {
				// A kept-alive connection the server closed as it was reused: the request never reached
				// it, and a GET is safe to send again, once, on a new connection.
				if (aborted.aborted || !STALE_CONNECTION_CODES.has(causeCode(error) ?? '')) throw error;
				return send();
			});
		} catch (error) {
			throw this.transportError(where, error, timeout);
		}
		let text: string;
		try {
			text = await this.readBody(response, where);
		} catch (error) {
			throw error instanceof ManagementError ? error : this.transportError(where, error, timeout);
		}
		const bytes = Buffer.byteLength(text);
		if (!response.ok) {
			throw this.statusError(where, response.status, text);
		}
		try {
			return {body: JSON.parse(text) as T, bytes};
		} catch {
			const looksHtml = /^\s*</u.test(text);
			throw new ManagementError('malformed', `${where}: the answer is ${looksHtml ? 'an HTML page' : 'not JSON'}; is this a CPA-Manager address?`, response.status);
		}
	}

	/** The body, counted as it arrives: past maxBytes the stream is cancelled, never buffered whole. */
	private async readBody(response: Response, where: string): Promise<string> {
		const declared = Number(response.headers.get('content-length') ?? Number.NaN);
		if (declared > this.maxBytes) {
			await response.body?.cancel();
			throw new ManagementError('too-large', `${where}: the answer is ${declared} bytes, over the ${this.maxBytes}-byte limit`, response.status);
		}
		const chunks: Uint8Array[] = [];
		let total = 0;
		if (response.body !== null) {
			for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
				total += chunk.byteLength;
				if (total > this.maxBytes) {
					await response.body.cancel().catch(() => undefined);
					throw new ManagementError('too-large', `${where}: the answer passed the ${this.maxBytes}-byte limit`, response.status);
				}
				chunks.push(chunk);
			}
		}
		return Buffer.concat(chunks).toString('utf8');
	}

	private statusError(where: string, status: number, text: string): ManagementError {
		const said = errorText(text);
		if (status === 404 || status === 405) return new ManagementError('missing-endpoint', `${where}: ${status}${said === null ? '' : ` (${said})`}`, status);
		if (status === 401 || status === 403) return new ManagementError('rejected-key', `management key rejected (${where}: ${status})`, status);
		if (status >= 500) return new ManagementError('server', `${where}: the server failed with ${status}${said === null ? '' : ` (${said})`}`, status);
		return new ManagementError('request', `${where}: ${status}${said === null ? '' : ` ${said}`}`, status);
	}

	private transportError(where: string, error: unknown, timeout: AbortSignal): ManagementError {
		if (timeout.aborted) return new ManagementError('timeout', `${where}: no answer within ${this.timeoutMs} ms`);
		const cause = (error as {cause?: {message?: string}}).cause;
		return new ManagementError('network', `${where}: ${causeCode(error) ?? cause?.message ?? (error instanceof Error ? error.message : String(error))}`);
	}
}
