#!/usr/bin/env node
// `tributary …` (pnpm tributary …): wires the process's stdio, environment and Ctrl-C to run().

import { createInterface } from 'node:readline';
import { run } from './cli.ts';

const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  // First Ctrl-C: stop cleanly (consume prints its count); second: stop now.
  if (++interrupts > 1) process.exit(130);
  controller.abort();
});
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `tributary consume … | head` closes the pipe: not an error.
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await run(process.argv.slice(2), {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  // Ctrl-C closes the reader, so produce stops reading, flushes what it has, and reports.
  lines: () => createInterface({ input: process.stdin, crlfDelay: Infinity, signal: controller.signal }),
  env: process.env,
  signal: controller.signal,
  isTTY: process.stdout.isTTY === true,
});
process.exitCode = code;
// Should a stray handle keep the loop alive, leave anyway (the timer itself does not keep it).
setTimeout(() => process.exit(code), 2000).unref();
