// Which BPE encoding counts a model's text. OpenAI's models have a published encoding
// (js-tiktoken's getEncodingNameForModel); every other model has its own tokenizer, so any tiktoken
// count of its text is an approximation, marked as such.

export const ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export interface ModelEncoding {
	/** The name the mapping used: lower case, without provider prefix or snapshot date. */
	readonly model: string;
	readonly encoding: Encoding;
	/** Not an OpenAI model with a known encoding: the count is an approximation. */
	readonly approximate: boolean;
}

/** Families by prefix, longest first where one prefix contains another (gpt-4o before gpt-4). */
const FAMILIES: ReadonlyArray<readonly [prefix: string, encoding: Encoding]> = [
	['gpt-4o', 'o200k_base'],
	['chatgpt-4o', 'o200k_base'],
	['gpt-4.1', 'o200k_base'],
	['gpt-4.5', 'o200k_base'],
	['gpt-5', 'o200k_base'],
	['gpt-oss', 'o200k_base'], // o200k_harmony: o200k_base plus special tokens, the same counts for text
	['o1', 'o200k_base'],
	['o3', 'o200k_base'],
	['o4', 'o200k_base'],
	['codex-mini', 'o200k_base'],
	['gpt-realtime', 'o200k_base'],
	['gpt-audio', 'o200k_base'],
	['gpt-image', 'o200k_base'],
	['omni-moderation', 'o200k_base'],
	['gpt-4', 'cl100k_base'],
	['gpt-3.5', 'cl100k_base'],
	['gpt-35', 'cl100k_base'], // Azure's spelling
	['text-embedding-ada-002', 'cl100k_base'],
	['text-embedding-3', 'cl100k_base'],
	['davinci-002', 'cl100k_base'],
	['babbage-002', 'cl100k_base'],
];

/** What stands in for a model without a published encoding: the newer, multilingual vocabulary. */
export const FALLBACK_ENCODING: Encoding = 'o200k_base';

/**
 * The model's name as the families are keyed: lower case, without a provider or route prefix
 * (`openai/`, `azure/gpt-4o`, `models/…`), a fine-tune wrapper (`ft:gpt-4o-mini:org::id`) or a
 * snapshot suffix (`-2024-11-20`, `-20241120`, `-0613`, `-preview`, `-latest`).
 */
export function normaliseModel(name: string): string {
	let model = name.trim().toLowerCase();
	// The provider's prefix ends at the last '/' before any ':' (a fine-tune id has colons, no slash).
	const colon = model.indexOf(':');
	model = model.slice(model.lastIndexOf('/', colon === -1 ? model.length : colon) + 1);
	const fineTuned = /^ft:([^:]+)/u.exec(model);
	if (fineTuned !== null) model = fineTuned[1]!;
	for (;;) {
		const shorter = model.replace(/-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|preview|latest)$/u, '');
		if (shorter === model) return model;
		model = shorter;
	}
}

/** The family's prefix matches a whole name part: gpt-4o-mini is gpt-4o's, o1 is not o10's. */
const inFamily = (model: string, prefix: string): boolean => model === prefix || (model.startsWith(prefix) && /^[-.:_]/u.test(model.slice(prefix.length)));

export function encodingForModel(name: string): ModelEncoding {
	const model = normaliseModel(name);
	const family = FAMILIES.find(([prefix]) => inFamily(model, prefix));
	return family === undefined ? {model, encoding: FALLBACK_ENCODING, approximate: true} : {model, encoding: family[1], approximate: false};
}
