// Targets and connection strings may carry secrets; nothing relaytop prints may show them.

const SECRET_SETTING = /\b(password|passwd|pass|pwd|key|token|secret|apikey|api_key)(\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&;]+)/giu;

/** A query parameter whose value is a secret. */
const SECRET_PARAMETER = /pass|key|token|secret/iu;

/**
 * The user information of a URL the URL parser refused or misread, up to its last `@`: a password holding `/`,
 * `#` or `?` is what makes such a URL unparseable, so the password must not be cut at those.
 */
const USER_INFO = /^([a-z][a-z\d+.-]*:\/\/)(.*)@/isu;

const isHttp = (scheme: string): boolean => /^https?:/iu.test(scheme);

/** The secret of a user information: the password, or on HTTP a user part alone, which is a token. */
function userInfoSecret(scheme: string, userInfo: string): string | undefined {
	const colon = userInfo.indexOf(':');
	if (colon !== -1) return userInfo.slice(colon + 1);
	return isHttp(scheme) ? userInfo : undefined;
}

/** `user:***`, or `***` for a user part alone on HTTP. */
function redactUserInfo(scheme: string, userInfo: string): string {
	const colon = userInfo.indexOf(':');
	if (colon !== -1) return `${userInfo.slice(0, colon)}:***`;
	return isHttp(scheme) ? '***' : userInfo;
}

/**
 * The target as a URL when it reads as one the parser did not misread; null for a file path, a
 * libpq key=value string, or a URL that must be read as text.
 */
function parsedUrl(target: string): URL | null {
	let url: URL;
	try {
		url = new URL(target);
	} catch {
		return null;
	}
	// An @ after the host: the parser cut a password holding `/` at that slash (p@ss/w@db), and the
	// rest of the password now reads as a path.
	return url.protocol !== 'file:' && `${url.pathname}${url.search}${url.hash}`.includes('@') ? null : url;
}

/** A target as it may be printed: passwords, keys and tokens replaced by `***`. */
export function redactTarget(target: string): string {
	const url = parsedUrl(target);
	if (url === null) {
		return target.replace(USER_INFO, (_match, scheme: string, userInfo: string) => `${scheme}${redactUserInfo(scheme, userInfo)}@`).replace(SECRET_SETTING, '$1$2***');
	}
	if (url.protocol === 'file:') {
		return target;
	}
	if (url.password !== '') {
		url.password = '***';
	} else if (url.username !== '' && isHttp(url.protocol)) {
		url.username = '***'; // a token given as the user part of an HTTP URL
	}
	for (const name of [...url.searchParams.keys()]) {
		if (SECRET_PARAMETER.test(name)) {
			url.searchParams.set(name, '***');
		}
	}
	return url.toString();
}

/** What redactTarget masks in a target, as written there: for the secret registry. */
export function targetSecrets(target: string): string[] {
	const url = parsedUrl(target);
	if (url === null) {
		const userInfo = USER_INFO.exec(target);
		const settings = [...target.matchAll(SECRET_SETTING)].map(match => match[3]!.replace(/^'(.*)'$/su, '$1'));
		return [...(userInfo === null ? [] : [userInfoSecret(userInfo[1]!, userInfo[2]!)]), ...settings].filter(secret => secret !== undefined);
	}
	if (url.protocol === 'file:') {
		return [];
	}
	const parameters = [...url.searchParams].filter(([name]) => SECRET_PARAMETER.test(name)).map(([, value]) => value);
	const userPart = url.password === '' ? (isHttp(url.protocol) ? url.username : '') : url.password;
	return [userPart, ...parameters].filter(secret => secret !== '');
}

/** A message with every appearance of the target redacted. */
export const redactTargetIn = (message: string, target: string): string => (target === '' ? message : message.split(target).join(redactTarget(target)));
