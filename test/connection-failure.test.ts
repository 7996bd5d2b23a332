import {createServer as createHttpServer} from 'node:http';
import {connect, createServer, type AddressInfo, type Server} from 'node:net';
import pg from 'pg';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {connectionFailure, isConnectionFailure} from '../source/poll/connection-failure.js';
import {PostgresMonitor} from '../source/postgres/monitor/postgres-monitor.js';
import {ManagementClient} from '../source/sources/cpa-http/management-client.js';
import {PgSession} from '../source/sources/postgres/pg-session.js';
import {freePort, refusedConnection} from './support/net.js';
import {testPostgres} from './support/postgres-server.js';
import {waitFor} from './support/postgres-waits.js';

// Which failures mean "the server cannot be reached", on errors produced for real: sockets to a
// closed port or to a listener that resets or never answers, PostgreSQL sessions ended by the
// server, fetch and the CPA-Manager client. Server errors that are answers stay ordinary failures.

const caught = async (work: () => Promise<unknown>): Promise<unknown> => {
	try {
		await work();
	} catch (error) {
		return error;
	}
	throw new Error('expected a failure');
};

const listening = async (server: Server | ReturnType<typeof createHttpServer>): Promise<number> => {
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	return (server.address() as AddressInfo).port;
};

let url: string;
let admin: pg.Client;
const servers: Array<{close(): unknown}> = [];

beforeAll(async () => {
	({url} = await testPostgres());
	admin = new pg.Client({connectionString: url});
	await admin.connect();
});

afterAll(async () => {
	await admin.end();
	for (const server of servers) server.close();
});

/** A session of its own on the test server, and its backend's pid. */
async function session(applicationName: string): Promise<{client: pg.Client; pid: number; errors: Error[]}> {
	const client = new pg.Client({connectionString: url, application_name: applicationName});
	const errors: Error[] = [];
	client.on('error', error => errors.push(error));
	await client.connect();
	const {rows} = await client.query<{pid: number}>('SELECT pg_backend_pid() AS pid');
	return {client, pid: rows[0]!.pid, errors};
}

const terminate = (pid: number) => admin.query('SELECT pg_terminate_backend($1)', [pid]);

describe('sockets', () => {
	it('a refused connection, from pg, from a socket, and from fetch (the cause of its "fetch failed")', async () => {
		const port = await freePort();
		const fromPg = await caught(() => new pg.Client({host: '127.0.0.1', port, user: 'postgres'}).connect());
		expect(fromPg).toMatchObject({code: 'ECONNREFUSED'});
		expect(connectionFailure(fromPg)).toBe('connection refused');

		expect(connectionFailure(await refusedConnection())).toBe('connection refused');

		const fromFetch = await caught(() => fetch(`http://127.0.0.1:${port}/`));
		expect(fromFetch).toBeInstanceOf(TypeError);
		expect((fromFetch as Error).message).toBe('fetch failed');
		expect(connectionFailure(fromFetch)).toBe('connection refused');
	});

	it('every address of a host refused: the members of the AggregateError', async () => {
		const port = await freePort();
		// A name with two addresses, each tried in turn (happy eyeballs), as "localhost" often has.
		const twoAddresses = (_host: string, options: {all?: boolean}, done: (...args: unknown[]) => void) =>
			options.all === true
				? done(null, [
						{address: '127.0.0.1', family: 4},
						{address: '127.0.0.2', family: 4},
					])
				: done(null, '127.0.0.1', 4);
		const error = await new Promise<Error>(resolve => connect({port, host: 'gateway.test', autoSelectFamily: true, lookup: twoAddresses as never}).on('error', resolve));
		expect(error).toBeInstanceOf(AggregateError);
		expect((error as AggregateError).errors.length).toBe(2);
		expect(connectionFailure(error)).toBe('connection refused');
		// Without the aggregate's own code, its members still tell.
		expect(connectionFailure(new AggregateError((error as AggregateError).errors, ''))).toBe('connection refused');
	});

	it('a connection reset by the listener, from pg and from fetch', async () => {
		const reset = createServer(socket => socket.resetAndDestroy());
		servers.push(reset);
		const port = await listening(reset);
		const fromPg = await caught(() => new pg.Client({host: '127.0.0.1', port, user: 'postgres'}).connect());
		expect(connectionFailure(fromPg)).toMatch(/^connection (?:reset|lost)$/u);
		const fromFetch = await caught(() => fetch(`http://127.0.0.1:${port}/`));
		expect(connectionFailure(fromFetch)).toMatch(/^connection (?:reset|closed)$/u);
	});

	it("pg's connection timeout, against a listener that never answers", async () => {
		const silent = createServer(() => undefined);
		servers.push(silent);
		const port = await listening(silent);
		const error = await caught(() => new pg.Client({host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 200}).connect());
		expect(connectionFailure(error)).toBe('connect timed out');
	});

	it('a host name that does not resolve', async () => {
		const error = await caught(() => new pg.Client({host: 'relaytop-no-such-host.invalid', user: 'postgres', connectionTimeoutMillis: 5000}).connect());
		expect(connectionFailure(error)).toMatch(/^(?:host not found|connect timed out)$/u);
	});

	it('a TLS handshake with a server that answers plain HTTP is not a failure to reach it', async () => {
		const web = createHttpServer((_request, response) => response.end('hello'));
		servers.push(web);
		const port = await listening(web);
		const error = await caught(() => fetch(`https://127.0.0.1:${port}/`));
		expect((error as Error).message).toBe('fetch failed');
		expect(connectionFailure(error)).toBeNull();
	});
});

