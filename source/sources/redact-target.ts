// Targets and connection strings may carry secrets; nothing relaytop prints may show them.

const SECRET_SETTING = /\b(password|passwd|pass|pwd|key|token|secret|apikey|api_key)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]+)/giu;

/** A target as it may be printed: passwords, keys and tokens replaced by `***`. */
export function redactTarget(target: string): string {
	let url: URL;
	try {
		url = new URL(target);
	} catch {
		// A file path, or a libpq key=value connection string.
		return target.replace(SECRET_SETTING, '$1$2***');
	}
	if (url.protocol === 'file:') {
		return target;
	}
	if (url.password !== '') {
		url.password = '***';
	} else if (url.username !== '' && /^https?:$/u.test(url.protocol)) {
		url.username = '***'; // a token given as the user part of an HTTP URL
	}
	for (const name of [...url.searchParams.keys()]) {
		if (/pass|key|token|secret/iu.test(name)) {
			url.searchParams.set(name, '***');
		}
	}
	return url.toString();
}

/** A message with every appearance of the target redacted. */
export const redactTargetIn = (message: string, target: string): string => (target === '' ? message : message.split(target).join(redactTarget(target)));
