import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 5000, multiplier: 2, jitter: 0.5 };
  it.each([
    // attempt, random, expected
    [0, 0.5, 100],
    [1, 0.5, 200],
    [4, 0.5, 1600],
    [10, 0.5, 5000], // capped
    [0, 0, 50], // -jitter
    [0, 1, 150], // +jitter
    [10, 1, 5000], // jitter never exceeds the cap
  ])('attempt %i with random %d -> %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, opts, () => random)).toBe(expected);
  });

  it('has sane defaults', () => {
    expect(backoffDelay(0, {}, () => 0.5)).toBe(250);
    expect(backoffDelay(100, {}, () => 0.5)).toBe(30_000);
  });
});
