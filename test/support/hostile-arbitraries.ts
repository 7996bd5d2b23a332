// Hostile input for property tests: what a user can type or a gateway's database can hold that has
// broken SQL builders, drivers or terminals somewhere. Also the hostile rows the stores are given.

import {createHash} from 'node:crypto';
import type Database from 'better-sqlite3';
import fc from 'fast-check';
import {expect} from 'vitest';
import {MAX_SEARCH_LENGTH, MAX_SEARCH_TERMS} from '../../source/sources/sql/search-terms.js';
import {MAX_TIMELINE_BUCKETS} from '../../source/sources/sql/timeline.js';
import {InputError} from '../../source/usage/input-error.js';
import {MAX_PAGE} from '../../source/usage/parse-options.js';
import {
	DIMENSIONS,
	MAX_PAGE_SIZE,
	RATE_WINDOW_S,
	SORT_DIRECTIONS,
	SORT_KEYS,
	STATUSES,
	type Dimension,
	type Filters,
	type GroupPage,
	type SortedPageRequest,
	type UsageQuery,
	type UsageSource,
} from '../../source/usage/types.js';
import {cpaFacets, cpaFilter, cpaWords, type CpaFixture} from './cpa-oracle.js';
import {newApiFacets, newApiFilter, type NewApiFixture} from './newapi-oracle.js';
import {bucketize, expectClose, groupBy, inRange, newestFirst, sortGroups, sum, summarize, type OracleFacets, type OracleGroup, type OracleRow} from './oracle.js';

export const DAY = 86_400_000;

/** Pieces of SQL, LIKE and FTS syntax, escape sequences, odd Unicode and numbers drivers choke on. */
export const NASTY_PIECES = [
	"'", '"', '`', ';', '--', '/*', '*/', '?', '$1', ':name', '@p',
	"'; DROP TABLE canary; --", "' OR '1'='1", '" OR 1=1 --', "') UNION SELECT secret FROM canary --",
	'%', '_', '\\', '\\%', '\\_', '%_', '[a-z]', '^', '*', ':', '(', ')', 'NEAR(', 'OR', 'AND', 'NOT', '-', '+', '"*', '*"', '{', '}',
	'\u0000', '\u0001', '\t', '\n', '\r', '\u000b', '\u001b[31m', '\u001b]0;pwned\u0007', '\u001b[2J', '\u009b31m', '\u007f', '\u0085',
	'\ud800', '\udfff', '\ud83d', '\u202e', '\u2066', '\u200b', '\u200d', '\ufeff', '\u00ad', '\u3164', '\u0301', '\u2028',
	'研发', '👨‍👩‍👧‍👦', '🇺🇸', 'ｗｉｄｅ', 'İ', 'ß', 'ǅ', ' ', '\u3000',
	'99999999999999999999', '9223372036854775807', '9223372036854775808', '-1', '0', '007', '1e308', 'NaN', 'Infinity', '0x10',
];

const loneSurrogate = fc.integer({min: 0xd800, max: 0xdfff}).map(code => String.fromCharCode(code));
const anyCodePoint = fc.string({unit: 'binary', minLength: 1, maxLength: 1});
/** The pieces that broke an engine before: drawn more often than the rest. */
const BREAKERS = ['\u0000', '99999999999999999999', '9223372036854775808', '%', '_', '\\', '\ud800'];

const piece = fc.oneof(
	{weight: 4, arbitrary: fc.constantFrom(...NASTY_PIECES)},
	{weight: 1, arbitrary: fc.constantFrom(...BREAKERS)},
	{weight: 2, arbitrary: anyCodePoint},
	{weight: 1, arbitrary: loneSurrogate},
	{weight: 2, arbitrary: fc.string({unit: 'grapheme-ascii', minLength: 1, maxLength: 4})},
);

/** One piece over and over: past LIKE's pattern limit, a terminal's width and any column. */
const longText = fc
	.tuple(piece, fc.integer({min: 900, max: 60_000}))
	.map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));

export const hostileText: fc.Arbitrary<string> = fc.oneof(
	{weight: 6, arbitrary: fc.array(piece, {maxLength: 8}).map(pieces => pieces.join(''))},
	{weight: 2, arbitrary: fc.string({unit: 'binary', maxLength: 40})},
	{weight: 1, arbitrary: longText},
);

