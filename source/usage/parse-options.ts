import {InputError, quoted} from './input-error.js';
import {
	DIMENSIONS,
	MAX_PAGE_SIZE,
	SORT_DIRECTIONS,
	SORT_KEYS,
	STATUSES,
	type Dimension,
	type SortDirection,
	type SortKey,
	type Status,
} from './types.js';

// Every user-supplied choice goes through one of these whitelists before it gets near SQL.

function oneOf<T extends string>(what: string, allowed: readonly T[], value: string): T {
	const found = allowed.find(candidate => candidate === value);
	if (found === undefined) {
		throw new InputError(`unknown ${what} ${quoted(value)}; expected one of: ${allowed.join(', ')}`);
	}
	return found;
}

export const parseSortKey = (value: string): SortKey => oneOf('sort key', SORT_KEYS, value);
export const parseSortDirection = (value: string): SortDirection => oneOf('sort direction', SORT_DIRECTIONS, value);
export const parseStatus = (value: string): Status => oneOf('status', STATUSES, value);
export const parseDimension = (value: string): Dimension => oneOf('dimension', DIMENSIONS, value);

/** Far past any table's last page, yet its offset stays an exact integer on every engine. */
export const MAX_PAGE = 999_999_999;

function positiveInteger(what: string, value: string): number {
	if (!/^\d+$/.test(value.trim())) {
		throw new InputError(`${what} must be a positive whole number, got ${quoted(value)}`);
	}
	const parsed = Number(value.trim());
	if (parsed < 1) {
		throw new InputError(`${what} must be 1 or more, got ${parsed}`);
	}
	return parsed;
}

export function parsePage(value: string): number {
	const page = positiveInteger('page', value);
	if (page > MAX_PAGE) {
		throw new InputError(`page must be at most ${MAX_PAGE}, got ${quoted(value.trim())}`);
	}
	return page;
}

export function parsePageSize(value: string): number {
	const size = positiveInteger('page size', value);
	if (size > MAX_PAGE_SIZE) {
		throw new InputError(`page size must be at most ${MAX_PAGE_SIZE}, got ${quoted(value.trim())}`);
	}
	return size;
}

export function parsePositiveNumber(what: string, value: string): number {
	const parsed = Number(value);
	if (value.trim() === '' || !Number.isFinite(parsed) || parsed <= 0) {
		throw new InputError(`${what} must be a positive number, got ${quoted(value)}`);
	}
	return parsed;
}
