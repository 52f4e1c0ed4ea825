import { describe, expect, it } from 'vitest';
import { createManualClock } from './manual-clock.ts';

describe('createManualClock', () => {
  it('starts at 2030-01-01 unless told, and stands still', () => {
    expect(createManualClock().now()).toBe(Date.UTC(2030, 0, 1));
    const clock = createManualClock(1000);
    expect(clock.now()).toBe(1000);
    expect(clock.now()).toBe(1000);
  });

  it('runs due timers in time order, ties in scheduling order, each at its own time', () => {
    const clock = createManualClock(0);
    const ran: string[] = [];
    const at = (name: string) => () => ran.push(`${name}@${clock.now()}`);
    clock.schedule(30, at('c'));
    clock.schedule(10, at('a1'));
    clock.schedule(20, at('b'));
    clock.schedule(10, at('a2'));
    clock.schedule(-5, at('now')); // negative: due at once
    clock.schedule(Number.NaN, at('nan'));
    expect(clock.pending()).toEqual([0, 0, 10, 10, 20, 30]);
    clock.advance(25);
    expect(ran).toEqual(['now@0', 'nan@0', 'a1@10', 'a2@10', 'b@20']);
    expect(clock.now()).toBe(25);
    expect(clock.pending()).toEqual([5]);
    clock.advance(5);
    expect(ran.at(-1)).toBe('c@30');
    expect(clock.pending()).toEqual([]);
  });

  it('runs nothing before its time', () => {
    const clock = createManualClock(0);
    let ran = false;
    clock.schedule(100, () => {
      ran = true;
    });
    clock.advance(99);
    expect(ran).toBe(false);
    clock.advance(1);
    expect(ran).toBe(true);
  });

  it('cancel removes a timer; cancelling twice or after it ran is harmless', () => {
    const clock = createManualClock(0);
    const ran: number[] = [];
    const a = clock.schedule(10, () => ran.push(10));
    clock.schedule(10, () => ran.push(11));
    const c = clock.schedule(20, () => ran.push(20));
    a.cancel();
    a.cancel();
    expect(clock.pending()).toEqual([10, 20]);
    clock.advance(20);
    c.cancel();
    expect(ran).toEqual([11, 20]);
  });

  it('runs timers scheduled while advancing that fall due, and honours cancels made meanwhile', () => {
    const clock = createManualClock(0);
    const ran: string[] = [];
    const later = clock.schedule(50, () => ran.push('cancelled'));
    clock.schedule(10, () => {
      ran.push(`first@${clock.now()}`);
      later.cancel();
      clock.schedule(0, () => ran.push(`zero@${clock.now()}`));
      clock.schedule(15, () => ran.push(`chained@${clock.now()}`));
      clock.schedule(500, () => ran.push('beyond'));
    });
    clock.schedule(10, () => ran.push(`second@${clock.now()}`));
    clock.advance(100);
    expect(ran).toEqual(['first@10', 'second@10', 'zero@10', 'chained@25']);
    expect(clock.pending()).toEqual([410]);
  });

  it('advances across many timers in order', () => {
    const clock = createManualClock(0);
    const ran: number[] = [];
    // Scheduled out of order: delays 0, 7, 14, ... scrambled by a stride coprime to n.
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const d = ((i * 2749) % n) * 7;
      clock.schedule(d, () => ran.push(clock.now()));
    }
    const cancelled = clock.schedule(3 * 7, () => ran.push(-1));
    cancelled.cancel();
    clock.advance(7 * n);
    expect(ran).toHaveLength(n);
    expect(ran).toEqual(Array.from({ length: n }, (_, i) => i * 7));
  });

  it('handles long delays (beyond setTimeout’s 2^31 ms) exactly', () => {
    const clock = createManualClock(0);
    const year = 365 * 86_400_000;
    const ran: number[] = [];
    clock.schedule(10 * year, () => ran.push(clock.now()));
    clock.schedule(2 ** 31, () => ran.push(clock.now()));
    clock.advance(2 ** 31 - 1);
    expect(ran).toEqual([]);
    clock.advance(1);
    expect(ran).toEqual([2 ** 31]);
    clock.advanceTo(10 * year);
    expect(ran).toEqual([2 ** 31, 10 * year]);
  });

  it('runNext jumps to the next timer', () => {
    const clock = createManualClock(0);
    const ran: number[] = [];
    clock.schedule(300, () => ran.push(clock.now()));
    clock.schedule(100, () => ran.push(clock.now()));
    expect(clock.runNext()).toBe(true);
    expect(clock.now()).toBe(100);
    expect(clock.runNext()).toBe(true);
    expect(clock.runNext()).toBe(false);
    expect(ran).toEqual([100, 300]);
    expect(clock.now()).toBe(300);
  });

  it('never goes back', () => {
    const clock = createManualClock(1000);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.advanceTo(999)).toThrow(RangeError);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    clock.advanceTo(1000);
    expect(clock.now()).toBe(1000);
  });

  it('serves as the Clock and Scheduler of a component at once', () => {
    const clock = createManualClock(0);
    const seen: number[] = [];
    // e.g. a debounce that records when it fired
    const debounce = (fn: () => void) => clock.schedule(50, fn);
    debounce(() => seen.push(clock.now()));
    clock.advance(60);
    expect(seen).toEqual([50]);
  });
});
