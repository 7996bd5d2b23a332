import {openTarget} from '../source/sources/open-target.js';
import {PAGE, type AccountsPage} from './accounts-page.js';

/** relaytop's own path: the engine groups, sorts and pages; only 20 rows reach JavaScript. */
export function pushDownAccounts(path: string, endMs: number): AccountsPage {
	const source = openTarget(path);
	return {
		async read() {
			const page = await source.groups({range: {startMs: null, endMs}, filters: {}}, 'account', PAGE);
			return page.items.map(item => ({key: item.key, calls: item.totalRequests, costUsd: item.costUsd}));
		},
		close: () => source.close(),
	};
}
