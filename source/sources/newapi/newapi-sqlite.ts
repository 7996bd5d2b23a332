import type Database from 'better-sqlite3';
import {sqliteDialect} from '../sql/dialect.js';
import {requireColumns, tableColumns} from '../sqlite/open-sqlite.js';
import {SqliteQueries, sqliteRunner} from '../sqlite/sqlite-queries.js';
import type {RollupPolicy} from '../rollup/range-rollups.js';
import type {NewApiDialect} from './newapi-sql.js';
import {DEFAULT_QUOTA_PER_UNIT, logsColumnsOf, NewApiSource, REQUIRED_LOGS_COLUMNS} from './newapi-source.js';

export const sqliteNewApiDialect: NewApiDialect = {
	...sqliteDialect,
	// json_extract raises on malformed text, so validity is checked first (CASE short-circuits).
	cachedTokens: other => `max(COALESCE(CAST(CASE WHEN json_valid(${other}) THEN json_extract(${other}, '$.cache_tokens') END AS INTEGER), 0), 0)`,
	likeIgnoringCase: column => `${column} LIKE ? ESCAPE '\\'`,
	// SQLite may otherwise inline the CTE into each of its readers.
	sharedCte: 'AS MATERIALIZED',
};

/** new-api / one-api `logs` in a SQLite file opened read-only; channels and tokens from the same file. */
export function newApiSqlite(db: Database.Database, target: string, quotaPerUnit = DEFAULT_QUOTA_PER_UNIT, rollups?: RollupPolicy): NewApiSource {
	const present = tableColumns(db, 'logs');
	requireColumns(present, REQUIRED_LOGS_COLUMNS, 'logs', target);
	const runner = sqliteRunner(new SqliteQueries(db));
	return new NewApiSource({kind: 'newapi-sqlite', logs: runner, main: runner, dialect: sqliteNewApiDialect, columns: logsColumnsOf(present)}, target, quotaPerUnit, rollups);
}
