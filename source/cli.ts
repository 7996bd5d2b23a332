#!/usr/bin/env node
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
