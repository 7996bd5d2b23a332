// The command line's flags, in meow's shape; `--help` is generated from the same descriptions.

export const HELP = `
  Usage
    $ relaytop [TARGET] [--json | --once] [options]
    $ relaytop maintain indexes TARGET [--apply] [--repair-with rebuild|reindex]
    $ relaytop maintain retention TARGET (--keep 30d | --cutoff <t>) [--apply] [--batch N]
    $ relaytop tokens [--model M] [--json] [FILE | -]   |   relaytop tokens --bench [--model M]
    $ relaytop doctor [TARGET] [--json] [--ram 2GB] [--cores 1]

  TARGET
    a new-api/one-api SQLite file (logs) or a CPA-Manager store (usage_events);
    postgres://user@host:port/db: new-api on PostgreSQL; what the URL leaves out comes from
      PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD and ~/.pgpass, as with psql (a password in
      the URL stays in shell history: prefer PGPASSWORD or ~/.pgpass)
    http(s)://host:port: a CPA-Manager's usage API (its paged endpoints, else the legacy payload)
    nothing: DATABASE_URL if it is a postgres:// URL, else the demo: the new-api fixture with
      live traffic on an embedded PostgreSQL server (a SQLite copy where it cannot start)

  Output
    (default)              the live dashboard; --once when not on a terminal
    --json                 print one snapshot as JSON and exit
    --once                 print one snapshot as a text frame and exit
    --interval <s>         dashboard refresh interval in seconds (default 2)
    --no-alt-screen        draw the dashboard in the normal screen, keeping scrollback
    --no-color             no colours (as does NO_COLOR)

  Time range (inclusive)
    --range <r>            15m | 1h | 24h | today | 7d | 30d | all (default 24h), back from --to or now
    --from <t>             start: ISO 8601 (local time unless it has Z or an offset) or epoch ms
    --to <t>               end, the same way (default now)

  Tables
    --dimension <d>        accounts grouped by: account | provider | channel (CPA); user | channel | group (new-api)
    --sort <key>           totalCalls | successCalls | failureCalls | successRate | totalTokens |
                           totalCost | inputTokens | outputTokens | cachedTokens | lastSeenAt (default totalCalls)
    --direction <d>        asc | desc (default desc)
    --page <n>             page of every table, from 1 (default 1)
    --page-size <n>        rows per page, at most 500 (default 20)

  Filters
    --search <text>        token prefixes, AND-ed (CPA: full-text, also key aliases; new-api: user, token, model)
    --model <name>         --account <name>     --api-key <hash|token id>
    --provider <name>      --channel <name|id>  --group <name> (new-api)
    --status <s>           success | failed

  Databases
    --logs-db <url>        new-api's logs database, when it is not the main one (LOG_SQL_DSN)
    --read-only            never write: no cancel/terminate keys, no maintenance --apply

  CPA-Manager over HTTP (the management key: RELAYTOP_KEY, or one of)
    --key-file <path>      a file holding the key
    --key <key>            works, but stays in shell history and shows in ps while relaytop starts

  Cost
    --quota-per-unit <n>   new-api quota per 1 USD (default 500000)

  Tokens
    tokens [FILE | -]      the exact token count of a text (stdin with -), the estimate used for long
                           texts and the 3-chars rule beside it, with the time each took
    --model <m>            whose tokenizer (default gpt-4o); models that are not OpenAI's count
                           with o200k_base, marked approximate
    --bench                both methods on the sample texts: throughput and error per kind

  Health (relaytop doctor, and the dashboard's Health view)
    doctor [TARGET]        the small-server checklist: connections and the gateway's pool, indexes
                           on logs, dead rows and autovacuum, settings against RAM and cores, top
                           statements, load and token counting; SQLite: journal mode, free pages.
                           Each finding with its evidence and the exact fix. Exit code: 0 all well,
                           1 warnings, 2 something critical, 3 target unreachable, 4 bad usage
    --ram <size>           the database host's RAM (2GB, 512MB); detected when it is this machine
    --cores <n>            its cores, the same way

  Maintenance (a dry run unless --apply; --json prints the dry run as JSON)
    maintain indexes       the indexes the hot queries need on logs (or usage_events), each with its
                           SQL, the table size and a build estimate; INVALID leftovers and their repair.
                           PostgreSQL builds with CREATE INDEX CONCURRENTLY, outside any transaction
    maintain retention     delete rows older than --keep, in batches by id, each its own short
                           transaction; then VACUUM (ANALYZE) (PostgreSQL) or ANALYZE (SQLite).
                           Ctrl-C stops after the batch in flight; run again with --cutoff to resume
    --apply                run the statements (asks nothing: the dry run is the preview)
    --keep <d>             keep this much: 30d, 72h
    --cutoff <t>           delete rows before this time instead (ISO 8601 or epoch ms)
    --batch <n>            rows per batch (default 5000)
    --vacuum / --no-vacuum SQLite: VACUUM after (default off: it locks and rewrites the file);
                           PostgreSQL: VACUUM (ANALYZE) after (default on)
    --repair-with <k>      INVALID index repair: rebuild (DROP INDEX CONCURRENTLY, then CREATE; default)
                           or reindex (REINDEX INDEX CONCURRENTLY, PostgreSQL 12+)

  Examples
    $ relaytop ./one-api.db --once --range 1h
    $ relaytop /data/usage.sqlite --json --sort totalCost --page-size 50
    $ RELAYTOP_KEY=… relaytop http://127.0.0.1:18317 --range 1h
    $ PGPASSWORD=… relaytop postgres://newapi@127.0.0.1:5432/newapi
    $ relaytop maintain retention postgres://newapi@127.0.0.1/newapi --keep 30d --apply
    $ relaytop doctor postgres://newapi@db.internal/newapi --ram 2GB --cores 1
`;

