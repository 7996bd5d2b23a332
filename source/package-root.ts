import {existsSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

// Its own module: a worker that only needs the package folder must not load SQLite and the fixture generators.

/** The folder holding package.json, found from this module whether it runs built or from source. */
export function packageRoot(): string {
	let folder = dirname(fileURLToPath(import.meta.url));
	for (;;) {
		const manifest = join(folder, 'package.json');
		if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as {name?: string}).name === 'relaytop') {
			return folder;
		}
		const parent = dirname(folder);
		if (parent === folder) {
			throw new Error('cannot find the relaytop package folder');
		}
		folder = parent;
	}
}
