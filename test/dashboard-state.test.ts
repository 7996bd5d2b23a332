import {describe, expect, it} from 'vitest';
import {initialState, INTERVALS_MS, queryFilters, reduce, type Action, type DashboardState} from '../source/ui/dashboard-state.js';
import {bindingsFor, commandFor, KEYMAP, keyName, VIEWS} from '../source/ui/keymap.js';

const run = (state: DashboardState, ...actions: Action[]) => actions.reduce(reduce, state);
const start = () => initialState(['user', 'channel', 'group']);

describe('keymap', () => {
	it('binds no key twice within a view', () => {
		for (const view of VIEWS) {
			const keys = bindingsFor(view, true).flatMap(binding => binding.keys);
			expect(new Set(keys).size, view).toBe(keys.length);
		}
	});

	it('reaches every command from some view, and names keys as Ink reports them', () => {
		for (const binding of KEYMAP) {
			expect(VIEWS.some(view => binding.keys.some(key => commandFor(key, view, true) === binding.command)), binding.command).toBe(true);
		}
		expect(keyName('', {tab: true, shift: true})).toBe('shift+tab');
		expect(keyName('c', {ctrl: true})).toBe('ctrl+c');
		expect(keyName('', {escape: true})).toBe('escape');
		expect(keyName('', {delete: true})).toBe('backspace');
		expect(commandFor('s', 'overview')).toBeUndefined();
		expect(commandFor('s', 'accounts')).toBe('sortNext');
	});

	it('puts every write on a capital letter, and offers none unless writable', () => {
		const writes = KEYMAP.filter(binding => binding.write === true);
		expect(writes.map(binding => binding.command).sort()).toEqual(['applyFix', 'cancelQuery', 'terminateSession']);
		for (const binding of writes) {
			for (const key of binding.keys) expect(key, binding.command).toMatch(/^[A-Z]$/u);
			for (const view of VIEWS) {
				expect(bindingsFor(view).map(other => other.command)).not.toContain(binding.command);
				for (const key of binding.keys) expect(commandFor(key, view)).toBeUndefined();
			}
		}
		expect(commandFor('C', 'postgres', true)).toBe('cancelQuery');
		expect(commandFor('F', 'health', true)).toBe('applyFix');
		expect(commandFor('F', 'health')).toBeUndefined();
	});
});

