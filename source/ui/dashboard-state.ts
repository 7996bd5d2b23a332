import type {MaintenanceAction} from '../maintenance/maintenance-service.js';
import type {SignalKind, SignalTarget} from '../postgres/backend-signal.js';
import {RANGE_PRESETS, type RangePreset} from '../usage/time-range.js';
import {SORT_KEYS, type Dimension, type Filters, type SortDirection, type SortKey, type Status} from '../usage/types.js';
import {VIEWS, type ViewId} from './keymap.js';

// Everything the dashboard's screen depends on except the data itself; changed only by reduce().

/** Views with a cursor: the usage tables, the PostgreSQL view's sessions and the health checks. */
export type TableId = 'accounts' | 'apiKeys' | 'realtime' | 'postgres' | 'health';
export type GroupTableId = 'accounts' | 'apiKeys';
/** Views whose rows open with Enter. */
export type DrillTable = GroupTableId | 'postgres';

/** The filters the menu offers, in its order; status is offered as success / failed. */
export const FILTER_FIELDS = ['account', 'provider', 'channel', 'group', 'model', 'apiKey', 'status'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];

export interface Cursor {
	readonly page: number;
	readonly selected: number;
}

export interface Drill {
	readonly table: DrillTable;
	/** The row's key: an account or API key; a session's pid. */
	readonly key: string;
	/** What the row showed: a name; a session's query text when it was opened. */
	readonly label: string;
}

export type Overlay = 'none' | 'help' | 'search' | 'filters' | 'confirm' | 'maintenance';

/** A write the user asked for, waiting for y. */
export type WriteRequest =
	| {readonly kind: 'signal'; readonly signal: SignalKind; readonly target: SignalTarget}
	| {readonly kind: 'maintenance'; readonly label: string; readonly action: MaintenanceAction};

export interface Confirm {
	readonly title: string;
	/** The exact statements that will run, in order. */
	readonly sql: readonly string[];
	/** A caution, e.g. that cancel leaves an idle transaction open. */
	readonly note: string | null;
	readonly request: WriteRequest;
}

/** The outcome of a write, shown in place of the status bar until the next key. */
export interface Notice {
	readonly text: string;
	readonly tone: 'ok' | 'warn' | 'error';
}

export interface FilterMenu {
	/** null while choosing a field; the field while choosing its value. */
	readonly field: FilterField | null;
	readonly index: number;
}

export interface DashboardState {
	readonly view: ViewId;
	readonly overlay: Overlay;
	readonly searchDraft: string;
	readonly search: string;
	readonly filters: Omit<Filters, 'search'>;
	readonly failedOnly: boolean;
	readonly range: RangePreset;
	readonly dimensions: readonly Dimension[];
	readonly dimension: Dimension;
	readonly sort: Readonly<Record<GroupTableId, {readonly key: SortKey; readonly direction: SortDirection}>>;
	readonly cursors: Readonly<Record<TableId, Cursor>>;
	readonly drill: Drill | null;
	readonly filterMenu: FilterMenu;
	readonly paused: boolean;
	readonly intervalMs: number;
	readonly confirm: Confirm | null;
	/** Where the answer to the confirm goes back to: the maintenance panel, or the view it was asked from. */
	readonly confirmReturn: Overlay;
	readonly notice: Notice | null;
	/** The maintenance panel's cursor over its actions. */
	readonly maintenanceSelected: number;
}

export const INTERVALS_MS = [1000, 2000, 5000, 10_000, 30_000, 60_000] as const;

const START: Cursor = {page: 1, selected: 0};

export function initialState(dimensions: readonly Dimension[], options: {intervalMs?: number; range?: RangePreset} = {}): DashboardState {
	return {
		view: 'overview',
		overlay: 'none',
		searchDraft: '',
		search: '',
		filters: {},
		failedOnly: false,
		range: options.range ?? '24h',
		dimensions,
		dimension: dimensions[0]!,
		sort: {accounts: {key: 'totalCalls', direction: 'desc'}, apiKeys: {key: 'totalCalls', direction: 'desc'}},
		cursors: {accounts: START, apiKeys: START, realtime: START, postgres: START, health: START},
		drill: null,
		filterMenu: {field: null, index: 0},
		paused: false,
		intervalMs: options.intervalMs ?? 2000,
		confirm: null,
		confirmReturn: 'none',
		notice: null,
		maintenanceSelected: 0,
	};
}

