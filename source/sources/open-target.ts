import {InputError} from '../usage/input-error.js';
import type {UsageSource} from '../usage/types.js';
import {CpaSqliteSource} from './cpa/cpa-sqlite-source.js';
import {DEFAULT_QUOTA_PER_UNIT, NewApiSqliteSource} from './newapi/newapi-sqlite-source.js';
import {redactTarget} from './redact-target.js';
import {detectSchema, openSqliteReadOnly} from './sqlite/open-sqlite.js';

export interface OpenOptions {
	readonly quotaPerUnit?: number;
}

/** The positional target, by its form: a URL scheme, or else a SQLite file whose schema decides. */
export function openTarget(target: string, options: OpenOptions = {}): UsageSource {
	if (/^postgres(?:ql)?:\/\//iu.test(target)) {
		throw new InputError(`PostgreSQL targets are not supported yet: ${redactTarget(target)}`);
	}
	if (/^https?:\/\//iu.test(target)) {
		throw new InputError(`CPA-Manager HTTP targets are not supported yet: ${redactTarget(target)}`);
	}
	const db = openSqliteReadOnly(target); // its errors name the target; the caller redacts it
	try {
		if (detectSchema(db, target) === 'cpa') {
			if (options.quotaPerUnit !== undefined) {
				throw new InputError('--quota-per-unit applies to new-api logs only; CPA-Manager costs come from its model_prices table');
			}
			return new CpaSqliteSource(db, target);
		}
		return new NewApiSqliteSource(db, target, options.quotaPerUnit ?? DEFAULT_QUOTA_PER_UNIT);
	} catch (error) {
		db.close();
		throw error;
	}
}
