import {existsSync} from 'node:fs';
import {userInfo} from 'node:os';
import type pg from 'pg';
import {registerSecret} from '../../output/secret-registry.js';
import {InputError} from '../../usage/input-error.js';
import {redactTarget} from '../redact-target.js';
import {passwordFromFile} from './pgpass.js';

export const APPLICATION_NAME = 'relaytop';

const POSTGRES_URL = /^postgres(?:ql)?:\/\//iu;

export const isPostgresTarget = (target: string): boolean => POSTGRES_URL.test(target);

/** Where libpq looks for a local server's socket when no host is given. */
const SOCKET_DIRECTORIES = ['/var/run/postgresql', '/tmp'];

const DEFAULT_PORT = 5432;

/**
 * A postgres:// URL as libpq reads it: what the URL leaves out comes from PGHOST, PGPORT, PGUSER,
 * PGDATABASE, PGPASSWORD, then ~/.pgpass (PGPASSFILE); with no host at all, the local socket if
 * there is one. relaytop always connects as application_name=relaytop, whatever the URL says,
 * so its own sessions can be told apart and left out of what it shows.
 */
export function postgresConfig(target: string, env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
	const invalid = () => new InputError(`not a valid PostgreSQL URL: ${redactTarget(target)}; percent-encode / # ? @ in the password (%2F %23 %3F %40)`);
	let url: URL;
	try {
		url = new URL(target);
	} catch {
		throw invalid();
	}
	// An @ after the host is a password cut at an unencoded `/`: the rest would be read as the host
	// and the database name, and would appear in the server's error messages.
	if (`${url.pathname}${url.search}${url.hash}`.includes('@')) {
		throw invalid();
	}
	// The password the connection uses, masked wherever it is shown from now on: pg takes a
	// `password` parameter first, then the URL's, then PGPASSWORD, then the password file's (below).
	const inUrl = url.searchParams.get('password') || url.password;
	registerSecret(inUrl === '' ? env.PGPASSWORD : inUrl);
	url.searchParams.delete('application_name');
	const port = Number(url.port || env.PGPORT || DEFAULT_PORT);
	if (url.hostname === '' && !url.searchParams.has('host') && (env.PGHOST ?? '') === '') {
		const socketDirectory = SOCKET_DIRECTORIES.find(directory => existsSync(`${directory}/.s.PGSQL.${port}`));
		url.searchParams.set('host', socketDirectory ?? 'localhost');
	}
	const user = url.searchParams.get('user') || (url.username === '' ? (env.PGUSER ?? userInfo().username) : decodeURIComponent(url.username));
	if (inUrl === '' && (env.PGPASSWORD ?? '') === '') {
		// libpq's password file, read here: pg's own reading of it warns on stderr, under the dashboard.
		const host = url.searchParams.get('host') ?? (url.hostname === '' ? (env.PGHOST ?? 'localhost') : decodeURIComponent(url.hostname));
		const database = url.pathname.length > 1 ? decodeURIComponent(url.pathname.slice(1)) : (env.PGDATABASE ?? user);
		const fromFile = passwordFromFile({host, port, database, user}, env);
		registerSecret(fromFile);
		// As parameters, which pg reads over everything else: a URL without a host (a local socket's)
		// has no user part to carry them. The user is the one the file was searched for.
		if (fromFile !== undefined) {
			url.searchParams.set('password', fromFile);
			url.searchParams.set('user', user);
		}
	}
	return {connectionString: url.toString(), application_name: APPLICATION_NAME, user};
}

/** DATABASE_URL, when no target is given and it names a PostgreSQL database. */
export function targetFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
	const url = env.DATABASE_URL ?? '';
	return isPostgresTarget(url) ? url : undefined;
}
