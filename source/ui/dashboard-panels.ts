import type {HealthOptions} from '../health/postgres-health.js';
import type {MaintenanceService} from '../maintenance/maintenance-service.js';
import {tokenizerThroughput} from '../tokens/tokenizer-throughput.js';
import {rangeSpec, resolveRange} from '../usage/time-range.js';
import type {Dimension, FilterName, UsageQuery, UsageSource} from '../usage/types.js';
import {queryFilters, type DashboardState} from './dashboard-state.js';

// Which queries the screen needs right now, each with its cadence and the inputs that, when they
// change, make its data out of date. Hidden views cost nothing: their panels are not registered.

export interface PanelPlan {
	/** Multiple of the base interval: rates every tick, summaries every few, pages slower and on change. */
	readonly every: number;
	/** The inputs, as text: a change means reload now. */
	readonly inputs: string;
	/**
	 * Aborting `signal` (the panel was invalidated, removed or stopped) cancels the load's own
	 * requests where the source can; without one, the load runs to its end.
	 */
	readonly load: (signal?: AbortSignal) => Promise<unknown>;
}

export const SPARKLINE_MINUTES = 30;
const RECENT_WINDOW = 500;
const MINUTE_MS = 60_000;
/** The health checks read catalogs and statistics: every this many ticks (30 s at the default 2 s), on R, and after a fix. */
export const HEALTH_EVERY = 15;

/** What the Health view reads besides the usage source: the store's maintenance service, and what to judge against. */
export interface HealthInputs {
	readonly maintenance?: MaintenanceService;
	readonly healthOptions?: HealthOptions;
}

/** The source with the calls of a load cut short when the load is aborted (invalidated, removed, stopped), where it can. */
const cancellable = (source: UsageSource, signal: AbortSignal | undefined): UsageSource => (signal === undefined ? source : (source.withSignal?.(signal) ?? source));

/** The filter that selects exactly one row of a table, by dimension. */
const FILTER_OF: Record<Dimension | 'apiKeys', FilterName> = {account: 'account', user: 'account', provider: 'provider', channel: 'channel', group: 'group', apiKeys: 'apiKey'};

export function planPanels(source: UsageSource, state: DashboardState, pageSize: number, now: () => number, health: HealthInputs = {}): Record<string, PanelPlan> {
	// A relative range is resolved at every load, so its end keeps up with the clock.
	const query = (forRealtime = false): UsageQuery => ({range: resolveRange(rangeSpec({preset: state.range}), now()), filters: queryFilters(state, forRealtime)});
	if (state.view === 'postgres' && source.postgres !== undefined) {
		// The server under the logs, and nothing else: the usage panels are not on screen. One sampler
		// per source keeps the previous sample for rates, so it is polled at the base interval.
		const observer = source.postgres;
		return {postgres: {every: 1, inputs: '', load: () => observer.snapshot()}};
	}
	if (state.view === 'health') return healthPanels(source, state, now, health);
	const common = JSON.stringify({range: state.range, filters: state.filters, search: state.search});
	const plans: Record<string, PanelPlan> = {
		summary: {every: 3, inputs: common, load: signal => cancellable(source, signal).summary(query())},
		rate: {every: 1, inputs: common, load: signal => cancellable(source, signal).rate(query())},
	};
	if (state.overlay === 'filters') {
		plans.facets = {every: 5, inputs: JSON.stringify({range: state.range, search: state.search}), load: signal => cancellable(source, signal).facets(query())};
	}
	switch (state.view) {
		case 'overview':
			// For an empty range: where the data is (a store that stopped receiving requests).
			plans.newest = {every: 5, inputs: '', load: signal => cancellable(source, signal).newestRequestMs()};
			plans.timeline = {every: 1, inputs: common, load: signal => cancellable(source, signal).timeline(query(), MINUTE_MS, SPARKLINE_MINUTES)};
			plans.models = {every: 3, inputs: common, load: signal => cancellable(source, signal).models(query())};
			// This machine's tokenizer speed, for the cost of counting prompts: measured once in a worker
			// thread (the dashboard never loads an encoder itself), then read back from the cache file.
			plans.tokenizer = {every: 600, inputs: '', load: () => tokenizerThroughput()};
			break;
		case 'accounts':
		case 'apiKeys': {
			const table = state.view;
			if (state.drill !== null) {
				const filter = FILTER_OF[table === 'accounts' ? state.dimension : 'apiKeys'];
				const drilled = (): UsageQuery => {
					const base = query();
					return {...base, filters: {...base.filters, [filter]: state.drill!.key}};
				};
				plans.drill = {every: 3, inputs: JSON.stringify([common, state.drill, state.dimension]), load: signal => cancellable(source, signal).models(drilled())};
				break;
			}
			const request = {page: state.cursors[table].page, pageSize, sortKey: state.sort[table].key, sortDirection: state.sort[table].direction};
			plans[table] = {
				every: 5,
				inputs: JSON.stringify([common, request, table === 'accounts' ? state.dimension : null]),
				load: signal => {
					const on = cancellable(source, signal);
					return table === 'accounts' ? on.groups(query(), state.dimension, request) : on.apiKeys(query(), request);
				},
			};
			break;
		}
		case 'realtime': {
			const request = {page: state.cursors.realtime.page, pageSize};
			plans.realtime = {every: 2, inputs: JSON.stringify([common, request, state.failedOnly]), load: signal => cancellable(source, signal).realtime(query(true), request)};
			// The newest requests of every stream, successes included, for the recent-outcome patterns.
			plans.recent = {every: 2, inputs: common, load: signal => cancellable(source, signal).realtime(query(), {page: 1, pageSize: RECENT_WINDOW})};
			break;
		}
		case 'postgres':
			// No server to watch: the view says how to attach one.
			break;
	}
	return plans;
}

/**
 * The Health view: the store's checks, slowly (they read catalogs, not the logs); and the
 * gateway's whole load for the load check, so the rate and summary ignore search and filters. With
 * none set, their queries are the overview's: switching between the two reloads nothing.
 */
function healthPanels(source: UsageSource, state: DashboardState, now: () => number, {maintenance, healthOptions}: HealthInputs): Record<string, PanelPlan> {
	const query = (): UsageQuery => ({range: resolveRange(rangeSpec({preset: state.range}), now()), filters: {}});
	const whole = JSON.stringify({range: state.range, filters: {}, search: ''});
	const plans: Record<string, PanelPlan> = {
		summary: {every: 3, inputs: whole, load: signal => cancellable(source, signal).summary(query())},
		rate: {every: 1, inputs: whole, load: signal => cancellable(source, signal).rate(query())},
		tokenizer: {every: 600, inputs: '', load: () => tokenizerThroughput()},
	};
	if (maintenance !== undefined) {
		const options = healthOptions ?? {};
		plans.health = {every: HEALTH_EVERY, inputs: JSON.stringify(options), load: () => maintenance.health(options)};
	}
	return plans;
}
