import {escapeControls} from './escape-controls.js';

// Every secret the process has learned (database passwords, the management key), so that what it
// shows (the screen, --once, --json, errors, a crash report) can be masked wherever the secret ended
// up. Only what is shown is masked: the data keeps its values, which the program itself works with.

const MASK = '***';

/**
 * Shorter secrets are not masked: they protect next to nothing (a few guesses find them), and
 * masking every `a` or `ab` would wreck every line (`rel***ytop`).
 */
const MIN_CHARACTERS = 4;

const secrets = new Set<string>();
/** The masking pattern, rebuilt on the first use after a secret is added. */
let pattern: RegExp | null = null;

function decoded(text: string): string {
	try {
		return decodeURIComponent(text);
	} catch {
		return text;
	}
}

/**
 * The secret inside a quoted string: SQL's as a statement's text holds it (pg_stat_activity), a
 * quote doubled, or in an E'' string (escapeLiteral's, for a value with a backslash) the
 * backslashes doubled too and a quote as '' or \'; and with its backslashes doubled, as code, logs
 * and util.inspect write a string.
 */
function quotedForms(text: string): string[] {
	const backslashes = text.replaceAll('\\', '\\\\');
	return [backslashes, text.replaceAll("'", "''"), backslashes.replaceAll("'", "''"), backslashes.replaceAll("'", "\\'")];
}

/**
 * The ways a secret is written out: as given, percent-decoded (a URL's password as the driver uses
 * it) and percent-encoded; each JSON-escaped (a server's JSON quoted in an error), with its controls
 * escaped (text shown before the secret was known), and quoted; each of those lower- and upper-cased
 * too (a host name comes back lower-cased, a server may echo it either way).
 */
function formsOf(secret: string): string[] {
	const spellings = [secret, decoded(secret), encodeURIComponent(secret)];
	const written = spellings.flatMap(form => [form, JSON.stringify(form).slice(1, -1), escapeControls(form), ...quotedForms(form)]);
	return written.flatMap(form => [form, form.toLowerCase(), form.toUpperCase()]);
}

const longEnough = (text: string): boolean => [...text].length >= MIN_CHARACTERS;

/** Remembers a secret for maskSecrets; absent, blank and short ones (MIN_CHARACTERS) are ignored. */
export function registerSecret(secret: string | undefined): void {
	if (secret === undefined || secret.trim() === '' || !longEnough(secret) || secrets.has(secret)) return;
	secrets.add(secret);
	pattern = null;
}

const escapeRegExp = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/]/gu, '\\$&');

/**
 * The text with every form of every registered secret replaced by `***`: the longest first, so a
 * secret holding another is masked whole. A secret that is also an ordinary word of the text (a
 * password `postgres`) is masked there too: the safe side. For text about to be shown only.
 */
export function maskSecrets(text: string): string {
	if (secrets.size === 0) return text;
	if (pattern === null) {
		const forms = [...new Set([...secrets].flatMap(formsOf))].filter(longEnough).sort((a, b) => b.length - a.length);
		pattern = new RegExp(forms.map(escapeRegExp).join('|'), 'gu');
	}
	return text.replace(pattern, MASK);
}
