import {loadavg} from 'node:os';
import pg from 'pg';
import {MAIN_TABLES_DDL, NEWAPI_LOGS_POSTGRES_DDL} from '../source/fixtures/newapi-postgres-fixture.js';

// A big new-api `logs` table on PostgreSQL, built once per database and kept: upstream's DDL and
// index set (source/fixtures/newapi-postgres-fixture.ts), rows generated in SQL with a realistic
// mix, and new-api's users, tokens and channels. A marker table says which generator built it and
// how many rows it holds; a mismatch rebuilds. Before each use the table is topped up to now at
// its newest days' density, so "the last 60 s" and "the last 24 h" hold what a live gateway's do.
//
// Every random number is a hash of the row's number (hashint8extended), so a row does not depend
// on how the load is split into statements, and top-ups continue the same sequence.

/** Bump when the generated rows change: a cached table built by another version is rebuilt. */
export const GENERATOR_VERSION = 1;

/** The time span of the base load, ending at build time. */
export const SPAN_DAYS = 90;
const SPAN_S = SPAN_DAYS * 86_400;

/** Rows per INSERT … SELECT of the base load (progress is logged after each). */
const CHUNK_ROWS = 1_000_000;

/** A table grown by top-ups past this share of its base rows is rebuilt (a cache left for weeks). */
const MAX_TOP_UP_SHARE = 0.2;

const META_TABLE = 'pgqueries_bench_meta';

const USERS = 200;
const CHANNELS = 20;
/** Tokens per user: 1 + (user mod 4), so 500 over 200 users. */
const TOKEN_SLOTS = 4;

const MODELS = [
	'gpt-4o-mini', 'gpt-4o', 'claude-sonnet-4-5', 'deepseek-chat', 'gemini-2.5-flash', 'gpt-4.1-mini', 'claude-3-5-haiku', 'qwen-plus', 'gpt-4.1', 'deepseek-reasoner',
	'gemini-2.5-pro', 'o4-mini', 'claude-opus-4-1', 'gpt-5', 'gpt-5-mini', 'qwen-max', 'glm-4.6', 'kimi-k2', 'grok-4', 'text-embedding-3-small',
	'gpt-3.5-turbo', 'claude-3-7-sonnet', 'gemini-2.0-flash', 'o3', 'gpt-4-turbo', 'mistral-large', 'llama-3.3-70b', 'qwen-turbo', 'doubao-pro-32k', 'moonshot-v1-8k',
] as const;

const PROVIDERS = ['openai', 'azure', 'anthropic', 'gemini', 'deepseek'] as const;

/** A uniform number in [0, 1) from the row number `g` and the stream `k`. */
const random = (k: number): string => `((hashint8extended(g, ${k}) & 281474976710655)::float8 / 281474976710656.0)`;

/**
 * The INSERT that generates rows `$1`..`$2` (row numbers `g`) with their unix-second timestamp
 * given by `timestamp` (an expression of g). The mix:
 * - 3 % bookkeeping rows of types 1, 3, 4, 6, 7 (0.6 % each); the requests are 94 % type 2
 *   (consume) and 6 % type 5 (error);
 * - 200 users, skewed (user 1 has about 17 % of the rows: 1 + floor(200 · r³)); group default for
 *   70 % of users, vip 20 %, svip 10 %; 500 tokens (1–4 per user);
 * - 30 models (floor(30 · r²)) and 20 channels (1 + floor(20 · r^1.5)) on requests;
 * - prompt tokens log-uniform 20 to 22k, completion 7 to 3k, use_time in whole seconds (0 for
 *   fast calls), quota = tokens × a model ratio;
 * - `other` on consume rows: 85 % a new-api JSON object with cache_tokens, 8 % '', 3 % JSON
 *   without cache_tokens (per-call pricing), 2 % cut short (malformed), 2 % NULL; on errors the
 *   error JSON; '' on bookkeeping rows. `channel_name` stays NULL, as upstream never writes it.
 */
