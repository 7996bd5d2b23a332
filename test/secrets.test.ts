// Secrets (a database password in the URL, in PGPASSWORD or in a password file; the CPA-Manager
// management key from RELAYTOP_KEY, --key-file or --key) never reach what relaytop prints: the
// output of --json, --once, doctor and maintain, its errors, a crash report, its process title, or
// the dashboard's screen. The built CLI runs as a real process against a real PostgreSQL server
// (a role with a password made for this file) and a real HTTP server that checks the key.
// Every secret starts with a random hex core: any form of it (as typed, percent-encoded,
// JSON-escaped, quoted in SQL, cut to a column's width) that reaches a text shows 8 characters of
// that core. Secrets are masked where they are shown, never in the data relaytop works with: a
// password that is also a word of the output (`postgres`) leaves --json's own words, the drill-down
// and every number alone.

import {execFileSync, spawnSync} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {createServer as createHttpServer, type Server as HttpServer} from 'node:http';
import {createServer as createTcpServer, type AddressInfo, type Server as TcpServer} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import pg from 'pg';
import {createElement} from 'react';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fixturePath} from '../source/fixtures/fixture-files.js';
import {loadNewApiIntoPostgres} from '../source/fixtures/newapi-postgres-fixture.js';
import {errorLine} from '../source/poll/error-line.js';
import type {PanelState} from '../source/poll/poll-scheduler.js';
import {crashReport} from '../source/output/crash-report.js';
import {maskSecrets, registerSecret} from '../source/output/secret-registry.js';
import {terminalSafe} from '../source/output/terminal-safe.js';
import {redactTarget, targetSecrets} from '../source/sources/redact-target.js';
import {StatusBar} from '../source/ui/components/status-bar.js';
import {initialState} from '../source/ui/dashboard-state.js';
import type {UsageSource} from '../source/usage/types.js';
import {INFO_PATH as INFO, RECORDED_ANSWERS} from './support/cpa-payloads.js';
import {loadNewApi} from './support/newapi-oracle.js';
import {freePort} from './support/net.js';
import {freshDatabase} from './support/postgres-server.js';
import {renderInk} from './support/render-ink.js';
import {CLI, runCli as runBuiltCli, type CliResult} from './support/run-cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'relaytop-secrets-'));

const hex = (): string => randomBytes(12).toString('hex');

/**
 * A secret from a random core, with the characters that must be percent-encoded in a URL, one JSON
 * escapes, and the two a SQL string literal escapes (a quote, a backslash).
 */
const secretAround = (core: string): string => `${core}@:/?#%"é&='\\`;

/** Every 8 characters of a core in a row: what a secret cut short still shows. */
const piecesOf = (core: string): string[] => Array.from({length: core.length - 7}, (_, start) => core.slice(start, start + 8));

/**
 * The CLI without blocking (the HTTP server it talks to runs in this process), and with none of the
 * secrets or switches of the shell: each test gives its own.
 */
const runCli = (args: readonly string[], env: NodeJS.ProcessEnv = {}, onStart?: (pid: number) => void): Promise<CliResult> =>
	runBuiltCli(args, {env: {RELAYTOP_KEY: '', PGPASSWORD: '', DATABASE_URL: '', RELAYTOP_DEBUG: '', ...env}, onStart});

/** Neither stream holds any piece of the cores. */
function expectNoSecret(result: CliResult, cores: readonly string[]): void {
	for (const piece of cores.flatMap(piecesOf)) {
		expect(result.stdout, 'stdout').not.toContain(piece);
		expect(result.stderr, 'stderr').not.toContain(piece);
	}
}

/** One `relaytop: ` line on stderr, nothing on stdout. */
function expectOneLineError(result: CliResult, code: number, says: RegExp): void {
	expect(result.stderr).toMatch(/^relaytop: [^\n]+\n$/u);
	expect(result.stderr).toMatch(says);
	expect(result.stdout).toBe('');
	expect(result.code).toBe(code);
}

afterAll(() => {
	rmSync(scratch, {recursive: true, force: true});
});

// ---------------------------------------------------------------------------------------------
// The registry and the crash report, as modules