describe('PostgreSQL sessions ended by the server', () => {
	it('a query in flight when its backend is terminated, the client afterwards, and an idle one', async () => {
		const busy = await session('relaytop-classify-busy');
		const running = caught(() => busy.client.query('SELECT pg_sleep(30)'));
		await waitFor(
			async () => (await admin.query<{state: string}>('SELECT state FROM pg_stat_activity WHERE pid = $1', [busy.pid])).rows[0]?.state,
			state => state === 'active',
			'the busy session to run its query',
			30_000,
		);
		await terminate(busy.pid);
		const inFlight = await running;
		expect(inFlight).toBeInstanceOf(pg.DatabaseError);
		expect(inFlight).toMatchObject({code: '57P01'});
		expect(connectionFailure(inFlight)).toBe('terminated by the server');
		const afterwards = await caught(() => busy.client.query('SELECT 1'));
		expect(connectionFailure(afterwards)).toBe('connection lost');

		const idle = await session('relaytop-classify-idle');
		await terminate(idle.pid);
		await waitFor(async () => idle.errors.length, count => count > 0, 'the idle session to report its end', 30_000);
		for (const error of idle.errors) expect(isConnectionFailure(error)).toBe(true);
		const next = await caught(() => idle.client.query('SELECT 1'));
		expect(connectionFailure(next)).toBe('connection lost');
	});

	it('answers of a live server are not: a syntax error, a missing table, a statement timeout, a bad password', async () => {
		const {client} = await session('relaytop-classify-answers');
		try {
			expect(connectionFailure(await caught(() => client.query('SELEC 1')))).toBeNull();
			expect(connectionFailure(await caught(() => client.query('SELECT * FROM relaytop_no_such_table')))).toBeNull();
			await client.query("SET statement_timeout = '50ms'");
			const timeout = await caught(() => client.query('SELECT pg_sleep(1)'));
			expect(timeout).toMatchObject({code: '57014'});
			expect(connectionFailure(timeout)).toBeNull();
		} finally {
			await client.end();
		}
		const wrong = new URL(url);
		wrong.username = 'relaytop_no_such_role';
		wrong.password = 'wrong';
		const refusedLogin = await caught(() => new pg.Client({connectionString: wrong.toString()}).connect());
		expect(refusedLogin).toBeInstanceOf(pg.DatabaseError);
		expect(connectionFailure(refusedLogin)).toBeNull();
	});

	it('the server starting up, shutting down or crashed, and the connection exceptions of class 08', () => {
		// These need a server in that state at that instant (test/postgres-restart.test.tsx meets them
		// as they come); here their SQLSTATEs and messages as pg reports them.
		const serverSays = (code: string, message: string) => Object.assign(new pg.DatabaseError(message, message.length, 'error'), {code, severity: 'FATAL'});
		expect(connectionFailure(serverSays('57P03', 'the database system is starting up'))).toBe('server starting up');
		expect(connectionFailure(serverSays('57P03', 'the database system is shutting down'))).toBe('server shutting down');
		expect(connectionFailure(serverSays('57P03', 'the database system is not yet accepting connections'))).toBe('server not yet accepting connections');
		expect(connectionFailure(serverSays('57P02', 'terminating connection because of crash of another server process'))).toBe('server crashed');
		expect(connectionFailure(serverSays('08006', 'connection failure'))).toBe('connection failure');
		expect(connectionFailure(serverSays('08P01', 'invalid frontend message type 0'))).toBe('connection failure');
		expect(connectionFailure(serverSays('57P04', 'database "newapi" does not exist'))).toBeNull();
		expect(connectionFailure(serverSays('53300', 'sorry, too many clients already'))).toBeNull();
	});
});

