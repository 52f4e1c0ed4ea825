// Time and timers as capabilities, so tests drive them without fake timers.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface TimerHandle {
  cancel(): void;
}

export interface Scheduler {
  /** Runs `fn` once after `delayMs`. */
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

export const systemClock: Clock = { now: () => Date.now() };

export const systemScheduler: Scheduler = {
  schedule(delayMs, fn) {
    // setTimeout's limit is 2^31-1 ms; longer waits re-arm.
    const max = 2_147_483_647;
    let timer: ReturnType<typeof setTimeout>;
    const arm = (remaining: number) => {
      timer = setTimeout(
        () => (remaining > max ? arm(remaining - max) : fn()),
        Math.max(0, Math.min(remaining, max)),
      );
      timer.unref?.();
    };
    arm(delayMs);
    return { cancel: () => clearTimeout(timer) };
  },
};
