export interface BackoffOptions {
  /** First delay (ms). Default 250. */
  initialMs?: number;
  /** Cap (ms). Default 30 000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** Spread as a fraction of the delay, 0..1: the delay is scaled by 1 ± jitter. Default 0.2. */
  jitter?: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): capped exponential growth, then jitter so
 * that many proxies losing the control plane together do not return together.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = options.initialMs ?? 250;
  const max = options.maxMs ?? 30_000;
  const multiplier = options.multiplier ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  const base = Math.min(max, initial * multiplier ** Math.max(0, attempt));
  const spread = 1 - jitter + 2 * jitter * random();
  return Math.round(Math.min(max, base * spread));
}
