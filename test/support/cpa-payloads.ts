import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {packageRoot} from '../../source/fixtures/fixture-files.js';

const folder = join(packageRoot(), 'fixtures', 'cpa-payloads');
const response = (name: string): unknown => (JSON.parse(readFileSync(join(folder, name), 'utf8')) as {response: unknown}).response;
const misc = JSON.parse(readFileSync(join(folder, 'misc-manager-endpoints.json'), 'utf8')) as Record<string, unknown>;

export const USAGE_PATH = '/v0/management/usage';
export const INFO_PATH = '/usage-service/info';

/** A CPA-Manager's answer to each path a refresh asks, from the recorded reference payloads. */
export const RECORDED_ANSWERS: Readonly<Record<string, unknown>> = {
	[`${USAGE_PATH}/summary`]: response('usage-summary.json'),
	[`${USAGE_PATH}/accounts`]: response('usage-accounts.json'),
	[`${USAGE_PATH}/api-keys`]: response('usage-api-keys.json'),
	[`${USAGE_PATH}/realtime`]: response('usage-realtime.json'),
	[`${USAGE_PATH}/models`]: response('usage-models.json'),
	'/v0/management/model-prices': misc['GET /v0/management/model-prices'],
	'/v0/management/api-key-aliases': misc['GET /v0/management/api-key-aliases'],
	[INFO_PATH]: misc['GET /usage-service/info'],
};
