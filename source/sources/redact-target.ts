/** A target as it may be printed: passwords, keys and tokens in a URL are replaced by `***`. */
export function redactTarget(target: string): string {
	let url: URL;
	try {
		url = new URL(target);
	} catch {
		return target; // a file path
	}
	if (url.protocol === 'file:') {
		return target;
	}
	if (url.password !== '') {
		url.password = '***';
	}
	for (const name of [...url.searchParams.keys()]) {
		if (/pass|key|token|secret/iu.test(name)) {
			url.searchParams.set(name, '***');
		}
	}
	return url.toString();
}
