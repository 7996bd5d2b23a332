import {parentPort, workerData} from 'node:worker_threads';
import {encoderFor} from './encoders.js';
import {meanRunMs} from './mean-run-ms.js';
import type {Encoding} from './model-encoding.js';
import {sampleTexts, type SampleText} from './sample-texts.js';

// The worker that measures exact counting speed: loads the encoder, times it on the sample texts,
// posts tokens per second and ends (with it, the encoder's memory).

const MIN_MS = 200;

async function tokensPerSecond(encoding: Encoding, samples: readonly SampleText[]): Promise<number> {
	const encoder = await encoderFor(encoding);
	for (const sample of samples) encoder.encode(sample.text.slice(0, 2000), [], []); // warm up
	let tokens = 0;
	const ms = meanRunMs(() => {
		tokens = 0;
		for (const sample of samples) tokens += encoder.encode(sample.text, [], []).length;
	}, MIN_MS);
	return tokens / (ms / 1000);
}

const {encoding} = workerData as {encoding: Encoding};
try {
	const samples = sampleTexts();
	const of = (...kinds: string[]) => samples.filter(sample => kinds.includes(sample.kind));
	const latinTokensPerS = await tokensPerSecond(encoding, of('english', 'code'));
	const cjkTokensPerS = await tokensPerSecond(encoding, of('chinese', 'japanese'));
	parentPort!.postMessage({latinTokensPerS, cjkTokensPerS});
} catch (error) {
	parentPort!.postMessage({error: error instanceof Error ? error.message : String(error)});
}
