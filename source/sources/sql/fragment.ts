/** A piece of SQL with `?` placeholders and the values bound to them, in order. */
export interface SqlFragment {
	readonly sql: string;
	readonly params: readonly unknown[];
}

export const sql = (text: string, ...params: unknown[]): SqlFragment => ({sql: text, params});

/** Joins fragments, keeping their parameters in placeholder order. */
export function joinSql(parts: readonly SqlFragment[], separator: string): SqlFragment {
	return {sql: parts.map(part => part.sql).join(separator), params: parts.flatMap(part => part.params)};
}

/** `a AND b AND …`, or the always-true `1 = 1` when there are no conditions. */
export const allOf = (conditions: readonly SqlFragment[]): SqlFragment =>
	conditions.length === 0 ? sql('1 = 1') : joinSql(conditions.map(c => ({...c, sql: `(${c.sql})`})), ' AND ');

export const anyOf = (conditions: readonly SqlFragment[]): SqlFragment =>
	conditions.length === 0 ? sql('1 = 0') : joinSql(conditions.map(c => ({...c, sql: `(${c.sql})`})), ' OR ');

/** `?, ?, ?` for a list of values. */
export const placeholders = (count: number): string => Array.from({length: count}, () => '?').join(', ');
