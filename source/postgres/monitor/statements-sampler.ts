import {counterDelta, type CounterReading} from './counter-rates.js';
import {
	isOwnStatement,
	readStatementNumbers,
	readStatementTexts,
	statementKey,
	statementsColumns,
	type StatementNumbers,
	type StatementNumbersSample,
} from './statements-query.js';
import {grantMonitorHint} from './panel-result.js';
import type {Queryable} from './queryable.js';
import type {ServerInfo} from './server-info.js';

export type StatementSortKey = 'msPerS' | 'callsPerS' | 'totalMs' | 'calls' | 'meanMs';

export interface StatementsOptions {
	/** Entries listed, default 20. */
	readonly limit?: number;
	/** Default 'msPerS' (falls back to 'totalMs' on the first sample, which has no rates). */
	readonly sortBy?: StatementSortKey;
	/** Marks relaytop's own statements in the list (`own`); default SQL_MARKER. */
	readonly ownMarker?: string;
}

/** One pg_stat_statements entry with its rates over the last interval. */
export interface StatementStat {
	readonly queryid: string;
	/** The role's oid, as text. */
	readonly userid: string;
	/** Top-level statement (1.9+), else null. */
	readonly toplevel: boolean | null;
	/** Normalised text; null when the server has none for it. */
	readonly query: string | null;
	/** The text carries relaytop's marker. */
	readonly own: boolean;
	readonly calls: number;
	readonly totalMs: number;
	readonly meanMs: number | null;
	readonly rows: number;
	/** Null on the first sample. */
	readonly interval: {
		readonly seconds: number;
		/** The entry's counters started over inside the interval (reset or evicted and re-created). */
		readonly restarted: boolean;
		/** The entry did not exist at the previous sample. */
		readonly appeared: boolean;
		readonly calls: number;
		readonly totalMs: number;
		readonly rows: number;
		readonly callsPerS: number;
		readonly msPerS: number;
		readonly rowsPerS: number;
	} | null;
}

export interface StatementsSnapshot {
	readonly sampledAtMs: number;
	readonly extensionVersion: string;
	/** The column total_ms comes from. */
	readonly totalColumn: 'total_time' | 'total_exec_time';
	/** pg_stat_statements_info.stats_reset (1.9+). */
	readonly statsResetAtMs: number | null;
	/** A full reset happened since the previous sample (1.9+: stats_reset moved). */
	readonly reset: boolean;
	/** Entries evicted since the server started (1.9+), and since the previous sample. */
	readonly dealloc: number | null;
	readonly deallocDelta: number | null;
	/** Seconds since the previous sample on the server clock; null on the first. */
	readonly intervalS: number | null;
	/** Over every visible entry of this database. */
	readonly totals: {
		readonly statements: number;
		readonly calls: number;
		readonly totalMs: number;
		readonly callsPerS: number | null;
		readonly msPerS: number | null;
	};
	/** Other roles' entries whose queryid and text the role may not see (cumulative). */
	readonly hidden: {readonly statements: number; readonly calls: number; readonly totalMs: number};
	readonly top: readonly StatementStat[];
	/** Set when some entries are hidden. */
	readonly hint: string | null;
}

type Counter = 'calls' | 'totalMs' | 'rows';

/** The entry restarted at the later of its own stats_since (1.11+) and the extension's stats_reset (1.9+). */
const latest = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

const reading = (entry: StatementNumbers, atMs: number, statsResetAtMs: number | null): CounterReading<Counter> => ({
	atMs,
	resetAtMs: latest(entry.statsSinceMs, statsResetAtMs),
	values: {calls: entry.calls, totalMs: entry.totalMs, rows: entry.rows},
});

/**
 * The first `limit` statements by `key`, highest first. Ties (most often: statements that did not
 * run in the interval, all at 0 ms/s) go to the one with more time in all, then by queryid, so the
 * statements that make the cut are the ones that matter, the same ones each sample.
 */
export function rankStatements(stats: readonly StatementStat[], key: StatementSortKey, limit: number): StatementStat[] {
	return [...stats].sort((a, b) => sortValue(b, key) - sortValue(a, key) || b.totalMs - a.totalMs || a.queryid.localeCompare(b.queryid)).slice(0, limit);
}

const sortValue = (stat: StatementStat, key: StatementSortKey): number => {
	switch (key) {
		case 'msPerS':
			return stat.interval?.msPerS ?? -1;
		case 'callsPerS':
			return stat.interval?.callsPerS ?? -1;
		case 'totalMs':
			return stat.totalMs;
		case 'calls':
			return stat.calls;
		case 'meanMs':
			return stat.meanMs ?? -1;
	}
};

/**
 * Top statements of the connected database with calls/s and ms/s between two samples, on the server's
 * clock. Keeps the previous sample's numbers (one small record per entry) and a cache of the texts of
 * the entries it listed. Each sample reads every entry's numbers without texts, then texts only for
 * listed entries it has not seen. One query, two when a new entry enters the list.
 */
export class StatementsSampler {
	private previous: StatementNumbersSample | null = null;
	private previousByKey = new Map<string, StatementNumbers>();
	private texts = new Map<string, string | null>();

