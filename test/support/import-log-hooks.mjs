// Module resolution hooks that log every import of js-tiktoken or relaytop's encoders module, with
// the module that asked, to the file named by RELAYTOP_IMPORT_LOG.
import {appendFileSync} from 'node:fs';

export async function resolve(specifier, context, nextResolve) {
	if (/js-tiktoken|(?:^|\/)encoders\.js$/u.test(specifier)) appendFileSync(process.env.RELAYTOP_IMPORT_LOG, `${specifier} <- ${context.parentURL}\n`);
	return nextResolve(specifier, context);
}
