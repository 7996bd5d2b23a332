/** What the matcher needs to know of an index; IndexInfo has it, and so can an advisor's proposals. */
export interface IndexLike {
	readonly name: string;
	/** Access method: 'btree', 'brin', 'hash', … */
	readonly method: string;
	/** Key columns in order (INCLUDE columns left out); null for an expression. */
	readonly keyColumns: readonly (string | null)[];
	/** pg_index.indisvalid: the planner uses it. */
	readonly valid: boolean;
	/** pg_index.indisready: writes maintain it. */
	readonly ready: boolean;
	/** A CREATE INDEX (CONCURRENTLY) is building it right now. */
	readonly building: boolean;
	/** WHERE clause of a partial index, else null. */
	readonly predicate: string | null;
}

/** An access path a hot query wants: an index whose leading key columns are these. */
export interface IndexNeed {
	readonly name: string;
	/**
	 * Key columns in order; a position may accept alternatives, e.g. ['user_id', ['id', 'created_at']].
	 * The index advisor proposes the first alternative of each position.
	 */
	readonly columns: readonly (string | readonly string[])[];
	/** How many leading positions must match for an index to serve the need; default all of them. */
	readonly requiredLeading?: number;
	/** Access methods that can serve it; default ['btree']. */
	readonly methods?: readonly string[];
	/**
	 * The name the index advisor gives the index it proposes: upstream's own, so that the gateway's
	 * migration (gorm AutoMigrate creates missing indexes by name) finds it and builds no duplicate.
	 */
	readonly indexName?: string;
}

/**
 * - served: a valid index serves it (any name);
 * - building: none yet, but one that would is being built right now;
 * - invalid-only: only an INVALID index would (a failed CREATE INDEX CONCURRENTLY: drop or REINDEX it);
 * - missing: nothing would.
 */
export type IndexNeedStatus = 'served' | 'building' | 'invalid-only' | 'missing';

export interface IndexNeedVerdict {
	readonly need: string;
	readonly status: IndexNeedStatus;
	/** Valid indexes that serve it, the one matching most positions first. */
	readonly servedBy: readonly string[];
	/** The best serving index matches every position, not only the required ones. */
	readonly complete: boolean;
	/** INVALID indexes (not being built) that would serve it. */
	readonly invalid: readonly string[];
	/** Indexes being built that would serve it. */
	readonly building: readonly string[];
	/** Partial indexes with matching columns: not counted, since their WHERE may not cover the query. */
	readonly partial: readonly string[];
}

/** Leading positions of `need` that the index's key columns match, in order. Pure. */
export function leadingMatch(index: IndexLike, need: IndexNeed): number {
	let matched = 0;
	for (const [position, wanted] of need.columns.entries()) {
		const column = index.keyColumns[position];
		if (column === undefined || column === null) break;
		const accepted = typeof wanted === 'string' ? [wanted] : wanted;
		if (!accepted.includes(column)) break;
		matched = position + 1;
	}
	return matched;
}

/** Whether the indexes serve each need; pure, shared with the index advisor. */
export function matchIndexNeeds(indexes: readonly IndexLike[], needs: readonly IndexNeed[]): IndexNeedVerdict[] {
	return needs.map(need => {
		const required = Math.min(need.requiredLeading ?? need.columns.length, need.columns.length);
		const methods = need.methods ?? ['btree'];
		const candidates = indexes
			.filter(index => methods.includes(index.method))
			.map(index => ({index, matched: leadingMatch(index, need)}))
			.filter(({matched}) => matched >= required && required > 0)
			.sort((a, b) => b.matched - a.matched || a.index.name.localeCompare(b.index.name));
		const whole = candidates.filter(({index}) => index.predicate === null);
		const usable = whole.filter(({index}) => index.valid && index.ready);
		const building = whole.filter(({index}) => !(index.valid && index.ready) && index.building);
		const invalid = whole.filter(({index}) => !(index.valid && index.ready) && !index.building);
		const status: IndexNeedStatus = usable.length > 0 ? 'served' : building.length > 0 ? 'building' : invalid.length > 0 ? 'invalid-only' : 'missing';
		return {
			need: need.name,
			status,
			servedBy: usable.map(({index}) => index.name),
			complete: usable[0]?.matched === need.columns.length,
			invalid: invalid.map(({index}) => index.name),
			building: building.map(({index}) => index.name),
			partial: candidates.filter(({index}) => index.predicate !== null).map(({index}) => index.name),
		};
	});
}

/**
 * The hot queries of new-api's `logs` (reference new-api-logs.md §1.2, §2):
 * - request rates and time ranges: `created_at >= ?` with `type = 2` / `type IN (2,5)`: an index leading
 *   with created_at serves it; upstream idx_created_at_type (created_at, type) serves it completely,
 *   idx_created_at_id (created_at, id) with type as a filter;
 * - a user's log pages (`WHERE user_id = ? ORDER BY id DESC`): upstream idx_user_id_id (user_id, id);
 *   (user_id, created_at) serves the same pages in time order. idx_logs_user_id (user_id) alone makes
 *   PostgreSQL sort all of a heavy user's rows, so it does not count.
 * The dashboard's own grouping queries (a created_at range with type IN (2,5), grouped by user, token,
 * channel or model) are range scans of the first need's index: no covering index is proposed for them,
 * since every extra index slows each of the gateway's inserts. The tuning notes' (type, created_at) and
 * (user_id, created_at) serve the same queries as upstream's indexes, so the advisor never proposes them.
 */
export const NEWAPI_LOGS_INDEX_NEEDS: readonly IndexNeed[] = [
	{name: 'requests by time and type (rates, time ranges)', columns: ['created_at', 'type'], requiredLeading: 1, indexName: 'idx_created_at_type'},
	{name: 'user log pages (user_id, newest first)', columns: ['user_id', ['id', 'created_at']], requiredLeading: 2, indexName: 'idx_user_id_id'},
];

/**
 * The hot query of CPA-Manager's `usage_events` (reference cpa-manager-usage-api.md §3): every page reads
 * a time window on timestamp_ms, which upstream's idx_usage_events_timestamp serves. Its other filters
 * (lower(coalesce(…)) on accounts and providers) no plain index can serve.
 */
export const CPA_USAGE_EVENTS_INDEX_NEEDS: readonly IndexNeed[] = [
	{name: 'events by time window', columns: ['timestamp_ms'], indexName: 'idx_usage_events_timestamp'},
];