describe('the secret registry', () => {
	it('masks every form of a registered secret, the longest first, and leaves other text alone', () => {
		const core = hex();
		const secret = secretAround(core);
		expect(maskSecrets(`before ${secret} after`)).toBe(`before ${secret} after`); // not registered yet
		registerSecret(secret);
		registerSecret(`${secret}-longer`);
		expect(maskSecrets(`a ${secret} b`)).toBe('a *** b');
		expect(maskSecrets(`url postgres://u:${encodeURIComponent(secret)}@h/db`)).toBe('url postgres://u:***@h/db');
		expect(maskSecrets(JSON.stringify({password: secret}))).toBe('{"password":"***"}');
		expect(maskSecrets(`x ${secret}-longer y`)).toBe('x *** y');
		expect(maskSecrets(`host ${secret.toLowerCase()}.example, KEY ${secret.toUpperCase()}`)).toBe('host ***.example, KEY ***');
		expect(maskSecrets(`${core} alone is not the secret`)).toBe(`${core} alone is not the secret`);
	});

	it('masks it as quoted strings hold it: SQL\'s (a quote doubled, or an E string), code\'s (backslashes doubled)', () => {
		const secret = `${hex()}'3x\\`;
		registerSecret(secret);
		expect(maskSecrets(`ALTER ROLE r PASSWORD '${secret.replaceAll("'", "''")}'`)).toBe("ALTER ROLE r PASSWORD '***'");
		expect(maskSecrets(`ALTER ROLE r PASSWORD ${pg.escapeLiteral(secret)}`)).toBe("ALTER ROLE r PASSWORD  E'***'");
		expect(maskSecrets(`SELECT E'${secret.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`)).toBe("SELECT E'***'");
		expect(maskSecrets(`const password = "${secret.replaceAll('\\', '\\\\')}";`)).toBe('const password = "***";');
	});

	it('ignores empty secrets, and secrets shorter than 4 characters, which would wreck every line', () => {
		registerSecret('');
		registerSecret('   ');
		registerSecret(undefined);
		registerSecret('a');
		registerSecret('xyz');
		expect(maskSecrets('a  b   c relaytop xyz')).toBe('a  b   c relaytop xyz');
		registerSecret('wxyz');
		expect(maskSecrets('wxyz is masked')).toBe('*** is masked');
	});

	it('is applied by terminalSafe, before the controls are escaped and before a cut', () => {
		const core = hex();
		const secret = `${core}\u001b[2J`;
		registerSecret(secret);
		expect(terminalSafe(`query ${secret} \u001b[31m`)).toBe('query *** ␛[31m');
		// Text escaped before the secret was known still shows it masked once it is.
		const late = `${hex()}\u0007`;
		const shownEarly = terminalSafe(`early ${late}`);
		registerSecret(late);
		expect(terminalSafe(shownEarly)).toBe('early ***');
	});

	it('finds in a target what redaction masks there', () => {
		expect(targetSecrets('postgres://relay:hunter%2F2@db/newapi')).toEqual(['hunter%2F2']);
		expect(targetSecrets('postgres://relay:pa/ss@db/newapi')).toEqual(['pa/ss']);
		expect(targetSecrets('https://sk-token@cpa.example/?key=abc&page=2')).toEqual(['sk-token', 'abc']);
		expect(targetSecrets("host=db password='p w' dbname=newapi")).toEqual(['p w']);
		expect(targetSecrets('postgres://relay@db/newapi')).toEqual([]);
		expect(targetSecrets('/data/one-api.db')).toEqual([]);
	});
});

describe('the status bar', () => {
	it('masks the failure it shows, an AggregateError\'s first member\'s included, before it cuts the line', async () => {
		const core = hex();
		const secret = secretAround(core);
		registerSecret(secret);
		// Node's refused connection to every address of a host: no message of its own.
		const failure = new AggregateError([new Error(`connect to postgres://u:${encodeURIComponent(secret)}@db/newapi refused (${secret})`)], '');
		const panel: PanelState<unknown> = {data: undefined, error: errorLine(failure), disconnected: undefined, stale: true, loading: false, lastSuccessAt: Date.now(), lastDurationMs: 5, failures: 1, nextAt: undefined};
		for (const width of [40, 52, 64, 80, 120]) {
			const bar = renderInk(createElement(StatusBar, {source: {kind: 'newapi-postgres'} as UsageSource, state: initialState(['user']), panels: [panel], width}), {columns: width, rows: 3});
			const frame = await bar.until(text => text.includes('stale: connect to'));
			bar.unmount();
			for (const piece of piecesOf(core)) expect(frame).not.toContain(piece);
		}
	});
});

describe('the crash report', () => {
	const core = hex();
	const secret = secretAround(core);
	beforeAll(() => registerSecret(secret));
	const error = new Error(`cannot use postgres://u:${encodeURIComponent(secret)}@h/db\nsecond line with ${secret}`);

	it('is one line with the first line of the message, every secret masked', () => {
		expect(crashReport(error, false)).toBe('relaytop crashed: cannot use postgres://u:***@h/db\n');
	});

	it('adds the stack only when asked, masked as well', () => {
		const report = crashReport(error, true);
		expect(report.split('\n').length).toBeGreaterThan(3);
		expect(report).toMatch(/^ {2}\s*at /mu);
		expect(report).toContain('second line with ***');
		expect(report).not.toContain(core);
	});

	it('says what was thrown when it is not an Error, and neutralises escape sequences', () => {
		// inspect writes the secret (it holds both quotes) between backticks, its backslash doubled.
		expect(crashReport({reason: secret}, false)).toBe('relaytop crashed: { reason: `***` }\n');
		expect(crashReport('\u001b[2Jplain text', false)).toBe('relaytop crashed: ␛[2Jplain text\n');
		expect(crashReport(new Error(''), false)).toBe('relaytop crashed: Error\n');
	});
});

// ---------------------------------------------------------------------------------------------
// A database password

type Database = Awaited<ReturnType<typeof freshDatabase>>;

