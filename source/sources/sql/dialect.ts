/** The few places where SQLite and PostgreSQL spell the same thing differently. */
export interface Dialect {
	/** Orders text by its bytes (UTF-8), the tie-break rule for group keys on every engine. */
	byteOrder(expression: string): string;
}

export const sqliteDialect: Dialect = {
	byteOrder: expression => expression, // BINARY collation is memcmp over UTF-8
};
