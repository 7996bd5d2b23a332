import type {Encoding} from './model-encoding.js';

// A token estimate in one branch-free pass: every character is given a kind (lower, upper, digit,
// punctuation, space, newline, Han, hiragana, katakana, Hangul…), and the pass counts each pair of
// neighbouring kinds. From those counts come the characters and the runs of each kind, shaped like
// the tokenizers' own pre-split: a Latin word (split where camelCase turns upper) is most of a token
// plus a little per letter, digits go three to a token, a punctuation run is a token or more, a line
// break and its indentation a token each, and each Han, kana or Hangul character a fraction of a
// token of its own. The coefficients fit the exact counts of the sample texts in fixtures/texts;
// `relaytop tokens --bench` measures the error per kind.

/** The largest |error| the estimate is held to on every sample kind, in both encodings. */
export const ESTIMATE_ERROR_BOUND = 0.2;

const enum Kind {
	Punct,
	Lower,
	Upper,
	Digit,
	Space,
	Newline,
	Han,
	Hiragana,
	Katakana,
	Hangul,
	/** Letters of other scripts (Latin-1, Greek, Cyrillic…): word letters. */
	OtherLetter,
	/** Half of a character beyond U+FFFF: emoji, rare Han. */
	Surrogate,
}
const KIND_COUNT = 12;

/** The kind of every UTF-16 code unit. */
const KINDS = ((): Uint8Array => {
	const kinds = new Uint8Array(0x10000).fill(Kind.OtherLetter);
	const set = (from: number, to: number, kind: Kind) => kinds.fill(kind, from, to + 1);
	set(0x00, 0xbf, Kind.Punct);
	set(0x30, 0x39, Kind.Digit);
	set(0x41, 0x5a, Kind.Upper);
	set(0x61, 0x7a, Kind.Lower);
	set(0x2000, 0x206f, Kind.Punct); // general punctuation
	set(0x3001, 0x303f, Kind.Punct); // CJK punctuation
	set(0xff00, 0xffef, Kind.Punct); // full-width forms
	set(0xd800, 0xdfff, Kind.Surrogate);
	set(0x3040, 0x309f, Kind.Hiragana);
	set(0x30a0, 0x30ff, Kind.Katakana);
	set(0x31f0, 0x31ff, Kind.Katakana);
	set(0xff66, 0xff9f, Kind.Katakana); // half-width
	set(0xffa0, 0xffdc, Kind.Hangul); // half-width
	set(0x1100, 0x11ff, Kind.Hangul); // jamo
	set(0x3130, 0x318f, Kind.Hangul); // compatibility jamo
	set(0x3400, 0x4dbf, Kind.Han);
	set(0x4e00, 0x9fff, Kind.Han);
	set(0xf900, 0xfaff, Kind.Han);
	set(0xac00, 0xd7af, Kind.Hangul);
	for (const code of [0x09, 0x0b, 0x0c, 0x20, 0xa0, 0x3000]) kinds[code] = Kind.Space;
	kinds[0x0a] = Kind.Newline;
	kinds[0x0d] = Kind.Newline;
	return kinds;
})();

interface Coefficients {
	/** Per Latin word (a run of letters, or a camelCase part)… */
	readonly wordRun: number;
	/** …and per letter in it. */
	readonly letter: number;
	/** Per punctuation run, and per punctuation character. */
	readonly punctRun: number;
	readonly punct: number;
	readonly han: number;
	readonly hiragana: number;
	readonly katakana: number;
	readonly hangul: number;
}

/** Per UTF-16 unit of a character beyond U+FFFF (not in the samples: emoji and rare Han take 2-4 tokens). */
const SURROGATE = 1.25;

const LATIN = {wordRun: 0.6, letter: 0.08, punctRun: 0.6, punct: 0.2};
const COEFFICIENTS: Record<Encoding, Coefficients> = {
	o200k_base: {...LATIN, han: 0.77, hiragana: 0.84, katakana: 0.73, hangul: 0.7},
	cl100k_base: {...LATIN, han: 1.18, hiragana: 1.07, katakana: 1, hangul: 1},
};

const isLetter = (kind: number): boolean => kind === Kind.Lower || kind === Kind.Upper || kind === Kind.OtherLetter;

/** Han, kana and Hangul: the characters js-tiktoken is slowest on. */
export const isCjk = (code: number): boolean => {
	const kind = KINDS[code];
	return kind === Kind.Han || kind === Kind.Hiragana || kind === Kind.Katakana || kind === Kind.Hangul;
};

/** Where a tokenizer piece may go on: the same kind of word character or whitespace as before. */
export const continuesPiece = (previous: number, code: number): boolean => {
	const [a, b] = [KINDS[previous]!, KINDS[code]!];
	return a === b ? a !== Kind.Punct && a !== Kind.Digit && a !== Kind.Newline : (isLetter(a) || isCjk(previous)) && (isLetter(b) || isCjk(code));
};

/** Counts of each (previous kind, kind) pair, reused: the estimate allocates nothing. */
const pairs = new Uint32Array(KIND_COUNT * KIND_COUNT);

/** The estimated token count of `text` in `encoding`. O(n). */
export function estimateTokens(text: string, encoding: Encoding): number {
	pairs.fill(0);
	let previous: number = Kind.Space;
	for (let i = 0; i < text.length; i++) {
		const kind = KINDS[text.charCodeAt(i)]!;
		pairs[previous * KIND_COUNT + kind]!++;
		previous = kind;
	}
	const c = COEFFICIENTS[encoding];
	let tokens = 0;
	for (let before = 0; before < KIND_COUNT; before++) {
		for (let kind = 0; kind < KIND_COUNT; kind++) {
			const count = pairs[before * KIND_COUNT + kind]!;
			if (count === 0) continue;
			const starts = before !== kind; // a run of `kind` begins here
			switch (kind) {
				case Kind.Lower:
				case Kind.Upper:
				case Kind.OtherLetter: {
					const camel = before === Kind.Lower && kind === Kind.Upper;
					tokens += count * c.letter + (!isLetter(before) || camel ? count * c.wordRun : 0);
					break;
				}
				case Kind.Punct:
					tokens += count * c.punct + (starts ? count * c.punctRun : 0);
					break;
				case Kind.Digit:
					// ⌈run / 3⌉, where runs of one or two digits dominate (so 2/3 a run, not the uniform 1/3);
					// a space before a number is a token of its own.
					tokens += count / 3 + (starts ? (count * 2) / 3 : 0) + (before === Kind.Space ? count : 0);
					break;
				case Kind.Newline:
					tokens += starts ? count : 0;
					break;
				case Kind.Space:
					tokens += before === Kind.Newline ? count : 0; // indentation; a space between words rides on the next one
					break;
				case Kind.Surrogate:
					tokens += count * SURROGATE; // a 4-byte character is two to four byte tokens
					break;
				default:
					tokens += count * (kind === Kind.Han ? c.han : kind === Kind.Hiragana ? c.hiragana : kind === Kind.Katakana ? c.katakana : c.hangul);
			}
		}
	}
	return Math.round(tokens);
}

/** The seed's rule: three characters per token, whatever the script. Kept to be measured against. */
export const threeCharsPerToken = (text: string): number => Math.ceil(text.length / 3);