const core = hex();
const password = secretAround(core);
const wrongCore = hex();
const wrongPassword = secretAround(wrongCore);
const role = `relaytop_secret_${process.pid}`;
let database: Database;
/** The database's URL as the role, without a password. */
let bare: string;
/** The same with the password in it, percent-encoded. */
let withPassword: string;
let requests: number;
/** False on a server with trust authentication: any password is accepted. */
let checksPasswords: boolean;
/** A session of the admin, idle in a transaction whose last statement set the role's password (a standard literal: its quote doubled). */
let passwordSetter: pg.Client;
/** Another, whose last statement quoted the password as an E string (escapeLiteral's, for a value with a backslash). */
let passwordReader: pg.Client;

const urlOf = (base: string, change: (url: URL) => void): string => {
	const url = new URL(base);
	change(url);
	return url.toString();
};

/** A libpq password file for the role, with `:` and `\` escaped, readable by its owner only. */
function passwordFile(name: string, secret: string): string {
	const path = join(scratch, name);
	writeFileSync(path, `*:*:*:${role}:${secret.replace(/[\\:]/gu, '\\$&')}\n`, {mode: 0o600});
	return path;
}

beforeAll(async () => {
	database = await freshDatabase('relaytop_secrets');
	const admin = new pg.Client({connectionString: database.url});
	await admin.connect();
	try {
		await loadNewApiIntoPostgres(admin, fixturePath('newapi'));
		await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD ${admin.escapeLiteral(password)}`);
	} finally {
		await admin.end();
	}
	bare = urlOf(database.url, url => {
		url.username = role;
		url.password = '';
	});
	withPassword = urlOf(bare, url => (url.password = encodeURIComponent(password)));
	requests = loadNewApi(fixturePath('newapi')).rows.length;
	const probe = new pg.Client({connectionString: urlOf(bare, url => (url.password = 'surely-not-it'))});
	checksPasswords = await probe.connect().then(
		() => false,
		() => true,
	);
	await probe.end().catch(() => undefined);
	// As an administrator rotating the password might leave it: the PostgreSQL view and --json show
	// these sessions, their query texts and the password in them.
	passwordSetter = new pg.Client({connectionString: database.url, application_name: 'password-setter'});
	await passwordSetter.connect();
	await passwordSetter.query('BEGIN');
	await passwordSetter.query(`ALTER ROLE ${role} PASSWORD '${password.replaceAll("'", "''")}'`);
	passwordReader = new pg.Client({connectionString: database.url, application_name: 'password-reader'});
	await passwordReader.connect();
	await passwordReader.query('BEGIN');
	await passwordReader.query(`SELECT ${passwordReader.escapeLiteral(password)} AS password`);
});

afterAll(async () => {
	for (const client of [passwordSetter, passwordReader]) {
		await client?.query('ROLLBACK').catch(() => undefined);
		await client?.end();
	}
	await database?.drop();
	const admin = new pg.Client({connectionString: database.url.replace(/\/[^/]*$/u, '/postgres')});
	await admin.connect();
	try {
		await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
		await admin.query(`DROP ROLE IF EXISTS ${role}`);
	} finally {
		await admin.end();
	}
});

interface PasswordWay {
	readonly name: string;
	/** The target and environment that give `secret` as the password, for `url`. */
	readonly give: (url: string, secret: string) => {target: string; env: NodeJS.ProcessEnv};
	/** How the target is printed. */
	readonly shown: RegExp;
}

const WAYS: readonly PasswordWay[] = [
	{name: 'in the URL', give: (url, secret) => ({target: urlOf(url, parsed => (parsed.password = encodeURIComponent(secret))), env: {}}), shown: /postgres:\/\/relaytop_secret_\d+:\*\*\*@127\.0\.0\.1/u},
	{name: 'in PGPASSWORD', give: (url, secret) => ({target: url, env: {PGPASSWORD: secret}}), shown: /postgres:\/\/relaytop_secret_\d+@127\.0\.0\.1/u},
	{name: 'in a password file', give: (url, secret) => ({target: url, env: {PGPASSFILE: passwordFile(`pgpass-${hex()}`, secret)}}), shown: /postgres:\/\/relaytop_secret_\d+@127\.0\.0\.1/u},
	// No host in the URL (as for a local socket; the host as a parameter): no user part to carry the file's password.
	{
		name: 'in a password file, for a URL without a host',
		give: (url, secret) => {
			const {hostname, port, pathname, username} = new URL(url);
			return {target: `postgres://${pathname}?host=${hostname}`, env: {PGPORT: port, PGUSER: username, PGPASSFILE: passwordFile(`pgpass-${hex()}`, secret)}};
		},
		shown: /postgres:\/\/\/\w+\?host=127\.0\.0\.1/u,
	},
];

interface JsonSnapshot {
	source: {kind: string; target: string};
	summary: {total_requests: number};
	postgres: {activity: Array<{application_name: string; query: string | null}> | {unavailable: unknown}};
}

describe.each(WAYS)('a database password $name', way => {
	const cores = [core, wrongCore];

	it('--json: the snapshot is read with it, and neither the target nor the data shows it', async () => {
		const {target, env} = way.give(bare, password);
		const result = await runCli([target, '--json', '--range', 'all'], env);
		expectNoSecret(result, cores);
		expect(result.stderr).toBe('');
		expect(result.code).toBe(0);
		const snapshot = JSON.parse(result.stdout) as JsonSnapshot;
		expect(snapshot.source.kind).toBe('newapi-postgres');
		expect(snapshot.source.target).toMatch(way.shown);
		expect(snapshot.summary.total_requests).toBe(requests);
		// The administrator's sessions are there, their queries with the password masked, however quoted.
		expect(Array.isArray(snapshot.postgres.activity)).toBe(true);
		const sessions = snapshot.postgres.activity as Array<{application_name: string; query: string | null}>;
		expect(sessions.find(session => session.application_name === 'password-setter')?.query).toBe(`ALTER ROLE ${role} PASSWORD '***'`);
		expect(sessions.find(session => session.application_name === 'password-reader')?.query).toMatch(/^SELECT\s+E'\*\*\*' AS password$/u);
	});

	it('--once', async () => {
		const {target, env} = way.give(bare, password);
		const result = await runCli([target, '--once', '--range', 'all'], env);
		expectNoSecret(result, cores);
		expect(result.stderr).toBe('');
		expect(result.code).toBe(0);
		expect(result.stdout).toMatch(/^relaytop · new-api logs \(PostgreSQL\)/u);
		expect(result.stdout).toMatch(way.shown);
	});

	it('doctor, as text and as JSON', async () => {
		const {target, env} = way.give(bare, password);
		const text = await runCli(['doctor', target], env);
		expectNoSecret(text, cores);
		expect([0, 1, 2]).toContain(text.code);
		expect(text.stdout).toMatch(/^relaytop doctor · newapi-postgres /u);
		expect(text.stdout).toMatch(way.shown);
		const json = await runCli(['doctor', target, '--json'], env);
		expectNoSecret(json, cores);
		expect([0, 1, 2]).toContain(json.code);
		expect(JSON.stringify(JSON.parse(json.stdout))).toMatch(way.shown);
	});

	it('maintain, a dry run of each job', async () => {
		const {target, env} = way.give(bare, password);
		for (const args of [['indexes'], ['retention', '--keep', '30d']]) {
			const result = await runCli(['maintain', args[0]!, target, ...args.slice(1)], env);
			expectNoSecret(result, cores);
			expect(result.stderr).toBe('');
			expect(result.code).toBe(0);
		}
	});

	it('a wrong password: one line without it, or (trust authentication) a snapshot', async () => {
		const {target, env} = way.give(bare, wrongPassword);
		for (const args of [['--json'], ['--once'], ['doctor']]) {
			const result = await runCli(args[0] === 'doctor' ? ['doctor', target] : [target, ...args], env);
			// A server that lets any password in shows the administrator's session, with the role's real
			// password, which relaytop was never given: only the one it was given is its to mask.
			expectNoSecret(result, checksPasswords ? cores : [wrongCore]);
			if (checksPasswords) {
				expectOneLineError(result, args[0] === 'doctor' ? 3 : 1, /password authentication failed/u);
			} else {
				expect([0, 1, 2]).toContain(result.code);
			}
		}
	});

	it('a database that does not exist: one line without it', async () => {
		const {target, env} = way.give(urlOf(bare, url => (url.pathname = '/no_such_database')), password);
		for (const args of [['--json'], ['--once'], ['doctor']]) {
			const result = await runCli(args[0] === 'doctor' ? ['doctor', target] : [target, ...args], env);
			expectNoSecret(result, cores);
			expectOneLineError(result, args[0] === 'doctor' ? 3 : 1, /no_such_database" does not exist/u);
			expect(result.stderr).toMatch(way.shown);
		}
	});

	it('a server that does not answer: one line without it', async () => {
		const port = await freePort();
		const {target, env} = way.give(urlOf(bare, url => (url.port = String(port))), password);
		for (const args of [['--json'], ['--once'], ['doctor']]) {
			const result = await runCli(args[0] === 'doctor' ? ['doctor', target] : [target, ...args], env);
			expectNoSecret(result, cores);
			expectOneLineError(result, args[0] === 'doctor' ? 3 : 1, /ECONNREFUSED/u);
		}
	});
});

// ---------------------------------------------------------------------------------------------
// The management key

const keyCore = hex();
const KEY = `${keyCore}-mgmt`;
const wrongKeyCore = hex();
const WRONG_KEY = `${wrongKeyCore}-mgmt`;


let manager: HttpServer;
let managerUrl = '';
/** When set, the manager fails every management request with an error that repeats its Authorization header. */
let echoingKey = false;
/** When set, an API key's alias holds the management key, as an operator might paste it there. */
let aliasHoldsKey = false;
const ALIASES = '/v0/management/api-key-aliases';

beforeAll(async () => {
	manager = createHttpServer((request, response) => {
		const path = new URL(request.url ?? '/', 'http://manager').pathname;
		const reply = (status: number, body: unknown) => {
			response.writeHead(status, {'content-type': 'application/json'});
			response.end(JSON.stringify(body));
		};
		const body = RECORDED_ANSWERS[path];
		if (body === undefined) return reply(404, {error: 'not found'});
		if (path === INFO) return reply(200, body);
		if (echoingKey) return reply(500, {error: `upstream refused the request with authorization ${request.headers.authorization ?? ''}`});
		if (request.headers.authorization !== `Bearer ${KEY}`) return reply(401, {error: 'invalid management key', code: 'invalid_management_key'});
		if (path === ALIASES && aliasHoldsKey) return reply(200, JSON.parse(JSON.stringify(body).replace('Team Alpha', KEY)));
		return reply(200, body);
	});
	await new Promise<void>(resolve => manager.listen(0, '127.0.0.1', resolve));
	managerUrl = `http://127.0.0.1:${(manager.address() as AddressInfo).port}`;
});

afterAll(async () => {
	manager.closeAllConnections();
	await new Promise(resolve => manager.close(resolve));
});

interface KeyWay {
	readonly name: string;
	readonly give: (key: string) => {args: string[]; env: NodeJS.ProcessEnv};
	/** What stderr starts with: the warning about --key, or nothing. */
	readonly warning: string;
}

const KEY_WAYS: readonly KeyWay[] = [
	{name: 'RELAYTOP_KEY', give: key => ({args: [], env: {RELAYTOP_KEY: key}}), warning: ''},
	{
		name: '--key-file',
		give: key => {
			const file = join(scratch, `key-${hex()}`);
			writeFileSync(file, `${key}\n`, {mode: 0o600});
			return {args: ['--key-file', file], env: {}};
		},
		warning: '',
	},
	{name: '--key', give: key => ({args: ['--key', key], env: {}}), warning: 'relaytop: warning: a key given with --key shows in ps and shell history: prefer RELAYTOP_KEY or --key-file\n'},
];

describe.each(KEY_WAYS)('the management key from $name', way => {
	const cores = [keyCore, wrongKeyCore];
	/** stderr after the warning, if any: the error line. */
	const errorOf = (result: CliResult): string => {
		expect(result.stderr.startsWith(way.warning)).toBe(true);
		return result.stderr.slice(way.warning.length);
	};

	it('--json, --once and doctor read the manager with it, and never show it', async () => {
		const {args, env} = way.give(KEY);
		const json = await runCli([managerUrl, '--json', ...args], env);
		expectNoSecret(json, cores);
		expect(json.stderr).toBe(way.warning);
		expect(json.code).toBe(0);
		const snapshot = JSON.parse(json.stdout) as JsonSnapshot;
		expect(snapshot.source).toEqual({kind: 'cpa-http', target: `${managerUrl}/`});
		expect(snapshot.summary.total_requests).toBeGreaterThan(0);

		const once = await runCli([managerUrl, '--once', ...args], env);
		expectNoSecret(once, cores);
		expect(once.stderr).toBe(way.warning);
		expect(once.code).toBe(0);
		expect(once.stdout).toContain('CPA-Manager');

		const doctor = await runCli(['doctor', managerUrl, '--json', ...args], env);
		expectNoSecret(doctor, cores);
		expect([0, 1, 2]).toContain(doctor.code);
		expect(JSON.parse(doctor.stdout)).toMatchObject({source: {kind: 'cpa-http', target: `${managerUrl}/`}});
	});

	it('a manager whose data holds the key (an alias): masked in --json and --once', async () => {
		const {args, env} = way.give(KEY);
		aliasHoldsKey = true;
		try {
			const json = await runCli([managerUrl, '--json', '--dimension', 'account', ...args], env);
			expectNoSecret(json, cores);
			expect(json.code).toBe(0);
			expect(json.stdout).toContain('"label": "***"');
			const once = await runCli([managerUrl, '--once', ...args], env);
			expectNoSecret(once, cores);
			expect(once.code).toBe(0);
			expect(once.stdout).toMatch(/ \*\*\* /u);
		} finally {
			aliasHoldsKey = false;
		}
	});

	it('a wrong key: one line saying so, without either key', async () => {
		const {args, env} = way.give(WRONG_KEY);
		const result = await runCli([managerUrl, '--json', ...args], env);
		expectNoSecret(result, cores);
		expect(errorOf(result)).toMatch(/^relaytop: [^\n]*management key rejected[^\n]*\n$/u);
		expect(result.code).toBe(1);
	});

	it('a manager whose error repeats the key: the key is masked in the message', async () => {
		const {args, env} = way.give(KEY);
		echoingKey = true;
		try {
			const result = await runCli([managerUrl, '--json', ...args], env);
			expectNoSecret(result, cores);
			expect(errorOf(result)).toMatch(/^relaytop: [^\n]*authorization Bearer \*\*\*\n$/u);
			expect(result.code).toBe(1);
		} finally {
			echoingKey = false;
		}
	});

	it('a manager that does not answer: one line without the key', async () => {
		const {args, env} = way.give(KEY);
		const result = await runCli([`http://127.0.0.1:${await freePort()}`, '--json', ...args], env);
		expectNoSecret(result, cores);
		expect(errorOf(result)).toMatch(/^relaytop: [^\n]*ECONNREFUSED[^\n]*\n$/u);
		expect(result.code).toBe(1);
	});
});

// ---------------------------------------------------------------------------------------------
// A crash: Node's own report would print the error whole. A preload (NODE_OPTIONS) makes one
// happen from outside, on SIGUSR2: an error whose message holds the command line and the
// environment's secrets, thrown from an event handler or left as an unhandled rejection.

const CRASH_PRELOAD = join(scratch, 'crash-on-sigusr2.cjs');
writeFileSync(
	CRASH_PRELOAD,
	`process.on('SIGUSR2', () => {
	const error = new Error('boom: ' + [...process.argv.slice(2), process.env.PGPASSWORD, process.env.RELAYTOP_KEY].join(' ') + '\\nsecond line');
	if (process.env.CRASH_AS === 'rejection') void Promise.reject(error);
	else throw error;
});
`,
);

/** A TCP server that takes connections and never answers: relaytop waits on it, in the middle of its work. */
async function silentServer(onConnection: () => void): Promise<{server: TcpServer; port: number}> {
	const server = createTcpServer(socket => {
		socket.on('error', () => undefined);
		onConnection();
	});
	await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
	return {server, port: (server.address() as AddressInfo).port};
}

describe('a crash', () => {
	it.each(['exception', 'rejection'])('an uncaught %s: one line, every secret masked, exit 70', async kind => {
		let pid: number | undefined;
		const {server, port} = await silentServer(() => process.kill(pid!, 'SIGUSR2'));
		try {
			const target = urlOf(withPassword, url => (url.port = String(port)));
			const result = await runCli([target, '--json'], {NODE_OPTIONS: `--require ${CRASH_PRELOAD}`, CRASH_AS: kind, PGPASSWORD: password, RELAYTOP_KEY: KEY}, started => (pid = started));
			expectNoSecret(result, [core, keyCore]);
			expect(result.stdout).toBe('');
			expect(result.stderr).toBe(`relaytop crashed: boom: ${target.replace(encodeURIComponent(password), '***')} --json *** ***\n`);
			expect(result.code).toBe(70);
		} finally {
			server.close();
		}
	});

	it(`with RELAYTOP_DEBUG, the stack follows, masked as well`, async () => {
		let pid: number | undefined;
		const {server, port} = await silentServer(() => process.kill(pid!, 'SIGUSR2'));
		try {
			const target = urlOf(withPassword, url => (url.port = String(port)));
			const result = await runCli([target, '--once'], {NODE_OPTIONS: `--require ${CRASH_PRELOAD}`, RELAYTOP_DEBUG: '1', RELAYTOP_KEY: KEY}, started => (pid = started));
			expectNoSecret(result, [core, keyCore]);
			const lines = result.stderr.split('\n');
			expect(lines[0]).toBe(`relaytop crashed: boom: ${target.replace(encodeURIComponent(password), '***')} --once  ***`);
			expect(lines[1]).toBe(`  Error: boom: ${target.replace(encodeURIComponent(password), '***')} --once  ***`);
			expect(lines[2]).toBe('  second line');
			expect(lines[3]).toMatch(/^ {2}\s+at .*crash-on-sigusr2\.cjs/u);
			expect(result.code).toBe(70);
		} finally {
			server.close();
		}
	});
});

// ---------------------------------------------------------------------------------------------
// The running dashboard, in a real terminal (tmux): its process title and its screen. CI is unset
// for it: Ink draws only the last frame when it thinks it runs in CI.

const session = `relaytop-secrets-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', args, {encoding: 'utf8'});
const screen = (): string => tmux('capture-pane', '-p', '-t', session);
const quote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;

async function until(ready: (text: string) => boolean, what: string, timeoutMs = 30_000): Promise<string> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const text = screen();
		if (ready(text)) return text;
		if (Date.now() > deadline) throw new Error(`${what} never showed; the screen:\n${text}`);
		await new Promise(resolve => setTimeout(resolve, 100));
	}
}

/** Starts relaytop in a new tmux session; returns the pane's shell and relaytop under it. */
async function startDashboard(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<{shell: number; relaytop: number}> {
	const assignments = Object.entries(env).map(([name, value]) => `${name}=${quote(value)}`);
	const command = `env -u CI ${assignments.join(' ')} ${[process.execPath, CLI, ...args].map(quote).join(' ')}; echo "relaytop exited with $?"; sleep 60`;
	tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50', command);
	const shell = Number(tmux('list-panes', '-t', session, '-F', '#{pane_pid}').trim());
	const deadline = Date.now() + 10_000;
	for (;;) {
		const children = spawnSync('ps', ['-o', 'pid=', '--ppid', String(shell)], {encoding: 'utf8'}).stdout.trim(); // ps exits 1 while there is none
		if (children !== '') return {shell, relaytop: Number(children.split('\n')[0])};
		if (Date.now() > deadline) throw new Error(`relaytop did not start; the screen:\n${screen()}`);
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}

const commandLineOf = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8');

/** No piece of a core on the screen. */
function expectScreenClean(text: string, cores: readonly string[]): void {
	for (const piece of cores.flatMap(piecesOf)) expect(text).not.toContain(piece);
}

function killSession(): void {
	try {
		tmux('kill-session', '-t', session);
	} catch {
		// none yet, or already gone
	}
}

afterAll(killSession);

/**
 * A crash while drawing, provoked from outside on SIGUSR2: from then on, formatting a number throws
 * an error whose message holds the command line and the key, and the next frame formats one.
 */
const RENDER_CRASH_PRELOAD = join(scratch, 'crash-in-render-on-sigusr2.cjs');
writeFileSync(
	RENDER_CRASH_PRELOAD,
	`process.on('SIGUSR2', () => {
	const message = 'boom while drawing: ' + [...process.argv.slice(2), process.env.RELAYTOP_KEY].join(' ');
	Object.defineProperty(Intl.NumberFormat.prototype, 'format', {configurable: true, get() { throw new Error(message); }});
});
`,
);

describe('the dashboard', () => {

	it('with the password in the URL: its title and command line show neither, nor does any view', async () => {
		killSession();
		const {shell, relaytop} = await startDashboard([withPassword]);
		await until(text => text.includes('requests/min'), 'the overview');
		// The shell that started it holds the URL whole: what a command line looks like unhidden.
		expect(commandLineOf(shell)).toContain(core);
		expect(commandLineOf(relaytop).replaceAll('\0', '')).toBe('relaytop');
		expect(readFileSync(`/proc/${relaytop}/comm`, 'utf8')).toBe('relaytop\n');
		expect(execFileSync('ps', ['-o', 'args=', '-p', String(relaytop)], {encoding: 'utf8'}).trim()).toBe('relaytop');
		expectScreenClean(screen(), [core]);

		tmux('send-keys', '-t', session, '5');
		const postgres = await until(text => text.includes('ALTER ROLE'), 'the administrator’s session in the PostgreSQL view');
		expectScreenClean(postgres, [core]);
		expect(postgres).toContain(`ALTER ROLE ${role} PASSWORD '***'`);
		expect(postgres).toMatch(/SELECT\s+E'\*\*\*' AS password/u);
		// Narrower, the query column cuts the query short, at some width inside the password.
		for (const columns of [190, 180, 170, 160, 150, 140]) {
			tmux('resize-window', '-t', session, '-x', String(columns), '-y', '50');
			const cut = await until(text => text.includes('ALTER ROLE') && text.split('\n').every(line => line.length <= columns), `the PostgreSQL view at ${columns} columns`);
			expectScreenClean(cut, [core]);
		}

		tmux('send-keys', '-t', session, '6');
		const health = await until(text => /judged for/u.test(text) || /CRITICAL|WARNINGS|all well/iu.test(text), 'the Health view');
		expectScreenClean(health, [core]);

		tmux('send-keys', '-t', session, 'q');
		const after = await until(text => text.includes('relaytop exited with'), 'the exit');
		expect(after).toContain('relaytop exited with 0');
		expectScreenClean(after, [core]);
	});

	it('with --key: its title and command line do not show the key, nor does the screen', async () => {
		killSession();
		const {relaytop} = await startDashboard([managerUrl, '--key', KEY]);
		await until(text => text.includes('requests/min'), 'the overview');
		expect(commandLineOf(relaytop).replaceAll('\0', '')).toBe('relaytop');
		expect(execFileSync('ps', ['-o', 'args=', '-p', String(relaytop)], {encoding: 'utf8'}).trim()).toBe('relaytop');
		expectScreenClean(screen(), [keyCore]);
		tmux('send-keys', '-t', session, 'q');
		const after = await until(text => text.includes('relaytop exited with'), 'the exit');
		expect(after).toContain('relaytop exited with 0');
		expect(after).toContain('relaytop: warning: a key given with --key');
		expectScreenClean(after, [keyCore]);
	});

	it('a crash: the alternate screen is left, and the report shows, masked', async () => {
		killSession();
		const {relaytop} = await startDashboard([withPassword], {NODE_OPTIONS: `--require ${CRASH_PRELOAD}`, RELAYTOP_KEY: KEY});
		await until(text => text.includes('requests/min'), 'the overview');
		process.kill(relaytop, 'SIGUSR2');
		const after = await until(text => text.includes('relaytop exited with'), 'the exit');
		expect(after).toContain('relaytop exited with 70');
		expect(after).toContain(`relaytop crashed: boom: ${withPassword.replace(encodeURIComponent(password), '***')}  ***`);
		expect(after).not.toContain('requests/min'); // the dashboard's screen is gone
		expectScreenClean(after, [core, keyCore]);
	});

	it('a crash while drawing: reported as any crash, not by Ink’s overview of the raw error', async () => {
		killSession();
		const {relaytop} = await startDashboard([withPassword], {NODE_OPTIONS: `--require ${RENDER_CRASH_PRELOAD}`, RELAYTOP_KEY: KEY});
		await until(text => text.includes('requests/min'), 'the overview');
		process.kill(relaytop, 'SIGUSR2');
		const after = await until(text => text.includes('relaytop exited with'), 'the exit');
		expect(after).toContain('relaytop exited with 70');
		expect(after).toContain(`relaytop crashed: boom while drawing: ${withPassword.replace(encodeURIComponent(password), '***')} ***`);
		expect(after).not.toContain('requests/min');
		expectScreenClean(after, [core, keyCore]);
	});
});

// ---------------------------------------------------------------------------------------------
// A password that is also a word or a number of the output (a role of its own, its password set
// per test): masked where it is shown, while the data relaytop works with keeps its values, and
// --json its own words and its numbers. Every request of the database is renamed to an account
// that holds the word.

describe('a password that is also a word of the output', () => {
	const wordRole = `relaytop_word_${process.pid}`;
	const ACCOUNT = 'postgres-ops';
	let admin: pg.Client;
	/** The models the account's requests went to: what its drill-down lists. */
	let models: string[];

	/** The database's URL as wordRole with `secret` as its password, set for it now. */
	async function withRolePassword(secret: string): Promise<string> {
		await admin.query(`ALTER ROLE ${wordRole} PASSWORD ${admin.escapeLiteral(secret)}`);
		return urlOf(bare, url => {
			url.username = wordRole;
			url.password = encodeURIComponent(secret);
		});
	}

	beforeAll(async () => {
		admin = new pg.Client({connectionString: database.url});
		await admin.connect();
		await admin.query(`CREATE ROLE ${wordRole} LOGIN SUPERUSER`);
		await admin.query('UPDATE logs SET username = $1', [ACCOUNT]);
		models = (await admin.query<{model_name: string}>("SELECT DISTINCT model_name FROM logs WHERE model_name <> ''")).rows.map(row => row.model_name);
	});

	afterAll(async () => {
		await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [wordRole]);
		await admin.query(`DROP ROLE IF EXISTS ${wordRole}`);
		await admin.end();
	});

	interface WordSnapshot {
		source: {kind: string; target: string};
		accounts: {dimension: string; sort_key: string; items: Array<{key: string; label: string}>};
		realtime: {items: Array<{status: string}>};
	}

	it('`postgres`: --json and doctor --json keep their own words and the redacted target, and mask the data', async () => {
		const target = await withRolePassword('postgres');
		const json = await runCli([target, '--json', '--range', 'all']);
		expect(json.stderr).toBe('');
		expect(json.code).toBe(0);
		const snapshot = JSON.parse(json.stdout) as WordSnapshot;
		expect(snapshot.source).toEqual({kind: 'newapi-postgres', target: redactTarget(target)});
		expect(snapshot.source.target).toMatch(new RegExp(`^postgres://${wordRole}:\\*\\*\\*@127\\.0\\.0\\.1`, 'u'));
		expect(snapshot.accounts.dimension).toBe('user');
		expect(snapshot.accounts.items.map(item => item.key)).toEqual(['***-ops']);
		expect(snapshot.realtime.items.length).toBeGreaterThan(0);
		for (const item of snapshot.realtime.items) expect(['success', 'failed']).toContain(item.status);

		const doctor = await runCli(['doctor', target, '--json']);
		expect([0, 1, 2]).toContain(doctor.code);
		expect(JSON.parse(doctor.stdout)).toMatchObject({source: {kind: 'newapi-postgres', target: redactTarget(target)}});
	});

	it('`true` and a number: maintain --json stays valid JSON, its values and numbers whole', async () => {
		const asTrue = await runCli(['maintain', 'retention', await withRolePassword('true'), '--keep', '30d', '--json']);
		expect(asTrue.stderr).toBe('');
		expect(asTrue.code).toBe(0);
		expect(JSON.parse(asTrue.stdout)).toMatchObject({engine: 'postgres', vacuum: expect.any(Boolean) as unknown});

		// 2020-01-01T00:00:00Z in seconds, as the cutoff is kept in created_at's unit: a number of the plan.
		const asNumber = await runCli(['maintain', 'retention', await withRolePassword('1577836800'), '--cutoff', '2020-01-01T00:00:00Z', '--json']);
		expect(asNumber.stderr).toBe('');
		expect(asNumber.code).toBe(0);
		expect(JSON.parse(asNumber.stdout)).toMatchObject({cutoffMs: 1_577_836_800_000, cutoffValue: 1_577_836_800, cutoffIso: '2020-01-01T00:00:00.000Z'});
	});

	it('`relaytop`: an error keeps its `relaytop: ` and the target it names, redacted and otherwise whole', async () => {
		const target = urlOf(await withRolePassword('relaytop'), url => (url.pathname = '/no_such_database'));
		for (const args of [[target, '--json'], ['doctor', target]]) {
			const result = await runCli(args);
			expectOneLineError(result, args[0] === 'doctor' ? 3 : 1, /^relaytop: [^\n]*"no_such_database" does not exist/u);
			expect(result.stderr).toContain(redactTarget(target)); // the role's name holds the word
		}
	});

	it('`postgres`: the dashboard shows the account masked, and its drill-down still finds the account’s requests', async () => {
		killSession();
		await startDashboard([await withRolePassword('postgres'), '--range', 'all']);
		await until(text => text.includes('requests/min'), 'the overview');
		tmux('send-keys', '-t', session, '2');
		await until(text => text.includes('***-ops'), 'the account, masked');
		tmux('send-keys', '-t', session, 'Enter');
		const drilled = await until(text => text.includes('***-ops by model') && models.some(model => text.includes(model)), 'the account’s requests by model');
		expect(drilled).not.toContain('no requests in this range');
		tmux('send-keys', '-t', session, 'q');
		expect(await until(text => text.includes('relaytop exited with'), 'the exit')).toContain('relaytop exited with 0');
	});
});
