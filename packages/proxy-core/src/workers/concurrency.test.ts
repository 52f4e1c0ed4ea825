import { describe, expect, it } from 'vitest';
import { availableCores, parseConcurrency } from './concurrency.ts';

describe('parseConcurrency', () => {
  it('defaults to the cores available', () => {
    expect(parseConcurrency(undefined, undefined, {})).toEqual({ ok: true, value: availableCores() });
    expect(parseConcurrency(undefined, 3, {})).toEqual({ ok: true, value: 3 });
  });
  it('takes WEFT_CONCURRENCY when the flag is absent, the flag first', () => {
    expect(parseConcurrency(undefined, 3, { WEFT_CONCURRENCY: '1' })).toEqual({ ok: true, value: 1 });
    expect(parseConcurrency('2', 3, { WEFT_CONCURRENCY: '1' })).toEqual({ ok: true, value: 2 });
    expect(parseConcurrency(undefined, 3, { WEFT_CONCURRENCY: '' })).toEqual({ ok: true, value: 3 });
    expect(parseConcurrency(undefined, 3, { WEFT_CONCURRENCY: 'all' })).toEqual({
      ok: false,
      error: 'WEFT_CONCURRENCY "all": not a number of workers (1..64)',
    });
  });
  it.each([
    ['1', 1],
    ['2', 2],
    ['64', 64],
  ])('accepts %s', (text, value) => {
    expect(parseConcurrency(text, 2, {})).toEqual({ ok: true, value });
  });
  it.each(['0', '65', '-1', '1.5', 'two', '', '0x2', '1000'])('refuses %j with the flag named', (text) => {
    const r = parseConcurrency(text, 2, {});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/^--concurrency /);
  });
});
