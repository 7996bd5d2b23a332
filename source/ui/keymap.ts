// The one keymap: input dispatch, the footer hints and the `?` help are all generated from it.

export const VIEWS = ['overview', 'accounts', 'apiKeys', 'realtime', 'postgres', 'health'] as const;
export type ViewId = (typeof VIEWS)[number];

export const VIEW_TITLES: Record<ViewId, string> = {
	overview: 'Overview',
	accounts: 'Accounts',
	apiKeys: 'API keys',
	realtime: 'Realtime',
	postgres: 'Postgres',
	health: 'Health',
};

export type Command =
	| 'quit'
	| 'help'
	| 'search'
	| 'filters'
	| 'timeRange'
	| 'sortNext'
	| 'sortReverse'
	| 'dimension'
	| 'pause'
	| 'slower'
	| 'faster'
	| 'refresh'
	| 'up'
	| 'down'
	| 'pageUp'
	| 'pageDown'
	| 'first'
	| 'last'
	| 'open'
	| 'back'
	| 'nextView'
	| 'previousView'
	| 'failedOnly'
	| 'cancelQuery'
	| 'maintenance'
	| 'terminateSession'
	| 'applyFix'
	| 'stopJob'
	| `view:${ViewId}`;

export interface Binding {
	readonly command: Command;
	/** Key names as `keyName` gives them: 'q', 'ctrl+c', 'tab', 'shift+tab', 'up', 'pageup', 'return'… */
	readonly keys: readonly string[];
	/** Shown in the footer when set: a word or two. */
	readonly hint?: string;
	readonly help: string;
	/** Only in these views; everywhere when absent. */
	readonly views?: readonly ViewId[];
	/** It writes (always behind a y/N confirm showing the SQL); --read-only removes it. */
	readonly write?: true;
}

const TABLES: readonly ViewId[] = ['accounts', 'apiKeys', 'realtime'];
const GROUPS: readonly ViewId[] = ['accounts', 'apiKeys'];
/** Views with a cursor: the tables, the PostgreSQL view's sessions and the health checks. */
const CURSORS: readonly ViewId[] = [...TABLES, 'postgres', 'health'];
/** Views of the usage data, which searching, filtering and the time range change. */
const USAGE: readonly ViewId[] = VIEWS.filter(view => view !== 'postgres' && view !== 'health');

