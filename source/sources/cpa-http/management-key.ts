import {readFileSync} from 'node:fs';
import {registerSecret} from '../../output/secret-registry.js';
import {InputError} from '../../usage/input-error.js';

/** Where the key came from, and what to tell the user about it. */
export interface ManagementKey {
	readonly key: string;
	/** Set when the key was given on the command line, where `ps` and shell history show it. */
	readonly warning: string | null;
}

export interface KeySources {
	/** --key-file: a file holding the key (surrounding whitespace ignored). */
	readonly keyFile?: string;
	/** --key: works, with a warning. */
	readonly keyFlag?: string;
	readonly env?: NodeJS.ProcessEnv;
}

const KEY_FLAG_WARNING = 'a key given with --key shows in ps and shell history: prefer RELAYTOP_KEY or --key-file';

/**
 * The management key: --key-file, else RELAYTOP_KEY, else --key; one of them must give it. No
 * message shows the key, and it is masked in anything printed from now on.
 */
export function managementKey(sources: KeySources): ManagementKey {
	const found = keyFrom(sources);
	registerSecret(found.key);
	return found;
}

function keyFrom({keyFile, keyFlag, env = process.env}: KeySources): ManagementKey {
	const given = [keyFile, keyFlag].filter(source => source !== undefined).length + ((env.RELAYTOP_KEY ?? '') === '' ? 0 : 1);
	if (given > 1) {
		throw new InputError('give the management key one way: RELAYTOP_KEY, --key-file or --key');
	}
	if (keyFile !== undefined) {
		let text: string;
		try {
			text = readFileSync(keyFile, 'utf8');
		} catch (error) {
			throw new InputError(`cannot read the key file ${keyFile} (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
		}
		const key = text.trim();
		if (key === '') throw new InputError(`the key file ${keyFile} is empty`);
		return {key, warning: null};
	}
	const fromEnv = (env.RELAYTOP_KEY ?? '').trim();
	if (fromEnv !== '') return {key: fromEnv, warning: null};
	const fromFlag = (keyFlag ?? '').trim();
	if (fromFlag !== '') return {key: fromFlag, warning: KEY_FLAG_WARNING};
	throw new InputError('a CPA-Manager address needs its management key: set RELAYTOP_KEY, or give --key-file');
}
