import type {IndexAdvice, IndexJobOptions, IndexJobResult, IndexProposal, IndexRepair, IndexRepairKind} from './index-advisor.js';
import {advisePostgresIndexes, applyPostgresProposal, repairPostgresIndex, type PostgresIndexTarget} from './postgres-index-advisor.js';
import {adviseSqliteIndexes, applySqliteProposal, type SqliteIndexTarget} from './sqlite-index-advisor.js';

// One entry point to the index advisor, so the CLI and the dashboard drive both engines the same way.

export type IndexTarget = PostgresIndexTarget | SqliteIndexTarget;

/** The hot queries' verdicts, the indexes to build and the INVALID ones to repair, with their SQL. */
export async function adviseIndexes(target: IndexTarget): Promise<IndexAdvice> {
	return target.engine === 'postgres' ? advisePostgresIndexes(target) : adviseSqliteIndexes(target);
}

/** Builds one of advice.proposals and reads the outcome back from the catalog. */
export async function applyProposal(target: IndexTarget, proposal: IndexProposal, options: IndexJobOptions = {}): Promise<IndexJobResult> {
	return target.engine === 'postgres' ? applyPostgresProposal(target, proposal, options) : applySqliteProposal(target, proposal, options);
}

/** Repairs one of advice.repairs; only PostgreSQL has INVALID indexes, so SQLite never offers one. */
export async function repairIndex(target: IndexTarget, repair: IndexRepair, kind: IndexRepairKind, options: IndexJobOptions = {}): Promise<IndexJobResult> {
	if (target.engine === 'sqlite') throw new Error('SQLite has no INVALID indexes to repair');
	return repairPostgresIndex(target, repair, kind, options);
}
