import {randomBytes, randomInt} from 'node:crypto';
import stringWidth from 'string-width';
import {describe, expect, it} from 'vitest';
import {compact, fit, thousands, truncate, usd} from '../source/output/format.js';
import {terminalSafeJson} from '../source/output/json-snapshot.js';
import {registerSecret} from '../source/output/secret-registry.js';
import {redactTarget, redactTargetIn} from '../source/sources/redact-target.js';
import {textTable} from '../source/output/text-table.js';
import {terminalSafe, terminalSafeExcept} from '../source/output/terminal-safe.js';

describe('terminal safety', () => {
	it('turns escape sequences and control characters into inert, visible stand-ins', () => {
		const hostile = 'evil\u001b[31mred\u001b[0m\u001b]0;pwned\u0007\r\n\u0000\u007f\u009b';
		const safe = terminalSafe(hostile);
		expect(safe).toBe('evil␛[31mred␛[0m␛]0;pwned␇␍␊␀␡\ufffd');
		expect(safe).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/u);
	});

	it('neutralises bidirectional overrides', () => {
		expect(terminalSafe('abc\u202edcba\u2066x')).toBe('abc\ufffddcba\ufffdx');
	});

	it('keeps JSON lossless but escapes what a terminal would obey: C1 controls, DEL, bidi overrides', () => {
		const value = {name: 'x\u009b31mred\u202eevil\u007f\u001b[0m 研发'};
		const json = terminalSafeJson(value);
		expect(json).not.toMatch(/[\u001b\u007f-\u009f\u202e]/u);
		expect(json).toContain('\\u009b');
		expect(JSON.parse(json)).toEqual(value);
	});

	it('shows invisible characters and half surrogate pairs as �, and keeps eight of a pile of accents', () => {
		expect(terminalSafe('zw\u200bsp soft\u00adhy \u3164fill \ufeffbom lone\ud800')).toBe('zw\ufffdsp soft\ufffdhy \ufffdfill \ufffdbom lone\ufffd');
		expect(terminalSafe(`e${'\u0301'.repeat(5000)}`)).toBe(`e${'\u0301'.repeat(8)}`);
		// Joiners and selectors that make one emoji stay.
		expect(terminalSafe('👨‍👩‍👧‍👦 ☺️ 🏴󠁧󠁢󠁥󠁮󠁧󠁿')).toBe('👨‍👩‍👧‍👦 ☺️ 🏴󠁧󠁢󠁥󠁮󠁧󠁿');
	});

	it('leaves ordinary text, CJK included, alone', () => {
		expect(terminalSafe('研发团队 alice@example.com')).toBe('研发团队 alice@example.com');
	});
});

describe('secrets in targets', () => {
	it.each([
		['postgres://relay:hunter2@db:5432/newapi', 'postgres://relay:***@db:5432/newapi'],
		['https://sk-secret-token@cpa.example/', 'https://***@cpa.example/'],
		['http://cpa.example:8317/?key=abc&page=2', 'http://cpa.example:8317/?key=***&page=2'],
		["host=db user=relay password='p w' dbname=newapi", 'host=db user=relay password=*** dbname=newapi'],
		['/data/one-api.db', '/data/one-api.db'],
		// Passwords that make the URL unparseable: the user information up to the last @ goes.
		['postgres://relay:pa/ss@db/newapi', 'postgres://relay:***@db/newapi'],
		['postgres://relay:pa#ss?x@db/newapi', 'postgres://relay:***@db/newapi'],
		['postgresql://:p@ss/w@db:5432/newapi', 'postgresql://:***@db:5432/newapi'],
		['http://tok/en@cpa example/', 'http://***@cpa example/'],
	])('%s is printed as %s', (target, printed) => {
		expect(redactTarget(target)).toBe(printed);
	});

	it('redacts the target wherever a message repeats it', () => {
		expect(redactTargetIn('host=db password=hunter2: no such file', 'host=db password=hunter2')).toBe('host=db password=***: no such file');
	});
});

describe('formatting', () => {
	it('writes compact units and thousands separators', () => {
		expect([compact(950), compact(12_345), compact(4_500_000), compact(123_456_789)]).toEqual(['950', '12.3k', '4.5M', '123M']);
		expect(thousands(1_234_567)).toBe('1,234,567');
	});

	it('writes dollars without hiding sub-cent amounts', () => {
		expect([usd(1.234), usd(0), usd(0.0021), usd(123_456), usd(0.000_003_2)]).toEqual(['$1.23', '$0.00', '$0.0021', '$123k', '<$0.0001']);
	});

	it('cuts between characters as they are drawn, never inside one', () => {
		expect(truncate('e\u0301e\u0301e\u0301', 2)).toBe('e\u0301…');
		expect(truncate('👨‍👩‍👧‍👦👨‍👩‍👧‍👦', 3)).toBe('👨‍👩‍👧‍👦…');
		expect(truncate('x'.repeat(100_000), 5)).toBe('xxxx…');
	});

	it('truncates by terminal cells, counting CJK as two', () => {
		expect(truncate('研发团队abc', 5)).toBe('研发…');
		expect(stringWidth(fit('研发团队', 7))).toBe(7);
		expect(fit('12', 5, 'right')).toBe('   12');
	});

	it('fits a table to the width, every cell made safe', () => {
		const lines = textTable(
			[
				{title: 'name', value: (row: {name: string; n: number}) => row.name},
				{title: 'n', width: 5, align: 'right', value: row => String(row.n)},
			],
			[{name: 'x\u001b[2Jy', n: 7}, {name: '山田花子山田花子山田花子', n: 12}],
			20,
		);
		expect(lines.every(line => stringWidth(line) <= 20)).toBe(true);
		expect(lines.join('\n')).not.toContain('\u001b');
		expect(lines[1]).toContain('x␛[2Jy');
	});
});

