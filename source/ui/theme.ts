// Semantic colour tokens; components never name a colour. With NO_COLOR or --no-color, Ink's
// chalk is switched off before it loads (see cli), so tokens need no second code path.
export const THEME = {
	accent: 'cyan',
	ok: 'green',
	warn: 'yellow',
	error: 'red',
	muted: 'gray',
} as const;

export type Tone = keyof typeof THEME;
