import {terminalSafe} from './terminal-safe.js';

// Every secret the process has learned (database passwords, the management key), so that whatever
// text leaves it (output, errors, a crash report) can be masked, wherever the secret ended up in it.

const MASK = '***';

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
 * The ways a secret is written out: as given, percent-decoded (a URL's password as the driver uses
 * it) and percent-encoded, JSON-escaped (JSON text), and with control characters made visible
 * (terminalSafe, as every message is printed).
 */
function formsOf(secret: string): string[] {
	const forms = [secret, decoded(secret), encodeURIComponent(secret)];
	return forms.flatMap(form => [form, JSON.stringify(form).slice(1, -1), terminalSafe(form)]);
}

/** Remembers a secret for maskSecrets; empty and absent values are ignored. */
export function registerSecret(secret: string | undefined): void {
	if (secret === undefined || secret.trim() === '' || secrets.has(secret)) return;
	secrets.add(secret);
	pattern = null;
}

const escapeRegExp = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/]/gu, '\\$&');

/**
 * The text with every form of every registered secret replaced by `***`: the longest first, so a
 * secret holding another is masked whole. A secret that is also an ordinary word of the text (a
 * password `postgres`) is masked there too: the safe side.
 */
export function maskSecrets(text: string): string {
	if (secrets.size === 0) return text;
	if (pattern === null) {
		const forms = [...new Set([...secrets].flatMap(formsOf))].filter(form => form !== '').sort((a, b) => b.length - a.length);
		pattern = new RegExp(forms.map(escapeRegExp).join('|'), 'gu');
	}
	return text.replace(pattern, MASK);
}

function maskedValue(value: unknown): unknown {
	if (typeof value === 'string') return maskSecrets(value);
	if (Array.isArray(value)) return value.map(maskedValue);
	// Plain records only (a database row has no prototype); other objects are left as they are.
	if (value !== null && typeof value === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(value))) {
		return Object.fromEntries(Object.entries(value).map(([name, field]) => [name, maskedValue(field)]));
	}
	return value;
}

/**
 * Data with every string in its records and arrays masked, at any depth, before it is laid out or
 * cut to a width. Keys are kept: they are the output's own words, so JSON keeps its shape whatever
 * the secret.
 */
export const maskSecretsIn = <T>(value: T): T => (secrets.size === 0 ? value : (maskedValue(value) as T));
