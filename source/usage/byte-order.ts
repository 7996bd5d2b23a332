/** Orders text by its UTF-8 bytes, as the SQL sources order group keys and model names (memcmp, COLLATE "C"). */
export const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
