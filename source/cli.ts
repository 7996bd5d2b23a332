#!/usr/bin/env -S node --max-semi-space-size=1
// A 1 MB semi-space (V8's default grows to 16 MB): the dashboard's garbage is short-lived and small,
// and the default young generation alone held some 35 MB of a long-running dashboard's memory.
import {exitOnCrash} from './output/crash-report.js';

// The title takes the place of the command line in ps and /proc/<pid>/cmdline (on Linux, Node
// writes it over the arguments' memory): a password in a target URL or a --key shows no longer
// than it takes to get here. Set before anything else is loaded, to keep that moment short.
process.title = 'relaytop';

process.on('uncaughtException', exitOnCrash);
process.on('unhandledRejection', exitOnCrash);

const {run} = await import('./cli/run.js');
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
