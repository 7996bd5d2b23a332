import {InputError} from './input-error.js';
import {MAX_PAGE_SIZE, type PageRequest} from './types.js';

/** Every page that reaches an engine is checked here, whoever asks for it. */
export function checkedPage<T extends PageRequest>(page: T): T {
	if (!Number.isSafeInteger(page.page) || page.page < 1) {
		throw new InputError(`page must be a whole number from 1, got ${page.page}`);
	}
	if (!Number.isSafeInteger(page.pageSize) || page.pageSize < 1 || page.pageSize > MAX_PAGE_SIZE) {
		throw new InputError(`page size must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${page.pageSize}`);
	}
	return page;
}
