import {InputError} from '../../usage/input-error.js';
import type {SourceKind, UsageSource} from '../../usage/types.js';
import {FORWARDED_METHODS, SOURCE_CLOSED, type ForwardedMethod} from '../worker/protocol.js';
import {StoreLockedError, StoreReadError, storeReadError} from './store-errors.js';
import {storeChange, storeFileAt, type StoreFile} from './store-file.js';

/** One opening of the store: its source, the file it reads, and how many calls are using it. */
interface Opening {
	readonly source: UsageSource;
	file: StoreFile;
	calls: number;
	retired: boolean;
}

const STORE_NAMES: Partial<Record<SourceKind, string>> = {'newapi-sqlite': 'new-api', 'cpa-sqlite': 'CPA-Manager'};

/** Why a store that now holds another gateway's data is not read: its views were built for the first. */
export const otherStoreKind = (path: string, opened: SourceKind, found: SourceKind): string =>
	`${path} now holds a ${STORE_NAMES[found] ?? found} store, not the ${STORE_NAMES[opened] ?? opened} store relaytop opened; restart relaytop to read it`;

/**
 * The source of a SQLite store that follows its path, as an open connection would not: before each
 * call the file is looked at (one stat), and a file replaced or truncated since is opened afresh; a
 * file gone fails the call, saying so, until it is back. After a call fails for any reason but the
 * request itself or a writer's lock, the next call opens the store afresh too: a connection that
 * saw its file change underneath can keep failing (its cached schema names tables no longer there).
 */
export function reopeningSource(path: string, open: () => UsageSource): UsageSource {
	let current: Opening | undefined = openingOf(path, open);
	const first = current.source;
	let closed = false;

	/** Closed once no call uses it: a call in progress finishes on the file it started on. */
	const release = (opening: Opening) => {
		if (opening.retired && opening.calls === 0) {
			// A failed close of a connection being left has nothing to tell.
			opening.source.close().catch(() => undefined);
		}
	};
	const retire = (opening: Opening) => {
		if (current === opening) {
			current = undefined;
		}
		opening.retired = true;
		release(opening);
	};

	/** The opening a call is to use, opened afresh if the file changed since. */
	const currentOpening = (): Opening => {
		if (closed) {
			throw new Error(SOURCE_CLOSED);
		}
		const file = storeFileAt(path);
		if (file === null) {
			if (current !== undefined) {
				retire(current);
			}
			throw new StoreReadError(`${path} is gone: it was deleted or moved away`);
		}
		if (current !== undefined && storeChange(current.file, file) === null) {
			current.file = file; // a store grows: only a shrink from here on is a truncation
			return current;
		}
		if (current !== undefined) {
			retire(current);
		}
		const next = openingOf(path, open);
		if (next.source.kind !== first.kind) {
			retire(next);
			throw new StoreReadError(otherStoreKind(path, first.kind, next.source.kind));
		}
		current = next;
		return next;
	};

	const forward =
		(method: ForwardedMethod) =>
		async (...args: unknown[]): Promise<unknown> => {
			const using = currentOpening();
			using.calls++;
			try {
				return await (using.source[method] as (...args: unknown[]) => Promise<unknown>).apply(using.source, args);
			} catch (error) {
				if (error instanceof InputError || error instanceof StoreLockedError) {
					throw error; // the request's fault, or a writer's lock: the connection is sound
				}
				retire(using);
				const now = storeFileAt(path);
				const change = now === null ? 'deleted' : storeChange(using.file, now);
				throw change === null ? error : new StoreReadError(`${path} was ${change} while being read; it is opened afresh on the next refresh`);
			} finally {
				using.calls--;
				release(using);
			}
		};

	const methods = Object.fromEntries(FORWARDED_METHODS.map(method => [method, forward(method)])) as Pick<UsageSource, ForwardedMethod>;
	return {
		kind: first.kind,
		target: first.target,
		capabilities: first.capabilities,
		...methods,
		async close() {
			closed = true;
			if (current !== undefined) {
				const last = current;
				current = undefined;
				last.retired = true;
				if (last.calls === 0) {
					await last.source.close();
				}
			}
		},
	};
}

/** The store opened now, with the file it was opened from; SQLite's own account of a failure made plain. */
function openingOf(path: string, open: () => UsageSource): Opening {
	// Looked at first, so that a file renamed in before the open is seen as replaced by the next
	// call, and opened again; nothing there is no file at all, never equal to one.
	const file = storeFileAt(path) ?? {dev: -1, ino: -1, size: 0};
	try {
		return {source: open(), file, calls: 0, retired: false};
	} catch (error) {
		throw storeReadError(error, path);
	}
}