/** Digits of every length, with leading zeros or spaces: ids that overflow any integer type. */
const hostileDigits = fc.oneof(
	fc.bigInt({min: 0n, max: 10n ** 40n}).map(String),
	fc.tuple(fc.constantFrom('', ' ', '00', '\t'), fc.bigInt({min: 0n, max: 2n ** 64n}), fc.constantFrom('', ' ')).map(([before, id, after]) => `${before}${id}${after}`),
);

export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
	fc.constantFrom(
		Number.NaN, Infinity, -Infinity, -0, 0, -1, 0.5, 1.5, 2 ** 31, 2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
		Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 1e300, 8.64e15, 8.64e15 + 1,
	),
	fc.integer(),
	fc.maxSafeInteger(),
	fc.double(),
);

/** A whitelisted choice most of the time, anything otherwise. */
const choiceOr = <T extends string>(valid: readonly T[]): fc.Arbitrary<string> =>
	fc.oneof({weight: 3, arbitrary: fc.constantFrom(...valid)}, {weight: 1, arbitrary: hostileText});

/** Moments near the data, or any number at all. */
const hostileMs = (aroundMs: number) => fc.oneof(fc.integer({min: aroundMs - 40 * DAY, max: aroundMs + DAY}), hostileNumber);

const hostileValue = fc.oneof({weight: 3, arbitrary: hostileText}, {weight: 1, arbitrary: hostileDigits});

export const hostileFilters: fc.Arbitrary<Filters> = fc.record(
	{
		account: hostileValue,
		provider: hostileValue,
		channel: hostileValue,
		group: hostileValue,
		model: hostileValue,
		apiKey: hostileValue,
		status: choiceOr(STATUSES),
		search: hostileText,
	},
	{requiredKeys: []},
) as fc.Arbitrary<Filters>;

const pageNumber = fc.oneof(fc.integer({min: -3, max: 40}), fc.constantFrom(999_999_999, 1_000_000_000), hostileNumber);
const pageSize = fc.oneof(fc.integer({min: -3, max: 600}), hostileNumber);

/** Everything one refresh asks a source, any of it hostile. */
export interface HostileRead {
	readonly query: UsageQuery;
	readonly page: SortedPageRequest;
	/** A source must refuse what is not one of its dimensions. */
	readonly dimension: string;
	readonly bucketMs: number;
	readonly buckets: number;
}

/** Names every JavaScript object answers to: a lookup table keyed by user text finds them. */
export const OBJECT_KEYS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

/** Any text as a dimension, mostly the known ones. */
export const hostileDimension: fc.Arbitrary<string> = fc.oneof(choiceOr(DIMENSIONS), fc.constantFrom(...OBJECT_KEYS));

/** `dimensions`: the names groups are asked for, the known ones unless told. */
export const hostileRead = (aroundMs: number, dimensions: fc.Arbitrary<string> = fc.constantFrom(...DIMENSIONS)): fc.Arbitrary<HostileRead> =>
	fc.record({
		query: fc.record({range: fc.record({startMs: fc.option(hostileMs(aroundMs), {nil: null}), endMs: hostileMs(aroundMs)}), filters: hostileFilters}),
		page: fc.record({page: pageNumber, pageSize, sortKey: choiceOr(SORT_KEYS), sortDirection: choiceOr(SORT_DIRECTIONS)}) as fc.Arbitrary<SortedPageRequest>,
		dimension: dimensions,
		bucketMs: fc.oneof(fc.integer({min: 1, max: 3_600_000}), hostileNumber),
		buckets: fc.oneof(fc.integer({min: 1, max: 1440}), hostileNumber),
	});

/** Every read of a refresh with one input; the ones that threw, by name. */
export async function everyRead(source: UsageSource, read: HostileRead): Promise<Array<{read: string; error: unknown}>> {
	const {query, page} = read;
	const reads: Array<[string, () => Promise<unknown>]> = [
		['summary', () => source.summary(query)],
		['facets', () => source.facets(query)],
		['rate', () => source.rate(query)],
		['timeline', () => source.timeline(query, read.bucketMs, read.buckets)],
		['models', () => source.models(query)],
		['groups', () => source.groups(query, read.dimension as Dimension, page)],
		['apiKeys', () => source.apiKeys(query, page)],
		['realtime', () => source.realtime(query, {page: page.page, pageSize: page.pageSize})],
	];
	const failures: Array<{read: string; error: unknown}> = [];
	for (const [name, run] of reads) {
		try {
			await run();
		} catch (error) {
			failures.push({read: name, error});
		}
	}
	return failures;
}