function insertRowsSql(timestamp: string): string {
	const models = `ARRAY[${MODELS.map(model => `'${model}'`).join(',')}]`;
	return `INSERT INTO logs (user_id, created_at, type, content, username, token_name, model_name, quota,
	prompt_tokens, completion_tokens, use_time, is_stream, channel_id, channel_name, token_id, "group",
	ip, request_id, upstream_request_id, other)
SELECT u, ts, ty,
	CASE ty WHEN 2 THEN '' WHEN 5 THEN 'status_code=429, upstream error: rate limit exceeded' WHEN 1 THEN 'top up via redemption code'
		WHEN 3 THEN 'admin changed user quota' WHEN 4 THEN 'channel #' || ch || ' auto-disabled: status 401' WHEN 6 THEN 'refund of async task quota' ELSE 'login' END,
	'user' || u,
	CASE WHEN ty IN (2, 5) THEN 'user' || u || '-key' || (tk - (u - 1) * ${TOKEN_SLOTS}) ELSE '' END,
	CASE WHEN ty IN (2, 5) THEN (${models})[m + 1] ELSE '' END,
	CASE WHEN ty = 2 THEN ceil((pt + ct * 4) * (0.5 + (m % 5)))::bigint WHEN ty IN (1, 6) THEN 500000 * (1 + floor(r14 * 20))::bigint ELSE 0 END,
	CASE WHEN ty = 2 THEN pt ELSE 0 END,
	CASE WHEN ty = 2 THEN ct ELSE 0 END,
	CASE WHEN ty IN (2, 5) THEN floor(r9 * r9 * 60)::bigint ELSE 0 END,
	CASE WHEN ty IN (2, 5) THEN r10 < 0.7 ELSE false END,
	CASE WHEN ty IN (2, 5) THEN ch ELSE 0 END,
	NULL,
	CASE WHEN ty IN (2, 5) THEN tk ELSE 0 END,
	CASE WHEN ty IN (2, 5) THEN (CASE WHEN u % 10 < 7 THEN 'default' WHEN u % 10 < 9 THEN 'vip' ELSE 'svip' END) ELSE '' END,
	CASE WHEN u % 2 = 0 THEN '10.' || (u % 250) || '.' || (tk % 250) || '.' || (1 + floor(r13 * 250))::int ELSE '' END,
	md5(g::text),
	CASE WHEN ty = 2 AND r13 < 0.6 THEN 'chatcmpl-' || left(md5('u' || g::text), 24) ELSE '' END,
	CASE
		WHEN ty = 5 THEN '{"error_type":"upstream_error","error_code":"rate_limit_exceeded","status_code":429,"request_path":"/v1/chat/completions","channel_id":' || ch || ',"channel_name":"' || chname || '","channel_type":1}'
		WHEN ty <> 2 THEN ''
		WHEN r12 < 0.85 THEN '{"admin_info":{"use_channel":["' || ch || '"]},"cache_ratio":0.1,"cache_tokens":' || floor(pt * r11 * 0.8)::bigint
			|| ',"completion_ratio":4,"frt":' || (100 + floor(r8 * 3000))::int || ',"group_ratio":1,"model_price":-1,"model_ratio":' || (0.5 + (m % 5)) || ',"user_group_ratio":-1}'
		WHEN r12 < 0.93 THEN ''
		WHEN r12 < 0.96 THEN '{"group_ratio":1,"model_price":0.02,"model_ratio":0,"frt":' || (100 + floor(r8 * 3000))::int || '}'
		WHEN r12 < 0.98 THEN '{"model_ratio":1.25,"cache_tokens":' || floor(pt * r11 * 0.8)::bigint
		ELSE NULL
	END
FROM (
	SELECT g, ts, u, m, ch, tk, r8, r9, r10, r11, r12, r13, r14,
		CASE WHEN rt < 0.03 THEN (ARRAY[1, 3, 4, 6, 7])[1 + floor(rt / 0.006)::int]
			WHEN (rt - 0.03) / 0.97 < 0.94 THEN 2 ELSE 5 END AS ty,
		(ARRAY[${PROVIDERS.map(provider => `'${provider}'`).join(',')}])[1 + ch % ${PROVIDERS.length}] || '-' || ch AS chname,
		floor(exp(3 + r7 * 7))::bigint AS pt,
		floor(exp(2 + r8 * 6))::bigint AS ct
	FROM (
		SELECT g, ${timestamp} AS ts,
			1 + floor(${USERS} * power(${random(3)}, 3))::int AS u,
			floor(${MODELS.length} * power(${random(5)}, 2))::int AS m,
			1 + floor(${CHANNELS} * power(${random(6)}, 1.5))::int AS ch,
			${random(1)} AS rt, ${random(4)} AS r4, ${random(7)} AS r7, ${random(8)} AS r8, ${random(9)} AS r9,
			${random(10)} AS r10, ${random(11)} AS r11, ${random(12)} AS r12, ${random(13)} AS r13, ${random(14)} AS r14
		FROM generate_series($1::bigint, $2::bigint) AS g
	) AS drawn
	CROSS JOIN LATERAL (SELECT (drawn.u - 1) * ${TOKEN_SLOTS} + 1 + floor(drawn.r4 * (1 + drawn.u % ${TOKEN_SLOTS}))::int AS tk) AS token
) AS rows_out`;
}

