import {ensureFixture} from '../fixtures/fixture-files.js';
import {openTarget} from '../sources/open-target.js';
import type {UsageSource} from '../usage/types.js';

export interface Demo {
	readonly source: UsageSource;
	/** The fixture's own "now": its newest request, so relative ranges and rpm show its traffic. */
	readonly nowMs: number;
}

/** With no target, relaytop shows the new-api fixture, generated on first use. */
export async function openDemo(): Promise<Demo> {
	const source = openTarget(ensureFixture('newapi'));
	return {source, nowMs: (await source.newestRequestMs()) ?? Date.now()};
}
