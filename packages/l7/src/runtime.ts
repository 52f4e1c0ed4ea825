// Capabilities the engine takes instead of reaching for globals (STYLE.md point 7). Clocks are
// @weft/telemetry's (`monotonicClock` for durations, `systemClock` for wall time); the delay and
// the cancellation token here are the per-request hot path's own.

/** Waits `ms`; rejects with the signal's reason when it aborts first. */
export type Delay = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realDelay: Delay = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * A cheap cancellation token for the per-request hot path: a flag and a listener list.
 * (AbortController/EventTarget cost microseconds per request on Node.) `signal` creates a
 * real AbortSignal lazily for APIs that need one.
 */
export class Cancellation {
  aborted = false;
  reason: string | undefined;
  private listeners: (() => void)[] | undefined;
  private controller: AbortController | undefined;
  /** Bound `abort()`, to hand to timers and other cancellations without a closure per use. */
  readonly abortFn = (): void => this.abort();

  /** Runs `fn` on abort (at once when already aborted). */
  onAbort(fn: () => void): void {
    if (this.aborted) {
      fn();
      return;
    }
    if (this.listeners === undefined) this.listeners = [fn];
    else this.listeners.push(fn);
  }

  offAbort(fn: () => void): void {
    const l = this.listeners;
    if (l === undefined) return;
    const i = l.indexOf(fn);
    if (i >= 0) l.splice(i, 1);
  }

  abort(reason?: string): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const l = this.listeners;
    this.listeners = undefined;
    if (l !== undefined)
      for (const fn of l) {
        try {
          fn();
        } catch {
          // one listener's failure must not stop the others
        }
      }
    this.controller?.abort(reason);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** A cancellation that aborts after `ms` (and can be aborted earlier). */
  static timeout(ms: number): Cancellation {
    const c = new Cancellation();
    const t = setTimeout(c.abortFn, ms);
    t.unref?.();
    c.onAbort(() => clearTimeout(t));
    return c;
  }
}
