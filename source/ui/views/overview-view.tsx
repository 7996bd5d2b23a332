import {Box, Text} from 'ink';
import {countingPhrase, type CountingCost} from '../../tokens/counting-cost.js';
import {compact, localTime, milliseconds, percent, thousands, usd} from '../../output/format.js';
import {modelColumns} from '../../output/usage-columns.js';
import type {ModelUsage, Rate, Summary, TimelineBucket} from '../../usage/types.js';
import {DataTable} from '../components/data-table.js';
import {ShapedText} from '../components/shaped-text.js';
import {Sparkline} from '../components/sparkline.js';
import {SPARKLINE_MINUTES} from '../dashboard-panels.js';
import {THEME} from '../theme.js';
import {aggregationNote} from './aggregation-note.js';
import {staleText} from './stale-tag.js';

interface Props {
	readonly summary: Summary | undefined;
	readonly rate: Rate | undefined;
	readonly timeline: readonly TimelineBucket[] | undefined;
	readonly models: readonly ModelUsage[] | undefined;
	readonly newestRequestMs: number | null | undefined;
	/** The cost of counting prompt tokens at this rpm, once the tokenizer's speed is known. */
	readonly counting: CountingCost | undefined;
	/** When the figures on screen were read, once they are stale (stale-tag.tsx); absent while live. */
	readonly staleSince?: number;
	readonly width: number;
	readonly height: number;
}

/** Lines above the models table: two KPI lines, the stale mark or how the range was aggregated (or a blank), two sparklines, a blank. */
export const OVERVIEW_CHROME = 6;

const emptyText = (newest: number | null | undefined): string =>
	newest === null ? 'no requests: the store is empty' : newest === undefined ? 'no requests in this range' : `no requests in this range; the newest is from ${localTime(newest)} (t: a longer range)`;

export function OverviewView({summary, rate, timeline, models, newestRequestMs, counting, staleSince, width, height}: Props) {
	const requests = summary?.totalRequests ?? 0;
	const success = requests === 0 ? 1 : (summary?.successCount ?? 0) / requests;
	const perMinute = (pick: (bucket: TimelineBucket) => number) => (timeline ?? []).map(pick);
	const peak = (values: number[]) => `last ${SPARKLINE_MINUTES} min · peak ${compact(Math.max(0, ...values))}/min`;
	const note = aggregationNote(summary?.aggregation);
	return (
		<Box flexDirection="column">
			<ShapedText>
				<Text bold>{thousands(requests)}</Text> requests · <Text color={success < 0.85 ? THEME.error : success < 0.95 ? THEME.warn : THEME.ok}>{percent(success)}</Text> ok ·
				rpm <Text bold>{thousands(rate?.rpm ?? 0)}</Text> · tpm <Text bold>{compact(rate?.tpm ?? 0)}</Text> · cost <Text bold>{usd(summary?.costUsd ?? 0)}</Text>
				{summary !== undefined && summary.unpricedRequests > 0 ? <Text color={THEME.warn}> + {thousands(summary.unpricedRequests)} unpriced</Text> : null} · latency{' '}
				{milliseconds(summary?.latencyMsAvg ?? null)}
			</ShapedText>
			<ShapedText color={THEME.muted}>
				tokens in {compact(summary?.tokens.input ?? 0)} · out {compact(summary?.tokens.output ?? 0)} · cached {compact(summary?.tokens.cached ?? 0)} · reasoning{' '}
				{compact(summary?.tokens.reasoning ?? 0)}
				{counting === undefined ? null : (
					<Text color={counting.verdict === 'heavy' ? THEME.warn : undefined}>
						{' · '}
						{countingPhrase(counting)}
						{counting.verdict === 'heavy' ? ': CountToken=false?' : ''}
					</Text>
				)}
			</ShapedText>
			{staleSince !== undefined ? (
				<ShapedText color={THEME.warn}>{staleText(staleSince)}</ShapedText>
			) : note === null ? (
				<Text> </Text>
			) : (
				<ShapedText color={note.warn ? THEME.warn : THEME.muted}>{note.text}</ShapedText>
			)}
			<Sparkline label="requests/min" values={perMinute(b => b.requests)} summary={peak(perMinute(b => b.requests))} />
			<Sparkline label="tokens/min" values={perMinute(b => b.tokens)} summary={peak(perMinute(b => b.tokens))} />
			<Text> </Text>
			<DataTable columns={modelColumns} rows={(models ?? []).slice(0, Math.max(1, height - OVERVIEW_CHROME - 1))} width={width} empty={emptyText(newestRequestMs)} />
		</Box>
	);
}
