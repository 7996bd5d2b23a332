import {describe, expect, it} from 'vitest';
import {
	deriveIndexAdvice,
	estimateBuildSeconds,
	qualifiedName,
	quoteIdent,
	type AdvisedIndex,
	type IndexAdvisorState,
} from '../source/maintenance/index-advisor.js';
import {CPA_USAGE_EVENTS_INDEX_NEEDS, NEWAPI_LOGS_INDEX_NEEDS, type IndexNeed} from '../source/postgres/monitor/index-needs.js';

const index = (name: string, keyColumns: (string | null)[], fields: Partial<AdvisedIndex> = {}): AdvisedIndex => ({
	name,
	method: 'btree',
	keyColumns,
	valid: true,
	ready: true,
	building: false,
	predicate: null,
	definition: `CREATE INDEX ${name} ON public.logs USING btree (${keyColumns.join(', ')})`,
	...fields,
});

// Upstream new-api on PostgreSQL (reference new-api-logs.md §1.2).
const UPSTREAM = [
	index('logs_pkey', ['id']),
	index('idx_created_at_id', ['created_at', 'id']),
	index('idx_user_id_id', ['user_id', 'id']),
	index('idx_logs_user_id', ['user_id']),
	index('idx_created_at_type', ['created_at', 'type']),
	index('idx_logs_username', ['username']),
	index('index_username_model_name', ['model_name', 'username']),
	index('idx_logs_token_name', ['token_name']),
	index('idx_logs_model_name', ['model_name']),
	index('idx_logs_channel_id', ['channel_id']),
];

// An old one-api database: idx_created_at_id with its columns swapped, user_id alone, single columns.
const ONE_API = [
	index('logs_pkey', ['id']),
	index('idx_created_at_id', ['id', 'created_at']),
	index('idx_logs_user_id', ['user_id']),
	index('idx_logs_username', ['username']),
	index('idx_logs_token_name', ['token_name']),
	index('idx_logs_model_name', ['model_name']),
	index('idx_logs_channel_id', ['channel_id']),
];

const state = (indexes: AdvisedIndex[], fields: Partial<IndexAdvisorState> = {}): IndexAdvisorState => ({
	engine: 'postgres',
	schema: 'public',
	table: 'logs',
	indexes,
	takenNames: ['logs', 'logs_id_seq', ...indexes.map(each => each.name)],
	needs: NEWAPI_LOGS_INDEX_NEEDS,
	tableBytes: 2_475 * 1024 * 1024,
	totalBytes: 4_947 * 1024 * 1024,
	rows: 10_000_000,
	versionNum: 150_020,
	...fields,
});

