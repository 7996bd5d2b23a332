import {useEffect, useRef, useState} from 'react';
import type {MaintenanceAction, MaintenanceOutcome, MaintenanceOverview, MaintenanceService} from '../maintenance/maintenance-service.js';

/** What the maintenance panel shows: the dry runs, and the job running or last run. */
export interface MaintenanceView {
	readonly keep: string;
	readonly overview: MaintenanceOverview | null;
	readonly loading: boolean;
	readonly error: string | null;
	readonly job: {readonly label: string; readonly line: string | null; readonly outcome: MaintenanceOutcome | null} | null;
}

export interface Maintenance extends MaintenanceView {
	/** Read at the moment of asking, not at the last render: a key may come between the two. */
	isRunning(): boolean;
	/** Moves the retention window along `choices` (several keys in one chunk each count). */
	stepKeep(choices: readonly string[], step: number): void;
	reload(): void;
	/** Runs `action` unless a job is running; `onDone` gets its outcome (for what shows the store to read it again). */
	start(label: string, action: MaintenanceAction, onDone?: (outcome: MaintenanceOutcome) => void): void;
	stop(): void;
}

/**
 * The maintenance panel's data: dry runs read when the panel opens (`active`) and after each job;
 * one job at a time, stopped on unmount so nothing outlives the dashboard.
 */
export function useMaintenance(service: MaintenanceService | undefined, active: boolean, initialKeep = '30d'): Maintenance {
	const [keep, setKeep] = useState(initialKeep);
	const [overview, setOverview] = useState<MaintenanceOverview | null>(null);
	const [loading, setLoading] = useState(false);
	const [error, setError] = useState<string | null>(null);
	const [job, setJob] = useState<MaintenanceView['job']>(null);
	const [generation, setGeneration] = useState(0);
	const controller = useRef<AbortController | null>(null);

	useEffect(() => {
		if (!active || service === undefined) return;
		let current = true;
		setLoading(true);
		service.overview(keep).then(
			value => current && (setOverview(value), setError(null)),
			(failure: unknown) => current && setError(failure instanceof Error ? failure.message : String(failure)),
		).finally(() => current && setLoading(false));
		return () => {
			current = false;
		};
	}, [service, active, keep, generation]);

	useEffect(() => () => controller.current?.abort(), []);

	return {
		keep,
		overview,
		loading,
		error,
		job,
		isRunning: () => controller.current !== null,
		stepKeep: (choices, step) =>
			setKeep(current => {
				const at = choices.indexOf(current);
				return choices[Math.max(0, Math.min(choices.length - 1, (at === -1 ? 0 : at) + step))] ?? current;
			}),
		reload: () => setGeneration(value => value + 1),
		start(label, action, onDone) {
			if (service === undefined || controller.current !== null) return;
			const running = new AbortController();
			controller.current = running;
			setJob({label, line: null, outcome: null});
			service
				.run(action, line => setJob({label, line, outcome: null}), running.signal)
				.catch((failure: unknown): MaintenanceOutcome => ({ok: false, text: failure instanceof Error ? failure.message : String(failure)}))
				.then(outcome => {
					controller.current = null;
					setJob({label, line: null, outcome});
					setGeneration(value => value + 1);
					onDone?.(outcome);
				});
		},
		stop: () => controller.current?.abort(),
	};
}