export const FLAGS = {
	json: {type: 'boolean', default: false},
	once: {type: 'boolean', default: false},
	interval: {type: 'string'},
	altScreen: {type: 'boolean', default: true},
	color: {type: 'boolean', default: true},
	range: {type: 'string'},
	from: {type: 'string'},
	to: {type: 'string'},
	dimension: {type: 'string'},
	sort: {type: 'string', default: 'totalCalls'},
	direction: {type: 'string', default: 'desc'},
	page: {type: 'string', default: '1'},
	pageSize: {type: 'string', default: '20'},
	search: {type: 'string'},
	model: {type: 'string'},
	account: {type: 'string'},
	apiKey: {type: 'string'},
	provider: {type: 'string'},
	channel: {type: 'string'},
	group: {type: 'string'},
	status: {type: 'string'},
	quotaPerUnit: {type: 'string'},
	logsDb: {type: 'string'},
	key: {type: 'string'},
	keyFile: {type: 'string'},
	readOnly: {type: 'boolean', default: false},
	bench: {type: 'boolean', default: false},
	apply: {type: 'boolean', default: false},
	keep: {type: 'string'},
	cutoff: {type: 'string'},
	batch: {type: 'string'},
	vacuum: {type: 'boolean'},
	repairWith: {type: 'string'},
	ram: {type: 'string'},
	cores: {type: 'string'},
} as const;

export interface ParsedFlags {
	json: boolean;
	once: boolean;
	interval?: string;
	altScreen: boolean;
	color: boolean;
	range?: string;
	from?: string;
	to?: string;
	dimension?: string;
	sort: string;
	direction: string;
	page: string;
	pageSize: string;
	search?: string;
	model?: string;
	account?: string;
	apiKey?: string;
	provider?: string;
	channel?: string;
	group?: string;
	status?: string;
	quotaPerUnit?: string;
	logsDb?: string;
	key?: string;
	keyFile?: string;
	readOnly: boolean;
	bench: boolean;
	apply: boolean;
	keep?: string;
	cutoff?: string;
	batch?: string;
	vacuum?: boolean;
	repairWith?: string;
	ram?: string;
	cores?: string;
}

/** How a flag is typed: repairWith is --repair-with, vacuum set to false --no-vacuum. */
export const flagName = (name: string, value?: unknown): string => `--${value === false ? 'no-' : ''}${name.replace(/[A-Z]/gu, upper => `-${upper.toLowerCase()}`)}`;

/** The flags the command line set to something other than their default. */
export const givenFlags = (flags: ParsedFlags): Array<keyof typeof FLAGS> =>
	(Object.keys(FLAGS) as Array<keyof typeof FLAGS>).filter(name => flags[name] !== (FLAGS[name] as {default?: unknown}).default);