	constructor(private readonly options: StatementsOptions = {}) {}

	/** Forget the previous sample (e.g. after switching database). */
	clear(): void {
		this.previous = null;
		this.previousByKey = new Map();
		this.texts = new Map();
	}

	/** Throws for server errors; run it inside runPanel. The caller checks the extension is installed and preloaded. */
	async sample(db: Queryable, server: ServerInfo): Promise<StatementsSnapshot> {
		const {version, schema} = server.statements;
		if (version === null || schema === null) throw new Error('pg_stat_statements is not installed in this database');
		const columns = statementsColumns(version, schema);
		const current = await readStatementNumbers(db, columns);
		const previous = this.previous;
		const reset = previous !== null && current.statsResetAtMs !== null && current.statsResetAtMs !== previous.statsResetAtMs;
		const stats = current.entries.map(entry => this.statOf(entry, current, previous));
		const sortBy = this.options.sortBy ?? 'msPerS';
		const effectiveSort: StatementSortKey = previous === null && (sortBy === 'msPerS' || sortBy === 'callsPerS') ? 'totalMs' : sortBy;
		const top = rankStatements(stats, effectiveSort, this.options.limit ?? 20);
		const missing = top.filter(stat => !this.texts.has(this.keyOf(stat)));
		if (missing.length > 0) {
			const fetched = await readStatementTexts(db, columns, missing.map(stat => stat.queryid));
			for (const stat of missing) this.texts.set(this.keyOf(stat), fetched.get(this.keyOf(stat)) ?? null);
		}
		const listed = top.map((stat): StatementStat => {
			const query = this.texts.get(this.keyOf(stat)) ?? null;
			return {...stat, query, own: isOwnStatement(query, this.options.ownMarker)};
		});
		// Keep texts of entries still present only.
		const present = new Set(current.entries.map(entry => entry.key));
		for (const key of this.texts.keys()) if (!present.has(key)) this.texts.delete(key);

		const intervalS = previous === null ? null : (current.sampledAtMs - previous.sampledAtMs) / 1000;
		const sum = (pick: (stat: StatementStat) => number): number => stats.reduce((total, stat) => total + pick(stat), 0);
		const withRates = previous !== null && intervalS !== null && intervalS > 0;
		const snapshot: StatementsSnapshot = {
			sampledAtMs: current.sampledAtMs,
			extensionVersion: columns.extensionVersion,
			totalColumn: columns.totalColumn,
			statsResetAtMs: current.statsResetAtMs,
			reset,
			dealloc: current.dealloc,
			deallocDelta: previous === null || previous.dealloc === null || current.dealloc === null ? null : Math.max(0, current.dealloc - previous.dealloc),
			intervalS,
			totals: {
				statements: stats.length,
				calls: sum(stat => stat.calls),
				totalMs: sum(stat => stat.totalMs),
				callsPerS: withRates ? sum(stat => stat.interval?.calls ?? 0) / intervalS : null,
				msPerS: withRates ? sum(stat => stat.interval?.totalMs ?? 0) / intervalS : null,
			},
			hidden: current.hidden,
			top: listed,
			hint: current.hidden.statements > 0 ? `${current.hidden.statements} statements of other roles show no text: ${grantMonitorHint(server.role)}` : null,
		};
		this.previous = current;
		this.previousByKey = new Map(current.entries.map(entry => [entry.key, entry]));
		return snapshot;
	}

	private keyOf(stat: StatementStat): string {
		return statementKey(stat.userid, stat.queryid, stat.toplevel);
	}

	private statOf(entry: StatementNumbers, current: StatementNumbersSample, previous: StatementNumbersSample | null): StatementStat {
		const base = {
			queryid: entry.queryid,
			userid: entry.userid,
			toplevel: entry.toplevel,
			query: null,
			own: false,
			calls: entry.calls,
			totalMs: entry.totalMs,
			meanMs: entry.calls > 0 ? entry.totalMs / entry.calls : null,
			rows: entry.rows,
		};
		if (previous === null) return {...base, interval: null};
		const before = this.previousByKey.get(entry.key);
		const now = reading(entry, current.sampledAtMs, current.statsResetAtMs);
		// An entry that appeared counted from zero inside the interval: its whole value is the delta, over the whole interval.
		const then: CounterReading<Counter> =
			before === undefined
				? {atMs: previous.sampledAtMs, resetAtMs: now.resetAtMs, values: {calls: 0, totalMs: 0, rows: 0}}
				: reading(before, previous.sampledAtMs, previous.statsResetAtMs);
		const delta = counterDelta(then, now);
		if (delta === null) return {...base, interval: null};
		return {
			...base,
			interval: {
				seconds: delta.seconds,
				restarted: delta.restarted,
				appeared: before === undefined,
				calls: delta.deltas.calls,
				totalMs: delta.deltas.totalMs,
				rows: delta.deltas.rows,
				callsPerS: delta.perSecond.calls,
				msPerS: delta.perSecond.totalMs,
				rowsPerS: delta.perSecond.rows,
			},
		};
	}
}