describe('narrow terminals', () => {
	it('drops the most droppable columns first until the table fits', () => {
		const columns = [
			{title: 'name', value: (row: {n: number}) => `row ${row.n}`},
			{title: 'a', width: 10, drop: 1, value: () => 'a'},
			{title: 'b', width: 10, drop: 2, value: () => 'b'},
			{title: 'keep', width: 10, value: () => 'k'},
		];
		expect(textTable(columns, [{n: 1}], 60)[0]!.split(/\s+/u)).toEqual(['name', 'a', 'b', 'keep']);
		expect(textTable(columns, [{n: 1}], 48)[0]!.split(/\s+/u)).toEqual(['name', 'a', 'b', 'keep']);
		expect(textTable(columns, [{n: 1}], 47)[0]!.split(/\s+/u)).toEqual(['name', 'a', 'keep']);
		expect(textTable(columns, [{n: 1}], 30)[0]!.split(/\s+/u)).toEqual(['name', 'keep']);
		expect(textTable(columns, [{n: 1}], 30).every(line => stringWidth(line) <= 30)).toBe(true);
	});

	it('shares spare width among flexible columns up to their maximum', () => {
		const columns = [
			{title: 'model', min: 10, max: 14, value: () => 'claude-sonnet-4-5'},
			{title: 'account', min: 8, max: 30, value: () => 'alice@example.com'},
		];
		const [header, row] = textTable(columns, [{}], 100);
		expect(row).toBe('claude-sonnet…  alice@example.com');
		expect(header!.indexOf('account')).toBe(16);
	});
});

// Secrets are masked as they are shown: by terminalSafe (before a table cuts a cell) and by
// terminalSafeJson (the data's values, never relaytop's own words or JSON's). Each secret here is
// random: registering one masks it for the rest of the file.
describe('secrets as they are shown', () => {
	it('a table cell is masked before it is cut: no width leaves the start of a secret', () => {
		const core = randomBytes(12).toString('hex');
		registerSecret(`${core}'x`);
		const column = [{title: 'query', value: (row: {query: string}) => row.query}];
		for (let width = 20; width <= 60; width++) {
			const [, line] = textTable(column, [{query: `ALTER ROLE r PASSWORD '${core}''x'`}], width);
			expect(line).not.toContain(core.slice(0, 4));
		}
	});

	it('a line that names a redacted target keeps the target whole, escaped, and masks the rest', () => {
		const secret = `w${randomBytes(8).toString('hex')}`;
		registerSecret(secret);
		const target = `postgres://${secret}:***@db/newapi\u001b[2J`;
		expect(terminalSafeExcept(`${target}: role "${secret}" refused; ${target}`, [target, ''])).toBe(
			`postgres://${secret}:***@db/newapi␛[2J: role "***" refused; postgres://${secret}:***@db/newapi␛[2J`,
		);
		expect(terminalSafeExcept(`no target: ${secret}`, [target])).toBe(terminalSafe(`no target: ${secret}`));
	});

	it('--json masks the data and keeps relaytop\'s own words: enumerations, identifiers, the redacted target', () => {
		const secret = `w${randomBytes(8).toString('hex')}`;
		registerSecret(secret);
		const value = {
			source: {kind: secret, target: `postgres://${secret}:***@db/newapi`},
			status: secret,
			accounts: {dimension: secret, sort_key: secret, items: [{key: `${secret}-ops`, label: secret, total_requests: 3}]},
			activity: [{state: secret, wait_event: secret, query: `SELECT '${secret}'`}],
			statements: {unavailable: {reason: secret, message: `denied to ${secret}`, hint: 'GRANT pg_read_all_stats'}},
			proposals: [{need: secret, reason: `${secret} is taken`, columns: [secret]}],
			serves: [secret],
			at: new Date(0),
		};
		expect(JSON.parse(terminalSafeJson(value))).toEqual({
			source: {kind: secret, target: `postgres://${secret}:***@db/newapi`},
			status: secret,
			accounts: {dimension: secret, sort_key: secret, items: [{key: '***-ops', label: '***', total_requests: 3}]},
			activity: [{state: secret, wait_event: secret, query: "SELECT '***'"}],
			statements: {unavailable: {reason: secret, message: 'denied to ***', hint: 'GRANT pg_read_all_stats'}},
			proposals: [{need: secret, reason: '*** is taken', columns: ['***']}],
			serves: [secret],
			at: '1970-01-01T00:00:00.000Z',
		});
	});

	it('--json masks values, not the finished text: a numeric secret leaves numbers whole, and the JSON valid', () => {
		const number = randomInt(1_000_000_000, 2_000_000_000);
		registerSecret(String(number));
		const json = terminalSafeJson({cutoffMs: number * 1000, rows: number, apply: true, note: `cut at ${number}`});
		expect(JSON.parse(json)).toEqual({cutoffMs: number * 1000, rows: number, apply: true, note: 'cut at ***'});
	});
});
