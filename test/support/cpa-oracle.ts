// CPA-Manager's rules (reference cpa-manager-usage-api.md §2–§4), re-implemented independently.
import {createHash} from 'node:crypto';
import Database from 'better-sqlite3';
import type {Filters} from '../../source/usage/types.js';
import {sortChoices, type OracleFacets, type OracleRow} from './oracle.js';

export interface CpaRaw {
	id: number;
	timestamp_ms: number;
	model: string;
	resolved_model: string | null;
	provider: string | null;
	account_snapshot: string | null;
	auth_label_snapshot: string | null;
	auth_file_snapshot: string | null;
	auth_provider_snapshot: string | null;
	auth_project_id_snapshot: string | null;
	auth_index: string | null;
	source: string | null;
	api_key_hash: string | null;
	requested_model: string | null;
	endpoint: string | null;
	method: string | null;
	path: string | null;
	input_tokens: number;
	output_tokens: number;
	reasoning_tokens: number;
	cached_tokens: number;
	cache_tokens: number;
	total_tokens: number;
	latency_ms: number | null;
	failed: number;
}

// Go's strings.TrimSpace, which CPA-Manager uses: unicode.IsSpace at both ends.
const GO_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu;
export const trimSpace = (text: string): string => text.replace(GO_SPACE, '');

const firstNonEmpty = (...values: Array<string | null>): string | null => {
	for (const value of values) {
		if (value !== null && trimSpace(value) !== '') {
			return trimSpace(value);
		}
	}
	return null;
};

/** Brute force over every key, rule by rule; the shortest key wins a rule's collisions. */
export function lookupPrice(prices: Map<string, number[]>, name: string | null): number[] | null {
	if (name === null || name.trim() === '') {
		return null;
	}
	const wanted = name.trim();
	const base = (s: string) => s.slice(s.lastIndexOf('/') + 1).toLowerCase();
	const strip = (s: string) => s.replace(/-\d{6,8}$/, '');
	const rules: Array<(key: string) => boolean> = [
		key => key === wanted,
		key => key.toLowerCase() === wanted.toLowerCase(),
		key => base(key) === base(wanted),
		key => strip(base(wanted)) !== base(wanted) && base(key) === strip(base(wanted)),
		key => strip(base(wanted)) !== base(wanted) && strip(base(key)) === strip(base(wanted)),
		key => strip(base(key)) === base(wanted),
	];
	for (const rule of rules) {
		const keys = [...prices.keys()].filter(rule).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
		if (keys.length > 0) {
			return prices.get(keys[0]!)!;
		}
	}
	return null;
}

function costOf(raw: CpaRaw, prices: Map<string, number[]>): number | null {
	const price = lookupPrice(prices, raw.resolved_model) ?? lookupPrice(prices, raw.model);
	if (price === null) {
		return null;
	}
	const [prompt, completion, cache] = price as [number, number, number];
	const cached = Math.max(raw.cached_tokens, raw.cache_tokens, 0);
	const uncached = Math.max(raw.input_tokens - cached, 0);
	const cost = (uncached / 1e6) * prompt + (cached / 1e6) * cache + (raw.output_tokens / 1e6) * completion;
	return Number.isFinite(cost) && cost > 0 ? cost : 0;
}

export const accountOf = (raw: CpaRaw) => firstNonEmpty(raw.account_snapshot, raw.auth_label_snapshot, raw.source, raw.auth_index);
export const providerOf = (raw: CpaRaw) => firstNonEmpty(raw.auth_provider_snapshot, raw.provider);
export const channelOf = (raw: CpaRaw) => firstNonEmpty(raw.auth_provider_snapshot, raw.provider, raw.source);
export const apiKeyOf = (raw: CpaRaw) =>
	raw.api_key_hash !== null && trimSpace(raw.api_key_hash) !== ''
		? trimSpace(raw.api_key_hash).toLowerCase()
		: `unknown:${raw.source ?? ''}:${raw.auth_index ?? ''}:${raw.auth_provider_snapshot ?? ''}`;

