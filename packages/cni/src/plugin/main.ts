#!/usr/bin/env node
// weft-cni: the chained CNI plugin binary. Reads stdin (bounded) and the CNI_* environment,
// runs runPlugin and prints its result; logs go to stderr.
import { existsSync } from 'node:fs';
import { createLogger, streamSink } from '@weft/telemetry/log';
import { httpAgentTransport } from '../api/client.ts';
import { MAX_STDIN_BYTES } from './config.ts';
import { runPlugin } from './run.ts';

async function readStdin(): Promise<{ text: string; tooLarge: boolean }> {
  if (process.stdin.isTTY) return { text: '', tooLarge: false };
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_STDIN_BYTES) {
      process.stdin.destroy();
      return { text: '', tooLarge: true };
    }
    chunks.push(buf);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), tooLarge: false };
}

// A runtime always closes stdin; never hang on one that does not.
const STDIN_TIMEOUT_MS = 10_000;
const stdinTimeout = new Promise<{ text: string; tooLarge: boolean }>((resolve) =>
  setTimeout(() => resolve({ text: '', tooLarge: false }), STDIN_TIMEOUT_MS).unref(),
);
const stdin = await Promise.race([readStdin().catch(() => ({ text: '', tooLarge: false })), stdinTimeout]);
const output = await runPlugin(
  { env: process.env, stdin: stdin.text, stdinTooLarge: stdin.tooLarge },
  {
    transport: httpAgentTransport,
    netnsExists: (path) => existsSync(path),
    logger: (config) =>
      createLogger({
        sink: streamSink(process.stderr),
        level: config?.logLevel ?? 'warn',
        fields: { component: 'weft-cni' },
      }),
  },
);
process.stdout.write(output.stdout, () => process.exit(output.exitCode));
