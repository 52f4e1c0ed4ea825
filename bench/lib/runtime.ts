// The runtime a benchmark runs Weft's own processes on: `--runtime node` (default) or
// `--runtime bun`. Native peers (nginx, haproxy, wrk) are the same either way; the keys a bench
// prints get a `bun-` prefix under Bun so both tables can sit side by side.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type RuntimeName = 'node' | 'bun';

export interface BenchRuntime {
  readonly name: RuntimeName;
  /** Prefix for printed keys: '' on Node, 'bun-' on Bun. */
  readonly prefix: string;
  /** Command and arguments that run a TypeScript source file of this repository. */
  command(tsFile: string, args?: readonly string[]): { cmd: string; args: string[] };
  /** `key value` line with the runtime prefix. */
  key(name: string, value: number | string): string;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Bun's own executable. Not node_modules/.bin/bun: that is a shell script running Bun as its
 * child, so a signal to it would end the shell and leave Bun serving (and measured CPU would
 * belong to the child). This process's executable under Bun, else the `bun` package's declared
 * binary, else `bun` on the PATH.
 */
export function bunExecutable(): string {
  if (process.versions.bun !== undefined) return process.execPath;
  try {
    const dir = join(root, 'node_modules', 'bun');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      bin?: string | Record<string, string>;
    };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.bun;
    if (bin !== undefined && existsSync(join(dir, bin))) return join(dir, bin);
  } catch {
    // not installed here: fall through to the PATH
  }
  return 'bun';
}

/** Reads `--runtime node|bun` (or `--runtime=...`) from argv; anything else is an error. */
export function benchRuntime(argv: readonly string[] = process.argv.slice(2)): BenchRuntime {
  let name = 'node';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--runtime') name = argv[i + 1] ?? '';
    else if (a.startsWith('--runtime=')) name = a.slice('--runtime='.length);
  }
  if (name !== 'node' && name !== 'bun') {
    throw new Error(`--runtime must be node or bun, not ${JSON.stringify(name)}`);
  }
  const prefix = name === 'bun' ? 'bun-' : '';
  return {
    name,
    prefix,
    command(tsFile, args = []) {
      if (name === 'bun')
        return { cmd: bunExecutable(), args: ['--conditions=weft-source', tsFile, ...args] };
      return {
        cmd: process.execPath,
        args: ['--conditions=weft-source', '--import', 'tsx', tsFile, ...args],
      };
    },
    key: (k, v) => `${prefix}${k} ${v}`,
  };
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** BENCH_SECONDS (default `fallback`): seconds per measured run, shared by every bench. */
export function benchSeconds(fallback = 5): number {
  const raw = process.env.BENCH_SECONDS;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`BENCH_SECONDS must be a positive number, not ${raw}`);
  return n;
}

/** BENCH_ROUNDS (default 3): alternating rounds per comparison; the tables report medians. */
export function benchRounds(fallback = 3): number {
  const raw = process.env.BENCH_ROUNDS;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, not ${raw}`);
  return n;
}
