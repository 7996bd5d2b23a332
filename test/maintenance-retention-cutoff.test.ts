import {describe, expect, it} from 'vitest';
import {columnCutoff, parseKeep, resolveCutoff} from '../source/maintenance/retention-cutoff.js';
import {InputError} from '../source/usage/input-error.js';

const NOW = Date.UTC(2026, 10, 1, 12, 0, 0, 789);
const DAY = 86_400_000;

describe('parseKeep', () => {
	it('reads days and hours', () => {
		expect(parseKeep('30d')).toBe(30 * DAY);
		expect(parseKeep('1d')).toBe(DAY);
		expect(parseKeep('72h')).toBe(72 * 3_600_000);
		expect(parseKeep(' 7d ')).toBe(7 * DAY);
	});

	it.each(['', '0d', '0h', '30', 'd', '-3d', '1.5d', '30 d', '30D', '2w', '30m', '30days', '1e3d', '1234567d'])('refuses %j with a one-line InputError', text => {
		expect(() => parseKeep(text)).toThrow(InputError);
		expect(() => parseKeep(text)).toThrow(/^--keep .* is not a duration: give days or hours, e\.g\. 30d or 72h$/u);
	});
});

describe('resolveCutoff', () => {
	it('counts keep back from now', () => {
		expect(resolveCutoff({keep: '30d', nowMs: NOW})).toBe(NOW - 30 * DAY);
		expect(resolveCutoff({keep: '2h', nowMs: NOW})).toBe(NOW - 7_200_000);
	});

	it('takes an absolute cutoff as ISO 8601, epoch ms text or a number', () => {
		expect(resolveCutoff({cutoff: '2026-10-02T12:00:00.789Z', nowMs: NOW})).toBe(NOW - 30 * DAY);
		expect(resolveCutoff({cutoff: String(NOW - DAY), nowMs: NOW})).toBe(NOW - DAY);
		expect(resolveCutoff({cutoff: NOW - DAY, nowMs: NOW})).toBe(NOW - DAY);
		expect(resolveCutoff({cutoff: NOW, nowMs: NOW})).toBe(NOW);
	});

	it('wants exactly one of keep and cutoff', () => {
		expect(() => resolveCutoff({nowMs: NOW})).toThrow(InputError);
		expect(() => resolveCutoff({keep: '30d', cutoff: NOW - DAY, nowMs: NOW})).toThrow(/exactly one/u);
	});

	it('refuses a cutoff in the future, or one that is not a time', () => {
		expect(() => resolveCutoff({cutoff: NOW + 1, nowMs: NOW})).toThrow(/in the future/u);
		expect(() => resolveCutoff({cutoff: 'last tuesday', nowMs: NOW})).toThrow(InputError);
		expect(() => resolveCutoff({cutoff: '2026-02-31', nowMs: NOW})).toThrow(InputError);
		expect(() => resolveCutoff({cutoff: Number.NaN, nowMs: NOW})).toThrow(InputError);
	});
});

describe('columnCutoff', () => {
	it('keeps milliseconds as they are', () => {
		expect(columnCutoff(NOW, 'milliseconds')).toEqual({value: NOW, effectiveMs: NOW});
	});

	it('floors to a whole second, so a row stamped in the cutoff second stays', () => {
		const {value, effectiveMs} = columnCutoff(NOW, 'seconds');
		expect(value).toBe(Math.floor(NOW / 1000));
		expect(effectiveMs).toBe(NOW - 789);
		expect(columnCutoff(NOW - 789, 'seconds')).toEqual({value, effectiveMs: NOW - 789});
	});

	it('floors before 1970 too', () => {
		expect(columnCutoff(-1500, 'seconds')).toEqual({value: -2, effectiveMs: -2000});
	});
});
