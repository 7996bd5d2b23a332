import Database from 'better-sqlite3';
import {APPENDED} from './appended-rows.js';

// A gateway appending to its CPA-Manager store at a steady rate, as a process of its own:
//   node sqlite-append-writer.js <store> <rows per second> <clock offset, ms>
// Each row copies one of the store's newest events under a new id, the time (now plus the offset:
// the store's own clock, when its events end in the past) and a unique event hash. It prints the number of rows written once a second, and runs until it is killed.

const [path, perSecond, offset] = process.argv.slice(2);
const db = new Database(path!, {timeout: 60_000});
db.pragma('journal_mode = WAL');
const columns = (db.prepare('SELECT name FROM pragma_table_info(?)').all('usage_events') as Array<{name: string}>).map(row => row.name).filter(name => name !== 'id');
const templates = db.prepare('SELECT * FROM usage_events ORDER BY id DESC LIMIT 500').all() as Array<Record<string, unknown>>;
const insert = db.prepare(`INSERT INTO usage_events (${columns.map(name => `"${name}"`).join(', ')}) VALUES (${columns.map(name => `@${name}`).join(', ')})`);

let written = 0;
const intervalMs = 1000 / Number(perSecond);
const started = Date.now();
const tick = () => {
	// Catches up after a pause (a long read holding the file), so the rate holds over the run.
	while (written < Math.floor((Date.now() - started) / intervalMs)) {
		const template = templates[written % templates.length]!;
		const ms = Date.now() + Number(offset ?? 0);
		const row = Object.fromEntries(columns.map(name => [name, template[name]]));
		Object.assign(row, {timestamp_ms: ms, timestamp: new Date(ms).toISOString(), created_at_ms: ms, event_hash: `${String(template.event_hash)}${APPENDED}${started}-${written}`});
		insert.run(row);
		written++;
	}
};
setInterval(tick, intervalMs);
setInterval(() => process.stdout.write(`${written}\n`), 1000);
