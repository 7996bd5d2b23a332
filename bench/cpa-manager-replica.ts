import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {
	goJson,
	MAX_PAGE_SIZE,
	ReplicaStore,
	SORT_KEYS,
	trimSpace,
	type BreakdownKind,
	type PageFilter,
	type SortKey,
	type UsageFilter,
} from './cpa-manager-replica-queries.js';

// A stand-in for CPA-Manager's usage service (reference cpa-manager-usage-api.md §1–§4, §8): a real
// HTTP server answering the manager's management endpoints from a CPA-Manager SQLite store, for the
// HTTP client's tests and for benchmarks that count bytes. Written from the reference, not from this
// project's sources. The store is only read: imports, price and alias edits are not replicated.

export type ReplicaFlavour = 'cpa-manager' | 'cpa-manager-plus' | 'pre-paged';

/** One request as the replica saw it. The management key is never kept: `auth` says how it compared. */
export interface ReplicaRequest {
	readonly method: string;
	/** The path as sent (not decoded), and the query without its '?'. */
	readonly path: string;
	readonly query: string;
	/** Header names in lower case; `authorization` is '[redacted]' when sent. */
	readonly headers: Readonly<Record<string, string | undefined>>;
	readonly auth: 'valid' | 'invalid' | 'missing';
	/** 0 until answered, and for a hang-up. */
	readonly status: number;
	/** Bytes of the response body. */
	readonly bytes: number;
}

/** What an intercept makes of a request: wait, then hang up, answer this, or (neither) answer normally. */
export interface ReplicaFault {
	readonly delayMs?: number;
	readonly hangUp?: boolean;
	readonly status?: number;
	readonly body?: string;
	/** Default application/json. */
	readonly contentType?: string;
}

export interface ReplicaOptions {
	/** A CPA-Manager SQLite store (CPA_DDL), opened read-only. */
	readonly dbPath: string;
	/**
	 * The key of the saved setup: `Authorization: Bearer <key>` (prefix in any case, token trimmed).
	 * '' replays a manager before setup, which checks no key and says `configured: false`.
	 */
	readonly managementKey: string;
	/**
	 * cpa-manager: the paged API (newest stored manager line); pre-paged: a manager from before it
	 * (the five paged paths answer 404); cpa-manager-plus: CPA-Manager-Plus, whose every
	 * GET /v0/management/usage* but /export answers its legacy-compatible payload.
	 */
	readonly flavour?: ReplicaFlavour;
	/** USAGE_QUERY_LIMIT: events in the legacy payload (default 50,000; ≤ 0 means 50,000). */
	readonly legacyLimit?: number;
	/** Called first for every request (fault injection). */
	readonly intercept?: (request: ReplicaRequest) => ReplicaFault | undefined;
}

export interface CpaManagerReplica {
	/** http://127.0.0.1:<port>, without a trailing slash. */
	readonly url: string;
	/** Every request in arrival order, intercepted ones included. */
	readonly requests: ReplicaRequest[];
	/** Stops listening, drops every connection (idle keep-alive ones too) and closes the store. */
	close(): Promise<void>;
}

const SERVICE: Record<ReplicaFlavour, string> = {'cpa-manager': 'cpa-manager', 'pre-paged': 'cpa-manager', 'cpa-manager-plus': 'cpa-manager-plus'};
const PAGED = ['/summary', '/accounts', '/api-keys', '/realtime', '/models'] as const;
type Paged = (typeof PAGED)[number];
const CORS = {
	'access-control-allow-origin': '*',
	'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
	'access-control-allow-headers': 'Authorization, Content-Type',
};

/** A 4xx/5xx answered with the manager's error body. */
class HttpError extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly code = 'request_failed',
	) {
		super(message);
	}
}

/** The manager's writeError: a Go map, so `code` comes before `error`. */
const errorBody = (message: string, code: string): string => `${goJson(new Map([['error', message], ['code', code]]))}\n`;

interface Answer {
	readonly status: number;
	readonly body: string;
	readonly headers: Readonly<Record<string, string>>;
}

// writeJSON: json.NewEncoder(w).Encode(value), which ends with a newline.
const json = (value: unknown, status = 200): Answer => ({status, body: `${goJson(value)}\n`, headers: {'content-type': 'application/json', ...CORS}});
// http.NotFound, as Go's mux and CPA's router answer a path they do not know.
const notFound = (): Answer => ({status: 404, body: '404 page not found\n', headers: {'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff'}});

/** strconv.ParseInt(raw, 10, 64). */
function parseInt64(raw: string): bigint | null {
	if (!/^[+-]?\d+$/u.test(raw)) {
		return null;
	}
	const value = BigInt(raw);
	return value >= -(2n ** 63n) && value < 2n ** 63n ? value : null;
}

