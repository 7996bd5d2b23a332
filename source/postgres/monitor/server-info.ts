import {queryRows, type Queryable} from './queryable.js';

/** pg_stat_statements in the connected database. */
export interface StatementsExtension {
	/** CREATE EXTENSION was run in this database. */
	readonly installed: boolean;
	/** extversion, e.g. '1.10'; it decides the column names, not the server version. */
	readonly version: string | null;
	/** The schema that holds its view and function. */
	readonly schema: string | null;
	/** The library is loaded through shared_preload_libraries (without it the view raises 55000). */
	readonly preloaded: boolean;
	/** The server has the extension's files (null when it is already installed: not asked). */
	readonly available: boolean | null;
}

export interface ServerInfo {
	/** server_version_num, e.g. 150020. */
	readonly versionNum: number;
	/** server_version, e.g. '15.20 (Debian 15.20-0+deb12u1)'. */
	readonly version: string;
	readonly maxConnections: number;
	readonly superuserReservedConnections: number;
	/** Bytes of query text pg_stat_activity keeps per backend; longer texts arrive cut. */
	readonly trackActivityQuerySize: number;
	readonly database: string;
	readonly role: string;
	readonly inRecovery: boolean;
	readonly capabilities: {
		readonly superuser: boolean;
		/** Has the privileges of pg_monitor (directly or through membership). */
		readonly pgMonitor: boolean;
		readonly pgReadAllStats: boolean;
		/** Sees every session's query, state and waits, and every statement's text. */
		readonly seesAllSessions: boolean;
	};
	readonly statements: StatementsExtension;
}

interface ServerRow {
	version_num: number;
	version: string;
	max_connections: number;
	reserved: number;
	query_size: number;
	database: string;
	role: string;
	superuser: boolean;
	pg_monitor: boolean;
	pg_read_all_stats: boolean;
	in_recovery: boolean;
	ext_version: string | null;
	ext_schema: string | null;
	pgss_max_type: string | null;
}

// pg_has_role on a role that does not exist raises, hence the CASE (pg_monitor is PG10+).
// pg_stat_statements defines its GUCs only when loaded through shared_preload_libraries, so an
// integer pg_stat_statements.max tells "preloaded" to any role (shared_preload_libraries itself is
// hidden from roles without pg_read_all_settings).
const SERVER_SQL = `SELECT current_setting('server_version_num')::int AS version_num,
	current_setting('server_version') AS version,
	current_setting('max_connections')::int AS max_connections,
	current_setting('superuser_reserved_connections')::int AS reserved,
	pg_size_bytes(current_setting('track_activity_query_size'))::int AS query_size,
	current_database() AS database,
	current_user AS role,
	current_setting('is_superuser') = 'on' AS superuser,
	CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_monitor') THEN pg_has_role('pg_monitor', 'USAGE') ELSE false END AS pg_monitor,
	CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pg_read_all_stats') THEN pg_has_role('pg_read_all_stats', 'USAGE') ELSE false END AS pg_read_all_stats,
	pg_is_in_recovery() AS in_recovery,
	e.extversion AS ext_version,
	n.nspname AS ext_schema,
	(SELECT vartype FROM pg_settings WHERE name = 'pg_stat_statements.max') AS pgss_max_type
FROM (SELECT 1) AS one
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace`;

/**
 * Whether the server has pg_stat_statements' files, asked only when it is not installed. Best effort:
 * pg_available_extensions parses every control file, and one it cannot parse (seen with embedded
 * PostgreSQL 10 binaries) fails the whole view, so an error means "unknown".
 */
async function extensionAvailable(db: Queryable): Promise<boolean | null> {
	try {
		const [row] = await queryRows<{available: boolean}>(db, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available");
		return row?.available ?? null;
	} catch (error) {
		if (typeof (error as {code?: unknown}).code === 'string') return null;
		throw error;
	}
}

/** Version, limits, the role's monitoring privileges and the state of pg_stat_statements: one catalog query (two when the extension is absent). */
export async function readServerInfo(db: Queryable): Promise<ServerInfo> {
	const [row] = await queryRows<ServerRow>(db, SERVER_SQL);
	if (row === undefined) throw new Error('server info query returned no row');
	const available = row.ext_version === null ? await extensionAvailable(db) : null;
	const superuser = row.superuser;
	const pgReadAllStats = superuser || row.pg_read_all_stats;
	return {
		versionNum: row.version_num,
		version: row.version,
		maxConnections: row.max_connections,
		superuserReservedConnections: row.reserved,
		trackActivityQuerySize: row.query_size,
		database: row.database,
		role: row.role,
		inRecovery: row.in_recovery,
		capabilities: {superuser, pgMonitor: superuser || row.pg_monitor, pgReadAllStats, seesAllSessions: pgReadAllStats},
		statements: {
			installed: row.ext_version !== null,
			version: row.ext_version,
			schema: row.ext_schema,
			preloaded: row.pgss_max_type === 'integer',
			available,
		},
	};
}

/** '1.10' → [1, 10]; compares extension versions numerically ('1.10' is after '1.9'). */
export function extensionVersionAtLeast(version: string | null, major: number, minor: number): boolean {
	if (version === null) return false;
	const [a = 0, b = 0] = version.split('.').map(part => Number.parseInt(part, 10));
	return a > major || (a === major && b >= minor);
}
