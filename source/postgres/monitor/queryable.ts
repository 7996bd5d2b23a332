import type pg from 'pg';

/**
 * A connection the caller owns; the monitor never opens one. The part of Pick<pg.ClientBase, 'query'>
 * the monitor uses, so a pg.Client, a pg.PoolClient, a pg.Pool and relaytop's PgSession all fit.
 */
export interface Queryable {
	query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<{rows: R[]}>;
}

/** The application_name relaytop's connections carry; the monitor leaves backends with it out. */
export const OWN_APPLICATION_NAME = 'relaytop';

/**
 * A comment every statement of the monitor carries right after its first keyword. pg_stat_statements
 * keeps comments inside a statement in its normalised text, so relaytop's own statements can be found
 * there by this marker (see own-statement-cost.ts); other relaytop queries should carry it too.
 * It sits after the first keyword, not before it, because a leading comment is outside the statement's
 * span on some versions.
 */
export const SQL_MARKER = '/* relaytop */';

/** `SELECT …` → `SELECT /* relaytop *\/ …`: marks a statement as relaytop's own for pg_stat_statements. */
export function markSql(text: string): string {
	const match = /^\s*[A-Za-z]+/u.exec(text);
	if (match === null) return `${SQL_MARKER} ${text}`;
	return `${match[0]} ${SQL_MARKER}${text.slice(match[0].length)}`;
}

/** Runs one marked statement and returns its rows. */
export async function queryRows<Row extends object>(db: Queryable, text: string, values: readonly unknown[] = []): Promise<Row[]> {
	const result = await db.query<Row & pg.QueryResultRow>(markSql(text), [...values]);
	return result.rows;
}

/** Options every reading function shares. */
export interface OwnBackendOptions {
	/** Backends with this application_name are left out; null keeps them. Default 'relaytop'. */
	readonly ownApplicationName?: string | null;
}

export const ownApplicationName = (options: OwnBackendOptions | undefined): string | null =>
	options?.ownApplicationName === undefined ? OWN_APPLICATION_NAME : options.ownApplicationName;

/** A float8 / int column that pg returns as number, or null. */
export const numberOrNull = (value: number | string | null | undefined): number | null =>
	value === null || value === undefined ? null : Number(value);