export type Action =
	| {type: 'view'; view: ViewId}
	| {type: 'cycleView'; step: 1 | -1}
	| {type: 'toggleHelp'}
	| {type: 'openSearch'}
	| {type: 'typeSearch'; text: string}
	| {type: 'eraseSearch'}
	| {type: 'applySearch'}
	| {type: 'clearSearch'}
	| {type: 'openFilters'}
	| {type: 'moveFilterMenu'; step: number; size: number}
	| {type: 'chooseFilterField'; field: FilterField}
	| {type: 'chooseFilterValue'; value: string | null}
	| {type: 'backFilterMenu'}
	| {type: 'clearFilters'}
	| {type: 'cycleRange'}
	| {type: 'sortNext'}
	| {type: 'sortReverse'}
	| {type: 'cycleDimension'}
	| {type: 'toggleFailedOnly'}
	| {type: 'move'; step: number; rowsOnPage: number}
	| {type: 'page'; step: number; pages: number}
	| {type: 'pageTo'; page: number}
	| {type: 'open'; key: string; label: string}
	| {type: 'back'}
	| {type: 'togglePause'}
	| {type: 'interval'; step: 1 | -1}
	| {type: 'askConfirm'; confirm: Confirm}
	| {type: 'closeConfirm'}
	| {type: 'openMaintenance'}
	| {type: 'moveMaintenance'; step: number; size: number}
	| {type: 'notice'; notice: Notice | null};

const tableOf = (view: ViewId): TableId | undefined => (view === 'overview' ? undefined : view);
const cycle = <T>(items: readonly T[], current: T, step = 1): T => items[(items.indexOf(current) + step + items.length) % items.length]!;

/** A new question for the usage data: every usage table goes back to its first page. */
const rewound = (state: DashboardState): DashboardState => ({...state, cursors: {...state.cursors, accounts: START, apiKeys: START, realtime: START}});

function withCursor(state: DashboardState, change: (cursor: Cursor) => Cursor): DashboardState {
	const table = tableOf(state.view);
	if (table === undefined || state.drill !== null) {
		return state;
	}
	return {...state, cursors: {...state.cursors, [table]: change(state.cursors[table])}};
}

function withFilter(state: DashboardState, field: FilterField, value: string | null): DashboardState {
	const filters: Record<string, string> = {...state.filters};
	if (value === null) {
		delete filters[field];
	} else {
		filters[field] = value;
	}
	return rewound({...state, filters: filters as Omit<Filters, 'search'>, overlay: 'none', filterMenu: {field: null, index: 0}});
}

