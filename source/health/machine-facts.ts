import {existsSync, readFileSync} from 'node:fs';
import {availableParallelism, networkInterfaces, totalmem} from 'node:os';
import {bytes} from '../output/format.js';
import {InputError} from '../usage/input-error.js';

// The database host's memory and cores: what the settings and the connection pool are judged
// against. Detected when relaytop runs on that host, given with --ram / --cores otherwise, and
// else assumed to be the small server this tool is for, saying so.

export type FactOrigin = 'given' | 'detected' | 'assumed';

export interface MachineFacts {
	readonly ramBytes: number;
	readonly ramFrom: FactOrigin;
	readonly cores: number;
	readonly coresFrom: FactOrigin;
}

/** The small server the tuning notes are written for: 1 vCPU, 2 GB. */
export const ASSUMED_MACHINE = {ramBytes: 2 * 1024 ** 3, cores: 1} as const;

const SIZE_FACTORS: Readonly<Record<string, number>> = {'': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4};

/** '2GB', '2g', '1.5GiB', '512MB', '2147483648' → bytes (1024 steps, as PostgreSQL counts). */
export function parseRam(text: string): number {
	const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*?)(?:i?b)?\s*$/iu.exec(text);
	const unit = match?.[2]?.toLowerCase() ?? '';
	const factor = match === null ? undefined : SIZE_FACTORS[unit];
	const value = match === null || factor === undefined ? Number.NaN : Number(match[1]) * factor;
	if (!Number.isFinite(value) || value < 64 * 1024 ** 2 || value > 64 * 1024 ** 4) {
		throw new InputError(`--ram takes a size between 64MB and 64TB, like 2GB or 512MB; got ${JSON.stringify(text)}`);
	}
	return Math.round(value);
}

export function parseCores(text: string): number {
	if (!/^\s*\d{1,4}\s*$/u.test(text) || Number(text) < 1) {
		throw new InputError(`--cores takes a whole number of cores, 1 or more; got ${JSON.stringify(text)}`);
	}
	return Number(text);
}

const LOOPBACK = /^(?:127\.|::1$|::ffff:127\.)/u;

/** The server's address (inet_server_addr(); null over a Unix socket) is one of this machine's. */
function addressIsHere(serverAddress: string | null): boolean {
	if (serverAddress === null) return true;
	const address = serverAddress.replace(/\/\d+$/u, '');
	if (LOOPBACK.test(address)) return true;
	return Object.values(networkInterfaces()).some(entries => entries?.some(entry => entry.address === address) ?? false);
}

/**
 * Whether the server runs on this machine, so that os.totalmem() and the cores are its own. A
 * loopback address alone does not say so (an SSH tunnel or a container's published port arrive on
 * 127.0.0.1 too): where /proc exists, the backend serving this session (pg_backend_pid()) must be a
 * postgres process here.
 */
export function isThisHost(serverAddress: string | null, backendPid: number): boolean {
	if (!addressIsHere(serverAddress)) return false;
	if (!existsSync('/proc/self')) return true;
	try {
		return readFileSync(`/proc/${backendPid}/comm`, 'utf8').trim() === 'postgres';
	} catch {
		return false;
	}
}

export interface GivenMachine {
	readonly ram?: string | undefined;
	readonly cores?: string | undefined;
}

export function machineFacts(given: GivenMachine, local: boolean): MachineFacts {
	const origin = (flag: string | undefined): FactOrigin => (flag !== undefined ? 'given' : local ? 'detected' : 'assumed');
	return {
		ramBytes: given.ram !== undefined ? parseRam(given.ram) : local ? totalmem() : ASSUMED_MACHINE.ramBytes,
		ramFrom: origin(given.ram),
		cores: given.cores !== undefined ? parseCores(given.cores) : local ? availableParallelism() : ASSUMED_MACHINE.cores,
		coresFrom: origin(given.cores),
	};
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/** What the settings and the pool were judged against, where each figure came from, and what to pass when one is assumed. */
export function machineSummary(facts: MachineFacts): string {
	const ram = `${bytes(facts.ramBytes)} RAM`;
	const cores = plural(facts.cores, 'core');
	const judged = facts.ramFrom === facts.coresFrom ? `${ram}, ${cores} (${facts.ramFrom})` : `${ram} (${facts.ramFrom}), ${cores} (${facts.coresFrom})`;
	const missing = [facts.ramFrom === 'assumed' ? '--ram' : null, facts.coresFrom === 'assumed' ? '--cores' : null].filter(flag => flag !== null);
	return `judged for ${judged}${missing.length === 0 ? '' : `: the database host is not this machine, give ${missing.join(' and ')}`}`;
}
