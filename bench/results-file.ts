import {mkdirSync, writeFileSync} from 'node:fs';
import {cpus, platform, release, totalmem} from 'node:os';
import {join} from 'node:path';
import {packageRoot} from '../source/fixtures/fixture-files.js';

export interface Machine {
	readonly cpu: string;
	readonly cpuCount: number;
	readonly totalMemoryMb: number;
	readonly node: string;
	readonly platform: string;
}

export function machine(): Machine {
	const all = cpus();
	return {
		cpu: all[0]?.model.trim() ?? 'unknown',
		cpuCount: all.length,
		totalMemoryMb: Math.round(totalmem() / 1_048_576),
		node: process.version,
		platform: `${platform()} ${release()}`,
	};
}

export const describeMachine = (m: Machine): string =>
	`${m.cpu}, ${m.cpuCount} CPUs, ${(m.totalMemoryMb / 1024).toFixed(1)} GB, node ${m.node}, ${m.platform}`;

/** Writes bench/results/<name>.json and returns its path. */
export function writeResults(name: string, results: object): string {
	const folder = join(packageRoot(), 'bench', 'results');
	mkdirSync(folder, {recursive: true});
	const path = join(folder, `${name}.json`);
	writeFileSync(path, `${JSON.stringify(results, null, '\t')}\n`);
	return path;
}
