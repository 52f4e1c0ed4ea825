// How many worker processes a proxy runs: `--concurrency N`, default the cores this process may
// use (os.availableParallelism, which follows CPU affinity and cgroup-free core counts).
import { availableParallelism } from 'node:os';

export const MAX_CONCURRENCY = 64;

export type ConcurrencyResult = { ok: true; value: number } | { ok: false; error: string };

/**
 * `text` is the flag's value (undefined when absent); then the WEFT_CONCURRENCY environment
 * variable (as a pod spec or a test harness sets it); then `fallback`, by default the cores
 * available.
 */
export function parseConcurrency(
  text: string | undefined,
  fallback = availableCores(),
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConcurrencyResult {
  const fromEnv = env.WEFT_CONCURRENCY;
  const source = text !== undefined ? '--concurrency' : 'WEFT_CONCURRENCY';
  const value = text ?? (fromEnv === '' ? undefined : fromEnv);
  if (value === undefined) return { ok: true, value: Math.max(1, Math.min(MAX_CONCURRENCY, fallback)) };
  if (!/^[0-9]{1,3}$/.test(value)) {
    return {
      ok: false,
      error: `${source} ${JSON.stringify(value)}: not a number of workers (1..${MAX_CONCURRENCY})`,
    };
  }
  const n = Number(value);
  if (n < 1 || n > MAX_CONCURRENCY) {
    return { ok: false, error: `${source} ${n}: must be 1..${MAX_CONCURRENCY}` };
  }
  return { ok: true, value: n };
}

export function availableCores(): number {
  return typeof availableParallelism === 'function' ? availableParallelism() : 1;
}
