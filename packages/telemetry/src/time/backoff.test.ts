import { describe, expect, it } from 'vitest';
import { Backoff, type BackoffOptions, backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  const around: BackoffOptions = { initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0.5 };
  const below: BackoffOptions = { ...around, jitterSide: 'below' };
  it.each([
    // options, attempt, random, expected
    [around, 0, 0.5, 100],
    [around, 1, 0.5, 200],
    [around, 4, 0.5, 1600],
    [around, 10, 0.5, 5000], // capped
    [around, 0, 0, 50], // -jitter
    [around, 0, 1, 150], // +jitter
    [around, 10, 1, 5000], // jitter never exceeds the cap
    [around, -3, 0.5, 100], // negative attempts count as the first
    [below, 0, 0, 100], // below: never above the unjittered delay
    [below, 0, 0.5, 75],
    [below, 0, 1, 50],
    [below, 10, 0, 5000],
    [below, 10, 1, 2500],
    [{ jitter: 0 }, 0, 0.9, 250], // defaults: 250 ms first
    [{ jitter: 0 }, 100, 0.9, 30_000], // ...30 s cap
    [{ jitter: 0 }, 2000, 0.9, 30_000], // no overflow to NaN or Infinity
    [{ initialMs: 0 }, 2000, 0.9, 0], // 0 stays 0
    [{ initialMs: 1000, maxMs: 60_000 }, 0, 0, 800], // ±20 % by default
    [{ initialMs: 1000, maxMs: 60_000 }, 0, 1, 1200],
    [{ initialMs: 100, multiplier: 0.5, jitter: 0 }, 3, 0.5, 100], // never shrinks
    [{ initialMs: 100, jitter: 7 }, 0, 0, 0], // jitter clamped to 1
    [{ initialMs: 500, maxMs: 200, jitter: 0 }, 0, 0.5, 200], // the cap wins
  ] as const)('%o attempt %i with random %d -> %i ms', (options, attempt, random, expected) => {
    expect(backoffDelay(attempt, options, () => random)).toBe(expected);
  });

  it('draws one random number per delay', () => {
    let draws = 0;
    backoffDelay(3, {}, () => {
      draws++;
      return 0.5;
    });
    expect(draws).toBe(1);
  });
});

describe('Backoff', () => {
  it('grows per failure, caps, and starts over after reset', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 50, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([10, 20, 40, 50]);
    expect(b.attempts).toBe(4);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(10);
  });

  it('takes its random source', () => {
    const values = [0, 1, 0.5];
    const b = new Backoff({ initialMs: 100, jitter: 0.5 }, () => values.shift() ?? 0.5);
    expect([b.next(), b.next(), b.next()]).toEqual([50, 300, 400]);
  });
});
