import {describe, expect, it} from 'vitest';
import {ftsPrefixQuery, likePrefix, MAX_SEARCH_LENGTH, MAX_SEARCH_TERMS, splitTerms} from '../source/sources/sql/search-terms.js';
import {InputError} from '../source/usage/input-error.js';

describe('FTS prefix query', () => {
	it('builds CPA-Manager\'s query: quoted prefix phrases joined by AND', () => {
		expect(ftsPrefixQuery('co code "codex"')).toBe('"co"* AND "code"* AND "codex"*');
	});

	it('keeps only token characters, so no FTS syntax survives', () => {
		expect(ftsPrefixQuery('a OR')).toBe('"a"* AND "OR"*');
		expect(ftsPrefixQuery('NEAR(co')).toBe('"NEAR co"*');
		expect(ftsPrefixQuery('v1/chat')).toBe('"v1 chat"*');
		expect(ftsPrefixQuery('alice@example.com')).toBe('"alice example com"*');
		expect(ftsPrefixQuery('研发团队')).toBe('"研发团队"*');
	});

	it('means no search for nothing but quotes and stars, and nothing found for a term with no token characters', () => {
		expect(ftsPrefixQuery('')).toBeNull();
		expect(ftsPrefixQuery('  *  "" ')).toBeNull();
		expect(ftsPrefixQuery('%_')).toBe('');
		expect(ftsPrefixQuery("codex '; --")).toBe('');
	});
});

describe('LIKE prefix', () => {
	it('escapes wildcards and the escape character', () => {
		expect(likePrefix('user_%')).toBe('user\\_\\%%');
		expect(likePrefix('a\\b')).toBe('a\\\\b%');
		expect(likePrefix('张')).toBe('张%');
	});

	it('splits on any whitespace and drops repeated terms', () => {
		expect(splitTerms(' a\tb\n c ')).toEqual(['a', 'b', 'c']);
		expect(splitTerms(undefined)).toEqual([]);
		expect(splitTerms(`${'co '.repeat(300)}co`)).toEqual(['co']);
	});

	it('refuses a search longer than any name (SQLite stops at 50,000 bytes of pattern), and U+0000, which no engine can match', () => {
		expect(splitTerms('a'.repeat(MAX_SEARCH_LENGTH))).toEqual(['a'.repeat(MAX_SEARCH_LENGTH)]);
		expect(() => splitTerms('a'.repeat(MAX_SEARCH_LENGTH + 1))).toThrow(/1001 characters long; at most 1000/);
		expect(() => splitTerms('a\u0000b')).toThrow(InputError);
		expect(() => ftsPrefixQuery('\u0000')).toThrow(/U\+0000/);
	});

	it('refuses more different terms than it will run', () => {
		const many = Array.from({length: MAX_SEARCH_TERMS + 1}, (_, n) => `t${n}`).join(' ');
		expect(() => splitTerms(many)).toThrow(InputError);
		expect(() => ftsPrefixQuery(many)).toThrow(/at most 16/);
	});
});
