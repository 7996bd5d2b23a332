/** USD per 1M tokens, as CPA-Manager stores them. */
export interface ModelPrice {
	readonly prompt: number;
	readonly completion: number;
	readonly cache: number;
}

export interface PricedModel {
	readonly key: string;
	readonly price: ModelPrice;
}

const DATE_SUFFIX = /-\d{6,8}$/;

const basename = (name: string): string => name.slice(name.lastIndexOf('/') + 1);
const stripDate = (name: string): string => name.replace(DATE_SUFFIX, '');

/** Shortest original key wins a collision; equal lengths fall back to code-unit order so the pick is stable. */
function preferred(current: string | undefined, candidate: string): string {
	if (current === undefined || candidate.length < current.length) {
		return candidate;
	}
	return candidate.length === current.length && candidate < current ? candidate : current;
}

function indexBy(keys: readonly string[], derive: (key: string) => string): Map<string, string> {
	const index = new Map<string, string>();
	for (const key of keys) {
		const derived = derive(key);
		index.set(derived, preferred(index.get(derived), key));
	}
	return index;
}

/**
 * CPA-Manager's price lookup: exact key; case-insensitive; the basename after the last `/`;
 * the basename without a trailing date (-YYYYMMDD or -YYMMDD) against basenames, then against
 * date-stripped keys; the basename against date-stripped keys.
 */
export class PriceBook {
	private readonly prices: ReadonlyMap<string, ModelPrice>;
	private readonly byLower: Map<string, string>;
	private readonly byBasename: Map<string, string>;
	private readonly byStrippedBasename: Map<string, string>;
	private readonly memo = new Map<string, PricedModel | null>();

	constructor(prices: ReadonlyMap<string, ModelPrice>) {
		this.prices = prices;
		const keys = [...prices.keys()];
		this.byLower = indexBy(keys, key => key.toLowerCase());
		this.byBasename = indexBy(keys, key => basename(key).toLowerCase());
		this.byStrippedBasename = indexBy(keys, key => stripDate(basename(key).toLowerCase()));
	}

	lookup(name: string | null | undefined): PricedModel | null {
		const trimmed = (name ?? '').trim();
		if (trimmed === '') {
			return null;
		}
		let found = this.memo.get(trimmed);
		if (found === undefined) {
			const key = this.findKey(trimmed);
			found = key === undefined ? null : {key, price: this.prices.get(key)!};
			this.memo.set(trimmed, found);
		}
		return found;
	}

	/** The price of a request: by its resolved model first, then by the model it asked for. */
	priceFor(resolvedModel: string | null | undefined, model: string | null | undefined): PricedModel | null {
		return this.lookup(resolvedModel) ?? this.lookup(model);
	}

	private findKey(name: string): string | undefined {
		if (this.prices.has(name)) {
			return name;
		}
		const lower = name.toLowerCase();
		const base = basename(lower);
		const stripped = stripDate(base);
		return (
			this.byLower.get(lower) ??
			this.byBasename.get(base) ??
			(stripped === base ? undefined : (this.byBasename.get(stripped) ?? this.byStrippedBasename.get(stripped))) ??
			this.byStrippedBasename.get(base)
		);
	}
}

/** A price row is usable only when every rate is a finite, non-negative number. */
export function isValidPrice(price: ModelPrice): boolean {
	return [price.prompt, price.completion, price.cache].every(rate => Number.isFinite(rate) && rate >= 0);
}
