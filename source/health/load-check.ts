import type {CountingCost} from '../tokens/counting-cost.js';
import type {Rate, SourceKind} from '../usage/types.js';
import {fix, type HealthCheck} from './health-check.js';

/**
 * The gateway's load now and, for new-api (which counts prompt tokens locally unless
 * CountToken=false), what that counting costs at this rate; pure. `counting` null: the tokenizer
 * could not be measured.
 */
export function loadCheck(rate: Rate, counting: CountingCost | null, kind: SourceKind): HealthCheck {
	const rates = [
		{label: 'rpm', value: rate.rpm, unit: 'per-minute' as const},
		{label: 'tpm', value: rate.tpm, unit: 'per-minute' as const},
	];
	if (!kind.startsWith('newapi')) {
		return {id: 'load.rate', group: 'load', title: 'requests', status: 'ok', summary: `${rate.rpm} rpm, ${rate.tpm} tpm`, evidence: rates, fix: null};
	}
	const heavy = counting?.verdict === 'heavy';
	return {
		id: 'load.rate',
		group: 'load',
		title: 'requests and token counting',
		status: heavy ? 'warning' : 'ok',
		summary: `${rate.rpm} rpm, ${rate.tpm} tpm; ${counting === null ? 'the cost of token counting is unknown (the tokenizer could not be measured)' : counting.advice}`,
		evidence: [
			...rates,
			{label: 'prompt tokens per request', value: counting === null ? null : Math.round(counting.promptTokensPerRequest), unit: 'count'},
			{label: 'counting: share of a core (English, code)', value: counting?.coreShare.latin ?? null, unit: 'ratio'},
			{label: 'counting: share of a core (Chinese, Japanese)', value: counting?.coreShare.cjk ?? null, unit: 'ratio'},
		],
		fix: heavy ? fix('environment', ['CountToken=false'], 'in new-api’s environment, then restart it: billing then uses the usage the provider reports') : null,
	};
}
