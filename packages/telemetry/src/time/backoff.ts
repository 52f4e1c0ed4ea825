// Capped exponential backoff with jitter, for reconnecting clients and retrying fetches: a fleet
// that loses its control plane, CA or API server together must not come back together.

export interface BackoffOptions {
  /** First delay (ms). Default 250. */
  readonly initialMs?: number;
  /** Cap (ms): no delay exceeds it, jitter included. Default 30 000. */
  readonly maxMs?: number;
  /** Growth per attempt, at least 1. Default 2. */
  readonly multiplier?: number;
  /** Spread as a fraction of the delay, 0..1. Default 0.2. */
  readonly jitter?: number;
  /**
   * `around` (default): the delay is scaled by 1 ± jitter. `below`: by 1 - jitter × random, so
   * a delay never exceeds its unjittered value (client-go's reflector does this).
   */
  readonly jitterSide?: 'around' | 'below';
}

/**
 * The delay before attempt `attempt` (0-based): `initialMs × multiplier^attempt`, capped, then
 * jittered with `random` (uniform in [0, 1)).
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = Math.max(0, options.initialMs ?? 250);
  const max = Math.max(0, options.maxMs ?? 30_000);
  const multiplier = Math.max(1, options.multiplier ?? 2);
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  // initial 0 stays 0 however many attempts (0 × Infinity would be NaN).
  const base = initial === 0 ? 0 : Math.min(max, initial * multiplier ** Math.max(0, attempt));
  const scale = options.jitterSide === 'below' ? 1 - jitter * random() : 1 - jitter + 2 * jitter * random();
  return Math.round(Math.min(max, base * scale));
}

/** Counts consecutive failures; `next()` gives the delay before the next attempt. */
export class Backoff {
  readonly #options: BackoffOptions;
  readonly #random: () => number;
  #failures = 0;

  constructor(options: BackoffOptions = {}, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    return backoffDelay(this.#failures++, this.#options, this.#random);
  }

  /** Failures counted since the last `reset()`. */
  get attempts(): number {
    return this.#failures;
  }

  /** After a success: the next failure waits `initialMs` again. */
  reset(): void {
    this.#failures = 0;
  }
}
