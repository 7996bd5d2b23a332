import {indexProgressLine, indexResultText, retentionProgressLine, retentionResultText} from '../output/maintenance-text.js';
import type {IndexAdvice, IndexBuildProgress, IndexProposal, IndexRepair, IndexRepairKind} from './index-advisor.js';
import {adviseIndexes, applyProposal, repairIndex} from './index-maintenance.js';
import {applyRetentionOn, indexTargetOf, planRetentionOn} from './maintenance-jobs.js';
import type {MaintenanceTarget} from './maintenance-target.js';
import type {RetentionPlan} from './retention-plan.js';

// The dashboard's maintenance panel talks to this: what the advisor and a retention dry run say,
// and running one action with progress. In the dashboard process for PostgreSQL; inside a worker
// thread for SQLite (maintenance-worker.ts), whose statements block the thread they run on.

export interface MaintenanceOverview {
	readonly advice: IndexAdvice | null;
	readonly adviceError: string | null;
	readonly plan: RetentionPlan | null;
	readonly planError: string | null;
}

export type MaintenanceAction =
	| {readonly kind: 'index'; readonly proposal: IndexProposal}
	| {readonly kind: 'repair'; readonly repair: IndexRepair; readonly option: IndexRepairKind}
	| {readonly kind: 'retention'; readonly plan: RetentionPlan};

export interface MaintenanceOutcome {
	readonly ok: boolean;
	/** What happened, in a line or two. */
	readonly text: string;
}

export interface MaintenanceService {
	overview(keep: string): Promise<MaintenanceOverview>;
	/** Runs one action; `onProgress` gets a line to show; aborting stops it at a safe point. */
	run(action: MaintenanceAction, onProgress: (line: string) => void, signal: AbortSignal): Promise<MaintenanceOutcome>;
	close(): Promise<void>;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

/** The service over a target opened in this thread. */
export function localMaintenance(target: MaintenanceTarget): MaintenanceService {
	return {
		async overview(keep) {
			const [advice, planned] = await Promise.allSettled([indexTargetOf(target, false).then(adviseIndexes), planRetentionOn(target, {keep})]);
			return {
				advice: advice.status === 'fulfilled' ? advice.value : null,
				adviceError: advice.status === 'rejected' ? message(advice.reason) : null,
				plan: planned.status === 'fulfilled' ? planned.value : null,
				planError: planned.status === 'rejected' ? message(planned.reason) : null,
			};
		},
		async run(action, onProgress, signal) {
			if (action.kind === 'retention') {
				const result = await applyRetentionOn(target, action.plan, {signal, onProgress: update => onProgress(retentionProgressLine(update))});
				return {ok: result.status === 'done', text: retentionResultText(result).trim()};
			}
			const writer = await indexTargetOf(target, true);
			const name = action.kind === 'index' ? action.proposal.name : action.repair.index;
			const options = {signal, onProgress: (update: IndexBuildProgress) => onProgress(indexProgressLine(name, update))};
			const result = action.kind === 'index' ? await applyProposal(writer, action.proposal, options) : await repairIndex(writer, action.repair, action.option, options);
			return {ok: result.status === 'done', text: indexResultText(result).trim()};
		},
		close: () => target.close(),
	};
}
