// Runs wrk (Debian's package) against a URL and reads its latency distribution and throughput.
import { execa } from 'execa';

export interface WrkResult {
  readonly connections: number;
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Latency percentiles in milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly errors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** Parses "812.00us", "1.25ms", "2.00s" into milliseconds. */
export function parseWrkDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (m === null) throw new Error(`wrk: cannot read duration ${JSON.stringify(text)}`);
  return Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] ?? 1);
}

export function parseWrkOutput(output: string, connections: number): WrkResult {
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm').exec(output);
    if (m?.[1] === undefined) throw new Error(`wrk: no ${p}% latency in output:\n${output}`);
    return parseWrkDuration(m[1]);
  };
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(output);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (done === null || rps === null) throw new Error(`wrk: cannot read totals from output:\n${output}`);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors =
    (errs ? errs.slice(1, 5).reduce((a, b) => a + Number(b), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return {
    connections,
    requests: Number(done[1]),
    seconds: parseWrkDuration(`${done[2]}${done[3]}`) / 1000,
    rps: Number(rps[1]),
    p50: pct('50'),
    p90: pct('90'),
    p99: pct('99'),
    errors,
  };
}

export async function runWrk(
  url: string,
  opts: { connections: number; seconds: number; threads?: number },
): Promise<WrkResult> {
  const threads = Math.min(opts.threads ?? 1, opts.connections);
  const { stdout } = await execa('wrk', [
    '--latency',
    '-t',
    String(threads),
    '-c',
    String(opts.connections),
    '-d',
    `${opts.seconds}s`,
    url,
  ]);
  return parseWrkOutput(stdout, opts.connections);
}