/**
 * The reads of `read` a source must answer, not refuse, by the limits of the UsageSource contract:
 * a whole, safe end, and start if there is one (a start after the end is an empty window, no
 * error); a known status; a search within its length and number of terms, without U+0000. Pages
 * within their limits and, for tables, a known sort; a timeline of a whole bucket length and a
 * bucket count within its limit, over a window within the safe integers; the rate's window too;
 * groups by one of the source's own dimensions.
 */
export function mustAnswer(read: HostileRead, dimensions: readonly string[]): ReadonlySet<string> {
	const safe = Number.isSafeInteger;
	const {query, page, bucketMs, buckets} = read;
	const {range, filters} = query;
	const search = filters.search ?? '';
	const terms = new Set(search.split(/\s+/u).filter(term => term !== ''));
	const asked =
		safe(range.endMs) &&
		(range.startMs === null || safe(range.startMs)) &&
		(filters.status === undefined || (STATUSES as readonly string[]).includes(filters.status)) &&
		search.length <= MAX_SEARCH_LENGTH &&
		!search.includes('\u0000') &&
		terms.size <= MAX_SEARCH_TERMS;
	const paged = asked && safe(page.page) && page.page >= 1 && page.page <= MAX_PAGE && safe(page.pageSize) && page.pageSize >= 1 && page.pageSize <= MAX_PAGE_SIZE;
	const sorted = paged && (SORT_KEYS as readonly string[]).includes(page.sortKey) && (SORT_DIRECTIONS as readonly string[]).includes(page.sortDirection);
	const timeline = asked && safe(bucketMs) && bucketMs >= 1 && safe(buckets) && buckets >= 1 && buckets <= MAX_TIMELINE_BUCKETS && safe(range.endMs - buckets * bucketMs);
	const answered: Array<[string, boolean]> = [
		['summary', asked],
		['facets', asked],
		['rate', asked && safe(range.endMs - RATE_WINDOW_S * 1000)],
		['timeline', timeline],
		['models', asked],
		['groups', sorted && dimensions.includes(read.dimension)],
		['apiKeys', sorted],
		['realtime', paged],
	];
	return new Set(answered.filter(([, must]) => must).map(([name]) => name));
}

const MAX_MESSAGE = 300;
const ENGINE_WORDS = /SQLITE_|SQLSTATE|syntax error|no such column|invalid input syntax|out of range|invalid byte sequence|statement timeout/iu;

/** Why an error may not reach a user as it is; null when it is an InputError of one short line. */
export function notForUsers(error: unknown): string | null {
	if (!(error instanceof InputError)) {
		return `a raw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
	}
	if (/[\r\n]/u.test(error.message) || error.message.trim() === '') {
		return `an InputError that is not one line: ${JSON.stringify(error.message)}`;
	}
	if (error.message.length > MAX_MESSAGE) {
		return `an InputError of ${error.message.length} characters`;
	}
	if (ENGINE_WORDS.test(error.message)) {
		return `an engine's error dressed as an InputError: ${error.message}`;
	}
	return null;
}

/** What is wrong with a read that threw: a read it had to answer, or an error no user may see; null when neither. */
export function wrongRefusal(which: string, error: unknown, answered: ReadonlySet<string>): string | null {
	return answered.has(which) ? `a valid read refused: ${error instanceof Error ? error.message : String(error)}` : notForUsers(error);
}

// ---------------------------------------------------------------------------------------------
// Hostile rows: names a gateway may have stored, for the stores the tests read.

