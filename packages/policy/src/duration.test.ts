import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['1.5s', 1500],
    ['100ms', 100],
    ['1h30m', 5_400_000],
    ['0s', 0],
    ['250us', 0.25],
    ['2m3s', 123_000],
  ])('%s -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '1.s', '-1s', '1d', 's', '1 s', '1.5'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
