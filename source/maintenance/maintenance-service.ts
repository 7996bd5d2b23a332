import {postgresHealth, type HealthOptions, type HealthResult} from '../health/postgres-health.js';
import {sqliteHealth} from '../health/sqlite-health.js';
import {terminalSafe} from '../output/terminal-safe.js';
import {signalBackend, signalSqlShown, type SignalTarget} from '../postgres/backend-signal.js';
import {indexProgressLine, indexResultText, retentionProgressLine, retentionResultText, retentionStoppedText} from '../output/maintenance-text.js';
import type {IndexAdvice, IndexBuildProgress, IndexProposal, IndexRepair, IndexRepairKind} from './index-advisor.js';
import {adviseIndexes, applyProposal, repairIndex} from './index-maintenance.js';
import {applyRetentionOn, indexTargetOf, planRetentionOn} from './maintenance-jobs.js';
import type {MaintenanceTarget} from './maintenance-target.js';
import {RetentionStoppedError} from './retention-batches.js';
import type {RetentionPlan} from './retention-plan.js';
import {setTableSettings, tableSettingsSql, vacuumSql, vacuumTable, type TableSetting} from './table-maintenance.js';

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
	| {readonly kind: 'retention'; readonly plan: RetentionPlan}
	| {readonly kind: 'vacuum'; readonly table: string}
	| {readonly kind: 'tableSettings'; readonly table: string; readonly settings: Readonly<Partial<Record<TableSetting, number>>>}
	| {readonly kind: 'terminate'; readonly target: SignalTarget};

/** The statements an action runs, as its confirm shows them. */
export function actionStatements(action: MaintenanceAction): readonly string[] {
	switch (action.kind) {
		case 'index':
			return [action.proposal.sql];
		case 'repair':
			return action.repair.options.find(option => option.kind === action.option)?.sql ?? [];
		case 'retention':
			return action.plan.statements;
		case 'vacuum':
			return [vacuumSql(action.table)];
		case 'tableSettings':
			return [tableSettingsSql(action.table, action.settings)];
		case 'terminate':
			return [signalSqlShown('terminate', action.target)];
	}
}

export interface MaintenanceOutcome {
	readonly ok: boolean;
	/** What happened, in a line or two. */
	readonly text: string;
}

export interface MaintenanceService {
	overview(keep: string): Promise<MaintenanceOverview>;
	/** Runs one action; `onProgress` gets a line to show; aborting stops it at a safe point. */
	run(action: MaintenanceAction, onProgress: (line: string) => void, signal: AbortSignal): Promise<MaintenanceOutcome>;
	/** The health checks of the store: sessions, settings, tables, indexes, statements (PostgreSQL); file and indexes (SQLite). */
	health(options: HealthOptions): Promise<HealthResult>;
	close(): Promise<void>;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

/** How the panel resumes a retention run that did not finish. */
const RESUME = 'D resumes at the same cutoff';

/** A retention window (`keep`) and the cutoff it stands for. */
interface RetentionWindow {
	readonly keep: string;
	readonly cutoffIso: string;
}

/**
 * The service over a target opened in this thread. A retention run that stopped or was interrupted
 * leaves its cutoff behind: the dry runs of the same window keep it until a run finishes, so `D`
 * resumes where it stopped and never reaches past the cutoff the user confirmed, however later it is.
 */
export function localMaintenance(target: MaintenanceTarget): MaintenanceService {
	let lastPlanned: RetentionWindow | null = null;
	let resume: RetentionWindow | null = null;
	const retention = async (plan: RetentionPlan, onProgress: (line: string) => void, signal: AbortSignal): Promise<MaintenanceOutcome> => {
		const keep = lastPlanned?.cutoffIso === plan.cutoffIso ? lastPlanned.keep : null;
		const remember = (unfinished: boolean) => {
			if (!unfinished) resume = null;
			else if (keep !== null) resume = {keep, cutoffIso: plan.cutoffIso};
		};
		try {
			const result = await applyRetentionOn(target, plan, {signal, onProgress: update => onProgress(retentionProgressLine(update))});
			remember(result.status !== 'done');
			return {ok: result.status === 'done', text: retentionResultText(result, RESUME).trim()};
		} catch (error) {
			if (!(error instanceof RetentionStoppedError)) throw error;
			remember(!error.stop.deletesDone);
			return {ok: false, text: retentionStoppedText(error.stop, RESUME).trim()};
		}
	};
	return {
		async overview(keep) {
			const choice = resume?.keep === keep ? {cutoff: resume.cutoffIso} : {keep};
			const [advice, planned] = await Promise.allSettled([indexTargetOf(target, false).then(adviseIndexes), planRetentionOn(target, choice)]);
			if (planned.status === 'fulfilled') lastPlanned = {keep, cutoffIso: planned.value.cutoffIso};
			return {
				advice: advice.status === 'fulfilled' ? advice.value : null,
				adviceError: advice.status === 'rejected' ? message(advice.reason) : null,
				plan: planned.status === 'fulfilled' ? planned.value : null,
				planError: planned.status === 'rejected' ? message(planned.reason) : null,
			};
		},
		async run(action, onProgress, signal) {
			if (action.kind === 'vacuum' || action.kind === 'tableSettings' || action.kind === 'terminate') return runTableAction(target, action);
			if (action.kind === 'retention') return retention(action.plan, onProgress, signal);
			const writer = await indexTargetOf(target, true);
			const name = action.kind === 'index' ? action.proposal.name : action.repair.index;
			const options = {signal, onProgress: (update: IndexBuildProgress) => onProgress(indexProgressLine(name, update))};
			const result = action.kind === 'index' ? await applyProposal(writer, action.proposal, options) : await repairIndex(writer, action.repair, action.option, options);
			return {ok: result.status === 'done', text: indexResultText(result).trim()};
		},
		health: options => (target.engine === 'postgres' ? postgresHealth(target.observer, options) : sqliteHealth(target.path)),
		close: () => target.close(),
	};
}

const TERMINATED: Record<string, string> = {sent: 'the session was ended', gone: 'that session had already ended: nothing was sent'};

/** The health checks' fixes on one table or session: PostgreSQL only. */
async function runTableAction(target: MaintenanceTarget, action: Extract<MaintenanceAction, {kind: 'vacuum' | 'tableSettings' | 'terminate'}>): Promise<MaintenanceOutcome> {
	if (target.engine !== 'postgres') return {ok: false, text: `${action.kind} works on PostgreSQL only`};
	if (action.kind === 'terminate') {
		const outcome = await signalBackend(target.observer, 'terminate', action.target);
		return {ok: outcome.kind !== 'refused', text: outcome.kind === 'refused' ? outcome.reason : TERMINATED[outcome.kind]!};
	}
	const writer = await target.writer();
	const startedAt = performance.now();
	try {
		if (action.kind === 'vacuum') await vacuumTable(writer, action.table);
		else await setTableSettings(writer, action.table, action.settings);
		return {ok: true, text: terminalSafe(`${actionStatements(action)[0]}: done in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`)};
	} catch (error) {
		return {ok: false, text: terminalSafe(`${actionStatements(action)[0]}: ${message(error)}`)};
	}
}
