/** A session that blocks others, with the sessions waiting on it below it. */
export interface BlockingNode {
	readonly pid: number;
	/**
	 * The pid is in the sessions the monitor read. False for a blocker it cannot show: pid 0 (a prepared
	 * transaction), a relaytop backend (left out on purpose), or a session that ended meanwhile.
	 */
	readonly known: boolean;
	/** Sessions waiting directly on this one, by pid. A session waiting on two blockers appears under both. */
	readonly blocks: readonly BlockingNode[];
	/** Distinct sessions waiting behind this one, directly or through others. */
	readonly blockedTotal: number;
}

export interface WaitEdge {
	readonly pid: number;
	/** pg_blocking_pids(pid). */
	readonly blockedBy: readonly number[];
}

/**
 * Who blocks whom, roots first: a root blocks others and waits on nobody (or, in a wait cycle that the
 * deadlock detector has not broken yet, is the cycle's lowest pid). Roots with the most sessions behind
 * them come first. Pure.
 */
export function buildBlockingTree(edges: readonly WaitEdge[], knownPids: ReadonlySet<number>): BlockingNode[] {
	const waitersOf = new Map<number, Set<number>>();
	const waiting = new Set<number>();
	for (const {pid, blockedBy} of edges) {
		for (const blocker of blockedBy) {
			if (blocker === pid) continue;
			waiting.add(pid);
			const waiters = waitersOf.get(blocker) ?? new Set<number>();
			waiters.add(pid);
			waitersOf.set(blocker, waiters);
		}
	}
	const behind = (pid: number, seen: Set<number>): void => {
		for (const waiter of waitersOf.get(pid) ?? []) {
			if (seen.has(waiter)) continue;
			seen.add(waiter);
			behind(waiter, seen);
		}
	};
	const build = (pid: number, path: ReadonlySet<number>): BlockingNode => {
		const nextPath = new Set(path).add(pid);
		const blocks = [...(waitersOf.get(pid) ?? [])]
			.filter(waiter => !nextPath.has(waiter))
			.sort((a, b) => a - b)
			.map(waiter => build(waiter, nextPath));
		const seen = new Set<number>();
		behind(pid, seen);
		seen.delete(pid);
		return {pid, known: knownPids.has(pid), blocks, blockedTotal: seen.size};
	};
	const rootPids = [...waitersOf.keys()].filter(pid => !waiting.has(pid)).sort((a, b) => a - b);
	const covered = new Set<number>();
	for (const root of rootPids) {
		covered.add(root);
		behind(root, covered);
	}
	// Blockers not reached from a root wait on each other: start each such cycle at its lowest pid.
	for (const blocker of [...waitersOf.keys()].sort((a, b) => a - b)) {
		if (covered.has(blocker)) continue;
		rootPids.push(blocker);
		covered.add(blocker);
		behind(blocker, covered);
	}
	return rootPids.map(pid => build(pid, new Set())).sort((a, b) => b.blockedTotal - a.blockedTotal || a.pid - b.pid);
}

/** Every pid in the trees, depth first; handy for tests and for drawing. */
export function flattenBlockingTree(nodes: readonly BlockingNode[], depth = 0): {pid: number; depth: number}[] {
	return nodes.flatMap(node => [{pid: node.pid, depth}, ...flattenBlockingTree(node.blocks, depth + 1)]);
}
