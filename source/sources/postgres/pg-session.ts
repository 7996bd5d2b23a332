import pg from 'pg';
import {markSql} from '../../postgres/monitor/queryable.js';
import type {Row} from '../sql/decode.js';
import type {SqlFragment} from '../sql/fragment.js';
import type {SqlRunner} from '../sql/sql-runner.js';
import {numberedPlaceholders} from './pg-placeholders.js';

/** Limits every statement of an observer's session carries. */
export interface SessionLimits {
	readonly statementTimeoutMs: number;
	readonly lockTimeoutMs: number;
	/** Closes the connection after this long without a query: for a database read seldom. */
	readonly idleCloseMs?: number;
}

export const OBSERVER_LIMITS: SessionLimits = {statementTimeoutMs: 10_000, lockTimeoutMs: 1000};

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Whether an error leaves the connection unusable: anything but an error the server reported
 * about a statement, or the server ending the session (SQLSTATE classes 08 and 57: shutdown,
 * termination by an administrator).
 */
const connectionLost = (error: unknown): boolean => !(error instanceof pg.DatabaseError) || /^(?:08|57P)/u.test(error.code ?? '');

/**
 * One connection, opened on first use and again after it breaks (a server restart, a network
 * cut): a query on a broken connection fails, the next one reconnects. Read-only by default, with
 * a statement and a lock timeout, so nothing the dashboard asks can hold a lock or run long.
 */
export class PgSession implements SqlRunner {
	private client: Promise<pg.Client> | undefined;
	/** Connections that ended or failed: the next query opens another. */
	private readonly broken = new WeakSet<pg.Client>();
	private idleTimer: NodeJS.Timeout | undefined;
	private closed = false;
	/** The last query handed to the connection: the next one starts after it settles. */
	private tail: Promise<unknown> = Promise.resolve();

	constructor(
		private readonly config: pg.ClientConfig,
		private readonly limits: SessionLimits = OBSERVER_LIMITS,
	) {}

	async one(query: SqlFragment): Promise<Row> {
		return (await this.all(query))[0] ?? {};
	}

	async all(query: SqlFragment): Promise<Row[]> {
		// Marked, so relaytop's own statements can be told apart in pg_stat_statements.
		return (await this.query(markSql(numberedPlaceholders(query.sql)), query.params)).rows;
	}

	/** A statement written for PostgreSQL, with its own `$n` placeholders. */
	async query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<pg.QueryResult<T>> {
		// One at a time, in order: a pg client given a query while another runs queues it too, but
		// warns that this is deprecated, and the warning would land on the dashboard's screen.
		const turn = this.tail.then(() => this.run<T>(text, params));
		this.tail = turn.catch(() => undefined);
		return turn;
	}

	private async run<T extends Row>(text: string, params: readonly unknown[]): Promise<pg.QueryResult<T>> {
		if (this.closed) {
			throw new Error('the PostgreSQL session is closed');
		}
		clearTimeout(this.idleTimer);
		const client = await this.connected();
		try {
			return await client.query<T>(text, params as unknown[]);
		} catch (error) {
			if (connectionLost(error)) {
				this.broken.add(client); // the 'end' event may come only after the next query
			}
			throw error;
		} finally {
			if (this.limits.idleCloseMs !== undefined) {
				this.idleTimer = setTimeout(() => void this.disconnect(), this.limits.idleCloseMs);
				this.idleTimer.unref();
			}
		}
	}

	async hasTable(name: string): Promise<boolean> {
		const {rows} = await this.query<{found: boolean}>('SELECT to_regclass($1) IS NOT NULL AS found', [name]);
		return rows[0]?.found === true;
	}

	async close(): Promise<void> {
		this.closed = true;
		clearTimeout(this.idleTimer);
		await this.disconnect();
	}

	private async connected(): Promise<pg.Client> {
		const current = this.client;
		if (current !== undefined) {
			const client = await current.catch(() => undefined);
			if (client !== undefined && !this.broken.has(client)) {
				return client;
			}
			if (this.client !== current) {
				return this.connected(); // another query is reconnecting already
			}
		}
		this.client = this.connect();
		return this.client;
	}

	private async connect(): Promise<pg.Client> {
		const {statementTimeoutMs, lockTimeoutMs} = this.limits;
		const client = new pg.Client({
			...this.config,
			connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
			// A server that stops answering must not hang a panel past its own timeout.
			query_timeout: statementTimeoutMs + 5000,
			keepAlive: true,
		});
		// An idle connection that breaks reports here; without a listener the process would crash.
		client.on('error', () => this.broken.add(client));
		client.on('end', () => this.broken.add(client));
		try {
			await client.connect();
			// Set after the startup packet, so a URL's own options cannot turn them off.
			// No parallel workers: a dashboard query spreading over three cores is the load it is there to find.
			await client.query(
				`SELECT set_config('statement_timeout', $1, false), set_config('lock_timeout', $2, false),
	set_config('idle_in_transaction_session_timeout', $1, false), set_config('default_transaction_read_only', 'on', false),
	set_config('max_parallel_workers_per_gather', '0', false)`,
				[`${statementTimeoutMs}ms`, `${lockTimeoutMs}ms`],
			);
			return client;
		} catch (error) {
			this.broken.add(client);
			await client.end().catch(() => undefined);
			throw error;
		}
	}

	private async disconnect(): Promise<void> {
		const client = this.client;
		this.client = undefined;
		if (client !== undefined) {
			await (await client.catch(() => undefined))?.end().catch(() => undefined);
		}
	}
}
