import type {Backend} from './backends-query.js';

/** Sessions per pg_stat_activity.state. `unknown`: rows the role may not see (state hidden). */
export interface StateCounts {
	active: number;
	idle: number;
	idleInTransaction: number;
	idleInTransactionAborted: number;
	fastpathFunctionCall: number;
	disabled: number;
	unknown: number;
}

export interface ConnectionGroup {
	readonly applicationName: string;
	readonly usename: string | null;
	/** null for Unix-socket sessions and for sessions the role may not see. */
	readonly clientAddr: string | null;
	readonly total: number;
	readonly byState: StateCounts;
}

export interface ApplicationCount {
	readonly applicationName: string;
	readonly total: number;
	readonly byState: StateCounts;
}

export interface ConnectionsSummary {
	readonly maxConnections: number;
	/** Sessions that take a connection slot: client backends, plus hidden rows connected to a database. */
	readonly total: number;
	/** total / max_connections. */
	readonly usedRatio: number;
	readonly byState: StateCounts;
	/** Sessions waiting on a heavyweight lock (wait_event_type = 'Lock'). */
	readonly waitingOnLock: number;
	/**
	 * Rows whose state and backend type the role may not see. Those connected to a database are counted
	 * as sessions (state unknown); the rest are most likely background processes. Zero with pg_read_all_stats.
	 */
	readonly hidden: number;
	/** Backends that are not client sessions (autovacuum, walsender, parallel workers, …), by backend_type, most first. */
	readonly otherBackends: readonly {readonly backendType: string; readonly count: number}[];
	/** Sessions per application_name, most first ('' for none). */
	readonly byApplication: readonly ApplicationCount[];
	/** Sessions per (application_name, usename, client_addr), most first: a pool of idle gateway connections shows as one big group. */
	readonly groups: readonly ConnectionGroup[];
}

const emptyStates = (): StateCounts => ({
	active: 0,
	idle: 0,
	idleInTransaction: 0,
	idleInTransactionAborted: 0,
	fastpathFunctionCall: 0,
	disabled: 0,
	unknown: 0,
});

const STATE_KEYS: Readonly<Record<string, keyof StateCounts>> = {
	active: 'active',
	idle: 'idle',
	'idle in transaction': 'idleInTransaction',
	'idle in transaction (aborted)': 'idleInTransactionAborted',
	'fastpath function call': 'fastpathFunctionCall',
	disabled: 'disabled',
};

const stateKey = (state: string | null): keyof StateCounts => (state === null ? 'unknown' : (STATE_KEYS[state] ?? 'unknown'));

/** A session in the max_connections sense, or a background process; hidden rows are guessed by whether they have a database. */
function isSession(backend: Backend): boolean {
	if (backend.visible) return backend.backendType === 'client backend';
	return backend.database !== null;
}

const byCountThenName = <T extends {total: number}>(key: (item: T) => string) => (a: T, b: T): number =>
	b.total - a.total || key(a).localeCompare(key(b));

/** Counts sessions by state, application and (application, user, client address); pure. */
export function summarizeConnections(backends: readonly Backend[], maxConnections: number): ConnectionsSummary {
	const byState = emptyStates();
	const other = new Map<string, number>();
	const apps = new Map<string, {applicationName: string; total: number; byState: StateCounts}>();
	const groups = new Map<string, {applicationName: string; usename: string | null; clientAddr: string | null; total: number; byState: StateCounts}>();
	let total = 0;
	let waitingOnLock = 0;
	let hidden = 0;
	for (const backend of backends) {
		if (!backend.visible) hidden += 1;
		if (!isSession(backend)) {
			const type = backend.backendType ?? 'unknown (insufficient privilege)';
			other.set(type, (other.get(type) ?? 0) + 1);
			continue;
		}
		total += 1;
		const key = stateKey(backend.state);
		byState[key] += 1;
		if (backend.waitEventType === 'Lock') waitingOnLock += 1;
		const applicationName = backend.applicationName ?? '';
		const app = apps.get(applicationName) ?? {applicationName, total: 0, byState: emptyStates()};
		app.total += 1;
		app.byState[key] += 1;
		apps.set(applicationName, app);
		const groupKey = JSON.stringify([applicationName, backend.usename, backend.clientAddr]);
		const group = groups.get(groupKey) ?? {applicationName, usename: backend.usename, clientAddr: backend.clientAddr, total: 0, byState: emptyStates()};
		group.total += 1;
		group.byState[key] += 1;
		groups.set(groupKey, group);
	}
	return {
		maxConnections,
		total,
		usedRatio: maxConnections > 0 ? total / maxConnections : 0,
		byState,
		waitingOnLock,
		hidden,
		otherBackends: [...other].map(([backendType, count]) => ({backendType, count})).sort((a, b) => b.count - a.count || a.backendType.localeCompare(b.backendType)),
		byApplication: [...apps.values()].sort(byCountThenName(app => app.applicationName)),
		groups: [...groups.values()].sort(byCountThenName(group => `${group.applicationName}\u0000${group.usename ?? ''}\u0000${group.clientAddr ?? ''}`)),
	};
}
