import type {CountingCost} from '../tokens/counting-cost.js';
import type {Rate, SourceKind} from '../usage/types.js';
import {fix, type HealthCheck} from './health-check.js';

/**
 * The gateway's load now and, for new-api (which counts prompt tokens locally unless
 * CountToken=false), what that counting costs at this rate; pure. A string instead of the cost
 * says why there is none.
 */
export function loadCheck(rate: Rate, counting: CountingCost | string, kind: SourceKind): HealthCheck {
	const rates = [
		{label: 'rpm', value: rate.rpm, unit: 'per-minute' as const},
		{label: 'tpm', value: rate.tpm, unit: 'per-minute' as const},
	];
	if (!kind.startsWith('newapi')) {
		return {id: 'load.rate', group: 'load', title: 'requests', status: 'ok', summary: `${rate.rpm} rpm, ${rate.tpm} tpm`, evidence: rates, fix: null};
	}
	const cost = typeof counting === 'string' ? null : counting;
	const heavy = cost?.verdict === 'heavy';
	return {
		id: 'load.rate',
		group: 'load',
		title: 'requests and token counting',
		status: heavy ? 'warning' : 'ok',
		summary: `${rate.rpm} rpm, ${rate.tpm} tpm; ${cost === null ? `the cost of token counting is unknown: ${counting as string}` : cost.advice}`,
		evidence: [
			...rates,
			{label: 'prompt tokens per request', value: cost === null ? null : Math.round(cost.promptTokensPerRequest), unit: 'count'},
			{label: 'counting: share of a core (English, code)', value: cost?.coreShare.latin ?? null, unit: 'ratio'},
			{label: 'counting: share of a core (Chinese, Japanese)', value: cost?.coreShare.cjk ?? null, unit: 'ratio'},
		],
		fix: heavy
			? fix('environment', ['CountToken=false'], 'in new-api’s environment, then restart it: no local prompt counting, so pre-consumption estimates become minimal; billing already uses the usage the provider reports')
			: null,
	};
}