describe('index proposals', () => {
	it('proposes nothing for the upstream set', () => {
		const advice = deriveIndexAdvice(state(UPSTREAM));
		expect(advice.verdicts.map(verdict => verdict.status)).toEqual(['served', 'served']);
		expect(advice).toMatchObject({proposals: [], repairs: [], building: []});
	});

	it('proposes upstream (created_at, type) and (user_id, id) for a one-api database, with the exact concurrent SQL', () => {
		const advice = deriveIndexAdvice(state(ONE_API));
		expect(advice.proposals.map(({name, columns, sql}) => ({name, columns, sql}))).toEqual([
			{name: 'idx_created_at_type', columns: ['created_at', 'type'], sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type" ON "public"."logs" ("created_at", "type")'},
			{name: 'idx_user_id_id', columns: ['user_id', 'id'], sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_user_id_id" ON "public"."logs" ("user_id", "id")'},
		]);
		expect(advice.proposals[0]!.reason).toContain('no valid index leads with created_at');
		expect(advice.proposals[1]!.reason).toContain('user_id, then id or created_at');
		expect(advice.proposals.every(proposal => proposal.estimateSeconds === estimateBuildSeconds('postgres', advice.tableBytes, advice.rows))).toBe(true);
		expect(advice.repairs).toEqual([]);
	});

	it("never proposes the tuning notes' (type, created_at) or (user_id, created_at), and counts the latter as serving user pages", () => {
		const withUpstream = deriveIndexAdvice(state([...UPSTREAM, index('idx_type_created', ['type', 'created_at']), index('idx_user_created', ['user_id', 'created_at'])]));
		expect(withUpstream.proposals).toEqual([]);
		const oneApiTuned = deriveIndexAdvice(state([...ONE_API, index('idx_type_created', ['type', 'created_at']), index('idx_user_created', ['user_id', 'created_at'])]));
		expect(oneApiTuned.proposals.map(proposal => proposal.columns)).toEqual([['created_at', 'type']]);
		expect(oneApiTuned.verdicts[1]).toMatchObject({status: 'served', servedBy: ['idx_user_created']});
	});

	it('takes an index leading with created_at, whatever its name, as serving the rates', () => {
		const advice = deriveIndexAdvice(state([...ONE_API, index('logs_time', ['created_at'])]));
		expect(advice.proposals.map(proposal => proposal.name)).toEqual(['idx_user_id_id']);
	});

	it('picks a free name when the proposed one belongs to an index on other columns or to another relation', () => {
		const advice = deriveIndexAdvice(
			state([...ONE_API, index('idx_created_at_type', ['type', 'created_at'])], {
				takenNames: ['logs', 'idx_created_at_type', 'idx_user_id_id', 'idx_user_id_id_2'],
			}),
		);
		expect(advice.proposals.map(proposal => proposal.name)).toEqual(['idx_created_at_type_2', 'idx_user_id_id_3']);
		expect(advice.proposals[0]!.sql).toBe('CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_created_at_type_2" ON "public"."logs" ("created_at", "type")');
		expect(advice.proposals[0]!.reason).toContain('idx_created_at_type is taken by an index on (type, created_at), so: idx_created_at_type_2');
		expect(advice.proposals[1]!.reason).toContain('idx_user_id_id is taken, so: idx_user_id_id_3');
	});

	it('compares names without case on SQLite only', () => {
		const clash = [...ONE_API, index('IDX_CREATED_AT_TYPE', ['type'])];
		expect(deriveIndexAdvice(state(clash, {engine: 'sqlite', schema: null})).proposals[0]!.name).toBe('idx_created_at_type_2');
		expect(deriveIndexAdvice(state(clash)).proposals[0]!.name).toBe('idx_created_at_type');
	});

	it('keeps proposed names within 63 bytes, suffix included, without splitting a character', () => {
		const long: IndexNeed = {name: 'long', columns: ['created_at'], indexName: `idx_${'é'.repeat(40)}`};
		const [free] = deriveIndexAdvice(state([], {needs: [long]})).proposals;
		expect(Buffer.byteLength(free!.name)).toBe(62);
		expect(free!.name).toBe(`idx_${'é'.repeat(29)}`);
		expect(free!.reason).not.toContain('taken');
		const clashed = deriveIndexAdvice(state([], {needs: [long], takenNames: [free!.name]})).proposals[0]!.name;
		expect(clashed).toBe(`idx_${'é'.repeat(28)}_2`);
		expect(Buffer.byteLength(clashed)).toBeLessThanOrEqual(63);
	});

	it('names a need without an index name after the table and columns, quoting every identifier', () => {
		const need: IndexNeed = {name: 'by "group"', columns: ['group', 'created_at']};
		const advice = deriveIndexAdvice(state([], {schema: 'gate "west"', table: 'my logs', needs: [need]}));
		expect(advice.proposals[0]).toMatchObject({
			name: 'idx_my_logs_group_created_at',
			sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS "idx_my_logs_group_created_at" ON "gate ""west"""."my logs" ("group", "created_at")',
		});
	});

	it('writes SQLite SQL without CONCURRENTLY or a schema', () => {
		const advice = deriveIndexAdvice(state(ONE_API, {engine: 'sqlite', schema: null, versionNum: null}));
		expect(advice.proposals[0]!.sql).toBe('CREATE INDEX IF NOT EXISTS "idx_created_at_type" ON "logs" ("created_at", "type")');
		expect(advice.proposals[0]!.reason).toContain("SQLite holds the gateway's writes");
		expect(advice.estimateBasis).toMatch(/estimate/u);
	});

	it('does not count a partial index with the right columns, and says so', () => {
		const advice = deriveIndexAdvice(state([...UPSTREAM.filter(each => !each.name.startsWith('idx_created_at')), index('recent', ['created_at', 'type'], {predicate: '(type = 2)'})]));
		expect(advice.proposals.map(proposal => proposal.name)).toEqual(['idx_created_at_type']);
		expect(advice.proposals[0]!.reason).toContain('partial recent may not cover the query');
	});

	it('makes one proposal for two needs that want the same index', () => {
		const needs: IndexNeed[] = [
			{name: 'a', columns: ['created_at', 'type']},
			{name: 'b', columns: ['created_at'], indexName: 'other'},
		];
		expect(deriveIndexAdvice(state([], {needs})).proposals.map(proposal => proposal.need)).toEqual(['a']);
	});

	it('serves the CPA store with its upstream timestamp index, and proposes it under its upstream name when missing', () => {
		const cpa = {engine: 'sqlite' as const, schema: null, table: 'usage_events', needs: CPA_USAGE_EVENTS_INDEX_NEEDS, versionNum: null};
		expect(deriveIndexAdvice(state([index('idx_usage_events_timestamp', ['timestamp_ms', 'id']), index('idx_usage_events_model', ['model', 'id'])], cpa)).proposals).toEqual([]);
		expect(deriveIndexAdvice(state([index('idx_usage_events_model', ['model', 'id'])], cpa)).proposals[0]!.sql).toBe(
			'CREATE INDEX IF NOT EXISTS "idx_usage_events_timestamp" ON "usage_events" ("timestamp_ms")',
		);
	});
});

describe('INVALID indexes and builds in progress', () => {
	const withoutTypeIndex = UPSTREAM.filter(each => each.name !== 'idx_created_at_type' && each.name !== 'idx_created_at_id');
	const brokenTypeIndex = index('idx_created_at_type', ['created_at', 'type'], {valid: false, definition: 'CREATE INDEX idx_created_at_type ON public.logs USING btree (created_at, type)'});

	it('repairs an INVALID index a need depends on instead of proposing a second one', () => {
		const advice = deriveIndexAdvice(state([...withoutTypeIndex, brokenTypeIndex]));
		expect(advice.verdicts[0]!.status).toBe('invalid-only');
		expect(advice.proposals).toEqual([]);
		expect(advice.repairs).toEqual([
			{
				index: 'idx_created_at_type',
				reason: expect.stringContaining('the only index for: requests by time and type') as string,
				estimateSeconds: estimateBuildSeconds('postgres', advice.tableBytes, advice.rows),
				options: [
					{
						kind: 'drop-and-rebuild',
						sql: [
							'DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_created_at_type"',
							'CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_created_at_type ON public.logs USING btree (created_at, type)',
						],
					},
					{kind: 'reindex', sql: ['REINDEX INDEX CONCURRENTLY "public"."idx_created_at_type"']},
				],
			},
		]);
	});

	it('offers REINDEX CONCURRENTLY from PostgreSQL 12 only', () => {
		const kinds = (versionNum: number) => deriveIndexAdvice(state([...withoutTypeIndex, brokenTypeIndex], {versionNum})).repairs[0]!.options.map(option => option.kind);
		expect(kinds(110_022)).toEqual(['drop-and-rebuild']);
		expect(kinds(100_023)).toEqual(['drop-and-rebuild']);
		expect(kinds(120_000)).toEqual(['drop-and-rebuild', 'reindex']);
	});

	it('rebuilds a unique or partial index as it was defined', () => {
		const broken = index('uniq_request', ['request_id'], {valid: false, predicate: "(request_id <> '')", definition: "CREATE UNIQUE INDEX uniq_request ON public.logs USING btree (request_id) WHERE (request_id <> ''::text)"});
		expect(deriveIndexAdvice(state([...UPSTREAM, broken])).repairs[0]!.options[0]!.sql[1]).toBe(
			"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS uniq_request ON public.logs USING btree (request_id) WHERE (request_id <> ''::text)",
		);
	});

	it('repairs every INVALID leftover, also one no hot query needs', () => {
		const advice = deriveIndexAdvice(state([...UPSTREAM, index('idx_logs_ip', ['ip'], {valid: false, ready: false})]));
		expect(advice.repairs.map(repair => repair.index)).toEqual(['idx_logs_ip']);
		expect(advice.repairs[0]!.reason).not.toContain('every write');
		expect(advice.proposals).toEqual([]);
	});

	it("only drops an INVALID copy of a valid index (a failed REINDEX CONCURRENTLY's _ccnew), and all but one of identical INVALID ones", () => {
		const ccnew = deriveIndexAdvice(state([...UPSTREAM, index('idx_user_id_id_ccnew', ['user_id', 'id'], {valid: false})]));
		expect(ccnew.repairs).toEqual([
			{index: 'idx_user_id_id_ccnew', reason: expect.stringContaining('duplicates') as string, estimateSeconds: 0, options: [{kind: 'drop', sql: ['DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_user_id_id_ccnew"']}]},
		]);
		const twins = deriveIndexAdvice(state([...withoutTypeIndex, brokenTypeIndex, index('idx_created_at_type_ccnew', ['created_at', 'type'], {valid: false})]));
		expect(twins.repairs.map(repair => [repair.index, repair.options.map(option => option.kind)])).toEqual([
			['idx_created_at_type', ['drop-and-rebuild', 'reindex']],
			['idx_created_at_type_ccnew', ['drop']],
		]);
	});

	it('proposes and repairs nothing while a build that would serve the need runs, and reports it', () => {
		const advice = deriveIndexAdvice(state([...withoutTypeIndex, index('idx_created_at_type', ['created_at', 'type'], {valid: false, ready: false, building: true})]));
		expect(advice.verdicts[0]!.status).toBe('building');
		expect(advice).toMatchObject({proposals: [], repairs: [], building: ['idx_created_at_type']});
	});
});

describe('identifiers and estimates', () => {
	it('quotes identifiers, doubling inner quotes, and qualifies with the schema', () => {
		expect(quoteIdent('my "odd" name')).toBe('"my ""odd"" name"');
		expect(qualifiedName('a b', 'c"d')).toBe('"a b"."c""d"');
		expect(qualifiedName(null, 'logs')).toBe('"logs"');
	});

	it('never decreases as the table or the row count grows, and costs a concurrent build two passes', () => {
		const sizes = [0, 1e5, 1e7, 5e8, 2.5e9, 5e10];
		const counts = [0, 1e3, 1e5, 1e7, 1e8];
		for (const engine of ['postgres', 'sqlite'] as const) {
			for (const [i, bytes] of sizes.entries()) {
				for (const [j, rows] of counts.entries()) {
					const here = estimateBuildSeconds(engine, bytes, rows);
					expect(here).toBeGreaterThanOrEqual(1);
					if (i > 0) expect(here).toBeGreaterThanOrEqual(estimateBuildSeconds(engine, sizes[i - 1]!, rows));
					if (j > 0) expect(here).toBeGreaterThanOrEqual(estimateBuildSeconds(engine, bytes, counts[j - 1]!));
				}
			}
		}
		expect(estimateBuildSeconds('postgres', 5e10, 1e8)).toBeGreaterThan(estimateBuildSeconds('postgres', 5e9, 1e7));
		// The 10 M-row table of reference baselines-measured.md: 2 × (2475 MiB / 200 MiB/s + 10 M / 1 M/s).
		expect(estimateBuildSeconds('postgres', 2_475 * 1024 * 1024, 10_000_000)).toBe(45);
		expect(estimateBuildSeconds('sqlite', 2_475 * 1024 * 1024, 10_000_000)).toBe(23);
	});
});
