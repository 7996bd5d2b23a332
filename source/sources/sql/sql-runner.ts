import type {GroupPage, PageRequest, RequestPage, SortedPageRequest} from '../../usage/types.js';
import {decodeGroupPage, decodeRequest, num, type Row} from './decode.js';
import type {Dialect} from './dialect.js';
import type {SqlFragment} from './fragment.js';
import type {RequestRows, UsagePartials} from './request-rows.js';
import {groupCountSql, groupPageSql, requestCountSql, requestPageSql} from './usage-aggregates.js';

/** Runs built queries on one engine's connection. */
export interface SqlRunner {
	one(query: SqlFragment): Promise<Row>;
	all(query: SqlFragment): Promise<Row[]>;
	/** Whether the table exists where unqualified names find it. */
	hasTable(name: string): Promise<boolean>;
	close(): Promise<void>;
}

/** One page of groups; a page past the end asks for the number of groups separately. */
export async function groupPage(runner: SqlRunner, partials: UsagePartials, request: SortedPageRequest, dialect: Dialect, label: (row: Row) => string): Promise<GroupPage> {
	const rows = await runner.all(groupPageSql(partials, request, dialect));
	const totalItems = rows[0] === undefined ? num((await runner.one(groupCountSql(partials))).total_items) : num(rows[0].total_items);
	return decodeGroupPage(request, rows, label, totalItems);
}

/** One page of the request log, newest first; `counted` are the rows the total counts, or their number when it is known. */
export async function requestPage(runner: SqlRunner, rows: RequestRows, counted: RequestRows | number, request: PageRequest, apiKeyLabel: (key: string) => string): Promise<RequestPage> {
	const items = (await runner.all(requestPageSql(rows, request))).map(row => decodeRequest(row, apiKeyLabel));
	const totalItems = typeof counted === 'number' ? counted : num((await runner.one(requestCountSql(counted))).total_items);
	return {page: request.page, pageSize: request.pageSize, totalItems, items};
}
