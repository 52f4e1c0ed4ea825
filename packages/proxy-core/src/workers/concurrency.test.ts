import { describe, expect, it } from 'vitest';
import { availableCores, parseConcurrency } from './concurrency.ts';

describe('parseConcurrency', () => {
  it('defaults to the cores available', () => {
    expect(parseConcurrency(undefined)).toEqual({ ok: true, value: availableCores() });
    expect(parseConcurrency(undefined, 3)).toEqual({ ok: true, value: 3 });
  });
  it.each([
    ['1', 1],
    ['2', 2],
    ['64', 64],
  ])('accepts %s', (text, value) => {
    expect(parseConcurrency(text)).toEqual({ ok: true, value });
  });
  it.each(['0', '65', '-1', '1.5', 'two', '', '0x2', '1000'])('refuses %j with the flag named', (text) => {
    const r = parseConcurrency(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^--concurrency /);
  });
});
