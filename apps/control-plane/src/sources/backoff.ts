// Capped exponential backoff with jitter, as client-go's reflector uses between failed
// list/watch attempts: a flapping API server must not be hammered by every weftd at once.

export interface BackoffOptions {
  /** first delay, ms (default 500) */
  readonly initialMs?: number;
  /** cap, ms (default 30 000) */
  readonly maxMs?: number;
  /** growth per failure (default 2) */
  readonly factor?: number;
  /** fraction of the delay randomised, 0..1 (default 0.2) */
  readonly jitter?: number;
  /** random source in [0, 1) (default Math.random) */
  readonly random?: () => number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(0, options.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 30_000);
    this.factor = Math.max(1, options.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
    this.random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures);
    this.failures++;
    // Jitter only downwards, so the cap stays a cap.
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  get attempts(): number {
    return this.failures;
  }

  reset(): void {
    this.failures = 0;
  }
}
