// Capabilities the engine takes instead of reaching for globals (STYLE.md point 7).

/** Monotonic milliseconds (durations, deadlines, outlier ejection). */
export interface Clock {
  now(): number;
}

export const monotonicClock: Clock = { now: () => performance.now() };

/** Wall-clock epoch milliseconds (access-log start times). */
export type WallClock = () => number;

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
