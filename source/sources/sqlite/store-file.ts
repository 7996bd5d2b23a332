import {statSync} from 'node:fs';

/** Which file a path names, and how large it was when last looked at. */
export interface StoreFile {
	readonly dev: number;
	readonly ino: number;
	readonly size: number;
}

/** What happened to a store file since it was last looked at, if it matters to an open connection. */
export type StoreChange = 'replaced' | 'truncated';

/** The file at `path` now, or null when nothing is there. Never throws. */
export function storeFileAt(path: string): StoreFile | null {
	try {
		const {dev, ino, size} = statSync(path);
		return {dev, ino, size};
	} catch {
		return null;
	}
}

/**
 * A connection keeps reading the file it opened: a file renamed over the path (a backup restored,
 * a store created afresh) is another inode, and a truncated one serves pages that are no longer
 * there. A store that only grows, as a gateway's does between vacuums, is unchanged.
 */
export function storeChange(before: StoreFile, now: StoreFile): StoreChange | null {
	if (now.dev !== before.dev || now.ino !== before.ino) {
		return 'replaced';
	}
	return now.size < before.size ? 'truncated' : null;
}
