// User search text never reaches an engine as syntax: FTS5 gets quoted phrases built only from
// token characters, LIKE gets every wildcard and the escape character escaped.

import {InputError} from '../../usage/input-error.js';

// Each term is one more full-text or LIKE pass; a pasted wall of words must not stall the engine.
export const MAX_SEARCH_TERMS = 16;
// Far longer than any name, and its LIKE pattern far within SQLite's 50,000-byte limit.
export const MAX_SEARCH_LENGTH = 1000;

/**
 * Whitespace-separated terms, repeats dropped (they cannot change an AND). U+0000 is refused: a
 * PostgreSQL string cannot hold it, and SQLite's LIKE stops reading at it.
 */
export function splitTerms(search: string | undefined): string[] {
	const text = search ?? '';
	if (text.length > MAX_SEARCH_LENGTH) {
		throw new InputError(`search is ${text.length} characters long; at most ${MAX_SEARCH_LENGTH} are allowed`);
	}
	if (text.includes('\u0000')) {
		throw new InputError('search cannot hold the character U+0000 (NUL)');
	}
	const terms = [...new Set(text.split(/\s+/u).filter(term => term !== ''))];
	if (terms.length > MAX_SEARCH_TERMS) {
		throw new InputError(`search has ${terms.length} different terms; at most ${MAX_SEARCH_TERMS} are allowed`);
	}
	return terms;
}

// unicode61 (CPA-Manager's tokenizer) keeps letters, numbers, marks and private-use characters;
// everything else separates tokens, so only these can ever match.
const TOKEN_CHARACTERS = /[\p{L}\p{N}\p{M}\p{Co}]+/gu;

/**
 * CPA-Manager's search semantics as an FTS5 query: each whitespace-separated term, trimmed of
 * surrounding quotes and asterisks, is a prefix phrase (`co` finds `codex`), and terms are AND-ed.
 * Returns null when nothing is left to search for (no filter); a term with no token characters
 * (such as `%_`) can match nothing, so it yields the never-matching query "".
 */
export function ftsPrefixQuery(search: string | undefined): string | null {
	const phrases: string[] = [];
	for (const term of splitTerms(search)) {
		const trimmed = term.replace(/^["*]+|["*]+$/gu, '');
		if (trimmed === '') {
			continue;
		}
		const tokens = trimmed.match(TOKEN_CHARACTERS);
		if (tokens === null) {
			return '';
		}
		phrases.push(`"${tokens.join(' ')}"*`);
	}
	return phrases.length === 0 ? null : phrases.join(' AND ');
}

const LIKE_ESCAPE = '\\';

/** A LIKE pattern matching values that start with `text` literally. */
export function likePrefix(text: string): string {
	return `${text.replace(/[\\%_]/gu, match => LIKE_ESCAPE + match)}%`;
}