describe('dashboard state', () => {
	it('goes back to the first page when the question changes: search, filter, range', () => {
		const paged = run(start(), {type: 'view', view: 'accounts'}, {type: 'page', step: 2, pages: 5});
		expect(paged.cursors.accounts.page).toBe(3);
		expect(run(paged, {type: 'openSearch'}, {type: 'typeSearch', text: 'al'}, {type: 'applySearch'}).cursors.accounts.page).toBe(1);
		expect(run(paged, {type: 'cycleRange'}).cursors.accounts.page).toBe(1);
		expect(run(paged, {type: 'openFilters'}, {type: 'chooseFilterField', field: 'model'}, {type: 'chooseFilterValue', value: 'gpt-5'}).cursors.accounts.page).toBe(1);
	});

	it('keeps pages and the cursor inside what exists', () => {
		const state = run(start(), {type: 'view', view: 'realtime'});
		expect(run(state, {type: 'page', step: 10, pages: 3}).cursors.realtime.page).toBe(3);
		expect(run(state, {type: 'page', step: -1, pages: 3}).cursors.realtime.page).toBe(1);
		expect(run(state, {type: 'move', step: 5, rowsOnPage: 3}).cursors.realtime.selected).toBe(2);
		expect(run(state, {type: 'move', step: -1, rowsOnPage: 3}).cursors.realtime.selected).toBe(0);
		expect(run(state, {type: 'move', step: 1, rowsOnPage: 0}).cursors.realtime.selected).toBe(0);
	});

	it('sorts and reverses only the table on screen, and cycles the dimension only on accounts', () => {
		const accounts = run(start(), {type: 'view', view: 'accounts'}, {type: 'sortNext'}, {type: 'sortReverse'});
		expect(accounts.sort.accounts).toEqual({key: 'successCalls', direction: 'asc'});
		expect(accounts.sort.apiKeys).toEqual({key: 'totalCalls', direction: 'desc'});
		expect(run(start(), {type: 'sortNext'}).sort).toEqual(start().sort);
		expect(run(accounts, {type: 'cycleDimension'}, {type: 'cycleDimension'}, {type: 'cycleDimension'}).dimension).toBe('user');
		expect(run(start(), {type: 'cycleDimension'}).dimension).toBe('user');
	});

	it('drills into a row and back; Esc closes an overlay first', () => {
		const drilled = run(start(), {type: 'view', view: 'apiKeys'}, {type: 'open', key: '7', label: 'ci-bot'});
		expect(drilled.drill).toEqual({table: 'apiKeys', key: '7', label: 'ci-bot'});
		const helped = run(drilled, {type: 'toggleHelp'}, {type: 'back'});
		expect(helped.overlay).toBe('none');
		expect(helped.drill).not.toBeNull();
		expect(run(helped, {type: 'back'}).drill).toBeNull();
		expect(run(start(), {type: 'open', key: 'x', label: 'x'}).drill).toBeNull(); // not on the overview
	});

	it('keeps the search draft until Enter, and Esc clears search', () => {
		const typing = run(start(), {type: 'openSearch'}, {type: 'typeSearch', text: '张伟x'}, {type: 'eraseSearch'});
		expect([typing.searchDraft, typing.search]).toEqual(['张伟', '']);
		const applied = run(typing, {type: 'applySearch'});
		expect(queryFilters(applied, false)).toEqual({search: '张伟'});
		expect(run(applied, {type: 'openSearch'}, {type: 'clearSearch'}).search).toBe('');
	});

	it('adds failed-only to the request log alone, and clears it with every filter', () => {
		const state = run(start(), {type: 'openFilters'}, {type: 'chooseFilterField', field: 'model'}, {type: 'chooseFilterValue', value: 'o3'}, {type: 'toggleFailedOnly'});
		expect(queryFilters(state, true)).toEqual({model: 'o3', status: 'failed'});
		expect(queryFilters(state, false)).toEqual({model: 'o3'});
		expect(queryFilters(run(state, {type: 'clearFilters'}), true)).toEqual({});
		expect(run(state, {type: 'openFilters'}, {type: 'chooseFilterField', field: 'model'}, {type: 'chooseFilterValue', value: null}).filters).toEqual({});
	});

	it('sends a confirm’s answer back to where it was asked: the maintenance panel, or the view', () => {
		const action = {kind: 'vacuum', table: 'logs'} as const;
		const confirm = {title: 'vacuum logs?', sql: ['VACUUM (ANALYZE) logs'], note: null, request: {kind: 'maintenance', label: 'vacuum logs', action}} as const;
		const fromPanel = run(start(), {type: 'openMaintenance'}, {type: 'askConfirm', confirm});
		expect(fromPanel.overlay).toBe('confirm');
		expect(run(fromPanel, {type: 'closeConfirm'})).toMatchObject({overlay: 'maintenance', confirm: null});
		const fromHealth = run(start(), {type: 'view', view: 'health'}, {type: 'askConfirm', confirm});
		expect(run(fromHealth, {type: 'closeConfirm'})).toMatchObject({view: 'health', overlay: 'none', confirm: null});
	});

	it('moves the health cursor within the checks', () => {
		const health = run(start(), {type: 'view', view: 'health'});
		expect(run(health, {type: 'move', step: 5, rowsOnPage: 3}).cursors.health.selected).toBe(2);
		expect(run(health, {type: 'move', step: 1, rowsOnPage: 3}, {type: 'move', step: -4, rowsOnPage: 3}).cursors.health.selected).toBe(0);
	});

	it('steps the interval within its bounds and toggles pause', () => {
		expect(run(start(), {type: 'interval', step: 1}).intervalMs).toBe(5000);
		expect(run(start(), ...Array.from({length: 9}, () => ({type: 'interval', step: 1}) as const)).intervalMs).toBe(INTERVALS_MS.at(-1));
		expect(run(start(), ...Array.from({length: 9}, () => ({type: 'interval', step: -1}) as const)).intervalMs).toBe(INTERVALS_MS[0]);
		expect(run(start(), {type: 'togglePause'}).paused).toBe(true);
	});
});
