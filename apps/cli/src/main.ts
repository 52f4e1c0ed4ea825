#!/usr/bin/env node
// weft: parses the command line and runs it; the exit code is the command's.
import { processIo } from './io.ts';
import { run } from './program.ts';

const code = await run(process.argv.slice(2), processIo());
process.exitCode = code;