describe('CPA-Manager over HTTP', () => {
	it('nothing listening is a failure to reach it; a 5xx is the manager answering', async () => {
		const port = await freePort();
		const refused = await caught(() => new ManagementClient({baseUrl: `http://127.0.0.1:${port}`, key: 'k'}).get('/v0/management/usage/summary'));
		expect(connectionFailure(refused)).toBe('connection refused');

		const failing = createHttpServer((_request, response) => {
			response.statusCode = 503;
			response.end('{"error":"database is locked"}');
		});
		servers.push(failing);
		const up = await listening(failing);
		const answered = await caught(() => new ManagementClient({baseUrl: `http://127.0.0.1:${up}`, key: 'k'}).get('/v0/management/usage/summary'));
		expect((answered as Error).message).toContain('503');
		expect(connectionFailure(answered)).toBeNull();
	});

	it('a connection closed before any answer is a failure to reach it; one broken off part-way through the body is not', async () => {
		let midBody = false;
		const dropping = createHttpServer((request, response) => {
			if (!midBody) {
				request.socket.destroy();
				return;
			}
			response.writeHead(200, {'content-type': 'application/json', 'content-length': '1000'});
			response.write('{"total_requests": 1');
			setTimeout(() => request.socket.destroy(), 20);
		});
		servers.push(dropping);
		const port = await listening(dropping);
		const client = new ManagementClient({baseUrl: `http://127.0.0.1:${port}`, key: 'k'});
		const closed = await caught(() => client.get('/v0/management/usage/summary'));
		expect(connectionFailure(closed)).toMatch(/^connection (?:reset|closed)$/u);
		midBody = true;
		const cut = await caught(() => client.get('/v0/management/usage/summary'));
		expect(cut).toMatchObject({kind: 'network', status: 200});
		expect(connectionFailure(cut)).toBeNull();
	});
});

describe('any client that reports an HTTP status', () => {
	it('a socket code with no status is no answer; the same code beside a status is an answer', () => {
		const failed = (status: unknown) => Object.assign(new Error('GET /usage: socket closed'), {code: 'ECONNRESET', status});
		expect(connectionFailure(failed(undefined))).toBe('connection reset');
		expect(connectionFailure(failed(null))).toBe('connection reset');
		expect(connectionFailure(failed(200))).toBeNull();
		expect(connectionFailure(failed(502))).toBeNull();
		// An answer wrapping the socket's error it ended on is still an answer.
		expect(connectionFailure(Object.assign(new Error('body cut short', {cause: failed(undefined)}), {status: 200}))).toBeNull();
	});
});

describe('anything else thrown', () => {
	it('is not a connection failure, and never makes the classifier throw', () => {
		expect(connectionFailure(new TypeError('bug'))).toBeNull();
		expect(connectionFailure(new Error('connection refused'))).toBeNull();
		expect(connectionFailure('ECONNREFUSED')).toBeNull();
		expect(connectionFailure(undefined)).toBeNull();
		const hostile = new Proxy(
			{},
			{
				get() {
					throw new Error('nope');
				},
			},
		);
		expect(connectionFailure(hostile)).toBeNull();
		const loop: {cause?: unknown} = {};
		loop.cause = loop;
		expect(connectionFailure(loop)).toBeNull();
	});
});

describe("the PostgreSQL view's monitor", () => {
	it('throws when the server is out of reach, rather than a snapshot of notices', async () => {
		const port = await freePort();
		const nowhere = new PgSession({host: '127.0.0.1', port, user: 'postgres', application_name: 'relaytop'});
		try {
			const error = await caught(() => new PostgresMonitor().snapshot(nowhere));
			expect(connectionFailure(error)).toBe('connection refused');
		} finally {
			await nowhere.close();
		}
	});

	it('reads the server again on a new connection after its own was terminated', async () => {
		const monitorSession = new PgSession({connectionString: url, application_name: 'relaytop'});
		const monitor = new PostgresMonitor();
		try {
			const first = await monitor.snapshot(monitorSession, ['server', 'database']);
			expect(first.server.status).toBe('ok');
			const {rows} = await monitorSession.query<{pid: number}>('SELECT pg_backend_pid() AS pid');
			await terminate(rows[0]!.pid);
			// The first try may meet the ended session (it fails, as a connection failure); a retry reconnects.
			let next = await monitor.snapshot(monitorSession, ['server', 'database']).catch((error: unknown) => {
				expect(isConnectionFailure(error)).toBe(true);
				return null;
			});
			next ??= await monitor.snapshot(monitorSession, ['server', 'database']);
			expect(next.server.status).toBe('ok');
			expect(next.database?.status).toBe('ok');
			const again = await monitorSession.query<{pid: number}>('SELECT pg_backend_pid() AS pid');
			expect(again.rows[0]!.pid).not.toBe(rows[0]!.pid);
		} finally {
			await monitorSession.close();
		}
	});
});
