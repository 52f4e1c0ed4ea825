import { describe, expect, it } from 'vitest';
import { createBoundedWait } from './wait.ts';

describe('createBoundedWait', () => {
  it('returns at once when the condition holds, and when it turns true', async () => {
    const w = createBoundedWait(1000, 5);
    expect(await w.until(() => true)).toBe(true);
    let flag = false;
    setTimeout(() => {
      flag = true;
    }, 20);
    expect(await w.until(() => flag)).toBe(true);
  });

  it('after one timeout it gives up at once, until the condition has held again', async () => {
    const w = createBoundedWait(30, 5);
    let flag = false;
    const t0 = Date.now();
    expect(await w.until(() => flag)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    const t1 = Date.now();
    expect(await w.until(() => flag)).toBe(false);
    expect(Date.now() - t1).toBeLessThan(25);
    flag = true;
    expect(await w.until(() => flag)).toBe(true);
    flag = false;
    const t2 = Date.now();
    expect(await w.until(() => flag)).toBe(false);
    expect(Date.now() - t2).toBeGreaterThanOrEqual(25);
  });

  it('stops early when told to, without giving up for later calls', async () => {
    const w = createBoundedWait(1000, 5);
    expect(
      await w.until(
        () => false,
        () => true,
      ),
    ).toBe(false);
    let flag = false;
    setTimeout(() => {
      flag = true;
    }, 20);
    expect(await w.until(() => flag)).toBe(true);
  });
});
