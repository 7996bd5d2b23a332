import {bytes} from '../../output/format.js';
import {maskSecrets, registerSecret} from '../../output/secret-registry.js';
import {boundedText, BodyCutShort, type BodyText} from './response-body.js';

// CPA-Manager's management API over HTTP(S): one GET at a time per call, authenticated with the
// management key, bounded in time and in size, every failure sorted into what the caller does next
// and told in one line that names the server's host, never the key.

/** What went wrong, as the source acts on it (reference cpa-manager-usage-api.md §2.1, §2.7). */
export type ManagementErrorKind =
	/** 404 or 405: the endpoint does not exist here; the only case that falls back to the legacy payload. */
	| 'missing-endpoint'
	/** 401 or 403: the key is wrong; retrying will not help. */
	| 'rejected-key'
	/** 5xx. */
	| 'server'
	/** Another 4xx (or a 3xx that is not a redirect): the request itself was refused (its `error` says why). */
	| 'request'
	| 'timeout'
	/** Refused, reset, unknown host: nothing answered; or the connection broke part-way through the answer. */
	| 'network'
	/** Not JSON (an HTML login page, a proxy's error page, a cut body). */
	| 'malformed'
	/** Past the body limit: the connection was closed as soon as it was passed. */
	| 'too-large'
	/** 3xx: never followed, since the key would go along. */
	| 'redirect';