/** Names every engine can store. */
export const HOSTILE_NAMES: readonly string[] = [
	'50%', 'a_b', 'a%b', 'back\\slash', 'back\\', '\\%', "o'brien", 'quote"d', 'semi;colon -- x', "'; DROP TABLE canary; --",
	'ESC\u001b]0;pwned\u0007', '\u001b[2J\u001b[H', 'c1\u009b31mred', 'bidi\u202eevil\u202c', 'iso\u2066late', 'zw\u200b\u200b\u200bx', '\u3164\u3164',
	'soft\u00adhyphen', 'wide研发团队研发团队', 'ｗｉｄｅ', 'e\u0301\u0301\u0301\u0301', 'emoji👨‍👩‍👧‍👦', '🇺🇸flag', 'tab\tname', 'line\nbreak',
	'cr\rreturn', 'ls\u2028x', 'replaced\ufffdchar', 'del\u007f', 'CaseUser', 'caseuser', ' padded ', '12345', 'x'.repeat(10_000),
	`${'\u200b'.repeat(3000)}hidden`,
];

/** Names only SQLite can store: PostgreSQL text cannot hold U+0000. */
export const SQLITE_ONLY_NAMES: readonly string[] = ['nul\u0000name', '\u0000'];

/**
 * Bytes that are not UTF-8, for SQLite TEXT columns (a PostgreSQL server refuses them): a stray
 * byte, a cut sequence, and half a surrogate pair as some writers encode it (better-sqlite3 among
 * them, given a lone surrogate). The driver reads each bad byte as U+FFFD.
 */
