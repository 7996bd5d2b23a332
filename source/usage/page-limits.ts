import {InputError} from './input-error.js';
import {MAX_PAGE, parseSortDirection, parseSortKey} from './parse-options.js';
import {MAX_PAGE_SIZE, type PageRequest, type SortedPageRequest} from './types.js';

/**
 * Every page that reaches an engine is checked here, whoever asks for it; a sorted page's key and
 * direction too, since they choose SQL text rather than bind a value.
 */
export function checkedPage<T extends PageRequest | SortedPageRequest>(page: T): T {
	if (!Number.isSafeInteger(page.page) || page.page < 1 || page.page > MAX_PAGE) {
		throw new InputError(`page must be a whole number from 1 to ${MAX_PAGE}, got ${page.page}`);
	}
	if (!Number.isSafeInteger(page.pageSize) || page.pageSize < 1 || page.pageSize > MAX_PAGE_SIZE) {
		throw new InputError(`page size must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${page.pageSize}`);
	}
	if ('sortKey' in page) {
		parseSortKey(page.sortKey);
		parseSortDirection(page.sortDirection);
	}
	return page;
}
