import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '../testing/manual-clock.ts';
import { MAX_TIMER_DELAY_MS, monotonicClock, sleep, systemClock, systemScheduler } from './clock.ts';

describe('clocks', () => {
  it('systemClock reads the wall clock', () => {
    const before = Date.now();
    const t = systemClock.now();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(Date.now());
  });

  it('monotonicClock never goes back', () => {
    let last = monotonicClock.now();
    for (let i = 0; i < 1000; i++) {
      const t = monotonicClock.now();
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
  });
});

describe('systemScheduler', () => {
  // A stand-in for the global timer functions, so the steps of a 50-day delay show without waiting.
  const real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  const armed: { fn: () => void; ms: number; unref: boolean; cleared: boolean }[] = [];
  function fakeTimers(): void {
    armed.length = 0;
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      const t = { fn, ms, unref: false, cleared: false };
      armed.push(t);
      return {
        unref() {
          t.unref = true;
        },
        t,
      };
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((h: { t: { cleared: boolean } }) => {
      h.t.cleared = true;
    }) as unknown as typeof clearTimeout;
  }
  afterEach(() => Object.assign(globalThis, real));

  it.each([
    // delay, timer steps armed
    [0, [0]],
    [-5, [0]],
    [Number.NaN, [0]],
    [1500, [1500]],
    [MAX_TIMER_DELAY_MS, [MAX_TIMER_DELAY_MS]],
    [MAX_TIMER_DELAY_MS + 1, [MAX_TIMER_DELAY_MS, 1]],
    [50 * 86_400_000, [MAX_TIMER_DELAY_MS, MAX_TIMER_DELAY_MS, 50 * 86_400_000 - 2 * MAX_TIMER_DELAY_MS]],
  ])('a delay of %d ms waits in steps %o, then runs once', (delay, steps) => {
    fakeTimers();
    let ran = 0;
    systemScheduler.schedule(delay, () => ran++);
    const seen: number[] = [];
    for (let i = 0; i < armed.length; i++) {
      const t = armed[i] as (typeof armed)[number];
      expect(t.unref).toBe(true); // a pending timer never keeps the process alive
      expect(ran).toBe(0);
      seen.push(t.ms);
      t.fn();
    }
    Object.assign(globalThis, real);
    expect(seen).toEqual(steps);
    expect(ran).toBe(1);
  });

  it('cancel clears the step armed at the time', () => {
    fakeTimers();
    const h = systemScheduler.schedule(MAX_TIMER_DELAY_MS + 10, () => {
      throw new Error('cancelled task ran');
    });
    (armed[0] as (typeof armed)[number]).fn();
    h.cancel();
    Object.assign(globalThis, real);
    expect(armed.map((t) => t.cleared)).toEqual([false, true]);
  });

  it('runs a task on the real event loop', async () => {
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      systemScheduler.schedule(20, () => {
        order.push('later');
        resolve();
      });
      systemScheduler.schedule(1, () => order.push('sooner'));
      systemScheduler.schedule(5, () => order.push('cancelled')).cancel();
    });
    expect(order).toEqual(['sooner', 'later']);
  });
});

describe('sleep', () => {
  it('resolves true once the time has passed', async () => {
    const clock = createManualClock();
    let result: boolean | undefined;
    void sleep(clock, 100).then((r) => {
      result = r;
    });
    clock.advance(99);
    await Promise.resolve();
    expect(result).toBeUndefined();
    clock.advance(1);
    await Promise.resolve();
    expect(result).toBe(true);
  });

  it('resolves false when aborted, and cancels its timer', async () => {
    const clock = createManualClock();
    const abort = new AbortController();
    const slept = sleep(clock, 100, abort.signal);
    expect(clock.pending()).toEqual([100]);
    abort.abort();
    expect(await slept).toBe(false);
    expect(clock.pending()).toEqual([]);
  });

  it('resolves false at once when already aborted', async () => {
    const clock = createManualClock();
    expect(await sleep(clock, 100, AbortSignal.abort())).toBe(false);
    expect(clock.pending()).toEqual([]);
  });
});
