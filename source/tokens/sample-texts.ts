import {readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {packageRoot} from '../package-root.js';

// The sample texts in fixtures/texts, by kind: the file name's first word (english-licence.txt is
// english). They measure the estimate's error and calibrate the tokenizer's speed.

export const SAMPLE_KINDS = ['english', 'code', 'json', 'chinese', 'japanese', 'mixed'] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];

export interface SampleText {
	readonly kind: SampleKind;
	readonly name: string;
	readonly text: string;
}

export const sampleTextFolder = (): string => join(packageRoot(), 'fixtures', 'texts');

export function sampleTexts(folder = sampleTextFolder()): SampleText[] {
	const kinds: readonly string[] = SAMPLE_KINDS;
	return readdirSync(folder)
		.sort()
		.flatMap(name => {
			const kind = name.split('-')[0]!;
			return kinds.includes(kind) ? [{kind: kind as SampleKind, name, text: readFileSync(join(folder, name), 'utf8')}] : [];
		});
}

/** The samples of one kind joined and repeated to exactly `chars` UTF-16 units, for size-for-size timing. */
export function textOfSize(samples: readonly SampleText[], kind: SampleKind, chars: number): string {
	const parts = samples.filter(sample => sample.kind === kind).map(sample => sample.text);
	if (parts.length === 0) throw new Error(`no sample text of kind ${kind}`);
	const unit = parts.join('\n');
	let text = unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
	// Never end on half a surrogate pair.
	const last = text.charCodeAt(text.length - 1);
	if (last >= 0xd800 && last <= 0xdbff) text = text.slice(0, -1);
	return text;
}
