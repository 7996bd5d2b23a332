// How many rows each section of the PostgreSQL view gets. Pure.
//
// Every section says what it needs at least (its title and a row or two), what reads comfortably,
// and what would show all of it. Rows go by priority (0 first), in three rounds: the minimum of
// each, then up to comfortable, then (after a blank line between sections, if rows are left) up
// to everything. A section whose minimum no longer fits is
// left out, so a short terminal keeps the most important sections whole instead of all of them cut.

export interface SectionNeed {
	readonly id: string;
	/** 0 is the most important. */
	readonly priority: number;
	readonly min: number;
	readonly comfortable: number;
	readonly max: number;
}

export interface SectionLayout {
	/** Rows per section id; sections left out are absent. */
	readonly rows: ReadonlyMap<string, number>;
	/** Ids left out for lack of rows, most important first. */
	readonly dropped: readonly string[];
	/** One blank line between sections, when the rows allow it. */
	readonly gaps: boolean;
}

export function allocateRows(needs: readonly SectionNeed[], available: number): SectionLayout {
	const ordered = [...needs].filter(need => need.max > 0).sort((a, b) => a.priority - b.priority);
	const rows = new Map<string, number>();
	const dropped: string[] = [];
	let left = Math.max(0, available);
	for (const need of ordered) {
		const min = Math.min(need.min, need.max);
		if (min <= left) {
			rows.set(need.id, min);
			left -= min;
		} else {
			dropped.push(need.id);
		}
	}
	const grow = (target: 'comfortable' | 'max') => {
		for (const need of ordered) {
			const have = rows.get(need.id);
			if (have === undefined) continue;
			const more = Math.min(left, Math.max(0, Math.min(need[target], need.max) - have));
			rows.set(need.id, have + more);
			left -= more;
		}
	};
	grow('comfortable');
	// Blank lines between sections read better than more rows of a long list: they come next.
	const gaps = rows.size > 1 && left >= rows.size - 1;
	if (gaps) left -= rows.size - 1;
	grow('max');
	return {rows, dropped, gaps};
}

/** The slice of `count` rows that shows `selected`, `size` rows long: the cursor stays in view. */
export function windowAround(count: number, selected: number, size: number): {start: number; end: number} {
	const length = Math.max(0, Math.min(count, size));
	const start = Math.max(0, Math.min(count - length, selected - Math.floor(length / 2)));
	return {start, end: start + length};
}
