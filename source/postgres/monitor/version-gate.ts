/** Raised before sending SQL the server cannot run; panels report it as 'unsupported'. */
export class UnsupportedServerError extends Error {
	/** SQLSTATE feature_not_supported, so panel-result maps it like a server error. */
	readonly code = '0A000';

	constructor(what: string, minimumVersionNum: number, versionNum: number) {
		super(`${what} needs PostgreSQL ${formatVersionNum(minimumVersionNum)} or later; this server is ${formatVersionNum(versionNum)}`);
		this.name = 'UnsupportedServerError';
	}
}

/** 150020 → '15', 90624 → '9.6'. */
export function formatVersionNum(versionNum: number): string {
	const major = Math.floor(versionNum / 10_000);
	return major >= 10 ? String(major) : `${major}.${Math.floor(versionNum / 100) % 100}`;
}

export function requireVersion(what: string, minimumVersionNum: number, versionNum: number): void {
	if (versionNum < minimumVersionNum) throw new UnsupportedServerError(what, minimumVersionNum, versionNum);
}

/** The SQL for this version: the first branch whose minimum the server meets, else the fallback. */
export const sinceVersion = (versionNum: number, minimumVersionNum: number, text: string, fallback: string): string =>
	versionNum >= minimumVersionNum ? text : fallback;
