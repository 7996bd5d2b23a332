import {describe, expect, it} from 'vitest';
import {InputError} from '../source/usage/input-error.js';
import {checkedRange, isEmptyRange, parseInstant, parseRangePreset, rangeSpec, resolveRange} from '../source/usage/time-range.js';

const NOW = Date.UTC(2026, 10, 22, 15, 30, 0);

describe('time ranges', () => {
	it('resolves a relative range against each refresh\'s clock, so its end moves', () => {
		const spec = rangeSpec({preset: '1h'});
		expect(resolveRange(spec, NOW)).toEqual({startMs: NOW - 3_600_000, endMs: NOW});
		expect(resolveRange(spec, NOW + 5000)).toEqual({startMs: NOW - 3_600_000 + 5000, endMs: NOW + 5000});
	});

	it('defaults to 24 h, counts back from --to, and keeps explicit bounds', () => {
		expect(resolveRange(rangeSpec({}), NOW)).toEqual({startMs: NOW - 86_400_000, endMs: NOW});
		expect(resolveRange(rangeSpec({preset: '7d', toMs: NOW - 1000}), NOW)).toEqual({startMs: NOW - 1000 - 7 * 86_400_000, endMs: NOW - 1000});
		expect(resolveRange(rangeSpec({fromMs: 5, toMs: 10}), NOW)).toEqual({startMs: 5, endMs: 10});
		expect(resolveRange(rangeSpec({preset: 'all'}), NOW)).toEqual({startMs: null, endMs: NOW});
	});

	it('starts "today" at local midnight', () => {
		const {startMs} = resolveRange(rangeSpec({preset: 'today'}), NOW);
		const midnight = new Date(NOW);
		midnight.setHours(0, 0, 0, 0);
		expect(startMs).toBe(midnight.getTime());
	});

	it('parses ISO 8601 and epoch milliseconds', () => {
		expect(parseInstant('from', '2026-11-01T12:00:00Z')).toBe(Date.UTC(2026, 10, 1, 12));
		expect(parseInstant('from', '2026-11-01T12:00:00+08:00')).toBe(Date.UTC(2026, 10, 1, 4));
		expect(parseInstant('to', '2026-11-01 08:30')).toBe(new Date(2026, 10, 1, 8, 30).getTime());
		expect(parseInstant('to', '1793534400000')).toBe(1_793_534_400_000);
	});

	it('reads a date or a time without an offset as local time, both the same way', () => {
		expect(parseInstant('from', '2026-11-01')).toBe(new Date(2026, 10, 1).getTime());
		expect(parseInstant('from', '2026-11-01T00:00')).toBe(parseInstant('from', '2026-11-01'));
		expect(parseInstant('from', '2026-11-01')).toBeLessThan(parseInstant('to', '2026-11-01T08:30'));
	});

	it.each(['yesterday', '2026-02-31', '2026-13-01', '1700000000', '12:00', '', '2026-11-01T25:00:00Z', '2026-11-01T24:00Z', '2026-11-01T12:60', '2026-11-01T12:00:60Z'])('rejects %j with a one-line input error', value => {
		expect(() => parseInstant('from', value)).toThrow(InputError);
	});

	it('rejects epoch milliseconds past the last moment a date can hold, where "today" has no midnight', () => {
		expect(parseInstant('to', '8640000000000000')).toBe(8_640_000_000_000_000);
		expect(() => parseInstant('to', '8640000000000001')).toThrow(/later than any date/);
		expect(() => parseInstant('to', '9'.repeat(400))).toThrow(InputError);
	});

	it('quotes a wrong value in one short line, however long or odd', () => {
		const garbage = `2026\n${'\u001b[2J'.repeat(2000)}`;
		expect(() => parseInstant('from', garbage)).toThrow(InputError);
		try {
			parseInstant('from', garbage);
		} catch (error) {
			expect((error as Error).message).not.toMatch(/[\n\u001b]/u);
			expect((error as Error).message.length).toBeLessThan(200);
			expect((error as Error).message).toContain('…"');
		}
	});

	it('lets only whole, safe milliseconds reach an engine; a start after the end is an empty range, not an error', () => {
		expect(checkedRange({startMs: null, endMs: NOW})).toEqual({startMs: null, endMs: NOW});
		expect(checkedRange({startMs: NOW, endMs: NOW})).toEqual({startMs: NOW, endMs: NOW});
		expect(checkedRange({startMs: NOW + 1, endMs: NOW})).toEqual({startMs: NOW + 1, endMs: NOW});
		expect([{startMs: NOW + 1, endMs: NOW}, {startMs: NOW, endMs: NOW}, {startMs: null, endMs: NOW}].map(isEmptyRange)).toEqual([true, false, false]);
		for (const range of [
			{startMs: Number.NaN, endMs: NOW},
			{startMs: null, endMs: Number.POSITIVE_INFINITY},
			{startMs: 0.5, endMs: NOW},
			{startMs: null, endMs: 2 ** 53},
			{startMs: -1e300, endMs: NOW},
		]) {
			expect(() => checkedRange(range), JSON.stringify(range)).toThrow(InputError);
		}
	});

	it('--from alone later than now is a window still to come: empty until the clock reaches it, then filling', () => {
		const spec = rangeSpec({fromMs: NOW + 3_600_000});
		expect(isEmptyRange(resolveRange(spec, NOW))).toBe(true);
		expect(resolveRange(spec, NOW + 7_200_000)).toEqual({startMs: NOW + 3_600_000, endMs: NOW + 7_200_000});
	});

	it('refuses --from after --to, both written out, naming both flags at their moments', () => {
		const from = Date.UTC(2099, 0, 1);
		const to = Date.UTC(2026, 10, 23, 6);
		expect(() => rangeSpec({fromMs: from, toMs: to})).toThrow(new InputError('--from 2099-01-01T00:00:00.000Z is after --to 2026-11-23T06:00:00.000Z'));
		expect(rangeSpec({fromMs: to, toMs: to})).toEqual({preset: null, fromMs: to, toMs: to});
	});

	it('rejects conflicting bounds and unknown presets', () => {
		expect(() => rangeSpec({preset: '1h', fromMs: 1})).toThrow(InputError);
		expect(() => parseRangePreset('2w')).toThrow(/expected one of: 15m, 1h, 24h, today, 7d, 30d, all/);
	});
});
