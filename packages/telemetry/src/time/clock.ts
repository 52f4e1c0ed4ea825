// Time and timers as capabilities (STYLE.md 7): components take a Clock to read the time and a
// Scheduler to run something later, so tests drive both with one manual clock
// (`createManualClock` from @weft/telemetry/testing) instead of fake timers.

/** Reads the time in milliseconds. */
export interface Clock {
  now(): number;
}

/** Wall-clock time: milliseconds since the epoch (certificate validity, log timestamps). */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * Monotonic milliseconds from an arbitrary origin (durations, deadlines, rate windows): never
 * jumps when the wall clock is set. Not comparable with `systemClock` readings.
 */
export const monotonicClock: Clock = { now: () => performance.now() };

export interface TimerHandle {
  /** Stops the task if it has not run yet; harmless afterwards. */
  cancel(): void;
}

export interface Scheduler {
  /** Runs `fn` once after `delayMs` (negative or NaN: as soon as possible). */
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

/** The longest delay one `setTimeout` takes (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/**
 * Timers on the runtime's event loop. They never keep a process alive on their own, and delays
 * beyond `MAX_TIMER_DELAY_MS` (a long certificate lifetime) wait in steps instead of firing at once.
 */
export const systemScheduler: Scheduler = {
  schedule(delayMs, fn) {
    let timer: ReturnType<typeof setTimeout>;
    const arm = (remaining: number): void => {
      timer = setTimeout(
        () => (remaining > MAX_TIMER_DELAY_MS ? arm(remaining - MAX_TIMER_DELAY_MS) : fn()),
        Math.min(remaining, MAX_TIMER_DELAY_MS),
      );
      timer.unref?.();
    };
    arm(Math.max(0, delayMs || 0)); // NaN: at once, as setTimeout
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Resolves `true` after `ms` on `scheduler`, or `false` as soon as `signal` aborts. */
export function sleep(scheduler: Scheduler, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      resolve(false);
    };
    const timer = scheduler.schedule(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
