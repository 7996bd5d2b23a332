import {Box, Text, useApp, useInput} from 'ink';
import {useRef, useState} from 'react';
import {truncate} from '../output/format.js';
import {terminalSafe} from '../output/terminal-safe.js';
import type {MonitorSnapshot} from '../postgres/monitor/postgres-monitor.js';
import type {PanelState} from '../poll/poll-scheduler.js';
import {countingCost, type CountingCost} from '../tokens/counting-cost.js';
import type {TokenizerThroughput} from '../tokens/tokenizer-throughput.js';
import type {Facets, GroupPage, ModelUsage, Rate, RequestPage, Summary, TimelineBucket, UsageSource} from '../usage/types.js';
import {filterChoices, FilterMenu} from './components/filter-menu.js';
import {HelpOverlay, KeyHints} from './components/key-hints.js';
import {ShapedText} from './components/shaped-text.js';
import {StatusBar} from './components/status-bar.js';
import type {SignalKind} from '../postgres/backend-signal.js';
import {ConfirmDialog} from './components/confirm-dialog.js';
import {FILTER_FIELDS, initialState, reduce, type Action, type Confirm, type DashboardState, type FilterField} from './dashboard-state.js';
import {commandFor, keyName, VIEW_TITLES, VIEWS, type Command, type KeyEvent} from './keymap.js';
import {THEME} from './theme.js';
import {useDashboardData, type DashboardData} from './use-dashboard-data.js';
import {useTerminalSize} from './use-terminal-size.js';
import {GroupsView, pagesOf, TABLE_CHROME} from './views/groups-view.js';
import {OVERVIEW_CHROME, OverviewView} from './views/overview-view.js';
import {activityRows} from './views/postgres/activity-rows.js';
import {actionStatements, type MaintenanceAction, type MaintenanceService} from '../maintenance/maintenance-service.js';
import type {HealthOptions, HealthResult} from '../health/postgres-health.js';
import type {HealthCheck} from '../health/health-check.js';
import {HealthView} from './views/health-view.js';
import {byHandNotice, fixLabel, healthChecks, loadCheckOf} from './views/health/health-lines.js';
import {useMaintenance} from './use-maintenance.js';
import {KEEP_CHOICES, MaintenancePanel, maintenanceItems} from './views/maintenance-panel.js';
import {signalConfirm, signalNotice} from './views/postgres/signal-confirm.js';
import {PostgresView} from './views/postgres-view.js';
import {RealtimeView} from './views/realtime-view.js';
import {staleSince} from './views/stale-tag.js';

// Header, body, status bar and footer; the frame is one row shorter than the terminal, because a
// full-height frame makes Ink 6 clear the whole screen on every render.
const FRAME_CHROME = 4;

interface Props {
	readonly source: UsageSource;
	/** The index advisor and retention on the same store; none when the target offers no maintenance. */
	readonly maintenance?: MaintenanceService;
	readonly initial?: DashboardState;
	/** Writes are offered (not --read-only); each still asks y/N with its SQL. */
	readonly writable?: boolean;
	/** What the Health view judges the server against (--ram, --cores). */
	readonly healthOptions?: HealthOptions;
}

const countingOf = (summary: Summary | undefined, rate: Rate | undefined, throughput: TokenizerThroughput | undefined): CountingCost | undefined =>
	summary === undefined || rate === undefined || throughput === undefined ? undefined : countingCost(rate, summary, throughput);

/** The panels that feed what is on screen, for the status bar. */
function visiblePanels(data: DashboardData): Array<PanelState<unknown>> {
	return ['summary', 'rate', 'timeline', 'models', 'newest', 'accounts', 'apiKeys', 'realtime', 'recent', 'drill', 'facets', 'postgres', 'health']
		.map(id => data.panel<unknown>(id))
		.filter((panel): panel is PanelState<unknown> => panel !== undefined);
}

function Header({state, width}: {readonly state: DashboardState; readonly width: number}) {
	const filters = Object.entries(state.filters).map(([field, value]) => `${field}=${value}`);
	// The range, filters and search select usage data; the PostgreSQL and Health views show the store as it is now.
	const context = state.view === 'postgres' || state.view === 'health' ? '' : [`range ${state.range}`, ...filters, ...(state.search === '' ? [] : [`search "${state.search}"`])].join(' · ');
	return (
		<ShapedText>
			<Text bold color={THEME.accent}>
				relaytop
			</Text>
			{VIEWS.map((view, index) => (
				<Text key={view} inverse={view === state.view}>{` ${index + 1} ${VIEW_TITLES[view]} `}</Text>
			))}
			<Text color={THEME.muted}>{truncate(terminalSafe(` ${context}`), Math.max(10, width - 60))}</Text>
		</ShapedText>
	);
}

