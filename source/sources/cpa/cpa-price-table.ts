import {isValidPrice, PriceBook, type ModelPrice} from '../../usage/price-book.js';
import {sql, type SqlFragment} from '../sql/fragment.js';
import type {SqliteQueries} from '../sqlite/sqlite-queries.js';

interface PriceRow {
	model: string;
	prompt: number;
	completion: number;
	cache: number;
}

/**
 * The price of every model name the store has seen, as a `prices` table the engine joins on.
 * The lookup rules (case, provider prefix, date suffix) run here once per distinct name; the
 * per-request cost arithmetic stays in SQL. Names are collected incrementally above an id
 * watermark, so a refresh only reads rows added since the last one.
 */
export class CpaPriceTable {
	private readonly names = new Set<string>();
	private watermark = 0;
	private pricesFingerprint = '';
	private book = new PriceBook(new Map());

	constructor(
		private readonly queries: SqliteQueries,
		private readonly hasResolvedModel: boolean,
		/** A store without the table prices nothing: every request is unpriced. */
		private readonly hasPriceTable: boolean,
	) {}

	/** `prices(name, prompt, completion, cache)` for every seen name that has a price. */
	cte(): SqlFragment {
		this.refreshPrices();
		this.collectNewNames();
		const rows: unknown[] = [];
		for (const name of this.names) {
			const priced = this.book.lookup(name);
			if (priced !== null) {
				rows.push(name, priced.price.prompt, priced.price.completion, priced.price.cache);
			}
		}
		const count = rows.length / 4;
		const body = count === 0 ? 'SELECT NULL, NULL, NULL, NULL WHERE 1 = 0' : `VALUES ${Array.from({length: count}, () => '(?, ?, ?, ?)').join(', ')}`;
		return sql(`prices(name, prompt, completion, cache) AS (${body})`, ...rows);
	}

	private refreshPrices(): void {
		const rows = this.hasPriceTable
			? (this.queries.all(sql('SELECT model, prompt_per_1m AS prompt, completion_per_1m AS completion, cache_per_1m AS cache FROM model_prices ORDER BY model')) as unknown as PriceRow[])
			: [];
		const fingerprint = JSON.stringify(rows);
		if (fingerprint === this.pricesFingerprint) {
			return;
		}
		const prices = new Map<string, ModelPrice>();
		for (const row of rows) {
			const price = {prompt: Number(row.prompt), completion: Number(row.completion), cache: Number(row.cache)};
			if (isValidPrice(price)) {
				prices.set(row.model, price);
			}
		}
		this.book = new PriceBook(prices);
		this.pricesFingerprint = fingerprint;
	}

	private collectNewNames(): void {
		const top = Number(this.queries.one(sql('SELECT coalesce(max(id), 0) AS top FROM usage_events')).top);
		if (top === this.watermark) {
			return;
		}
		if (top < this.watermark) {
			// The store was replaced underneath: start over.
			this.names.clear();
			this.watermark = 0;
		}
		// One pass for both names: the resolved model has no index of its own.
		const resolved = this.hasResolvedModel ? 'resolved_model' : 'NULL';
		const rows = this.queries.all(sql(`SELECT DISTINCT model, ${resolved} AS resolved FROM usage_events WHERE id > ? AND id <= ?`, this.watermark, top)) as Array<{
			model: string | null;
			resolved: string | null;
		}>;
		for (const {model, resolved: resolvedModel} of rows) {
			for (const name of [model, resolvedModel]) {
				if (name !== null) {
					this.names.add(name);
				}
			}
		}
		// Ids only grow in this store; rows removed by retention only leave unused names behind.
		this.watermark = top;
	}
}
