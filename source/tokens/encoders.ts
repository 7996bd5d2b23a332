import type {Tiktoken} from 'js-tiktoken/lite';
import type {Encoding} from './model-encoding.js';

// One encoder per encoding, built on first use from js-tiktoken/lite and that encoding's ranks only:
// an o200k encoder costs 0.7 s and 120 MB of RSS here (`node dist/bench/run.js --only=tokens`), which
// a dashboard that never counts must not pay.

export interface EncoderLoad {
	readonly encoding: Encoding;
	/** Import of the ranks and construction of the encoder, ms. */
	readonly loadMs: number;
}

const encoders = new Map<Encoding, Promise<Tiktoken>>();
const loads: EncoderLoad[] = [];

const RANKS: Record<Encoding, () => Promise<{default: ConstructorParameters<typeof Tiktoken>[0]}>> = {
	o200k_base: async () => import('js-tiktoken/ranks/o200k_base'),
	cl100k_base: async () => import('js-tiktoken/ranks/cl100k_base'),
};

async function load(encoding: Encoding): Promise<Tiktoken> {
	const started = performance.now();
	const [{Tiktoken}, ranks] = await Promise.all([import('js-tiktoken/lite'), RANKS[encoding]()]);
	const encoder = new Tiktoken(ranks.default);
	encoder.encode('warm up'); // the first encode builds the rank lookups
	loads.push({encoding, loadMs: performance.now() - started});
	return encoder;
}

/** The encoder of `encoding`, loaded once per process; a failed load is tried again next time. */
export async function encoderFor(encoding: Encoding): Promise<Tiktoken> {
	let encoder = encoders.get(encoding);
	if (encoder === undefined) {
		encoder = load(encoding);
		encoders.set(encoding, encoder);
		encoder.catch(() => encoders.delete(encoding));
	}
	return encoder;
}

/** The encoders this process has loaded, with what each cost. */
export const encoderLoads = (): readonly EncoderLoad[] => [...loads];