export interface CpaFixture {
	readonly rows: OracleRow[];
	readonly raws: Map<number, CpaRaw>;
	readonly aliases: Map<string, string>;
}

export function loadCpa(path: string): CpaFixture {
	const db = new Database(path, {readonly: true});
	const raws = db.prepare('SELECT * FROM usage_events ORDER BY id').all() as CpaRaw[];
	const prices = new Map(
		(db.prepare('SELECT * FROM model_prices').all() as Array<{model: string; prompt_per_1m: number; completion_per_1m: number; cache_per_1m: number}>).map(
			p => [p.model, [p.prompt_per_1m, p.completion_per_1m, p.cache_per_1m]],
		),
	);
	const aliases = new Map((db.prepare('SELECT api_key_hash, alias FROM api_key_aliases').all() as Array<{api_key_hash: string; alias: string}>).map(a => [a.api_key_hash.toLowerCase(), a.alias]));
	db.close();
	const rows = raws.map(
		(raw): OracleRow => ({
			id: raw.id,
			tsMs: raw.timestamp_ms,
			ok: raw.failed === 0,
			model: raw.model,
			input: raw.input_tokens,
			output: raw.output_tokens,
			reasoning: raw.reasoning_tokens,
			cached: Math.max(raw.cached_tokens, raw.cache_tokens, 0),
			total: raw.total_tokens,
			latency: raw.latency_ms,
			cost: costOf(raw, prices),
			dims: {account: accountOf(raw) ?? '-', provider: providerOf(raw) ?? '-', channel: channelOf(raw) ?? '-'},
			apiKey: apiKeyOf(raw),
			account: accountOf(raw) ?? '-',
		}),
	);
	return {rows, raws: new Map(raws.map(raw => [raw.id, raw])), aliases};
}

/**
 * Words as unicode61 makes them, which is not as JavaScript's Unicode would: its tables are Unicode
 * 6.1's, where a character assigned since (U+2066, most emoji) is unassigned and so part of a word,
 * of the marks only diacritics join a word (and are dropped), and case folds by 6.1's tables. So
 * SQLite's own tokenizer, in a table of the oracle's own, splits and folds each text once; all that
 * is made of the words (terms, phrases, prefixes, aliases, the pasted key) is the oracle's.
 */
const WORDS = new Map<string, readonly string[]>();

function splitWords(texts: Iterable<string>): void {
	const fresh = [...new Set(texts)].filter(text => !WORDS.has(text));
	if (fresh.length === 0) {
		return;
	}
	const db = new Database(':memory:');
	try {
		db.exec("CREATE VIRTUAL TABLE texts USING fts5(text, tokenize='unicode61'); CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, texts, instance)");
		const insert = db.prepare('INSERT INTO texts (rowid, text) VALUES (?, ?)');
		db.transaction(() => fresh.forEach((text, index) => insert.run(index + 1, text)))();
		const words = fresh.map((): string[] => []);
		for (const {term, doc} of db.prepare('SELECT term, doc FROM words ORDER BY doc, offset').iterate() as Iterable<{term: string; doc: number}>) {
			words[doc - 1]!.push(term);
		}
		fresh.forEach((text, index) => WORDS.set(text, words[index]!));
	} finally {
		db.close();
	}
}

const wordsOf = (text: string | null): readonly string[] => WORDS.get(text ?? '')!;

const FTS_COLUMNS: Array<keyof CpaRaw> = [
	'account_snapshot', 'auth_label_snapshot', 'auth_file_snapshot', 'auth_provider_snapshot', 'auth_project_id_snapshot',
	'auth_index', 'source', 'api_key_hash', 'provider', 'model', 'requested_model', 'resolved_model', 'endpoint', 'method', 'path',
];

/** Every text a search looks at, split into words once per fixture. */
const split = new WeakSet<CpaFixture>();

function splitFixture(fixture: CpaFixture): void {
	if (!split.has(fixture)) {
		splitWords([...fixture.raws.values()].flatMap(raw => FTS_COLUMNS.map(column => (raw[column] as string | null) ?? '')));
		splitWords(fixture.aliases.values());
		split.add(fixture);
	}
}

