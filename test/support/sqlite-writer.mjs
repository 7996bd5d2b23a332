// A gateway writing its SQLite store, as a process of its own:
//   node sqlite-writer.mjs <store> <wal|delete> <first timestamp, ms>
// It takes one command a line on stdin and answers each with one line on stdout once it is done:
//   insert <n>          one transaction of n requests             → committed <requests inserted so far>
//   slow <n> <ms>       one transaction of n requests over ms     → committed <…>
//   lock                BEGIN EXCLUSIVE, then nothing until unlock → locked
//   unlock <n>          n requests inserted, then COMMIT           → committed <…>
//   checkpoint          PRAGMA wal_checkpoint(TRUNCATE)            → checkpointed
//   crash               a large update half written, then SIGKILL  (no answer: the process is gone)
//   exit                close the store, then exit                 → (none)
// Each request copies one of the store's own requests, under a new id and a timestamp 1 ms after
// the previous one's, so the rows stay real and every figure of the copy can be recomputed.
import {createInterface} from 'node:readline';
import Database from 'better-sqlite3';

const [path, journal, firstMs] = process.argv.slice(2);
const db = new Database(path, {timeout: 60_000});
db.pragma(`journal_mode = ${journal === 'wal' ? 'WAL' : 'DELETE'}`);

const newApi = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'logs'").get() !== undefined;
const table = newApi ? 'logs' : 'usage_events';
const columns = db
	.prepare('SELECT name FROM pragma_table_info(?)')
	.all(table)
	.map(row => row.name)
	.filter(name => name !== 'id');
const templates = db.prepare(`SELECT * FROM ${table} ${newApi ? 'WHERE type IN (2, 5)' : ''} ORDER BY id LIMIT 500`).all();
const insert = db.prepare(`INSERT INTO ${table} (${columns.map(name => `"${name}"`).join(', ')}) VALUES (${columns.map(name => `@${name}`).join(', ')})`);

let inserted = 0;
const nextTimeMs = () => Number(firstMs) + inserted;

function insertOne() {
	const template = templates[inserted % templates.length];
	const ms = nextTimeMs();
	const row = Object.fromEntries(columns.map(name => [name, template[name]]));
	if (newApi) {
		row.created_at = Math.floor(ms / 1000);
	} else {
		Object.assign(row, {timestamp_ms: ms, timestamp: new Date(ms).toISOString(), created_at_ms: ms, event_hash: `${template.event_hash}-written-${inserted}`});
	}
	insert.run(row);
	inserted++;
}

const pause = ms => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const answer = line => process.stdout.write(`${line}\n`);

const commands = {
	insert(n) {
		db.transaction(() => {
			for (let i = 0; i < n; i++) insertOne();
		})();
		answer(`committed ${inserted}`);
	},
	slow(n, ms) {
		db.transaction(() => {
			for (let i = 0; i < n; i++) {
				insertOne();
				pause(ms / n);
			}
		})();
		answer(`committed ${inserted}`);
	},
	lock() {
		db.exec('BEGIN EXCLUSIVE');
		answer('locked');
	},
	unlock(n) {
		for (let i = 0; i < n; i++) insertOne();
		db.exec('COMMIT');
		answer(`committed ${inserted}`);
	},
	checkpoint() {
		db.pragma('wal_checkpoint(TRUNCATE)');
		answer('checkpointed');
	},
	crash() {
		// A cache too small for the update spills changed pages into the file before COMMIT: the
		// journal left behind is hot, and only a writable connection may roll it back.
		db.pragma('cache_size = 10');
		db.exec('BEGIN');
		db.prepare(`UPDATE ${table} SET ${newApi ? 'quota = quota + 1' : 'latency_ms = latency_ms + 1'}`).run();
		process.kill(process.pid, 'SIGKILL');
	},
	exit() {
		db.close();
		process.exit(0);
	},
};

answer('ready');
for await (const line of createInterface({input: process.stdin})) {
	const [name, ...args] = line.trim().split(/\s+/u);
	commands[name](...args.map(Number));
}
