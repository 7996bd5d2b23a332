import {ManagementError} from './management-client.js';

// The manager's JSON is untrusted input: every field is read through these, which accept what
// Go's encoder emits (omitempty means absent) and refuse anything else with one clear line.

export type Json = Record<string, unknown>;

const malformed = (where: string, what: string): ManagementError => new ManagementError('malformed', `${where}: ${what}; is this a CPA-Manager address?`);

export function object(value: unknown, where: string): Json {
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		throw malformed(where, 'expected a JSON object');
	}
	return value as Json;
}

/** An object member that Go omits when empty. */
export const optionalObject = (value: unknown, where: string): Json => (value === undefined || value === null ? {} : object(value, where));

export function array(value: unknown, where: string): unknown[] {
	if (value === undefined || value === null) {
		return [];
	}
	if (!Array.isArray(value)) {
		throw malformed(where, 'expected a JSON array');
	}
	return value;
}

/** A count or a token sum: absent is 0, anything but a finite number is refused. */
export function count(value: unknown, where: string): number {
	if (value === undefined || value === null) {
		return 0;
	}
	if (typeof value !== 'number' || !Number.isFinite(value)) {
		throw malformed(where, 'expected a number');
	}
	return value;
}

export function optionalCount(value: unknown, where: string): number | null {
	return value === undefined || value === null ? null : count(value, where);
}

/** A string that may be absent (omitempty): null when absent or empty. */
export function text(value: unknown, where: string): string | null {
	if (value === undefined || value === null || value === '') {
		return null;
	}
	if (typeof value !== 'string') {
		throw malformed(where, 'expected a string');
	}
	return value;
}

export function flag(value: unknown, where: string): boolean {
	if (value === undefined || value === null) {
		return false;
	}
	if (typeof value !== 'boolean') {
		throw malformed(where, 'expected true or false');
	}
	return value;
}

/** RFC 3339 (Go's time.Time) to epoch milliseconds. */
export function instant(value: unknown, where: string): number {
	const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
	if (!Number.isFinite(ms)) {
		throw malformed(where, 'expected an RFC 3339 time');
	}
	return ms;
}
