import {InputError} from '../usage/input-error.js';
import {parseDimension, parsePage, parsePageSize, parsePositiveNumber, parseSortDirection, parseSortKey, parseStatus} from '../usage/parse-options.js';
import {parseInstant, parseRangePreset, rangeSpec, resolveRange, type RangeSpec} from '../usage/time-range.js';
import type {SnapshotRequest} from '../usage/take-snapshot.js';
import type {FilterName, Filters, SourceCapabilities} from '../usage/types.js';
import type {ParsedFlags} from './flags.js';

const FILTER_FLAGS: Record<Exclude<FilterName, 'status' | 'search'>, keyof ParsedFlags> = {
	account: 'account',
	provider: 'provider',
	channel: 'channel',
	group: 'group',
	model: 'model',
	apiKey: 'apiKey',
};

const flagName = (name: string): string => `--${name.replace(/[A-Z]/gu, upper => `-${upper.toLowerCase()}`)}`;

/** Validates everything that does not need the source, before any file is opened. */
export function parseRangeFlags(flags: ParsedFlags): RangeSpec {
	return rangeSpec({
		preset: flags.range === undefined ? undefined : parseRangePreset(flags.range),
		fromMs: flags.from === undefined ? undefined : parseInstant('from', flags.from),
		toMs: flags.to === undefined ? undefined : parseInstant('to', flags.to),
	});
}

export const parseQuotaPerUnit = (flags: ParsedFlags): number | undefined =>
	flags.quotaPerUnit === undefined ? undefined : parsePositiveNumber('--quota-per-unit', flags.quotaPerUnit);

function parseFilters(flags: ParsedFlags, capabilities: SourceCapabilities): Filters {
	const filters: Record<string, string> = {};
	for (const [name, flag] of Object.entries(FILTER_FLAGS)) {
		const value = flags[flag];
		if (typeof value !== 'string') {
			continue;
		}
		if (!capabilities.filters.includes(name as FilterName)) {
			throw new InputError(`${flagName(flag)} does not apply to this source; its filters are: ${capabilities.filters.map(flagName).join(', ')}`);
		}
		filters[name] = value;
	}
	return {
		...filters,
		...(flags.status === undefined ? {} : {status: parseStatus(flags.status)}),
		...(flags.search === undefined ? {} : {search: flags.search}),
	};
}

export function snapshotRequest(flags: ParsedFlags, capabilities: SourceCapabilities, range: RangeSpec, nowMs: number): SnapshotRequest {
	const dimension = flags.dimension === undefined ? capabilities.dimensions[0]! : parseDimension(flags.dimension);
	if (!capabilities.dimensions.includes(dimension)) {
		throw new InputError(`dimension "${dimension}" does not apply to this source; use one of: ${capabilities.dimensions.join(', ')}`);
	}
	const page = parsePage(flags.page);
	const pageSize = parsePageSize(flags.pageSize);
	return {
		query: {range: resolveRange(range, nowMs), filters: parseFilters(flags, capabilities)},
		dimension,
		groupPage: {page, pageSize, sortKey: parseSortKey(flags.sort), sortDirection: parseSortDirection(flags.direction)},
		requestPage: {page, pageSize},
	};
}