export function reduce(state: DashboardState, action: Action): DashboardState {
	switch (action.type) {
		case 'view':
			return {...state, view: action.view, drill: null, overlay: 'none'};
		case 'cycleView':
			return {...state, view: cycle(VIEWS, state.view, action.step), drill: null, overlay: 'none'};
		case 'toggleHelp':
			return {...state, overlay: state.overlay === 'help' ? 'none' : 'help'};
		case 'openSearch':
			return {...state, overlay: 'search', searchDraft: state.search};
		case 'typeSearch':
			return {...state, searchDraft: state.searchDraft + action.text};
		case 'eraseSearch':
			return {...state, searchDraft: [...state.searchDraft].slice(0, -1).join('')};
		case 'applySearch':
			return rewound({...state, overlay: 'none', search: state.searchDraft.trim()});
		case 'clearSearch':
			return rewound({...state, overlay: 'none', search: '', searchDraft: ''});
		case 'openFilters':
			return {...state, overlay: 'filters', filterMenu: {field: null, index: 0}};
		case 'moveFilterMenu':
			return {...state, filterMenu: {...state.filterMenu, index: Math.max(0, Math.min(action.size - 1, state.filterMenu.index + action.step))}};
		case 'chooseFilterField':
			return {...state, filterMenu: {field: action.field, index: 0}};
		case 'chooseFilterValue':
			return state.filterMenu.field === null ? state : withFilter(state, state.filterMenu.field, action.value);
		case 'backFilterMenu':
			return state.filterMenu.field === null ? {...state, overlay: 'none'} : {...state, filterMenu: {field: null, index: FILTER_FIELDS.indexOf(state.filterMenu.field)}};
		case 'clearFilters':
			return rewound({...state, filters: {}, failedOnly: false, overlay: 'none', filterMenu: {field: null, index: 0}});
		case 'cycleRange':
			return rewound({...state, range: cycle(RANGE_PRESETS, state.range)});
		case 'sortNext':
		case 'sortReverse': {
			const table = state.view === 'accounts' || state.view === 'apiKeys' ? state.view : undefined;
			if (table === undefined || state.drill !== null) {
				return state;
			}
			const current = state.sort[table];
			const next = action.type === 'sortNext' ? {...current, key: cycle(SORT_KEYS, current.key)} : {...current, direction: current.direction === 'asc' ? ('desc' as const) : ('asc' as const)};
			return {...state, sort: {...state.sort, [table]: next}, cursors: {...state.cursors, [table]: START}};
		}
		case 'cycleDimension':
			return state.view === 'accounts' && state.drill === null ? {...state, dimension: cycle(state.dimensions, state.dimension), cursors: {...state.cursors, accounts: START}} : state;
		case 'toggleFailedOnly':
			return {...state, failedOnly: !state.failedOnly, cursors: {...state.cursors, realtime: START}};
		case 'move':
			return withCursor(state, cursor => ({...cursor, selected: Math.max(0, Math.min(action.rowsOnPage - 1, cursor.selected + action.step))}));
		case 'page':
			return withCursor(state, cursor => ({page: Math.max(1, Math.min(Math.max(1, action.pages), cursor.page + action.step)), selected: 0}));
		case 'pageTo':
			return withCursor(state, () => ({page: Math.max(1, action.page), selected: 0}));
		case 'open':
			return state.view === 'accounts' || state.view === 'apiKeys' || state.view === 'postgres' ? {...state, drill: {table: state.view, key: action.key, label: action.label}} : state;
		case 'back':
			if (state.overlay !== 'none') {
				return {...state, overlay: 'none', confirm: null};
			}
			return {...state, drill: null};
		case 'togglePause':
			return {...state, paused: !state.paused};
		case 'interval': {
			const index = INTERVALS_MS.findIndex(ms => ms >= state.intervalMs);
			const next = INTERVALS_MS[Math.max(0, Math.min(INTERVALS_MS.length - 1, (index === -1 ? INTERVALS_MS.length - 1 : index) + action.step))]!;
			return {...state, intervalMs: next};
		}
		case 'askConfirm':
			return {...state, overlay: 'confirm', confirm: action.confirm, confirmReturn: state.overlay === 'confirm' ? state.confirmReturn : state.overlay};
		case 'closeConfirm':
			// The answer goes back to where the question came from: the maintenance panel, or the view.
			return {...state, overlay: state.overlay === 'confirm' ? state.confirmReturn : state.overlay, confirm: null, confirmReturn: 'none'};
		case 'openMaintenance':
			return {...state, overlay: 'maintenance'};
		case 'moveMaintenance':
			return {...state, maintenanceSelected: Math.max(0, Math.min(action.size - 1, state.maintenanceSelected + action.step))};
		case 'notice':
			return {...state, notice: action.notice};
	}
}

/** The filters a query gets: the menu's, the realtime failed-only toggle, and the applied search. */
export function queryFilters(state: DashboardState, forRealtime: boolean): Filters {
	const status: Status | undefined = forRealtime && state.failedOnly ? 'failed' : state.filters.status;
	return {...state.filters, ...(status === undefined ? {} : {status}), ...(state.search === '' ? {} : {search: state.search})};
}
