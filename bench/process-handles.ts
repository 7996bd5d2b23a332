import {readdirSync, readFileSync, readlinkSync} from 'node:fs';

// What a process holds open, from Linux's /proc: its file descriptors by kind, its TCP sockets
// (an fd's socket inode found in the kernel's TCP tables), its threads and anonymous memory, and
// its child processes. A leak of any kind shows as one of these counts growing.

export interface TcpSocket {
	/** The local port: for a client connection, the ephemeral port the server sees it come from. */
	readonly localPort: number;
	readonly remotePort: number;
	/** ESTABLISHED, CLOSE_WAIT…; a socket in CLOSE_WAIT is one the peer closed and we did not. */
	readonly state: string;
}

export interface Handles {
	/** Every open file descriptor. */
	readonly fds: number;
	/** TCP sockets among them. */
	readonly tcp: readonly TcpSocket[];
	/** Sockets that are not TCP (Unix sockets: an IPC channel to a child process). */
	readonly otherSockets: number;
	readonly pipes: number;
	/** eventfd, eventpoll, timerfd… (libuv's own, one set per event loop). */
	readonly anonInodes: number;
	/** Files, devices and the terminal. */
	readonly files: number;
	readonly threads: number;
	/** RssAnon: the heap's part of the resident memory (JS heaps, malloc), without mapped code. */
	readonly anonRssKb: number;
}

// The states of include/net/tcp_states.h, numbered from 1.
const TCP_STATES = ['ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING'];

const portOf = (address: string): number => Number.parseInt(address.slice(address.lastIndexOf(':') + 1), 16);

/** Every TCP socket of this network namespace, IPv4 and IPv6, by inode. */
export function tcpSocketsByInode(): Map<string, TcpSocket> {
	const sockets = new Map<string, TcpSocket>();
	for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
		let text: string;
		try {
			text = readFileSync(table, 'utf8');
		} catch {
			continue; // no IPv6
		}
		// "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …"
		for (const line of text.split('\n').slice(1)) {
			const fields = line.trim().split(/\s+/u);
			if (fields.length < 10) continue;
			const state = TCP_STATES[Number.parseInt(fields[3]!, 16) - 1] ?? `0x${fields[3]}`;
			sockets.set(fields[9]!, {localPort: portOf(fields[1]!), remotePort: portOf(fields[2]!), state});
		}
	}
	return sockets;
}

function statusField(pid: number, name: string): number {
	const status = readFileSync(`/proc/${pid}/status`, 'utf8');
	const match = new RegExp(`^${name}:\\s+(\\d+)`, 'mu').exec(status);
	if (match === null) {
		throw new Error(`/proc/${pid}/status has no ${name}`);
	}
	return Number(match[1]);
}

/** What `pid` holds open now; `tcpSockets` from tcpSocketsByInode(), read once for several processes. */
export function handlesOf(pid: number, tcpSockets: ReadonlyMap<string, TcpSocket>): Handles {
	const tcp: TcpSocket[] = [];
	let otherSockets = 0;
	let pipes = 0;
	let anonInodes = 0;
	let files = 0;
	const fds = readdirSync(`/proc/${pid}/fd`);
	for (const fd of fds) {
		let target: string;
		try {
			target = readlinkSync(`/proc/${pid}/fd/${fd}`);
		} catch {
			continue; // closed between the listing and the read
		}
		const socket = /^socket:\[(\d+)\]$/u.exec(target);
		if (socket !== null) {
			const found = tcpSockets.get(socket[1]!);
			if (found === undefined) otherSockets++;
			else tcp.push(found);
		} else if (target.startsWith('pipe:')) pipes++;
		else if (target.startsWith('anon_inode:')) anonInodes++;
		else files++;
	}
	return {fds: fds.length, tcp, otherSockets, pipes, anonInodes, files, threads: statusField(pid, 'Threads'), anonRssKb: statusField(pid, 'RssAnon')};
}

/** The processes `pid` started that still run (its threads' children: one thread may start some). */
export function childrenOf(pid: number): number[] {
	const children: number[] = [];
	for (const task of readdirSync(`/proc/${pid}/task`)) {
		try {
			children.push(
				...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
					.split(' ')
					.filter(word => word !== '')
					.map(Number),
			);
		} catch {
			// the thread ended between the listing and the read
		}
	}
	return children.sort((a, b) => a - b);
}

/** The process's name (its executable's, up to 15 characters), or '' once it is gone. */
export function nameOf(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch {
		return '';
	}
}

/** The process's command line as it shows it now (a PostgreSQL backend's title), or '' once it is gone. */
export function titleOf(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
	} catch {
		return '';
	}
}