/** Every word a search can find in the fixture, as unicode61 splits and folds its texts. */
export function cpaWords(fixture: CpaFixture): string[] {
	splitFixture(fixture);
	const texts = [...[...fixture.raws.values()].flatMap(raw => FTS_COLUMNS.map(column => raw[column] as string | null)), ...fixture.aliases.values()];
	return [...new Set(texts.flatMap(wordsOf))];
}

/** A prefix phrase: consecutive tokens, the last one matched as a prefix. */
function phraseIn(tokens: readonly string[], phrase: readonly string[]): boolean {
	for (let i = 0; i + phrase.length <= tokens.length; i++) {
		if (phrase.every((word, j) => (j === phrase.length - 1 ? tokens[i + j]!.startsWith(word) : tokens[i + j] === word))) {
			return true;
		}
	}
	return false;
}

/** CPA-Manager search: every term must match the event's text or its key's alias; or the text is a pasted raw key. */
export function cpaSearch(fixture: CpaFixture, search: string | undefined): (row: OracleRow) => boolean {
	const terms = (search ?? '')
		.split(/\s+/)
		.map(term => term.replace(/^["*]+|["*]+$/g, ''))
		.filter(term => term !== '');
	if (terms.length === 0) {
		return () => true;
	}
	splitFixture(fixture);
	splitWords(terms);
	const phrases = terms.map(wordsOf);
	const pasted = createHash('sha256').update((search ?? '').trim()).digest('hex');
	return row => {
		const raw = fixture.raws.get(row.id)!;
		if ((raw.api_key_hash ?? '').toLowerCase() === pasted) {
			return true;
		}
		if (phrases.some(phrase => phrase.length === 0)) {
			return false;
		}
		const matchAll = (columns: ReadonlyArray<readonly string[]>) => phrases.every(phrase => columns.some(tokens => phraseIn(tokens, phrase)));
		const eventText = FTS_COLUMNS.map(column => wordsOf(raw[column] as string | null));
		const alias = fixture.aliases.get((raw.api_key_hash ?? '').toLowerCase());
		return matchAll(eventText) || (alias !== undefined && matchAll([wordsOf(alias)]));
	};
}

/** A filter selects exactly the requests of the group (row or facet value) it names. */
export function cpaFilter(fixture: CpaFixture, filters: Filters): (row: OracleRow) => boolean {
	const search = cpaSearch(fixture, filters.search);
	const keyIs = (key: string, wanted: string | undefined) => wanted === undefined || key === trimSpace(wanted);
	return row => {
		const raw = fixture.raws.get(row.id)!;
		return (
			search(row) &&
			keyIs(row.dims.account!, filters.account) &&
			keyIs(row.dims.provider!, filters.provider) &&
			keyIs(row.dims.channel!, filters.channel) &&
			(filters.model === undefined || raw.model === filters.model) &&
			(filters.apiKey === undefined || row.apiKey === filters.apiKey) &&
			(filters.status === undefined || row.ok === (filters.status === 'success'))
		);
	};
}

export function cpaFacets(fixture: CpaFixture, rows: readonly OracleRow[]): OracleFacets {
	const distinct = (values: Array<string | null>) => sortChoices([...new Set(values.filter((v): v is string => v !== null))].map(value => ({value, label: value})));
	const raws = rows.map(row => fixture.raws.get(row.id)!);
	const keys = [...new Set(raws.map(raw => trimSpace(raw.api_key_hash ?? '').toLowerCase()).filter(k => k !== ''))];
	return {
		accounts: distinct(raws.map(accountOf)),
		providers: distinct(raws.map(providerOf)),
		channels: distinct(raws.map(channelOf)),
		groups: [],
		models: distinct(raws.map(raw => (raw.model === '' ? null : raw.model))),
		apiKeys: sortChoices(keys.map(value => ({value, label: fixture.aliases.get(value) ?? value}))),
	};
}
