#!/usr/bin/env -S node --max-semi-space-size=1
// A 1 MB semi-space (V8's default grows to 16 MB): the dashboard's garbage is short-lived and small,
// and the default young generation alone held some 35 MB of a long-running dashboard's memory.
import {run} from './cli/run.js';

const code = await run(
	process.argv.slice(2),
	{
		stdout: text => process.stdout.write(text),
		stderr: text => process.stderr.write(text),
		now: () => Date.now(),
		columns: process.stdout.isTTY ? process.stdout.columns : 120,
		interactive: Boolean(process.stdout.isTTY) && Boolean(process.stdin.isTTY),
	},
	import.meta,
);
process.exitCode = code;