export const KEYMAP: readonly Binding[] = [
	{command: 'quit', keys: ['q', 'ctrl+c'], hint: 'quit', help: 'quit'},
	{command: 'help', keys: ['?'], hint: 'help', help: 'show or hide this help'},
	{command: 'nextView', keys: ['tab'], help: 'next view'},
	{command: 'previousView', keys: ['shift+tab'], help: 'previous view'},
	...VIEWS.map((view, index): Binding => ({command: `view:${view}`, keys: [String(index + 1)], help: `${VIEW_TITLES[view]} view`})),
	{command: 'search', keys: ['/'], hint: 'search', help: 'search (Enter applies, Esc clears)', views: USAGE},
	{command: 'filters', keys: ['f'], hint: 'filter', help: 'filter by a value from the data (Esc in the menu clears all)', views: USAGE},
	{command: 'timeRange', keys: ['t'], hint: 'range', help: 'time range: 15m, 1h, 24h, today, 7d, 30d, all', views: USAGE},
	{command: 'sortNext', keys: ['s'], hint: 'sort', help: 'next sort key', views: GROUPS},
	{command: 'sortReverse', keys: ['r'], help: 'reverse the sort', views: GROUPS},
	{command: 'dimension', keys: ['d'], hint: 'group by', help: 'group accounts by another dimension', views: ['accounts']},
	{command: 'failedOnly', keys: ['x'], hint: 'failed only', help: 'show failed requests only, or all', views: ['realtime']},
	{command: 'open', keys: ['return'], hint: 'models', help: 'the selected row by model', views: GROUPS},
	{command: 'open', keys: ['return'], hint: 'query', help: 'the selected session: its whole query, who it waits on or blocks', views: ['postgres']},
	{command: 'cancelQuery', keys: ['C'], hint: 'cancel', help: 'cancel the selected session’s query (asks y/N, shows the SQL)', views: ['postgres'], write: true},
	{command: 'terminateSession', keys: ['K'], hint: 'terminate', help: 'terminate the selected session (asks y/N, shows the SQL)', views: ['postgres'], write: true},
	{command: 'applyFix', keys: ['F'], hint: 'fix', help: 'apply the selected check’s fix (asks y/N, shows the SQL)', views: ['health'], write: true},
	{command: 'stopJob', keys: ['x'], help: 'stop the fix that is running', views: ['health']},
	{command: 'maintenance', keys: ['m'], hint: 'maintain', help: 'maintenance: index advisor and retention, as dry runs (writes ask y/N with their SQL)'},
	{command: 'back', keys: ['escape'], help: 'back'},
	{command: 'up', keys: ['up', 'k'], help: 'move up', views: CURSORS},
	{command: 'down', keys: ['down', 'j'], help: 'move down', views: CURSORS},
	{command: 'pageUp', keys: ['pageup'], help: 'previous page', views: TABLES},
	{command: 'pageDown', keys: ['pagedown'], help: 'next page', views: TABLES},
	{command: 'first', keys: ['home', 'g'], help: 'first page', views: TABLES},
	{command: 'last', keys: ['end', 'G'], help: 'last page', views: TABLES},
	{command: 'pause', keys: ['p'], hint: 'pause', help: 'pause or resume refreshing'},
	{command: 'slower', keys: ['+'], help: 'refresh less often'},
	{command: 'faster', keys: ['-'], help: 'refresh more often'},
	{command: 'refresh', keys: ['R'], help: 'refresh now, long ranges reloaded in full'},
];

/** What Ink's useInput reports, reduced to what a key name needs. */
export interface KeyEvent {
	readonly upArrow?: boolean;
	readonly downArrow?: boolean;
	readonly leftArrow?: boolean;
	readonly rightArrow?: boolean;
	readonly pageUp?: boolean;
	readonly pageDown?: boolean;
	readonly home?: boolean;
	readonly end?: boolean;
	readonly return?: boolean;
	readonly escape?: boolean;
	readonly ctrl?: boolean;
	readonly shift?: boolean;
	readonly tab?: boolean;
	readonly backspace?: boolean;
	readonly delete?: boolean;
}

/** One name per key press, as the keymap spells keys. */
export function keyName(input: string, key: KeyEvent): string {
	if (key.tab) return key.shift ? 'shift+tab' : 'tab';
	if (key.upArrow) return 'up';
	if (key.downArrow) return 'down';
	if (key.leftArrow) return 'left';
	if (key.rightArrow) return 'right';
	if (key.pageUp) return 'pageup';
	if (key.pageDown) return 'pagedown';
	if (key.home) return 'home';
	if (key.end) return 'end';
	if (key.return) return 'return';
	if (key.escape) return 'escape'; // Ink 6 also sets meta on Esc
	if (key.backspace || key.delete) return 'backspace';
	return key.ctrl ? `ctrl+${input}` : input;
}

/** The bindings of a view; the writing ones only when `writable` (not --read-only, and a target that takes writes). */
export const bindingsFor = (view: ViewId, writable = false): Binding[] =>
	KEYMAP.filter(binding => (binding.views === undefined || binding.views.includes(view)) && (writable || binding.write !== true));

export function commandFor(name: string, view: ViewId, writable = false): Command | undefined {
	return bindingsFor(view, writable).find(binding => binding.keys.includes(name))?.command;
}

const SHOWN_KEYS: Record<string, string> = {return: 'Enter', escape: 'Esc', pageup: 'PgUp', pagedown: 'PgDn', 'shift+tab': 'S-Tab', tab: 'Tab', up: '↑', down: '↓', home: 'Home', end: 'End', 'ctrl+c': 'C-c'};
export const shownKey = (name: string): string => SHOWN_KEYS[name] ?? name;