export class ManagementError extends Error {
	override readonly name = 'ManagementError';
	constructor(
		readonly kind: ManagementErrorKind,
		message: string,
		readonly status: number | null = null,
		/** The socket's error code (ECONNREFUSED, UND_ERR_SOCKET …) of a network failure, as node names it. */
		readonly code: string | undefined = undefined,
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
	/** The largest body read; past it the connection is closed. Default 16 MiB. */
	readonly maxBytes?: number;
}

export interface RequestOptions {
	/** Aborting it closes the request's connection; the call then rejects with the signal's reason. */
	readonly signal?: AbortSignal;
	/** This request's body limit, when it is not the client's. */
	readonly maxBytes?: number;
}

export interface ManagementResponse<T> {
	readonly body: T;
	/** Bytes of the body as received: what a refresh costs on the wire. */
	readonly bytes: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** A page of 500 requests is about 1 MB: the limit leaves room and keeps four requests in flight far from a small server's memory. */
const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;
/** The manager's error text, as far as a one-line message shows it. */
const MAX_SAID_CHARS = 160;

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
const UNKNOWN_HOST_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN']);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** fetch says only "fetch failed"; what happened is in its cause (ECONNREFUSED, bad port …). */
const causeCode = (error: unknown): string | undefined => (error as {cause?: {code?: string}}).cause?.code;

/** `{"error": "…", "code": "…"}`, the manager's error body, when it is one: its first line, cut to fit a message. */
function errorText(text: string): string | null {
	try {
		const body = JSON.parse(text) as {error?: unknown};
		if (typeof body.error !== 'string') return null;
		const line = body.error.trim().split(/\r\n|\r|\n/u)[0]!;
		return line === '' ? null : line.length > MAX_SAID_CHARS ? `${line.slice(0, MAX_SAID_CHARS)}…` : line;
	} catch {
		return null;
	}
}

/** Where a redirect points, as the address to give instead: scheme, host and port, never a path or query. */
function addressOf(url: URL): string {
	const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '';
	return `${url.protocol}//${url.hostname}${port === '' ? '' : `:${port}`}`;
}

/** Where a redirect points, resolved against the request's URL; null when it names no valid address. */
function redirectTarget(location: string | null, from: URL): URL | null {
	if (location === null || location.trim() === '') return null;
	try {
		return new URL(location, from);
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
	/** How every message names the server: its host, never the key or the full address. */
	private readonly who: string;

	constructor(private readonly options: ManagementClientOptions) {
		this.base = checkedBase(options.baseUrl);
		// A header cannot carry control characters, and fetch's complaint would quote the key.
		if (/[\0-\x1f\x7f]|[^\0-\xff]/u.test(options.key)) {
			throw new ManagementError('request', 'the management key holds a character an HTTP header cannot carry');
		}
		this.prefix = this.base.pathname.replace(/\/+$/u, '');
		this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
		this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
		this.who = `CPA-Manager at ${this.base.host}`;
		// A server can echo the key back (in an error text, a redirect's host or path): masked wherever it is shown.
		registerSecret(options.key);
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

	async get<T>(path: string, query: Readonly<Record<string, string | number | undefined>> = {}, {signal, maxBytes = this.maxBytes}: RequestOptions = {}): Promise<ManagementResponse<T>> {
		signal?.throwIfAborted();
		const url = this.url(path, query);
		const timeout = AbortSignal.timeout(this.timeoutMs);
		const aborted = signal === undefined ? timeout : AbortSignal.any([timeout, signal]);
		// Redirects are never followed: the key would go wherever they point.
		const send = () => fetch(url, {headers: {authorization: `Bearer ${this.options.key}`, accept: 'application/json'}, signal: aborted, redirect: 'manual'});
		let response: Response;
		try {
			response = await send().catch(async (error: unknown) => {
				// A kept-alive connection the server closed as it was reused: the request never reached
				// it, and a GET is safe to send again, once, on a new connection.
				if (aborted.aborted || !STALE_CONNECTION_CODES.has(causeCode(error) ?? '')) throw error;
				return send();
			});
		} catch (error) {
			signal?.throwIfAborted();
			throw this.unanswered(error, timeout);
		}
		const {status} = response;
		if (REDIRECT_STATUSES.has(status)) {
			await response.body?.cancel().catch(() => undefined);
			throw this.redirected(path, url, response);
		}
		const declared = Number(response.headers.get('content-length') ?? Number.NaN);
		if (declared > maxBytes) {
			await response.body?.cancel().catch(() => undefined);
			throw this.failure('too-large', `${this.who} announced a ${bytes(declared)} answer for ${path}, past the ${bytes(maxBytes)} limit; not read`, status);
		}
		let body: BodyText;
		try {
			body = await boundedText(response.body, maxBytes);
		} catch (error) {
			signal?.throwIfAborted();
			throw this.cutShort(path, error, timeout, declared, maxBytes, status);
		}
		if (!response.ok) {
			throw this.statusError(path, status, body.text);
		}
		return {body: this.parsed<T>(body, response), bytes: body.bytes};
	}

	/** Every message goes out through here: the key is masked in whatever the server made it quote. */
	private failure(kind: ManagementErrorKind, message: string, status: number | null = null, code?: string): ManagementError {
		return new ManagementError(kind, maskSecrets(message), status, code);
	}

	private parsed<T>({text, bytes: received}: BodyText, response: Response): T {
		try {
			return JSON.parse(text) as T;
		} catch {
			const {status} = response;
			const start = text.trimStart();
			if (/html/iu.test(response.headers.get('content-type') ?? '') || start.startsWith('<')) {
				throw this.failure('malformed', `${this.who} sent HTML, not JSON (status ${status}): is the URL the management API's base?`, status);
			}
			// An object or array that never closes: the sender stopped part-way, yet ended the answer.
			if (/^[[{]/u.test(start) && !/[\]}]\s*$/u.test(text)) {
				throw this.failure('malformed', `${this.who} sent JSON cut off after ${bytes(received)} (status ${status}): check its log, or a proxy in between`, status);
			}
			const what = received === 0 ? 'an empty answer' : 'something other than JSON';
			throw this.failure('malformed', `${this.who} sent ${what} (status ${status}): is the URL the management API's base?`, status);
		}
	}

	private redirected(path: string, url: URL, response: Response): ManagementError {
		const {status} = response;
		const target = redirectTarget(response.headers.get('location'), url);
		if (target === null) {
			return this.failure('redirect', `${this.who} answered ${path} with a redirect (${status}) to no valid address; relaytop does not follow redirects`, status);
		}
		if (target.origin !== url.origin) {
			return this.failure('redirect', `${this.who} answered with a redirect to ${addressOf(target)}; relaytop does not follow redirects to another host: use that URL`, status);
		}
		return this.failure('redirect', `${this.who} answered ${path} with a redirect to ${target.pathname}; relaytop does not follow redirects: is the URL the management API's base?`, status);
	}

	private statusError(path: string, status: number, text: string): ManagementError {
		const said = errorText(text);
		if (status === 404 || status === 405) return this.failure('missing-endpoint', `${this.who} has no ${path} (${status}): is the URL the management API's base?`, status);
		if (status === 401 || status === 403) return this.failure('rejected-key', `management key rejected (GET ${path}: ${status})`, status);
		if (status >= 500) return this.failure('server', `${this.who} failed with ${status}${said === null ? '' : `: ${said}`}`, status);
		return this.failure('request', `${this.who} refused ${path} with ${status}${said === null ? '' : `: ${said}`}`, status);
	}

	/** No answer at all: nothing listening, no such host, a timeout, a connection closed before the headers. */
	private unanswered(error: unknown, timeout: AbortSignal): ManagementError {
		if (timeout.aborted) return this.failure('timeout', `${this.who} did not answer within ${this.timeoutMs / 1000} s`);
		const code = causeCode(error);
		if (code === 'ECONNREFUSED') return this.failure('network', `${this.who} refused the connection (ECONNREFUSED): is it running, on that port?`, null, code);
		if (code !== undefined && UNKNOWN_HOST_CODES.has(code)) return this.failure('network', `${this.who}: no such host (${code})`, null, code);
		if (code !== undefined && STALE_CONNECTION_CODES.has(code)) return this.failure('network', `${this.who} closed the connection before answering`, null, code);
		const cause = (error as {cause?: {message?: string}}).cause;
		const what = code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
		return this.failure('network', `${this.who} could not be reached (${what.split(/\r\n|\r|\n/u)[0]})`, null, code);
	}

	/** The answer began, then stopped: past the limit (closed here), at the timeout, or broken off by the other end. */
	private cutShort(path: string, error: unknown, timeout: AbortSignal, declared: number, maxBytes: number, status: number): ManagementError {
		const received = error instanceof BodyCutShort ? error.received : 0;
		if (error instanceof BodyCutShort && error.overLimit) {
			return this.failure('too-large', `${this.who} sent more than ${bytes(maxBytes)} for ${path}; aborted`, status);
		}
		if (timeout.aborted) {
			return this.failure('timeout', `${this.who} did not finish its answer within ${this.timeoutMs / 1000} s (${bytes(received)} received)`, status);
		}
		const whole = Number.isFinite(declared) ? `a ${bytes(declared)} answer` : 'an answer';
		const broken = error instanceof BodyCutShort ? error.cause : error;
		return this.failure('network', `${this.who} closed the connection after ${bytes(received)} of ${whole}`, status, causeCode(broken));
	}
}
