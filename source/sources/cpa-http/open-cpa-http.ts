import {InputError} from '../../usage/input-error.js';
import {redactTarget} from '../redact-target.js';
import {CpaHttpSource, detectMode} from './cpa-http-source.js';
import {ManagementClient, ManagementError} from './management-client.js';
import {ManagementFetcher} from './management-fetcher.js';

/** A CPA-Manager base address: which API it speaks is asked once, here (`/usage-service/info`). */
export async function openCpaHttp(target: string, key: string): Promise<CpaHttpSource> {
	let client: ManagementClient;
	try {
		client = new ManagementClient({baseUrl: target, key});
	} catch (error) {
		throw new InputError(error instanceof ManagementError ? error.message : `not an http(s) address: ${redactTarget(target)}`);
	}
	const fetcher = new ManagementFetcher(client);
	return new CpaHttpSource(fetcher, redactTarget(target), await detectMode(fetcher));
}