/** parseUsageSummaryFilter. */
function parseUsageFilter(query: URLSearchParams): UsageFilter {
	const text = (name: string) => trimSpace(query.get(name) ?? '');
	const int64 = (name: string) => {
		const raw = text(name);
		if (raw === '') {
			return null;
		}
		const value = parseInt64(raw);
		if (value === null) {
			throw new HttpError(400, `invalid ${name}`);
		}
		return value;
	};
	const startMs = int64('start_ms');
	const endMs = int64('end_ms');
	if (startMs !== null && endMs !== null && startMs > endMs) {
		throw new HttpError(400, 'start_ms must be less than or equal to end_ms');
	}
	const status = text('status');
	if (status !== '' && status !== 'success' && status !== 'failed') {
		throw new HttpError(400, 'invalid status');
	}
	return {
		startMs,
		endMs,
		account: text('account'),
		provider: text('provider'),
		model: text('model'),
		channel: text('channel'),
		apiKeyHash: text('api_key_hash'),
		status,
		search: text('search'),
		searchApiKeyHash: text('search_api_key_hash'),
	};
}

/** parseUsagePageFilter, then the store's normalisation (page 1, 20 a page, lastSeenAt, desc). */
function parsePageFilter(query: URLSearchParams): PageFilter {
	const text = (name: string) => trimSpace(query.get(name) ?? '');
	const positive = (name: string) => {
		const raw = text(name);
		if (raw === '') {
			return null;
		}
		const value = parseInt64(raw);
		if (value === null || value <= 0n) {
			throw new HttpError(400, `invalid ${name}`);
		}
		return value;
	};
	const page = positive('page') ?? 1n;
	const pageSize = positive('page_size') ?? 20n;
	if (pageSize > BigInt(MAX_PAGE_SIZE)) {
		throw new HttpError(400, `page_size must be less than or equal to ${MAX_PAGE_SIZE}`);
	}
	const sortKey = text('sort_key');
	if (sortKey !== '' && !(SORT_KEYS as readonly string[]).includes(sortKey)) {
		throw new HttpError(400, 'invalid sort_key');
	}
	const direction = text('sort_direction');
	if (direction !== '' && direction !== 'asc' && direction !== 'desc') {
		throw new HttpError(400, 'invalid sort_direction');
	}
	return {page, pageSize: Number(pageSize), sortKey: (sortKey || 'lastSeenAt') as SortKey, ascending: direction === 'asc'};
}

/** authMatches: `Bearer ` in any case, then the trimmed token, compared exactly. */
function authOf(header: string | undefined, key: string): ReplicaRequest['auth'] {
	const value = trimSpace(header ?? '');
	if (value === '') {
		return 'missing';
	}
	const prefix = 'bearer ';
	return value.length >= prefix.length && value.slice(0, prefix.length).toLowerCase() === prefix && trimSpace(value.slice(prefix.length)) === key ? 'valid' : 'invalid';
}

const delay = (ms: number, timers: Set<NodeJS.Timeout>) =>
	new Promise<void>(resolve => {
		const timer = setTimeout(() => {
			timers.delete(timer);
			resolve();
		}, ms);
		timers.add(timer);
	});

