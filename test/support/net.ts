import {readFileSync} from 'node:fs';
import {connect, createServer, type AddressInfo} from 'node:net';

/** Whether `port` on 127.0.0.1 can be listened on right now. */
function canListen(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const probe = createServer();
		probe.once('error', () => resolve(false));
		probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
	});
}

/** A port nothing listens on now, picked by the OS: for "connection refused", or a server started at once. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const probe = createServer();
		probe.once('error', reject);
		probe.listen(0, '127.0.0.1', () => {
			const {port} = probe.address() as AddressInfo;
			probe.close(() => resolve(port));
		});
	});
}

/** The OS's range for listen(0) and outgoing connections, from Linux's setting (its default elsewhere). */
function ephemeralRange(): [number, number] {
	try {
		const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/u).map(Number);
		if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
	} catch {
		// not Linux: IANA's dynamic range
	}
	return [49152, 65535];
}

/**
 * A free port the OS never hands out by itself, so a server stopped in a test can listen on it
 * again: a port from freePort() can be taken by any other test's listen(0) while its server is down.
 */
export async function stablePort(): Promise<number> {
	const [low] = ephemeralRange();
	const floor = 10_000;
	for (let attempt = 0; attempt < 100; attempt++) {
		const port = floor + Math.floor(Math.random() * Math.max(1, low - floor));
		if (await canListen(port)) return port;
	}
	throw new Error(`no free port below ${low}`);
}

/** A real refused connection's error: what a source's query throws while its server is down. */
export async function refusedConnection(): Promise<Error> {
	const port = await freePort();
	return new Promise<Error>(resolve => connect(port, '127.0.0.1').once('error', resolve));
}
