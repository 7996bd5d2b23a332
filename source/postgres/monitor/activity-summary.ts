import {buildBlockingTree, type BlockingNode} from './blocking-tree.js';
import type {Backend, BackendsSample} from './backends-query.js';
import {grantMonitorHint} from './panel-result.js';

/** A backend in the activity list, with the xmin-horizon mark. */
export interface ActivitySession extends Backend {
	/** This backend has the oldest xmin (or xid) in the database: VACUUM cannot remove rows deleted after it. */
	readonly holdsXminHorizon: boolean;
}

/** The backend that holds the xmin horizon of the connected database back the furthest. */
export interface XminHorizon {
	readonly pid: number;
	readonly state: string | null;
	readonly idleInTransaction: boolean;
	/** max(age(backend_xmin), age(backend_xid)): transactions since its snapshot (or its own xid). */
	readonly ageXids: number;
	readonly xactAgeS: number | null;
	readonly visible: boolean;
}

export interface ActivitySnapshot {
	readonly sampledAtMs: number;
	/** Active, waiting and idle-in-transaction sessions, plus any blocker and the horizon holder; oldest transaction first. */
	readonly sessions: readonly ActivitySession[];
	/** Who blocks whom, roots first (see blocking-tree.ts). */
	readonly blockingTree: readonly BlockingNode[];
	readonly xminHorizon: XminHorizon | null;
	/** Listed sessions whose query text, state and client the role may not see. */
	readonly hiddenSessions: number;
	/** Set when sessions are hidden: what to grant so they show. */
	readonly hint: string | null;
}

const LISTED_STATES: ReadonlySet<string> = new Set(['active', 'idle in transaction', 'idle in transaction (aborted)', 'fastpath function call']);

const horizonAge = (backend: Backend): number | null =>
	backend.xminAgeXids === null && backend.xidAgeXids === null ? null : Math.max(backend.xminAgeXids ?? 0, backend.xidAgeXids ?? 0);

/**
 * The oldest xmin/xid among backends of the connected database (and database-less ones such as a
 * walsender with hot_standby_feedback). Autovacuum workers are skipped: their xmin does not hold
 * VACUUM back. Prepared transactions and replication slots also hold the horizon and are not covered.
 */
export function findXminHorizon(backends: readonly Backend[]): XminHorizon | null {
	let best: {backend: Backend; age: number} | null = null;
	for (const backend of backends) {
		if (!backend.inCurrentDatabase && backend.database !== null) continue;
		if (backend.backendType === 'autovacuum worker') continue;
		const age = horizonAge(backend);
		if (age === null) continue;
		if (best === null || age > best.age || (age === best.age && (backend.xactAgeS ?? 0) > (best.backend.xactAgeS ?? 0))) best = {backend, age};
	}
	if (best === null) return null;
	const {backend, age} = best;
	return {
		pid: backend.pid,
		state: backend.state,
		idleInTransaction: backend.state === 'idle in transaction' || backend.state === 'idle in transaction (aborted)',
		ageXids: age,
		xactAgeS: backend.xactAgeS,
		visible: backend.visible,
	};
}

const byAgeDescending = (a: Backend, b: Backend): number =>
	(b.xactAgeS ?? -1) - (a.xactAgeS ?? -1) || (b.queryAgeS ?? -1) - (a.queryAgeS ?? -1) || a.pid - b.pid;

/** The activity panel from a backends sample; pure. `role` names the role in the hint. */
export function summarizeActivity(sample: BackendsSample, role?: string): ActivitySnapshot {
	const {backends} = sample;
	const blockers = new Set(backends.flatMap(backend => backend.blockedBy));
	const xminHorizon = findXminHorizon(backends);
	const listed = backends.filter(
		backend =>
			(backend.state !== null && LISTED_STATES.has(backend.state)) ||
			backend.waitEventType === 'Lock' ||
			blockers.has(backend.pid) ||
			backend.pid === xminHorizon?.pid,
	);
	const sessions = listed.sort(byAgeDescending).map((backend): ActivitySession => ({...backend, holdsXminHorizon: backend.pid === xminHorizon?.pid}));
	const blockingTree = buildBlockingTree(backends, new Set(backends.map(backend => backend.pid)));
	const hiddenSessions = sessions.filter(session => !session.visible).length;
	const anyHidden = backends.some(backend => !backend.visible && backend.database !== null);
	return {
		sampledAtMs: sample.sampledAtMs,
		sessions,
		blockingTree,
		xminHorizon,
		hiddenSessions,
		hint: anyHidden ? `other roles' sessions show no query, state or client: ${grantMonitorHint(role)}` : null,
	};
}
