// Child process of the traffic simulator (traffic-simulator.ts): the stand-in for the gateway,
// appending new-api requests to a demo store in small transactions on its own connection. A
// process of its own, as a real gateway is: its work is not counted as the dashboard's.
import Database from 'better-sqlite3';
import {INSERT_LOG_SQL, type LogRow, drawRequest, newApiPickers, newApiUsers, requestLogRow} from '../fixtures/newapi-fixture.js';
import {Random} from '../fixtures/random.js';
import {Arrivals} from './arrivals.js';
import {receiveSettings, STOP_MESSAGE, type TrafficSettings} from './traffic-protocol.js';

const BUSY_TIMEOUT_MS = 5000;

const codeOf = (error: unknown): unknown => (error as {code?: unknown}).code;

/** One line for the parent: the message, with SQLite's code when there is one. */
function describe(error: unknown): string {
	const code = codeOf(error);
	const message = String((error as {message?: unknown} | null)?.message ?? error);
	return typeof code === 'string' ? `${message} (${code})` : message;
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

function run({path, requestsPerMinute, seed}: TrafficSettings): void {
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
				throw error;
			}
			// Still locked after the busy timeout: keep the rows for the next tick.
		}
		timer = setTimeout(tick, 500 + clockRandom.next() * 500);
	};

	const stop = () => {
		clearTimeout(timer);
		writer.close();
		process.exit(0);
	};
	process.on('message', message => {
		if (message === STOP_MESSAGE) {
			stop();
		}
	});
	// The dashboard is gone (it quit, crashed or was killed): so is its demo's traffic.
	process.on('disconnect', stop);
	tick();
}

function fail(error: unknown): never {
	process.send?.({error: describe(error), code: codeOf(error)});
	process.exit(1);
}

process.on('uncaughtException', fail);
receiveSettings<TrafficSettings>().then(run).catch(fail);