export async function startCpaManagerReplica(options: ReplicaOptions): Promise<CpaManagerReplica> {
	const flavour = options.flavour ?? 'cpa-manager';
	const legacyLimit = options.legacyLimit ?? 50_000;
	const store = new ReplicaStore(options.dbPath);
	const startedAt = Date.now();
	const requests: ReplicaRequest[] = [];
	const timers = new Set<NodeJS.Timeout>();
	const configured = options.managementKey !== '';

	/** authorizeIfConfigured. */
	const authorize = (request: ReplicaRequest) => {
		if (configured && request.auth !== 'valid') {
			throw new HttpError(401, 'invalid management key', 'invalid_management_key');
		}
	};

	const info = () =>
		flavour === 'cpa-manager-plus'
			? // Plus's InfoResult is a struct; the fields beyond these four depend on its setup state.
				{service: SERVICE[flavour], mode: 'embedded', startedAt, configured, adminReady: configured, projectInitialized: configured, setupRequired: !configured, dataKeyReady: configured}
			: // The manager answers a Go map: keys in byte order.
				new Map<string, unknown>([
					['service', SERVICE[flavour]],
					['mode', 'embedded'],
					['startedAt', startedAt],
					['configured', configured],
				]);

	/** handleUsage: every path equal to /v0/management/usage or under it. */
	const usage = (method: string, path: string, query: URLSearchParams): Answer => {
		if (method !== 'GET') {
			// POST …/import exists on the manager; the replica's store is read-only.
			throw new HttpError(405, 'method not allowed', 'method_not_allowed');
		}
		if (path.endsWith('/export')) {
			return {status: 200, body: store.exportLines(), headers: {'content-type': 'application/x-ndjson', 'content-disposition': 'attachment; filename="usage-events.jsonl"', ...CORS}};
		}
		if (flavour === 'cpa-manager-plus') {
			return json(store.plusCompatible(legacyLimit));
		}
		// The manager picks the endpoint with HasSuffix on the path: a trailing slash or an unknown
		// sub-path falls through to the legacy payload.
		const paged = PAGED.find(suffix => path.endsWith(suffix));
		if (paged === undefined) {
			return json(store.legacy(legacyLimit));
		}
		if (flavour === 'pre-paged') {
			return json({error: 'not found'}, 404);
		}
		return json(pagedAnswer(paged, query));
	};

	const pagedAnswer = (paged: Paged, query: URLSearchParams) => {
		const filter = parseUsageFilter(query);
		if (paged === '/summary') {
			return store.summary(filter);
		}
		const page = parsePageFilter(query);
		switch (paged) {
			case '/realtime':
				return store.realtimePage(filter, page);
			case '/models':
				return store.modelsPage(filter, page);
			default:
				return store.groupedPage(paged.slice(1) as BreakdownKind, filter, page);
		}
	};

	/** handleRoot and the mux in front of it. */
	const route = (record: ReplicaRequest, path: string, query: URLSearchParams): Answer => {
		const {method} = record;
		if (method === 'OPTIONS') {
			return {status: 204, body: '', headers: CORS};
		}
		if (path === '/health' || path === '/usage-service/info') {
			if (method !== 'GET') {
				throw new HttpError(405, 'method not allowed', 'method_not_allowed');
			}
			return json(path === '/health' ? new Map<string, unknown>([['ok', true], ['service', SERVICE[flavour]]]) : info());
		}
		if (path.startsWith('/v0/management/')) {
			authorize(record);
		}
		if (path.startsWith('/v0/management/model-prices') || path.startsWith('/v0/management/api-key-aliases')) {
			if (method !== 'GET') {
				throw new HttpError(405, 'method not allowed', 'method_not_allowed');
			}
			return json(path.startsWith('/v0/management/model-prices') ? store.modelPrices() : store.apiKeyAliases());
		}
		if (path === '/v0/management/usage' || path.startsWith('/v0/management/usage/')) {
			return usage(method, path, query);
		}
		// Any other /v0/management/* path is proxied to CPA by the manager; the replica has no CPA.
		return notFound();
	};

	const handle = async (request: IncomingMessage, response: ServerResponse) => {
		const url = request.url ?? '/';
		const mark = url.indexOf('?');
		const headers: Record<string, string | undefined> = {};
		for (const [name, value] of Object.entries(request.headers)) {
			headers[name] = name === 'authorization' ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
		}
		const record = {
			method: request.method ?? 'GET',
			path: mark < 0 ? url : url.slice(0, mark),
			query: mark < 0 ? '' : url.slice(mark + 1),
			headers,
			auth: authOf(request.headers.authorization, options.managementKey),
			status: 0,
			bytes: 0,
		};
		requests.push(record);
		const send = (answer: Answer) => {
			record.status = answer.status;
			record.bytes = Buffer.byteLength(answer.body);
			response.writeHead(answer.status, {...answer.headers, 'content-length': String(record.bytes)});
			response.end(answer.body);
		};
		const fault = options.intercept?.(record);
		if (fault?.delayMs !== undefined) {
			await delay(fault.delayMs, timers);
		}
		if (fault?.hangUp) {
			request.socket.destroy();
			return;
		}
		if (fault?.status !== undefined) {
			send({status: fault.status, body: fault.body ?? '', headers: {'content-type': fault.contentType ?? 'application/json'}});
			return;
		}
		try {
			let path: string;
			try {
				path = decodeURIComponent(record.path);
			} catch {
				send({status: 400, body: '400 Bad Request', headers: {'content-type': 'text/plain; charset=utf-8'}});
				return;
			}
			send(route(record, path, new URLSearchParams(record.query)));
		} catch (error) {
			const status = error instanceof HttpError ? error.status : 500;
			const code = error instanceof HttpError ? error.code : 'request_failed';
			send({status, body: errorBody((error as Error).message, code), headers: {'content-type': 'application/json', ...CORS}});
		}
	};

	const server = createServer((request, response) => {
		void handle(request, response);
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	const {port} = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		requests,
		async close() {
			for (const timer of timers) {
				clearTimeout(timer);
			}
			timers.clear();
			const closed = new Promise<void>(resolve => server.close(() => resolve()));
			server.closeAllConnections();
			await closed;
			store.close();
		},
	};
}
