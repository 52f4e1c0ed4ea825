// How many worker processes a proxy runs: `--concurrency N`, default the cores this process may
// use (os.availableParallelism, which follows CPU affinity and cgroup-free core counts).
import { availableParallelism } from 'node:os';

export const MAX_CONCURRENCY = 64;

export type ConcurrencyResult = { ok: true; value: number } | { ok: false; error: string };

/**
 * `text` is the flag's value (undefined when absent). `fallback` is what absence means; the
 * default is the cores available.
 */
export function parseConcurrency(text: string | undefined, fallback = availableCores()): ConcurrencyResult {
  if (text === undefined) return { ok: true, value: Math.max(1, Math.min(MAX_CONCURRENCY, fallback)) };
  if (!/^[0-9]{1,3}$/.test(text)) {
    return {
      ok: false,
      error: `--concurrency ${JSON.stringify(text)}: not a number of workers (1..${MAX_CONCURRENCY})`,
    };
  }
  const n = Number(text);
  if (n < 1 || n > MAX_CONCURRENCY) {
    return { ok: false, error: `--concurrency ${n}: must be 1..${MAX_CONCURRENCY}` };
  }
  return { ok: true, value: n };
}

export function availableCores(): number {
  return typeof availableParallelism === 'function' ? availableParallelism() : 1;
}
