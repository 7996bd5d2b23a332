// new-api's rules (reference new-api-logs.md §1–§3), re-implemented independently.
import Database from 'better-sqlite3';
import type {Filters} from '../../source/usage/types.js';
import {sortChoices, type OracleFacets, type OracleRow} from './oracle.js';

export interface LogRaw {
	id: number;
	created_at: number;
	type: number;
	username: string;
	token_name: string;
	token_id: number;
	model_name: string;
	quota: number;
	prompt_tokens: number;
	completion_tokens: number;
	use_time: number;
	channel_id: number;
	group: string;
	other: string | null;
}

/** `other.cache_tokens`, or 0 when `other` is empty, NULL, not JSON or not an object. */
function cacheTokens(other: string | null): number {
	try {
		const parsed: unknown = JSON.parse(other ?? '');
		const value = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as {cache_tokens?: unknown}).cache_tokens : undefined;
		return typeof value === 'number' ? Math.max(0, Math.trunc(value)) : 0;
	} catch {
		return 0;
	}
}

/** A text column's group key: the value as stored, `-` when empty. */
const keyOf = (text: string | null) => (text === null || text === '' ? '-' : text);

export interface NewApiFixture {
	readonly rows: OracleRow[];
	readonly raws: Map<number, LogRaw>;
	/** Rows of every type, to prove the bookkeeping ones are left out. */
	readonly allTypes: LogRaw[];
	readonly channels: Map<string, string>;
	readonly tokens: Map<string, string>;
}

export function loadNewApi(path: string, quotaPerUnit = 500_000): NewApiFixture {
	const db = new Database(path, {readonly: true});
	const allTypes = db.prepare('SELECT * FROM logs ORDER BY id').all() as LogRaw[];
	const channels = new Map((db.prepare('SELECT id, name FROM channels').all() as Array<{id: number; name: string}>).map(c => [String(c.id), c.name]));
	const tokens = new Map((db.prepare('SELECT id, name FROM tokens').all() as Array<{id: number; name: string}>).map(t => [String(t.id), t.name]));
	db.close();
	const requests = allTypes.filter(raw => raw.type === 2 || raw.type === 5);
	const rows = requests.map(
		(raw): OracleRow => ({
			id: raw.id,
			tsMs: raw.created_at * 1000,
			ok: raw.type === 2,
			model: raw.model_name,
			input: raw.prompt_tokens,
			output: raw.completion_tokens,
			reasoning: 0,
			cached: cacheTokens(raw.other),
			total: raw.prompt_tokens + raw.completion_tokens,
			latency: raw.use_time * 1000,
			cost: raw.quota / quotaPerUnit,
			dims: {user: keyOf(raw.username), channel: String(raw.channel_id), group: keyOf(raw.group)},
			apiKey: String(raw.token_id),
			account: keyOf(raw.username),
		}),
	);
	return {rows, raws: new Map(requests.map(raw => [raw.id, raw])), allTypes, channels, tokens};
}

const lowerAscii = (text: string) => text.replace(/[A-Z]/g, c => c.toLowerCase());

export function newApiFilter(fixture: NewApiFixture, filters: Filters): (row: OracleRow) => boolean {
	const terms = (filters.search ?? '').split(/\s+/).filter(term => term !== '');
	return row => {
		const raw = fixture.raws.get(row.id)!;
		const fields = [raw.username, raw.token_name, raw.model_name].map(lowerAscii);
		return (
			terms.every(term => fields.some(field => field.startsWith(lowerAscii(term)))) &&
			(filters.account === undefined || keyOf(raw.username) === filters.account) &&
			(filters.channel === undefined || String(raw.channel_id) === filters.channel || fixture.channels.get(String(raw.channel_id)) === filters.channel) &&
			(filters.group === undefined || keyOf(raw.group) === filters.group) &&
			(filters.model === undefined || raw.model_name === filters.model) &&
			(filters.apiKey === undefined || String(raw.token_id) === filters.apiKey) &&
			(filters.status === undefined || row.ok === (filters.status === 'success'))
		);
	};
}

export function newApiFacets(fixture: NewApiFixture, rows: readonly OracleRow[]): OracleFacets {
	const raws = rows.map(row => fixture.raws.get(row.id)!);
	const distinct = (values: string[], labelOf: (value: string) => string = v => v) =>
		sortChoices([...new Set(values.filter(v => v !== ''))].map(value => ({value, label: labelOf(value)})));
	const tokenNames = new Map(raws.map(raw => [String(raw.token_id), raw.token_name]));
	return {
		accounts: distinct(raws.map(raw => raw.username)),
		providers: [],
		channels: distinct(raws.map(raw => String(raw.channel_id)), id => fixture.channels.get(id) ?? `#${id}`),
		groups: distinct(raws.map(raw => raw.group)),
		models: distinct(raws.map(raw => raw.model_name)),
		apiKeys: distinct([...tokenNames.keys()], id => fixture.tokens.get(id) ?? tokenNames.get(id) ?? id),
	};
}
