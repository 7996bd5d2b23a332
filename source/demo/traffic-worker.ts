// Worker thread of the traffic simulator (traffic-simulator.ts): appends new-api requests to a
// demo store in small transactions, on its own connection, so writes never stall the dashboard.
import {parentPort, workerData} from 'node:worker_threads';
import Database from 'better-sqlite3';
import {INSERT_LOG_SQL, type LogRow, drawRequest, newApiPickers, newApiUsers, requestLogRow} from '../fixtures/newapi-fixture.js';
import {Random} from '../fixtures/random.js';
import {Arrivals} from './arrivals.js';
import {STOP_MESSAGE, type TrafficWorkerData} from './traffic-protocol.js';

const BUSY_TIMEOUT_MS = 5000;

const codeOf = (error: unknown): unknown => (error as {code?: unknown}).code;

/** better-sqlite3's SqliteError reaches the host thread as `{code}` alone: send a plain Error. */
function plainError(error: unknown): Error {
	const code = codeOf(error);
	const message = String((error as {message?: unknown} | null)?.message ?? error);
	return Object.assign(new Error(typeof code === 'string' ? `${message} (${code})` : message), {code});
}

function openWriter(path: string): {write: (rows: readonly LogRow[]) => void; close: () => void} {
	const db = new Database(path, {fileMustExist: true, timeout: BUSY_TIMEOUT_MS});
	db.pragma('synchronous = NORMAL'); // a throwaway copy: durability per commit is not worth the fsyncs
	const insert = db.prepare<[LogRow]>(INSERT_LOG_SQL);
	const write = db.transaction((rows: readonly LogRow[]) => {
		for (const row of rows) {
			insert.run(row);
		}
	});
	return {write, close: () => db.close()};
}

function run({path, requestsPerMinute, seed}: TrafficWorkerData): void {
	const writer = openWriter(path);
	// Rows and timing draw from separate generators, so a seed fixes the sequence of rows.
	const rowRandom = new Random(seed);
	const clockRandom = new Random(seed ^ 0x9e37_79b9);
	const pickers = newApiPickers(newApiUsers());
	const arrivals = new Arrivals(requestsPerMinute, clockRandom, Date.now());
	let pending: LogRow[] = [];
	let timer: NodeJS.Timeout | undefined;

	const tick = () => {
		for (const t of arrivals.until(Date.now())) {
			pending.push(requestLogRow(rowRandom, drawRequest(rowRandom, pickers), t));
		}
		try {
			if (pending.length > 0) {
				writer.write(pending);
				pending = [];
			}
		} catch (error) {
			const code = codeOf(error);
			if (!(typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code))) {
				throw plainError(error); // reaches the host as the Worker's 'error' event
			}
			// Still locked after the busy timeout: keep the rows for the next tick.
		}
		timer = setTimeout(tick, 500 + clockRandom.next() * 500);
	};

	parentPort!.on('message', message => {
		if (message === STOP_MESSAGE) {
			clearTimeout(timer);
			writer.close();
			parentPort!.close(); // nothing left to run: the thread exits
		}
	});
	tick();
}

try {
	run(workerData as TrafficWorkerData);
} catch (error) {
	throw plainError(error);
}
