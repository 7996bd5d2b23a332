import {InputError} from '../usage/input-error.js';
import type {UsageSource} from '../usage/types.js';
import {CpaSqliteSource} from './cpa/cpa-sqlite-source.js';
import {isHttpTarget} from './cpa-http/http-target.js';
import {newApiSqlite} from './newapi/newapi-sqlite.js';
import {isPostgresTarget, postgresConfig} from './postgres/pg-target.js';
import {redactTarget} from './redact-target.js';
import type {RollupPolicy} from './rollup/range-rollups.js';
import {detectSchema, openSqliteReadOnly} from './sqlite/open-sqlite.js';

export interface OpenOptions {
	readonly quotaPerUnit?: number;
	/** new-api's logs database, when it is not the target (PostgreSQL only). */
	readonly logsDb?: string;
	/** The management key of a CPA-Manager address (never printed). */
	readonly managementKey?: string;
	/** Keep long ranges' figures in memory, merged with new rows: for a source polled again and again (the dashboard). */
	readonly rollups?: RollupPolicy;
}

/** The positional target, by its form: a URL scheme, or else a file whose schema decides. */
export async function openSource(target: string, options: OpenOptions = {}): Promise<UsageSource> {
	if (isHttpTarget(target)) {
		if (options.logsDb !== undefined || options.quotaPerUnit !== undefined) {
			throw new InputError(`${options.logsDb === undefined ? '--quota-per-unit' : '--logs-db'} applies to new-api only; a CPA-Manager address prices with its model-prices`);
		}
		if (options.managementKey === undefined) {
			throw new InputError('a CPA-Manager address needs its management key: set RELAYTOP_KEY, or give --key-file');
		}
		const {openCpaHttp} = await import('./cpa-http/open-cpa-http.js');
		return openCpaHttp(target, options.managementKey);
	}
	if (isPostgresTarget(target)) {
		if (options.logsDb !== undefined && !isPostgresTarget(options.logsDb)) {
			throw new InputError(`--logs-db takes a postgres:// URL, got ${redactTarget(options.logsDb)}`);
		}
		const database = (url: string) => ({config: postgresConfig(url), display: redactTarget(url)});
		// Loaded here: a SQLite target never needs the PostgreSQL client.
		const {newApiPostgres} = await import('./newapi/newapi-postgres.js');
		return newApiPostgres(database(target), {logsDb: options.logsDb === undefined ? undefined : database(options.logsDb), quotaPerUnit: options.quotaPerUnit, rollups: options.rollups});
	}
	return openTarget(target, options);
}

/** A file target, opened at once: a SQLite file whose schema decides between new-api and CPA-Manager. */
export function openTarget(target: string, options: OpenOptions = {}): UsageSource {
	if (isPostgresTarget(target)) {
		throw new InputError(`a PostgreSQL target opens asynchronously (openSource): ${redactTarget(target)}`);
	}
	if (options.logsDb !== undefined) {
		throw new InputError('--logs-db applies to a PostgreSQL target only');
	}
	if (isHttpTarget(target)) {
		throw new InputError(`a CPA-Manager address opens asynchronously (openSource): ${redactTarget(target)}`);
	}
	const db = openSqliteReadOnly(target); // its errors name the target; the caller redacts it
	try {
		if (detectSchema(db, target) === 'cpa') {
			if (options.quotaPerUnit !== undefined) {
				throw new InputError('--quota-per-unit applies to new-api logs only; CPA-Manager costs come from its model_prices table');
			}
			return new CpaSqliteSource(db, target, options.rollups);
		}
		return newApiSqlite(db, target, options.quotaPerUnit, options.rollups);
	} catch (error) {
		db.close();
		throw error;
	}
}