export const INVALID_UTF8: readonly Buffer[] = [
	Buffer.from('bad\xff', 'latin1'),
	Buffer.from([0xc3, 0x28]),
	Buffer.concat([Buffer.from('lone'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('half')]),
	Buffer.from([0xe2, 0x82]),
];

/**
 * One request per name in new-api's `logs`, the name as user, key name, model and group, a minute
 * apart back from `endMs`; each with a key of its own in `tokens` and all on a channel named by
 * the first name. Buffers are stored as TEXT, byte for byte.
 */
export function addNewApiRows(db: Database.Database, names: ReadonlyArray<string | Buffer>, endMs: number): void {
	const insert = db.prepare(
		'INSERT INTO logs (user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens, use_time, is_stream, channel_id, token_id, `group`, ip, request_id, other) VALUES (?, ?, ?, \'\', CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, 5, 1, 0, 99, ?, CAST(? AS TEXT), \'\', ?, \'{"cache_tokens":3}\')',
	);
	const token = db.prepare('INSERT INTO tokens (id, user_id, `key`, status, name, created_time, accessed_time, remain_quota, unlimited_quota, `group`) VALUES (?, ?, ?, 1, CAST(? AS TEXT), 0, 0, 0, 1, \'\')');
	const first = db.prepare('SELECT coalesce(max(id), 0) AS top FROM tokens').get() as {top: number};
	db.transaction(() => {
		if (db.prepare('SELECT 1 FROM channels WHERE id = 99').get() === undefined) {
			db.prepare("INSERT INTO channels (id, type, `key`, status, name, models, `group`) VALUES (99, 1, 'sk-hostile', 1, CAST(? AS TEXT), '', 'default')").run(names[0]!);
		}
		for (const [index, name] of names.entries()) {
			const tokenId = first.top + 1 + index;
			token.run(tokenId, 900 + index, `hostile-key-${tokenId}`, name);
			const failed = index % 4 === 0;
			insert.run(900 + index, Math.floor(endMs / 1000) - 60 * (index + 1), failed ? 5 : 2, name, name, name, failed ? 0 : 1000 * (index + 1), 10 + index, tokenId, name, `hostile-${tokenId}`);
		}
	})();
}

const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

/** One request per name in CPA-Manager's `usage_events`, the name in every text field; the first name is an alias too. */
export function addCpaRows(db: Database.Database, names: ReadonlyArray<string | Buffer>, endMs: number): void {
	const insert = db.prepare(`INSERT INTO usage_events (
		request_id, event_hash, timestamp_ms, timestamp, provider, model, endpoint, method, path, auth_type, auth_index, source,
		api_key_hash, account_snapshot, auth_label_snapshot, auth_provider_snapshot, input_tokens, output_tokens, total_tokens,
		latency_ms, failed, created_at_ms, requested_model, resolved_model
	) VALUES (?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), '/v1/chat/completions', 'POST', '/v1/chat/completions', 'apikey', CAST(? AS TEXT), CAST(? AS TEXT),
		?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), ?, 5, ?, 100, ?, ?, CAST(? AS TEXT), NULL)`);
	db.transaction(() => {
		for (const [index, name] of names.entries()) {
			const at = endMs - 60_000 * (index + 1);
			const input = 10 + index;
			const hash = sha256(name);
			insert.run(`hostile-${index}`, `hostile-${index}-${hash}`, at, new Date(at).toISOString(), name, name, name, name, hash, name, name, name, input, input + 5, index % 4 === 0 ? 1 : 0, at, name);
		}
		db.prepare('INSERT OR REPLACE INTO api_key_aliases (api_key_hash, alias, updated_at_ms) VALUES (?, CAST(? AS TEXT), ?)').run(sha256(names[0]!), names[0]!, endMs);
	})();
}

/** What injected SQL would go for: a table beside the data, with rows to lose. */
export const CANARY_ROWS = [
	{id: 1, secret: 'canary-one'},
	{id: 2, secret: 'canary-two'},
	{id: 3, secret: "canary-'three'"},
];

export function addCanary(db: Database.Database): void {
	db.exec('CREATE TABLE canary (id INTEGER PRIMARY KEY, secret TEXT NOT NULL)');
	const insert = db.prepare('INSERT INTO canary (id, secret) VALUES (?, ?)');
	for (const row of CANARY_ROWS) {
		insert.run(row.id, row.secret);
	}
}

// ---------------------------------------------------------------------------------------------
// Valid reads, drawn from the data itself, and what the independent oracles say they must return.

/** A store's rows as the oracle sees them, and the values its filters and searches can name. */
export interface OracleSubject {
	readonly rows: readonly OracleRow[];
	readonly dimensions: readonly Dimension[];
	filter(filters: Filters): (row: OracleRow) => boolean;
	facets(rows: readonly OracleRow[]): OracleFacets;
	groupLabel(dimension: Dimension, key: string): string;
	apiKeyLabel(key: string): string;
	/** Values each filter can take, as the facets list them. */
	readonly values: Readonly<Partial<Record<Exclude<keyof Filters, 'status' | 'search'>, readonly string[]>>>;
	/** Words a search can start: a term is a prefix of one. */
	readonly words: readonly string[];
}

const distinct = (values: Iterable<string>): string[] => [...new Set(values)].sort();

export function newApiSubject(fixture: NewApiFixture): OracleSubject {
	const raws = [...fixture.raws.values()];
	return {
		rows: fixture.rows,
		dimensions: ['user', 'channel', 'group'],
		filter: filters => newApiFilter(fixture, filters),
		facets: rows => newApiFacets(fixture, rows),
		groupLabel: (dimension, key) => (dimension === 'channel' ? (fixture.channels.get(key) ?? `#${key}`) : key),
		apiKeyLabel: key => fixture.tokens.get(key) ?? key,
		values: {
			account: distinct(fixture.rows.map(row => row.account)),
			// The oracle names a channel by its id or its name, as they are stored.
			channel: distinct([...fixture.rows.map(row => row.dims.channel!), ...fixture.channels.values()]),
			group: distinct(fixture.rows.map(row => row.dims.group!)),
			model: distinct(raws.map(raw => raw.model_name)),
			apiKey: distinct(fixture.rows.map(row => row.apiKey)),
		},
		words: distinct(raws.flatMap(raw => [raw.username, raw.token_name, raw.model_name])),
	};
}

// Words relaytop's query builder hands to unicode61 whole: it splits a term at any character
// JavaScript's Unicode counts as no letter, number, mark or private use, where unicode61, on
// Unicode 6.1, may see a letter (U+2066, unassigned in 6.1).
const WHOLE_WORD = /^[\p{L}\p{N}\p{M}\p{Co}]+$/u;

export function cpaSubject(fixture: CpaFixture): OracleSubject {
	const raws = [...fixture.raws.values()];
	return {
		rows: fixture.rows,
		dimensions: ['account', 'provider', 'channel'],
		filter: filters => cpaFilter(fixture, filters),
		facets: rows => cpaFacets(fixture, rows),
		groupLabel: (_dimension, key) => key,
		apiKeyLabel: key => fixture.aliases.get(key) ?? key,
		values: {
			account: distinct(fixture.rows.map(row => row.dims.account!)),
			provider: distinct(fixture.rows.map(row => row.dims.provider!)),
			channel: distinct(fixture.rows.map(row => row.dims.channel!)),
			model: distinct(raws.map(raw => raw.model)),
			apiKey: distinct(fixture.rows.map(row => row.apiKey)),
		},
		words: distinct(cpaWords(fixture).filter(word => WHOLE_WORD.test(word))),
	};
}

export interface ValidRead {
	readonly query: UsageQuery;
	readonly dimension: Dimension;
	readonly page: SortedPageRequest;
	readonly bucketMs: number;
	readonly buckets: number;
}

/** ASCII letters flipped to upper case here and there: both engines' searches ignore ASCII case. */
const someUpperCase = (text: string) =>
	fc.array(fc.boolean(), {minLength: text.length, maxLength: text.length}).map(flips => [...text].map((c, i) => (flips[i] && /[a-z]/u.test(c) ? c.toUpperCase() : c)).join(''));

/** Text that names no stored value but sits close to one (ids and keys are trimmed, so no spaces). */
const nearMiss = (value: string) => fc.constantFrom(`${value}\u0000`, `${value}%`, `${value}_`, `x${value}`);

/** Literal LIKE and FTS syntax as search terms: each must match only itself. */
const SYNTAX_TERMS = ['%', '_', '\\', '%_', 'user_', 'user_%', 'a%', '50%', 'back\\', "o'", "'", '"', '*', '"co', 'co*', 'NEAR(', '-', '(', '研'];

export function validRead(subject: OracleSubject, endMs: number): fc.Arbitrary<ValidRead> {
	const firstMs = subject.rows.reduce((first, row) => Math.min(first, row.tsMs), endMs);
	const moment = fc.integer({min: firstMs - DAY, max: endMs + DAY});
	const range = fc.oneof(
		{weight: 2, arbitrary: fc.constant({startMs: null, endMs})},
		{weight: 2, arbitrary: moment.map(startMs => ({startMs: Math.min(startMs, endMs), endMs}))},
		{weight: 2, arbitrary: fc.tuple(moment, moment).map(([a, b]) => ({startMs: Math.min(a, b), endMs: Math.max(a, b)}))},
		// A start after the end, as --from later than now gives: an empty window, answered as one.
		{weight: 1, arbitrary: fc.tuple(moment, fc.integer({min: 1, max: 2 * DAY})).map(([end, gap]) => ({startMs: end + gap, endMs: end}))},
	);
	const valueOf = (values: readonly string[]) => fc.oneof({weight: 4, arbitrary: fc.constantFrom(...values)}, {weight: 1, arbitrary: fc.constantFrom(...values).chain(nearMiss)});
	const term = fc.oneof(
		// Cut between code points: text a user types is well-formed, never half a surrogate pair.
		{weight: 4, arbitrary: fc.constantFrom(...subject.words).map(word => [...word]).chain(characters => fc.integer({min: 1, max: Math.min(characters.length, 12)}).chain(length => someUpperCase(characters.slice(0, length).join(''))))},
		{weight: 2, arbitrary: fc.constantFrom(...SYNTAX_TERMS)},
	);
	const search = fc
		.tuple(fc.array(term, {minLength: 1, maxLength: 3}), fc.constantFrom(' ', '  ', '\t', ' \u3000 '))
		.map(([terms, gap]) => terms.join(gap))
		.filter(text => !text.includes('\u0000'));
	const entries = [
		...Object.entries(subject.values).filter(([, values]) => values.length > 0).map(([name, values]) => valueOf(values).map(value => [name, value] as const)),
		fc.constantFrom(...STATUSES).map(status => ['status', status] as const),
	];
	// A search in most reads: it is where user text meets LIKE and FTS syntax.
	const filters = fc
		.tuple(fc.array(fc.oneof(...entries), {maxLength: 2}), fc.option(search, {freq: 3}))
		.map(([pairs, text]) => ({...Object.fromEntries(pairs), ...(text === null ? {} : {search: text})}) as Filters);
	return fc.record({
		query: fc.record({range, filters}),
		dimension: fc.constantFrom(...subject.dimensions),
		page: fc.record({
			page: fc.integer({min: 1, max: 4}),
			pageSize: fc.oneof(fc.integer({min: 1, max: 10}), fc.constant(500)),
			sortKey: fc.constantFrom(...SORT_KEYS),
			sortDirection: fc.constantFrom(...SORT_DIRECTIONS),
		}),
		bucketMs: fc.constantFrom(1000, 60_000, 3_600_000, 86_400_000),
		buckets: fc.integer({min: 1, max: 48}),
	});
}

function expectGroupPage(actual: GroupPage, groups: readonly OracleGroup[], read: ValidRead, label: (key: string) => string, what: string): void {
	const {page, pageSize, sortKey, sortDirection} = read.page;
	const expected = sortGroups(groups, sortKey, sortDirection).slice((page - 1) * pageSize, page * pageSize);
	expect(actual.totalItems, `${what}: number of groups`).toBe(groups.length);
	expect(actual.items.map(item => item.key), `${what}: keys of page ${page}`).toEqual(expected.map(group => group.key));
	for (const [index, item] of actual.items.entries()) {
		const group = expected[index]!;
		expect([item.label, item.totalRequests, item.failureCount, item.totalTokens, item.unpricedRequests, item.lastSeenAtMs], `${what}: ${JSON.stringify(item.key)}`).toEqual([
			label(group.key), group.totalRequests, group.failureCount, group.totalTokens, group.unpricedRequests, group.lastSeenAtMs,
		]);
		expectClose(item.costUsd, group.costUsd, `${what}: cost of ${JSON.stringify(item.key)}`);
	}
}

/** Every read of a refresh agrees with the oracle's recomputation from the raw rows. */
export async function expectAgreement(source: UsageSource, subject: OracleSubject, read: ValidRead): Promise<void> {
	const {query} = read;
	const {startMs, endMs} = query.range;
	const rows = inRange(subject.rows, startMs, endMs).filter(subject.filter(query.filters));

	const summary = await source.summary(query);
	const oracle = summarize(rows);
	expect([summary.totalRequests, summary.successCount, summary.failureCount, summary.totalTokens, summary.tokens.input, summary.tokens.output, summary.tokens.cached, summary.unpricedRequests], 'summary').toEqual([
		oracle.totalRequests, oracle.successCount, oracle.failureCount, oracle.totalTokens, oracle.tokens.input, oracle.tokens.output, oracle.tokens.cached, oracle.unpricedRequests,
	]);
	expectClose(summary.costUsd, oracle.costUsd, 'summary cost');

	const searched = inRange(subject.rows, startMs, endMs).filter(subject.filter({search: query.filters.search}));
	expect(await source.facets(query), 'facets').toEqual(subject.facets(searched));

	const rate = await source.rate(query);
	const recent = inRange(subject.rows, endMs - 60_000, endMs).filter(subject.filter(query.filters));
	expect([rate.rpm, rate.tpm], 'rate').toEqual([recent.length, sum(recent, row => row.total)]);

	const timeline = await source.timeline(query, read.bucketMs, read.buckets);
	expect(timeline, 'timeline').toEqual(bucketize(subject.rows.filter(subject.filter(query.filters)), endMs, read.bucketMs, read.buckets));

	const models = await source.models(query);
	const byModel = new Map(groupBy(rows, row => row.model).map(group => [group.key, group.totalRequests]));
	expect(new Map(models.map(model => [model.model, model.totalRequests])), 'models').toEqual(byModel);

	const dimension = read.dimension;
	expectGroupPage(await source.groups(query, dimension, read.page), groupBy(rows, row => row.dims[dimension]!), read, key => subject.groupLabel(dimension, key), `groups by ${dimension}`);
	expectGroupPage(await source.apiKeys(query, read.page), groupBy(rows, row => row.apiKey), read, key => subject.apiKeyLabel(key), 'API keys');

	const log = await source.realtime(query, read.page);
	const {page, pageSize} = read.page;
	expect(log.totalItems, 'requests counted').toBe(rows.length);
	expect(log.items.map(item => [item.timestampMs, item.status, item.totalTokens]), `requests of page ${page}`).toEqual(
		newestFirst(rows).slice((page - 1) * pageSize, page * pageSize).map(row => [row.tsMs, row.ok ? 'success' : 'failed', row.total]),
	);
}
