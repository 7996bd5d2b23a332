// Targets and connection strings may carry secrets; nothing relaytop prints may show them.

const SECRET_SETTING = /\b(password|passwd|pass|pwd|key|token|secret|apikey|api_key)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]+)/giu;

/**
 * The user information of a URL the URL parser refused or misread, up to its last `@`: a password holding `/`,
 * `#` or `?` is what makes such a URL unparseable, so the password must not be cut at those.
 */
const USER_INFO = /^([a-z][a-z\d+.-]*:\/\/)(.*)@/isu;

/** `user:***`, or `***` for a user part alone on HTTP, where it is a token. */
function redactUserInfo(scheme: string, userInfo: string): string {
	const colon = userInfo.indexOf(':');
	if (colon !== -1) return `${userInfo.slice(0, colon)}:***`;
	return /^https?:/iu.test(scheme) ? '***' : userInfo;
}

/** A target as it may be printed: passwords, keys and tokens replaced by `***`. */
export function redactTarget(target: string): string {
	const byText = () => target.replace(USER_INFO, (_match, scheme: string, userInfo: string) => `${scheme}${redactUserInfo(scheme, userInfo)}@`).replace(SECRET_SETTING, '$1$2***');
	let url: URL;
	try {
		url = new URL(target);
	} catch {
		// A URL that does not parse, a file path, or a libpq key=value connection string.
		return byText();
	}
	if (url.protocol === 'file:') {
		return target;
	}
	// An @ after the host: the parser cut a password holding `/` at that slash (p@ss/w@db), and the
	// rest of the password now reads as a path.
	if (`${url.pathname}${url.search}${url.hash}`.includes('@')) {
		return byText();
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