/**
 * Base-load timestamps: the density grows linearly from ½ to 1½ times the mean over the span
 * (more traffic in recent days), in row order, as an append-only log is. With f = (g − ½)/N the
 * position x in [0, 1] solves (x + x²)/2 = f. `$3` = N, `$4` = start, `$5` = span in seconds.
 */
const BASE_TIMESTAMP = '($4::bigint + floor($5::float8 * (sqrt(1 + 8 * ((g - 0.5) / $3::float8)) - 1) / 2)::bigint)';

/** Top-up timestamps: evenly from `$3` (exclusive) to `$4` (inclusive), rows `$1`..`$2`. */
const TOP_UP_TIMESTAMP = '($3::bigint + ceil(($4::bigint - $3::bigint) * ((g - $1::bigint + 1)::float8 / ($2::bigint - $1::bigint + 1)))::bigint)';

/** Rows per second at the newest end of the base load: 1.5 × the mean density. */
const tailRowsPerSecond = (baseRows: number): number => (1.5 * baseRows) / SPAN_S;

const SMALL_TABLES_SQL = `INSERT INTO users (id, username, display_name, role, status, quota, used_quota, request_count, "group", created_at)
SELECT u, 'user' || u, 'User ' || u, CASE WHEN u = 1 THEN 100 ELSE 1 END, 1, 500000 * 1000, 0, 0,
	CASE WHEN u % 10 < 7 THEN 'default' WHEN u % 10 < 9 THEN 'vip' ELSE 'svip' END, $1::bigint
FROM generate_series(1, ${USERS}) AS u;
INSERT INTO tokens (id, user_id, key, status, name, created_time, accessed_time, expired_time, remain_quota, used_quota, "group")
SELECT (u - 1) * ${TOKEN_SLOTS} + k, u, 'sk-' || md5('token' || u || '-' || k), 1, 'user' || u || '-key' || k, $1::bigint, $1::bigint, -1, 0, 0, ''
FROM generate_series(1, ${USERS}) AS u CROSS JOIN LATERAL generate_series(1, 1 + u % ${TOKEN_SLOTS}) AS k;
INSERT INTO channels (id, type, key, status, name, weight, created_time, base_url, models, "group", used_quota, priority)
SELECT c, 1, 'sk-channel-' || md5('channel' || c), 1, (ARRAY[${PROVIDERS.map(provider => `'${provider}'`).join(',')}])[1 + c % ${PROVIDERS.length}] || '-' || c, 0, $1::bigint, '', '', 'default', 0, 0
FROM generate_series(1, ${CHANNELS}) AS c;
SELECT setval(pg_get_serial_sequence('users', 'id'), ${USERS});
SELECT setval(pg_get_serial_sequence('tokens', 'id'), ${USERS * TOKEN_SLOTS});
SELECT setval(pg_get_serial_sequence('channels', 'id'), ${CHANNELS});`;

