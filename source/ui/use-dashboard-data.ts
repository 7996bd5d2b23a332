import {useEffect, useReducer, useRef} from 'react';
import {PollScheduler, type PanelState} from '../poll/poll-scheduler.js';
import type {UsageSource} from '../usage/types.js';
import {planPanels, type HealthInputs, type PanelPlan} from './dashboard-panels.js';
import type {DashboardState} from './dashboard-state.js';

/** At most one redraw per this many milliseconds for data changes (Ink draws at 15 fps anyway). */
const FRAME_MS = 66;

export interface DashboardData {
	panel<T>(id: string): PanelState<T> | undefined;
	refreshNow(): void;
	/** Reloads one panel now (its data stays on screen, marked stale, until the reload lands). */
	invalidate(id: string): void;
}

/**
 * Keeps the scheduler's panels in step with the screen: adds what the view needs, removes what
 * it no longer shows, reloads a panel when its inputs change. Loads always read the newest plan,
 * so an invalidated panel runs the new query.
 */
export function useDashboardData(source: UsageSource, state: DashboardState, pageSize: number, health: HealthInputs = {}, now: () => number = Date.now): DashboardData {
	const [, rerender] = useReducer((count: number) => count + 1, 0);
	const schedulerRef = useRef<PollScheduler | null>(null);
	schedulerRef.current ??= new PollScheduler({baseIntervalMs: state.intervalMs});
	const scheduler = schedulerRef.current;
	const plans = useRef<Record<string, PanelPlan>>({});
	const registered = useRef(new Map<string, string>());
	plans.current = planPanels(source, state, pageSize, now, health);

	useEffect(() => {
		// Panels finish one after another and each flips loading on and off: draw once per frame.
		let pending: NodeJS.Timeout | undefined;
		const unsubscribe = scheduler.subscribe(() => {
			pending ??= setTimeout(() => {
				pending = undefined;
				rerender();
			}, FRAME_MS);
		});
		scheduler.start();
		return () => {
			unsubscribe();
			clearTimeout(pending);
			scheduler.stop();
		};
	}, [scheduler]);

	useEffect(() => {
		for (const [id, plan] of Object.entries(plans.current)) {
			const inputs = registered.current.get(id);
			if (inputs === undefined) {
				scheduler.add({id, every: plan.every, load: signal => plans.current[id]!.load(signal)});
			} else if (inputs !== plan.inputs) {
				scheduler.invalidate(id);
			}
			registered.current.set(id, plan.inputs);
		}
		for (const id of [...registered.current.keys()]) {
			if (!(id in plans.current)) {
				scheduler.remove(id);
				registered.current.delete(id);
			}
		}
	});

	useEffect(() => {
		if (state.paused) {
			scheduler.pause();
		} else {
			scheduler.resume();
		}
	}, [scheduler, state.paused]);

	useEffect(() => {
		scheduler.setBaseInterval(state.intervalMs);
	}, [scheduler, state.intervalMs]);

	return {
		panel: <T,>(id: string) => (registered.current.has(id) ? scheduler.state<T>(id) : undefined),
		refreshNow: () => scheduler.refreshNow(),
		invalidate: id => scheduler.invalidate(id),
	};
}
