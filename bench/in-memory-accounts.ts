import Database from 'better-sqlite3';
import {isValidPrice, PriceBook, type ModelPrice} from '../source/usage/price-book.js';
import {PAGE, type AccountsPage, type PageRow} from './accounts-page.js';

// The baseline: CPA-Manager's phase-one approach, which reads every event in range into memory
// and groups it in application code.

interface EventRow {
	account_snapshot: string | null;
	auth_label_snapshot: string | null;
	source: string | null;
	auth_index: string | null;
	model: string;
	resolved_model: string | null;
	input_tokens: number;
	output_tokens: number;
	cached_tokens: number;
	cache_tokens: number;
	failed: number;
	timestamp_ms: number;
}

/** Every figure the accounts table shows, though the parent compares only calls and cost. */
interface AccountTotals {
	readonly key: string;
	calls: number;
	success: number;
	inputTokens: number;
	outputTokens: number;
	cachedTokens: number;
	costUsd: number;
	lastSeenMs: number;
}

const EVENTS_SQL = `SELECT account_snapshot, auth_label_snapshot, source, auth_index, model, resolved_model,
	input_tokens, output_tokens, cached_tokens, cache_tokens, failed, timestamp_ms
FROM usage_events WHERE timestamp_ms <= ?`;

function loadPrices(db: Database.Database): PriceBook {
	const rows = db.prepare('SELECT model, prompt_per_1m, completion_per_1m, cache_per_1m FROM model_prices').all() as Array<{
		model: string;
		prompt_per_1m: number;
		completion_per_1m: number;
		cache_per_1m: number;
	}>;
	const prices = new Map<string, ModelPrice>();
	for (const row of rows) {
		const price = {prompt: Number(row.prompt_per_1m), completion: Number(row.completion_per_1m), cache: Number(row.cache_per_1m)};
		if (isValidPrice(price)) {
			prices.set(row.model, price);
		}
	}
	return new PriceBook(prices);
}

function accountKey(row: EventRow): string {
	for (const value of [row.account_snapshot, row.auth_label_snapshot, row.source, row.auth_index]) {
		const trimmed = value?.trim();
		if (trimmed) {
			return trimmed;
		}
	}
	return '-';
}

/** USD for one event; an unpriced event adds nothing. */
function costOf(row: EventRow, prices: PriceBook): number {
	const priced = prices.priceFor(row.resolved_model, row.model);
	if (priced === null) {
		return 0;
	}
	const cached = Math.max(row.cached_tokens, row.cache_tokens, 0);
	const prompt = Math.max(row.input_tokens - cached, 0);
	return (prompt * priced.price.prompt + cached * priced.price.cache + row.output_tokens * priced.price.completion) / 1e6;
}

// SQLite's BINARY collation compares UTF-8 bytes; JavaScript's `<` compares UTF-16 code units,
// which order differently above U+FFFF, so the key tie-break compares bytes.
const byCostThenLastSeenThenKey = (a: AccountTotals, b: AccountTotals): number =>
	b.costUsd - a.costUsd || b.lastSeenMs - a.lastSeenMs || Buffer.compare(Buffer.from(b.key), Buffer.from(a.key));

export function inMemoryAccounts(path: string, endMs: number): AccountsPage {
	const db = new Database(path, {readonly: true, fileMustExist: true});
	return {
		async read() {
			const prices = loadPrices(db);
			const events = db.prepare(EVENTS_SQL).all(endMs) as EventRow[];
			const groups = new Map<string, AccountTotals>();
			for (const row of events) {
				const key = accountKey(row);
				let group = groups.get(key);
				if (group === undefined) {
					group = {key, calls: 0, success: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costUsd: 0, lastSeenMs: row.timestamp_ms};
					groups.set(key, group);
				}
				group.calls += 1;
				group.success += row.failed === 0 ? 1 : 0;
				group.inputTokens += row.input_tokens;
				group.outputTokens += row.output_tokens;
				group.cachedTokens += Math.max(row.cached_tokens, row.cache_tokens, 0);
				group.costUsd += costOf(row, prices);
				group.lastSeenMs = Math.max(group.lastSeenMs, row.timestamp_ms);
			}
			const start = (PAGE.page - 1) * PAGE.pageSize;
			return [...groups.values()]
				.sort(byCostThenLastSeenThenKey)
				.slice(start, start + PAGE.pageSize)
				.map((group): PageRow => ({key: group.key, calls: group.calls, costUsd: group.costUsd}));
		},
		async close() {
			db.close();
		},
	};
}