export function App({source, maintenance, initial, writable = false, healthOptions}: Props) {
	const {exit} = useApp();
	// Keys read and change the newest state through a ref: several keys can arrive in one chunk,
	// and each must see what the one before it did.
	const stateRef = useRef(initial ?? initialState(source.capabilities.dimensions));
	const [state, setState] = useState(stateRef.current);
	const dispatch = (action: Action) => {
		stateRef.current = reduce(stateRef.current, action);
		setState(stateRef.current);
	};
	// Signals go through the PostgreSQL monitor's session: only a target that has one offers them.
	// The Health view's fixes go through the maintenance service: only a target with one offers them.
	const writableIn = (view: DashboardState['view']): boolean => writable && (view === 'health' ? maintenance !== undefined : source.postgres !== undefined);
	const canWrite = writableIn(state.view);
	const size = useTerminalSize();
	const bodyHeight = Math.max(4, size.rows - 1 - FRAME_CHROME);
	const chrome = state.view === 'overview' ? OVERVIEW_CHROME : TABLE_CHROME;
	const pageSize = Math.max(1, Math.min(500, bodyHeight - chrome - 1));
	const data = useDashboardData(source, state, pageSize, {maintenance, healthOptions});
	// The dry runs are read for the maintenance panel (and while a confirm asked from it is open), not for the Health view's fixes.
	const maintenanceData = useMaintenance(maintenance, state.overlay === 'maintenance' || (state.overlay === 'confirm' && state.confirmReturn === 'maintenance'));
	const maintenanceActions = maintenanceItems(maintenanceData.overview);

	const summary = data.panel<Summary>('summary')?.data;
	const facets = data.panel<Facets>('facets')?.data;
	const groupPage = state.view === 'accounts' || state.view === 'apiKeys' ? data.panel<GroupPage>(state.view)?.data : undefined;
	const requestPage = state.view === 'realtime' ? data.panel<RequestPage>('realtime')?.data : undefined;
	const currentPage = groupPage ?? requestPage;
	const postgresPanel = state.view === 'postgres' ? data.panel<MonitorSnapshot>('postgres') : undefined;
	const activity = postgresPanel?.data?.activity;
	const sessions = activity?.status === 'ok' ? activityRows(activity.data) : [];
	const healthPanel = state.view === 'health' ? data.panel<HealthResult>('health') : undefined;
	const load = state.view === 'health' ? loadCheckOf(data.panel<Rate>('rate')?.data, summary, data.panel<TokenizerThroughput>('tokenizer'), source.kind) : null;
	const checks: HealthCheck[] = state.view === 'health' ? healthChecks(healthPanel?.data, load) : [];
	const fields = FILTER_FIELDS.filter((field): field is FilterField => field === 'status' || source.capabilities.filters.includes(field));
	// What is on screen, for key handling: Ink re-registers the input handler only after a frame is
	// drawn, so a key pressed right after new data would otherwise see the data before it.
	const onScreen = useRef({groupPage, currentPage, facets, sessions, checks, maintenanceData, maintenanceActions});
	onScreen.current = {groupPage, currentPage, facets, sessions, checks, maintenanceData, maintenanceActions};

	const askSignal = (state: DashboardState, kind: SignalKind): Action => {
		const {sessions} = onScreen.current;
		// The session drawn under the cursor, or the one open in detail.
		const row = state.drill?.table === 'postgres' ? sessions.find(session => String(session.pid) === state.drill?.key) : sessions[Math.min(state.cursors.postgres.selected, sessions.length - 1)];
		const asked = signalConfirm(row, kind);
		return 'request' in asked ? {type: 'askConfirm', confirm: asked} : {type: 'notice', notice: asked};
	};

	/** F: the selected check's fix, when relaytop can run it; else where to apply it by hand. */
	const askFix = (state: DashboardState): Action => {
		const {checks, maintenanceData} = onScreen.current;
		const check = checks[Math.min(state.cursors.health.selected, checks.length - 1)];
		if (check === undefined) return {type: 'notice', notice: {text: 'still reading the checks', tone: 'warn'}};
		const action = check.fix?.action ?? null;
		if (action === null) return {type: 'notice', notice: {text: byHandNotice(check), tone: check.status === 'ok' ? 'ok' : 'warn'}};
		if (maintenanceData.isRunning()) return {type: 'notice', notice: {text: 'a job is running: x stops it', tone: 'warn'}};
		const label = fixLabel(action);
		// The statements the action runs, exactly: the fix's lines may add advice that nothing runs.
		return {type: 'askConfirm', confirm: {title: `${label}? (${check.title})`, sql: actionStatements(action), note: check.fix?.note ?? null, request: {kind: 'maintenance', label, action}}};
	};

	/** Runs the write the user said y to; its outcome replaces the status bar until the next key. */
	const perform = (confirm: Confirm) => {
		const {request} = confirm;
		if (request.kind === 'maintenance') {
			// Afterwards the Health view reads the store again (a no-op when it is not on screen).
			maintenanceData.start(request.label, request.action, () => data.invalidate('health'));
			return;
		}
		const observer = source.postgres;
		if (observer === undefined) return;
		observer
			.signal(request.signal, request.target)
			.then(outcome => dispatch({type: 'notice', notice: signalNotice(outcome, request.signal, request.target.pid)}))
			.catch((error: unknown) => dispatch({type: 'notice', notice: {text: `pid ${request.target.pid}: ${error instanceof Error ? error.message : String(error)}`, tone: 'error'}}))
			.finally(() => data.refreshNow());
	};

	const run = (state: DashboardState, command: Command): Action | 'quit' | 'refresh' | undefined => {
		const {groupPage, currentPage, sessions} = onScreen.current;
		const table = state.view === 'overview' ? undefined : state.view;
		const cursor = table === undefined ? undefined : state.cursors[table];
		switch (command) {
			case 'quit':
				return 'quit';
			case 'refresh':
				return 'refresh';
			case 'help':
				return {type: 'toggleHelp'};
			case 'search':
				return {type: 'openSearch'};
			case 'filters':
				return {type: 'openFilters'};
			case 'timeRange':
				return {type: 'cycleRange'};
			case 'sortNext':
				return {type: 'sortNext'};
			case 'sortReverse':
				return {type: 'sortReverse'};
			case 'dimension':
				return {type: 'cycleDimension'};
			case 'failedOnly':
				return {type: 'toggleFailedOnly'};
			case 'maintenance':
				return maintenance === undefined ? {type: 'notice', notice: {text: 'maintenance works on a SQLite file or a PostgreSQL target', tone: 'warn'}} : {type: 'openMaintenance'};
			case 'cancelQuery':
				return askSignal(state, 'cancel');
			case 'terminateSession':
				return askSignal(state, 'terminate');
			case 'applyFix':
				return askFix(state);
			case 'stopJob': {
				const {maintenanceData} = onScreen.current;
				if (!maintenanceData.isRunning()) return {type: 'notice', notice: {text: 'no job is running', tone: 'warn'}};
				maintenanceData.stop();
				return {type: 'notice', notice: {text: 'stopping the job at its next safe point…', tone: 'warn'}};
			}
			case 'pause':
				return {type: 'togglePause'};
			case 'slower':
				return {type: 'interval', step: 1};
			case 'faster':
				return {type: 'interval', step: -1};
			case 'nextView':
				return {type: 'cycleView', step: 1};
			case 'previousView':
				return {type: 'cycleView', step: -1};
			case 'up':
			case 'down':
				return {type: 'move', step: command === 'up' ? -1 : 1, rowsOnPage: state.view === 'postgres' ? sessions.length : state.view === 'health' ? onScreen.current.checks.length : (currentPage?.items.length ?? 0)};
			case 'pageUp':
			case 'pageDown':
				return {type: 'page', step: command === 'pageUp' ? -1 : 1, pages: pagesOf(currentPage)};
			case 'first':
				return {type: 'pageTo', page: 1};
			case 'last':
				return {type: 'pageTo', page: pagesOf(currentPage)};
			case 'open': {
				if (state.view === 'postgres') {
					// The session drawn under the cursor (the cursor may be past a list that shrank).
					const session = sessions[Math.min(cursor?.selected ?? 0, sessions.length - 1)];
					return session === undefined ? undefined : {type: 'open', key: String(session.pid), label: session.session?.query ?? ''};
				}
				const row = groupPage?.items[cursor?.selected ?? 0];
				return row === undefined ? undefined : {type: 'open', key: row.key, label: row.label};
			}
			case 'back':
				return {type: 'back'};
			default:
				return {type: 'view', view: command.slice('view:'.length) as DashboardState['view']};
		}
	};

	/** The maintenance panel's keys: its own cursor, the retention window, and the two writes. */
	const pressInMaintenance = (state: DashboardState, name: string) => {
		const {maintenanceData, maintenanceActions: items} = onScreen.current;
		const ask = (label: string, sql: readonly string[], note: string | null, action: MaintenanceAction) => {
			if (maintenanceData.isRunning()) dispatch({type: 'notice', notice: {text: 'a job is running: x stops it', tone: 'warn'}});
			else dispatch({type: 'askConfirm', confirm: {title: `${label}?`, sql, note, request: {kind: 'maintenance', label, action}}});
		};
		if (name === 'up' || name === 'k') dispatch({type: 'moveMaintenance', step: -1, size: items.length});
		else if (name === 'down' || name === 'j') dispatch({type: 'moveMaintenance', step: 1, size: items.length});
		else if (name === '<' || name === '>') maintenanceData.stepKeep(KEEP_CHOICES, name === '<' ? -1 : 1);
		else if (name === 'r') maintenanceData.reload();
		else if (name === 'x') maintenanceData.stop();
		else if (name === 'escape' || name === 'm') dispatch({type: 'back'});
		else if (name === 'q') exit();
		else if ((name === 'A' || name === 'D') && writable && maintenanceData.overview === null) {
			dispatch({type: 'notice', notice: {text: 'still reading the dry runs', tone: 'warn'}});
		} else if (name === 'A' && writable) {
			const item = items[Math.min(state.maintenanceSelected, items.length - 1)];
			if (item === undefined) dispatch({type: 'notice', notice: {text: 'nothing to apply: every hot query is served', tone: 'ok'}});
			else ask(item.label, item.sql, item.action.kind === 'index' && maintenanceData.overview?.advice?.engine === 'postgres' ? 'Built concurrently: writes go on; x stops it and drops what it left.' : null, item.action);
		} else if (name === 'D' && writable) {
			const plan = maintenanceData.overview?.plan;
			if (plan === null || plan === undefined || plan.rows === 0) dispatch({type: 'notice', notice: {text: `nothing older than ${maintenanceData.keep} to delete`, tone: 'ok'}});
			else ask(`Delete ${plan.rows.toLocaleString('en-US')} rows before ${plan.cutoffIso} from ${plan.table}`, plan.statements, 'In batches, each its own short transaction; x stops after the batch in flight.', {kind: 'retention', plan});
		}
	};

	const press = (input: string, key: KeyEvent & {meta?: boolean}) => {
		const state = stateRef.current;
		const name = keyName(input, key);
		if (name === 'ctrl+c') {
			exit();
			return;
		}
		if (state.notice !== null) dispatch({type: 'notice', notice: null});
		if (state.overlay === 'confirm') {
			const {confirm} = state;
			dispatch({type: 'closeConfirm'});
			if (input === 'y' && confirm !== null) perform(confirm);
			return;
		}
		if (state.overlay === 'search') {
			if (name === 'return') dispatch({type: 'applySearch'});
			else if (name === 'escape') dispatch({type: 'clearSearch'});
			else if (name === 'backspace') dispatch({type: 'eraseSearch'});
			else if (!key.ctrl && !key.meta && input.length > 0 && !/[\u0000-\u001f\u007f]/u.test(input)) dispatch({type: 'typeSearch', text: input});
			return;
		}
		if (state.overlay === 'maintenance') {
			pressInMaintenance(state, name);
			return;
		}
		if (state.overlay === 'filters') {
			const {facets} = onScreen.current;
			const size = state.filterMenu.field === null ? fields.length : filterChoices(state.filterMenu.field, facets).length;
			if (name === 'up' || name === 'k') dispatch({type: 'moveFilterMenu', step: -1, size});
			else if (name === 'down' || name === 'j') dispatch({type: 'moveFilterMenu', step: 1, size});
			else if (name === 'escape') dispatch({type: 'backFilterMenu'});
			else if (name === 'c') dispatch({type: 'clearFilters'});
			else if (name === 'return') {
				if (state.filterMenu.field === null) {
					const field = fields[state.filterMenu.index];
					if (field !== undefined) dispatch({type: 'chooseFilterField', field});
				} else {
					const choice = filterChoices(state.filterMenu.field, facets)[state.filterMenu.index];
					dispatch({type: 'chooseFilterValue', value: choice === undefined || choice === null ? null : choice.value});
				}
			}
			return;
		}
		const command = commandFor(name, state.view, writableIn(state.view));
		if (command === undefined || (state.overlay === 'help' && command !== 'help' && command !== 'back' && command !== 'quit')) {
			return;
		}
		const action = run(state, command);
		if (action === 'quit') exit();
		// A source that cannot reconcile now (its worker restarting) says so through the refresh that follows.
		else if (action === 'refresh') void source.reconcile().then(data.refreshNow, data.refreshNow);
		else if (action !== undefined) dispatch(action);
	};

	useInput((input, key) => {
		const plainText = !key.ctrl && !key.meta && !key.escape && !key.return && !key.tab && input.length > 1;
		if (plainText && stateRef.current.overlay !== 'search') {
			// Keys typed faster than a read (or pasted) arrive as one string: one key per character.
			for (const character of input) {
				press(character, {});
			}
		} else {
			press(input, key);
		}
	});

	const body = (() => {
		if (state.overlay === 'help') return <HelpOverlay view={state.view} height={bodyHeight} writable={canWrite} />;
		if (state.overlay === 'confirm' && state.confirm !== null) return <ConfirmDialog confirm={state.confirm} height={bodyHeight} />;
		if (state.overlay === 'maintenance') return <MaintenancePanel view={maintenanceData} selected={state.maintenanceSelected} writable={writable} width={size.columns} height={bodyHeight} />;
		if (state.overlay === 'filters') return <FilterMenu menu={state.filterMenu} fields={fields} current={state.filters as Partial<Record<FilterField, string>>} facets={facets} height={bodyHeight} />;
		// The figures each view draws, from which panels: kept after a failed refresh, they are marked stale.
		const unreachable = visiblePanels(data).some(panel => panel.disconnected !== undefined);
		const staleOf = (...ids: string[]) => staleSince(ids.map(id => data.panel<unknown>(id)), unreachable);
		switch (state.view) {
			case 'overview':
				return (
					<OverviewView
						summary={summary}
						rate={data.panel<Rate>('rate')?.data}
						timeline={data.panel<TimelineBucket[]>('timeline')?.data}
						models={data.panel<ModelUsage[]>('models')?.data}
						newestRequestMs={data.panel<number | null>('newest')?.data}
						counting={countingOf(summary, data.panel<Rate>('rate')?.data, data.panel<TokenizerThroughput>('tokenizer')?.data)}
						staleSince={staleOf('summary', 'rate', 'timeline', 'models', 'newest')}
						width={size.columns}
						height={bodyHeight}
					/>
				);
			case 'accounts':
			case 'apiKeys':
				return (
					<GroupsView
						title={state.view === 'accounts' ? `Accounts by ${state.dimension}` : 'API keys'}
						page={groupPage}
						selected={state.cursors[state.view].selected}
						drill={state.drill}
						drillModels={data.panel<ModelUsage[]>('drill')?.data}
						staleSince={staleOf(state.drill === null ? state.view : 'drill')}
						width={size.columns}
					/>
				);
			case 'realtime':
				return (
					<RealtimeView
						page={requestPage}
						recent={data.panel<RequestPage>('recent')?.data}
						selected={state.cursors.realtime.selected}
						failedOnly={state.failedOnly}
						staleSince={staleOf('realtime', 'recent')}
						width={size.columns}
					/>
				);
			case 'health':
				return (
					<HealthView
						checks={checks}
						panel={healthPanel}
						checkable={maintenance !== undefined}
						loadPending={load === null}
						selected={state.cursors.health.selected}
						writable={canWrite}
						job={maintenanceData.job}
						running={maintenanceData.job !== null && maintenanceData.job.outcome === null}
						staleSince={staleOf('health', 'rate', 'summary')}
						width={size.columns}
						height={bodyHeight}
					/>
				);
			case 'postgres':
				return (
					<PostgresView
						kind={source.kind}
						attached={source.postgres !== undefined}
						panel={postgresPanel}
						selected={state.cursors.postgres.selected}
						drill={state.drill}
						width={size.columns}
						height={bodyHeight}
					/>
				);
		}
	})();

	return (
		<Box flexDirection="column" width={size.columns} height={size.rows - 1}>
			<Header state={state} width={size.columns} />
			<Box flexDirection="column" height={bodyHeight} overflowY="hidden">
				{body}
			</Box>
			{state.overlay === 'search' ? (
				<ShapedText>
					<Text color={THEME.accent}>/</Text> {terminalSafe(state.searchDraft)}
					<Text inverse> </Text>
					<Text color={THEME.muted}> Enter apply · Esc clear</Text>
				</ShapedText>
			) : state.notice === null ? (
				<StatusBar source={source} state={state} panels={visiblePanels(data)} width={size.columns} />
			) : (
				<ShapedText color={THEME[state.notice.tone]}>{terminalSafe(state.notice.text)}</ShapedText>
			)}
			<KeyHints view={state.view} width={size.columns} writable={canWrite} />
		</Box>
	);
}
