// What crosses between the dashboard thread and the query worker: plain structured-clone data.

import {InputError} from '../../usage/input-error.js';
import type {UsageSource} from '../../usage/types.js';
import type {OpenOptions} from '../open-target.js';

/** Every async method of UsageSource but close, which ends the worker instead of being forwarded. */
export type ForwardedMethod = Exclude<
	{[K in keyof UsageSource]-?: UsageSource[K] extends (...args: never[]) => Promise<unknown> ? K : never}[keyof UsageSource],
	'close'
>;

// Runtime code cannot see an interface and a source's prototype also holds its private helpers, so
// the names are spelled out once here; the Record type makes the compiler ask for each new method.
const FORWARDED: Record<ForwardedMethod, true> = {
	summary: true,
	facets: true,
	rate: true,
	timeline: true,
	models: true,
	groups: true,
	apiKeys: true,
	realtime: true,
	newestRequestMs: true,
	reconcile: true,
};
export const FORWARDED_METHODS = Object.keys(FORWARDED) as ForwardedMethod[];

export const SOURCE_CLOSED = 'the source is closed';

/**
 * The rest of UsageSource: plain values, sent once when the worker is ready. A sync method added to
 * UsageSource lands here and fails to compile in the worker, which cannot forward it.
 */
export type SourceDescription = Pick<UsageSource, Exclude<keyof UsageSource, ForwardedMethod | 'close' | 'postgres'>>;

export interface WorkerInput {
	readonly target: string;
	readonly options: OpenOptions;
}

export interface Request {
	readonly id: number;
	readonly method: ForwardedMethod | 'close';
	readonly args: unknown[];
}

export interface WireError {
	readonly input: boolean;
	readonly message: string;
}

export type FromWorker =
	| {readonly type: 'ready'; readonly description: SourceDescription}
	| {readonly type: 'failed'; readonly error: WireError}
	| {readonly type: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown}
	| {readonly type: 'reply'; readonly id: number; readonly ok: false; readonly error: WireError};

export const firstLine = (text: string): string => text.split('\n', 1)[0]!;

export function toWire(error: unknown): WireError {
	return {input: error instanceof InputError, message: firstLine(error instanceof Error ? error.message : String(error))};
}

export const fromWire = (error: WireError): Error => (error.input ? new InputError(error.message) : new Error(error.message));
