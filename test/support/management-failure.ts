import {expect} from 'vitest';
import {ManagementError} from '../../source/sources/cpa-http/management-client.js';

/** The ManagementError a call ends with, checked not to show the key. */
export async function managementFailure(promise: Promise<unknown>, key: string): Promise<ManagementError> {
	const error = await promise.then(
		() => new Error('it succeeded'),
		(caught: unknown) => caught,
	);
	expect(error).toBeInstanceOf(ManagementError);
	expect((error as Error).message).not.toContain(key);
	return error as ManagementError;
}
