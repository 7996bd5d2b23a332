import type {IndexAdvice, IndexRepair} from '../maintenance/index-advisor.js';
import {terminalSafe} from '../output/terminal-safe.js';
import {fix, type HealthCheck, type HealthFix} from './health-check.js';

// The index advisor's verdicts as checks: is each hot query of the gateway's table served, and
// which INVALID leftovers of failed concurrent builds need a repair. The fixes are the advisor's own
// statements, which the maintenance actions run.

/** Rows past which a hot query without its index is critical: every rpm poll scans them all. */
export const MISSING_INDEX_CRITICAL_ROWS = 1_000_000;

const slug = (text: string): string => text.toLowerCase().replace(/\(.*\)/gu, '').trim().replace(/[^a-z0-9]+/gu, '_').replace(/^_|_$/gu, '');

const withSemicolon = (sql: string): string => `${sql};`;

function repairFix(repair: IndexRepair): HealthFix {
	const [option] = repair.options;
	return fix('sql', option!.sql.map(withSemicolon), `${repair.reason}; each statement runs alone, outside a transaction`, {kind: 'repair', repair, option: option!.kind});
}

/** One check per hot query, one per INVALID index no query check already names; pure. */
export function indexChecks(advice: IndexAdvice): HealthCheck[] {
	const table = terminalSafe(advice.table);
	const repairsNamed = new Set<string>();
	const needChecks = advice.verdicts.map((verdict): HealthCheck => {
		const id = `index.${advice.table}.${slug(verdict.need)}`;
		const title = `${table}: ${verdict.need}`;
		const evidence = [
			{label: 'served by', value: verdict.servedBy.length === 0 ? null : terminalSafe(verdict.servedBy.join(', '))},
			{label: 'INVALID', value: verdict.invalid.length === 0 ? null : terminalSafe(verdict.invalid.join(', '))},
			{label: 'being built', value: verdict.building.length === 0 ? null : terminalSafe(verdict.building.join(', '))},
			{label: 'rows (estimate)', value: advice.rows, unit: 'count' as const},
		];
		switch (verdict.status) {
			case 'served':
				return {id, group: 'indexes', title, status: 'ok', summary: `served by ${terminalSafe(verdict.servedBy[0]!)}${verdict.complete ? '' : ' (its leading columns)'}`, evidence, fix: null};
			case 'building':
				return {id, group: 'indexes', title, status: 'ok', summary: `its index is being built: ${terminalSafe(verdict.building.join(', '))}`, evidence, fix: null};
			case 'invalid-only': {
				const repair = advice.repairs.find(candidate => verdict.invalid.includes(candidate.index));
				if (repair !== undefined) repairsNamed.add(repair.index);
				return {
					id,
					group: 'indexes',
					title,
					status: 'warning',
					summary: `only INVALID ${terminalSafe(verdict.invalid.join(', '))} would serve it (a failed concurrent build): queries scan the table`,
					evidence,
					fix: repair === undefined ? null : repairFix(repair),
				};
			}
			case 'missing': {
				const proposal = advice.proposals.find(candidate => candidate.need === verdict.need);
				return {
					id,
					group: 'indexes',
					title,
					status: advice.rows >= MISSING_INDEX_CRITICAL_ROWS ? 'critical' : 'warning',
					summary: `no index serves it: each such query reads all ${advice.rows} rows`,
					evidence,
					fix:
						proposal === undefined
							? fix('advice', ['the index proposed for another hot query serves this one too'])
							: fix('sql', [withSemicolon(proposal.sql)], `${proposal.reason}; about ${proposal.estimateSeconds} s (${advice.estimateBasis})`, {kind: 'index', proposal}),
				};
			}
		}
	});
	const leftovers = advice.repairs
		.filter(repair => !repairsNamed.has(repair.index))
		.map(
			(repair): HealthCheck => ({
				id: `index.${advice.table}.invalid.${repair.index}`,
				group: 'indexes',
				title: `${table}: INVALID ${terminalSafe(repair.index)}`,
				status: 'warning',
				summary: terminalSafe(repair.reason),
				evidence: [{label: 'index', value: terminalSafe(repair.index)}],
				fix: repairFix(repair),
			}),
		);
	return [...needChecks, ...leftovers];
}
