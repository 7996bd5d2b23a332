import {statementsPrerequisite} from '../postgres/monitor/postgres-monitor.js';
import {isOwnStatement, readStatementNumbers, readStatementTexts, statementsColumns} from '../postgres/monitor/statements-query.js';
import type {Queryable} from '../postgres/monitor/queryable.js';
import type {ServerInfo} from '../postgres/monitor/server-info.js';
import {terminalSafe} from '../output/terminal-safe.js';
import {fix, type HealthCheck} from './health-check.js';

// The statements behind the load, from pg_stat_statements since its last reset: the ones that take
// the most time and the most frequent, or how to get the extension working.

/** A statement this slow on average, called this often, is worth an EXPLAIN. */
export const SLOW_MEAN_MS = 1000;
export const SLOW_MIN_CALLS = 10;
const LISTED = 3;

export interface TopStatement {
	/** Whole, on one line (the fix runs it under EXPLAIN); evidence shows its head. */
	readonly query: string;
	readonly calls: number;
	readonly totalMs: number;
	readonly meanMs: number;
	/** Of all statements' time in this database. */
	readonly share: number;
}

export interface StatementsFacts {
	readonly byTime: readonly TopStatement[];
	readonly byCalls: readonly TopStatement[];
	readonly statsResetAtMs: number | null;
}

const oneLine = (query: string): string => query.replace(/\s+/gu, ' ').trim();
const QUERY_HEAD = 160;

/** The top statements by time and by calls, relaytop's own left out. */
export async function readTopStatements(db: Queryable, server: ServerInfo): Promise<StatementsFacts> {
	const columns = statementsColumns(server.statements.version!, server.statements.schema!);
	const sample = await readStatementNumbers(db, columns);
	const totalMs = sample.entries.reduce((sum, entry) => sum + entry.totalMs, 0) + sample.hidden.totalMs;
	// Texts for a few more than listed, since relaytop's own statements are dropped after reading them.
	const ranked = (key: 'totalMs' | 'calls') => [...sample.entries].sort((a, b) => b[key] - a[key]).slice(0, LISTED * 3);
	const candidates = [...ranked('totalMs'), ...ranked('calls')];
	const texts = await readStatementTexts(db, columns, candidates.map(entry => entry.queryid));
	const top = (key: 'totalMs' | 'calls'): TopStatement[] =>
		ranked(key)
			.flatMap(entry => {
				const query = texts.get(entry.key);
				return query === undefined || isOwnStatement(query) ? [] : [{query: oneLine(query), calls: entry.calls, totalMs: entry.totalMs, meanMs: entry.calls === 0 ? 0 : entry.totalMs / entry.calls, share: totalMs === 0 ? 0 : entry.totalMs / totalMs}];
			})
			.slice(0, LISTED);
	return {byTime: top('totalMs'), byCalls: top('calls'), statsResetAtMs: sample.statsResetAtMs};
}

// terminalSafe before the cut, which could otherwise leave a secret's start unmasked.
const describe = (statement: TopStatement): string =>
	`${statement.calls} calls, mean ${statement.meanMs.toFixed(statement.meanMs < 10 ? 2 : 0)} ms, ${Math.round(statement.share * 100)}% of the time: ${terminalSafe(statement.query).slice(0, QUERY_HEAD)}`;

/**
 * shared_preload_libraries with pg_stat_statements added to what it lists, one literal per library:
 * a single literal 'a, b' would be stored as one quoted name, and the server would not start.
 */
export function preloadList(current: string | null): string {
	const listed = (current ?? '')
		.split(',')
		.map(name => name.trim().replace(/^"(.*)"$/u, '$1'))
		.filter(name => name !== '' && name !== 'pg_stat_statements');
	return [...listed, 'pg_stat_statements'].map(name => `'${name.replaceAll("'", "''")}'`).join(', ');
}

/** How to get pg_stat_statements working, when it is not; null when it works. */
export function statementsMissingCheck(server: ServerInfo, preloadLibraries: string | null): HealthCheck | null {
	const missing = statementsPrerequisite(server);
	if (missing === null || missing.status === 'ok') return null;
	const preload = `ALTER SYSTEM SET shared_preload_libraries = ${preloadList(preloadLibraries)};`;
	const lines = [
		...(server.statements.preloaded ? [] : [preload, '-- then restart PostgreSQL']),
		...(server.statements.installed ? [] : ['CREATE EXTENSION pg_stat_statements;']),
	];
	return {
		id: 'statements.extension',
		group: 'statements',
		title: 'pg_stat_statements',
		status: 'warning',
		summary: `${missing.message}: the slowest and most frequent statements cannot be shown`,
		evidence: [
			{label: 'installed', value: server.statements.installed},
			{label: 'preloaded', value: server.statements.preloaded},
			{label: 'files available', value: server.statements.available},
		],
		fix: fix('sql', lines, `${server.statements.available === false ? 'install the PostgreSQL contrib package first; ' : ''}as a superuser${server.statements.installed ? '' : `, in database ${terminalSafe(server.database)}`}${preloadLibraries === null && !server.statements.preloaded ? '; keep any libraries shared_preload_libraries already lists (this role cannot read it)' : ''}`),
	};
}

/** How to see a statement's plan without running it: GENERIC_PLAN takes its $n as they are (PostgreSQL 16+). */
function explainFix(statement: TopStatement, versionNum: number) {
	return versionNum >= 160_000
		? fix('advice', [`EXPLAIN (GENERIC_PLAN) ${statement.query};`], 'shows the plan without running it; a Seq Scan on logs points at a missing index (see the index checks)')
		: fix(
				'advice',
				[`EXPLAIN ${statement.query};`],
				'with real values in place of $1, $2 …; EXPLAIN ANALYZE would run it (a write only inside BEGIN … ROLLBACK); a Seq Scan on logs points at a missing index (see the index checks)',
			);
}

/** The slowest and most frequent statements; a warning when one is slow and frequent. Pure. */
export function statementsCheck(facts: StatementsFacts, versionNum: number): HealthCheck {
	const slow = facts.byTime.filter(statement => statement.meanMs >= SLOW_MEAN_MS && statement.calls >= SLOW_MIN_CALLS);
	const [first] = facts.byTime;
	return {
		id: 'statements.top',
		group: 'statements',
		title: 'top statements',
		status: slow.length > 0 ? 'warning' : 'ok',
		summary:
			slow.length > 0
				? `${slow.length} frequent statement${slow.length === 1 ? '' : 's'} averaging over ${SLOW_MEAN_MS} ms; the worst: ${slow[0]!.meanMs.toFixed(0)} ms × ${slow[0]!.calls}`
				: first === undefined
					? 'no statements recorded yet'
					: `the most time: ${Math.round(first.share * 100)}% in one statement, ${first.meanMs.toFixed(first.meanMs < 10 ? 2 : 0)} ms on average`,
		evidence: [
			...facts.byTime.map((statement, index) => ({label: `most time #${index + 1}`, value: describe(statement)})),
			...facts.byCalls.map((statement, index) => ({label: `most calls #${index + 1}`, value: describe(statement)})),
		],
		fix: slow.length > 0 ? explainFix(slow[0]!, versionNum) : null,
	};
}
