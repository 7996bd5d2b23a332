// auto_explain's text output, as PostgreSQL writes it to a server log on stderr, read back into
// plans, and what each plan does with `logs`: which scan, on which index, how many rows it read
// and threw away.
//
// An entry is a line `… LOG:  duration: 12.345 ms  plan:` followed by lines that start with a tab
// (PostgreSQL puts a tab after every newline of a message it writes to stderr): `Query Text:`, the
// statement over one or more lines, `Query Parameters:` (PostgreSQL 16+), then the plan.

export interface LoggedPlan {
	/** auto_explain's duration: the statement's execution, with EXPLAIN ANALYZE's instrumentation. */
	readonly durationMs: number;
	readonly queryText: string;
	readonly parameters: string | null;
	/** The plan, one node per line, indented as EXPLAIN prints it. */
	readonly plan: string;
}

const HEADER = /\bLOG:\s+duration: ([\d.]+) ms\s+plan:\s*$/u;

/** Every auto_explain entry in a piece of server log, in order. */
export function parseAutoExplain(log: string): LoggedPlan[] {
	const lines = log.split('\n');
	const plans: LoggedPlan[] = [];
	for (let at = 0; at < lines.length; at++) {
		const header = HEADER.exec(lines[at]!);
		if (header === null) {
			continue;
		}
		const body: string[] = [];
		while (at + 1 < lines.length && lines[at + 1]!.startsWith('\t')) {
			body.push(lines[++at]!.slice(1));
		}
		plans.push(entryOf(Number(header[1]), body));
	}
	return plans;
}

function entryOf(durationMs: number, body: readonly string[]): LoggedPlan {
	// The plan's root is the first line, after the query text, with a cost or timing and no indent.
	const root = body.findIndex((line, index) => index > 0 && /^\S.*\((?:cost=|actual )/u.test(line));
	const head = root === -1 ? body : body.slice(0, root);
	const parametersAt = head.findIndex(line => line.startsWith('Query Parameters:'));
	const textLines = (parametersAt === -1 ? head : head.slice(0, parametersAt)).join('\n').replace(/^Query Text:\s*/u, '');
	return {
		durationMs,
		queryText: textLines.trim(),
		parameters: parametersAt === -1 ? null : head.slice(parametersAt).join(' ').replace(/^Query Parameters:\s*/u, '').trim(),
		plan: root === -1 ? '' : body.slice(root).join('\n').trimEnd(),
	};
}

export type ScanNode = 'Seq Scan' | 'Index Scan' | 'Index Only Scan' | 'Bitmap Heap Scan' | 'Bitmap Index Scan';

export interface Scan {
	readonly node: ScanNode;
	readonly parallel: boolean;
	readonly backward: boolean;
	/** The index, for index and bitmap index scans. */
	readonly index: string | null;
	/** The table, when the node names it (a bitmap index scan names only its index). */
	readonly relation: string | null;
	/** Rows out, over all loops (rows × loops). */
	readonly rows: number;
	/** Rows read and thrown away by a Filter (or a bitmap's recheck), over all loops. */
	readonly removedByFilter: number;
	/** Index Only Scan: rows whose page was not all-visible, read from the heap anyway. */
	readonly heapFetches: number | null;
	/** Shared buffers the node touched: hit and read (read = from the OS, not shared_buffers). */
	readonly buffers: {readonly hit: number; readonly read: number};
}

const SCAN =
	/^(?:->\s+)?(Parallel )?(Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan|Bitmap Index Scan)( Backward)?(?: using (\S+))?(?: on (\S+))?(?: \S+)?\s+\(.*?actual (?:time=[\d.]+\.\.[\d.]+ )?rows=([\d.]+) loops=(\d+)\)/u;

/** The scan nodes of a plan, with the figures under each. */
export function scansOf(plan: string): Scan[] {
	const lines = plan.split('\n');
	const scans: Scan[] = [];
	for (const [at, line] of lines.entries()) {
		const match = SCAN.exec(line.trim());
		if (match === null) {
			continue;
		}
		const [, parallel, node, backward, using, on, rows, loops] = match;
		const depth = line.search(/\S/u);
		// The node's detail lines: deeper than the node, up to the next node.
		const details: string[] = [];
		for (const next of lines.slice(at + 1)) {
			if (next.search(/\S/u) <= depth || next.trim().startsWith('->')) {
				break;
			}
			details.push(next.trim());
		}
		const figure = (pattern: RegExp): number => details.reduce((sum, detail) => sum + Number(pattern.exec(detail)?.[1] ?? 0), 0);
		const buffers = details.find(detail => detail.startsWith('Buffers:')) ?? '';
		const isBitmapIndex = node === 'Bitmap Index Scan';
		scans.push({
			node: node as ScanNode,
			parallel: parallel !== undefined,
			backward: backward !== undefined,
			index: isBitmapIndex ? (on ?? null) : (using ?? null),
			relation: isBitmapIndex ? null : (on ?? null),
			rows: Math.round(Number(rows) * Number(loops)),
			removedByFilter: Math.round((figure(/^Rows Removed by (?:Filter|Index Recheck): ([\d.]+)/u) || 0) * Number(loops)),
			heapFetches: node === 'Index Only Scan' ? figure(/^Heap Fetches: ([\d.]+)/u) : null,
			buffers: {hit: Number(/shared hit=(\d+)/u.exec(buffers)?.[1] ?? 0), read: Number(/read=(\d+)/u.exec(buffers)?.[1] ?? 0)},
		});
	}
	return scans;
}

/** How a plan reads one table: its worst access path, for the "every query an index scan" target. */
export type Access = 'index only' | 'index' | 'bitmap' | 'seq' | 'none';

const ACCESS_RANK: Record<Access, number> = {none: 0, 'index only': 1, index: 2, bitmap: 3, seq: 4};

export function accessTo(scans: readonly Scan[], relation: string, indexesOfRelation: ReadonlySet<string>): Access {
	let worst: Access = 'none';
	for (const scan of scans) {
		const onRelation = scan.relation === relation || (scan.index !== null && indexesOfRelation.has(scan.index));
		if (!onRelation) {
			continue;
		}
		const access: Access =
			scan.node === 'Seq Scan' ? 'seq' : scan.node === 'Index Only Scan' ? 'index only' : scan.node === 'Index Scan' ? 'index' : 'bitmap';
		if (ACCESS_RANK[access] > ACCESS_RANK[worst]) {
			worst = access;
		}
	}
	return worst;
}

/** One line per scan, e.g. "Index Only Scan Backward using idx_created_at_type on logs (rows 116, heap fetches 3)". */
export function describeScan(scan: Scan): string {
	const name = `${scan.parallel ? 'Parallel ' : ''}${scan.node}${scan.backward ? ' Backward' : ''}`;
	const where = scan.node === 'Bitmap Index Scan' ? ` on ${scan.index}` : `${scan.index === null ? '' : ` using ${scan.index}`}${scan.relation === null ? '' : ` on ${scan.relation}`}`;
	const figures = [
		`rows ${scan.rows.toLocaleString('en')}`,
		...(scan.removedByFilter > 0 ? [`removed by filter ${scan.removedByFilter.toLocaleString('en')}`] : []),
		...(scan.heapFetches === null ? [] : [`heap fetches ${scan.heapFetches.toLocaleString('en')}`]),
		`buffers hit ${scan.buffers.hit.toLocaleString('en')} read ${scan.buffers.read.toLocaleString('en')}`,
	];
	return `${name}${where} (${figures.join(', ')})`;
}