/** The CREATE TABLE of `logs`, and upstream's CREATE INDEX statements by index name. */
export function upstreamDdl(): {createTable: string; indexes: Array<{name: string; sql: string}>} {
	const statements = NEWAPI_LOGS_POSTGRES_DDL.split(';\n').map(statement => statement.trim().replace(/;$/u, ''));
	const createTable = statements.find(statement => statement.startsWith('CREATE TABLE'));
	if (createTable === undefined) {
		throw new Error('NEWAPI_LOGS_POSTGRES_DDL holds no CREATE TABLE');
	}
	const indexes = statements
		.filter(statement => statement.startsWith('CREATE INDEX'))
		.map(statement => ({name: /CREATE INDEX IF NOT EXISTS "([^"]+)"/u.exec(statement)![1]!, sql: statement}));
	return {createTable, indexes};
}

export interface BuildReport {
	/** When it was built (ISO). */
	readonly builtAt: string;
	readonly rows: number;
	readonly totalS: number;
	readonly loadS: number;
	readonly smallTablesS: number;
	readonly indexesS: number;
	readonly indexS: Readonly<Record<string, number>>;
	readonly vacuumAnalyzeS: number;
	/** `uptime` while it was built: other work on the machine slows a build. */
	readonly loadAverage: readonly number[];
}

interface Meta {
	readonly generator_version: number;
	readonly base_rows: string;
	readonly rows: string;
	readonly next_g: string;
	readonly start_ts: string;
	readonly end_ts: string;
	readonly build: BuildReport;
}

export interface LogsTable {
	readonly database: string;
	/** The build, now or when the cached table was made. */
	readonly build: BuildReport;
	readonly reused: boolean;
	readonly baseRows: number;
	/** Rows now, top-ups included. */
	readonly rows: number;
	readonly startTs: number;
	readonly endTs: number;
}

const seconds = (ms: number): number => Number((ms / 1000).toFixed(1));

async function readMeta(client: pg.Client): Promise<Meta | undefined> {
	const {rows} = await client.query<{found: boolean}>(`SELECT to_regclass('${META_TABLE}') IS NOT NULL AS found`);
	if (!rows[0]?.found) {
		return undefined;
	}
	return (await client.query<Meta>(`SELECT * FROM ${META_TABLE}`)).rows[0];
}

/** Why a cached table cannot be used, or null. */
async function cacheProblem(client: pg.Client, meta: Meta | undefined, baseRows: number): Promise<string | null> {
	if (meta === undefined) {
		return 'no marker table';
	}
	if (meta.generator_version !== GENERATOR_VERSION) {
		return `built by generator version ${meta.generator_version}, this is ${GENERATOR_VERSION}`;
	}
	if (Number(meta.base_rows) !== baseRows) {
		return `holds a ${Number(meta.base_rows).toLocaleString('en')}-row load, not ${baseRows.toLocaleString('en')}`;
	}
	const {rows} = await client.query<{count: string}>('SELECT count(*) AS count FROM logs');
	if (Number(rows[0]!.count) !== Number(meta.rows)) {
		return `holds ${Number(rows[0]!.count).toLocaleString('en')} rows, its marker says ${Number(meta.rows).toLocaleString('en')}`;
	}
	const grown = Number(meta.rows) - baseRows;
	if (grown > MAX_TOP_UP_SHARE * baseRows) {
		return `top-ups added ${grown.toLocaleString('en')} rows since it was built (stale cache)`;
	}
	const needed = tailRowsPerSecond(baseRows) * (Date.now() / 1000 - Number(meta.end_ts));
	if (Number(meta.rows) + needed - baseRows > MAX_TOP_UP_SHARE * baseRows) {
		return `too old: topping it up to now would add ${Math.round(needed).toLocaleString('en')} rows`;
	}
	return null;
}

async function build(admin: pg.Client, serverUrl: string, database: string, baseRows: number, log: (line: string) => void): Promise<{meta: Meta}> {
	await admin.query(`DROP DATABASE IF EXISTS ${database}`);
	await admin.query(`CREATE DATABASE ${database}`);
	const client = new pg.Client({connectionString: databaseUrl(serverUrl, database)});
	await client.connect();
	try {
		const started = performance.now();
		const endTs = Math.floor(Date.now() / 1000);
		const startTs = endTs - SPAN_S;
		const {createTable, indexes} = upstreamDdl();
		await client.query(createTable);
		await client.query(MAIN_TABLES_DDL);
		await client.query(`CREATE TABLE ${META_TABLE} (generator_version int, base_rows bigint, rows bigint, next_g bigint, start_ts bigint, end_ts bigint, build jsonb)`);

		const smallStarted = performance.now();
		await client.query(SMALL_TABLES_SQL.replaceAll('$1::bigint', String(startTs)));
		const smallTablesS = seconds(performance.now() - smallStarted);

		// Rows first, indexes after: the same table as gorm's (DDL, then indexes), built faster.
		const loadStarted = performance.now();
		const insert = insertRowsSql(BASE_TIMESTAMP);
		for (let first = 1; first <= baseRows; first += CHUNK_ROWS) {
			const last = Math.min(baseRows, first + CHUNK_ROWS - 1);
			await client.query(insert, [first, last, baseRows, startTs, SPAN_S]);
			log(`  rows ${last.toLocaleString('en')} / ${baseRows.toLocaleString('en')} (${seconds(performance.now() - loadStarted)} s)`);
		}
		const loadS = seconds(performance.now() - loadStarted);

		await client.query("SET maintenance_work_mem = '256MB'");
		const indexS: Record<string, number> = {};
		const indexesStarted = performance.now();
		for (const index of indexes) {
			const indexStarted = performance.now();
			await client.query(index.sql);
			indexS[index.name] = seconds(performance.now() - indexStarted);
			log(`  index ${index.name}: ${indexS[index.name]} s`);
		}
		const indexesS = seconds(performance.now() - indexesStarted);

		const vacuumStarted = performance.now();
		await client.query('VACUUM (ANALYZE) logs');
		await client.query('VACUUM (ANALYZE) users, tokens, channels');
		const vacuumAnalyzeS = seconds(performance.now() - vacuumStarted);

		const report: BuildReport = {
			builtAt: new Date().toISOString(),
			rows: baseRows,
			totalS: seconds(performance.now() - started),
			loadS,
			smallTablesS,
			indexesS,
			indexS,
			vacuumAnalyzeS,
			loadAverage: loadavg().map(value => Number(value.toFixed(2))),
		};
		await client.query(`INSERT INTO ${META_TABLE} VALUES ($1, $2, $2, $3, $4, $5, $6)`, [GENERATOR_VERSION, baseRows, baseRows + 1, startTs, endTs, JSON.stringify(report)]);
		const meta = (await readMeta(client))!;
		return {meta};
	} finally {
		await client.end();
	}
}

/** The marker's build report (jsonb, keys reordered) in the order written, indexes in DDL order. */
function buildReportOf(stored: BuildReport): BuildReport {
	return {
		builtAt: stored.builtAt,
		rows: stored.rows,
		totalS: stored.totalS,
		loadS: stored.loadS,
		smallTablesS: stored.smallTablesS,
		indexesS: stored.indexesS,
		indexS: Object.fromEntries(upstreamDdl().indexes.map(index => [index.name, stored.indexS[index.name] ?? null])) as Record<string, number>,
		vacuumAnalyzeS: stored.vacuumAnalyzeS,
		loadAverage: stored.loadAverage,
	};
}

/** `serverUrl` (the superuser's) pointed at another database. */
export function databaseUrl(serverUrl: string, database: string, credentials?: {user: string; password: string}): string {
	const url = new URL(serverUrl);
	url.pathname = `/${database}`;
	if (credentials !== undefined) {
		url.username = encodeURIComponent(credentials.user);
		url.password = encodeURIComponent(credentials.password);
	}
	return url.toString();
}

/** The cached table in `database`, built first when missing, stale or made by another generator. */
export async function ensureLogsTable(serverUrl: string, database: string, baseRows: number, log: (line: string) => void): Promise<LogsTable> {
	const admin = new pg.Client({connectionString: serverUrl});
	await admin.connect();
	try {
		const {rows} = await admin.query<{found: boolean}>('SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found', [database]);
		let meta: Meta | undefined;
		let problem = 'no such database';
		if (rows[0]?.found) {
			const client = new pg.Client({connectionString: databaseUrl(serverUrl, database)});
			await client.connect();
			try {
				meta = await readMeta(client);
				problem = (await cacheProblem(client, meta, baseRows)) ?? '';
			} finally {
				await client.end();
			}
		}
		let reused = true;
		if (problem !== '') {
			log(`building ${baseRows.toLocaleString('en')} new-api logs rows into database ${database} (${problem}); once, minutes at 10M…`);
			meta = (await build(admin, serverUrl, database, baseRows, log)).meta;
			reused = false;
			log(`built in ${meta.build.totalS} s`);
		}
		return {
			database,
			build: buildReportOf(meta!.build),
			reused,
			baseRows,
			rows: Number(meta!.rows),
			startTs: Number(meta!.start_ts),
			endTs: Number(meta!.end_ts),
		};
	} finally {
		await admin.end();
	}
}

export interface TopUp {
	readonly rows: number;
	readonly ms: number;
}

/**
 * Appends rows from the newest row's time up to now, at the newest days' density, as a gateway
 * would have written them: keeps the 60 s and 24 h windows live. Updates the marker.
 */
export async function topUp(client: pg.ClientBase, baseRows: number): Promise<TopUp> {
	const started = performance.now();
	const meta = (await client.query<Meta>(`SELECT * FROM ${META_TABLE}`)).rows[0]!;
	const fromTs = Number(meta.end_ts);
	const toTs = Math.floor(Date.now() / 1000);
	const rows = Math.floor((toTs - fromTs) * tailRowsPerSecond(baseRows));
	if (rows < 1) {
		return {rows: 0, ms: performance.now() - started};
	}
	const first = Number(meta.next_g);
	const last = first + rows - 1;
	await client.query('BEGIN');
	try {
		// The embedded server commits asynchronously: a VACUUM right after an unflushed commit cannot
		// mark the new pages all-visible.
		await client.query('SET LOCAL synchronous_commit = on');
		await client.query(insertRowsSql(TOP_UP_TIMESTAMP), [first, last, fromTs, toTs]);
		await client.query(`UPDATE ${META_TABLE} SET rows = rows + $1, next_g = $2, end_ts = $3`, [rows, last + 1, toTs]);
		await client.query('COMMIT');
	} catch (error) {
		await client.query('ROLLBACK');
		throw error;
	}
	return {rows, ms: performance.now() - started};
}
