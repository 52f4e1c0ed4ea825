import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../testing/index.ts';
import { CounterFamily, counterFamily, gaugeFamily, HistogramFamily, histogramFamily } from './family.ts';
import { createRegistry } from './registry.ts';

describe('metric families', () => {
  it('a counter child keeps counting; the family exports one series per label set', async () => {
    const registry = createRegistry();
    const f = counterFamily(registry, { name: 'x_total', help: 'X.', labelNames: ['a', 'b'] });
    const c = f.bind({ a: '1', b: 'two' });
    c.inc();
    c.inc(2.5);
    f.inc({ a: '1', b: 'two' });
    f.inc({ a: 2, b: 'x' }, 0);
    expect(c.value).toBe(4.5);
    expect(f.size).toBe(2);
    const text = parsePrometheusText(await registry.metrics());
    expect(text.families.get('x_total')).toMatchObject({ type: 'counter', help: 'X.' });
    expect(text.value('x_total', { a: '1', b: 'two' })).toBe(4.5);
    expect(text.value('x_total', { a: '2', b: 'x' })).toBe(0);
  });

  it('label values that would collide when joined stay apart', () => {
    const f = new CounterFamily({ name: 'c_total', help: 'h', labelNames: ['a', 'b'] });
    const one = f.bind({ a: 'x\u0001', b: 'y' });
    const two = f.bind({ a: 'x', b: '\u0001y' });
    const three = f.bind({ a: '1:x', b: '' });
    const four = f.bind({ a: '1', b: ':x' });
    expect(new Set([one, two, three, four]).size).toBe(4);
  });

  it('remove drops a series from the export', async () => {
    const registry = createRegistry();
    const f = counterFamily(registry, { name: 'y_total', help: 'Y.', labelNames: ['k'] });
    f.inc({ k: 'a' });
    f.inc({ k: 'b' });
    f.remove({ k: 'a' });
    expect(
      parsePrometheusText(await registry.metrics())
        .find('y_total')
        .map((s) => s.labels.k),
    ).toEqual(['b']);
  });

  it('gauges set, inc and dec', async () => {
    const registry = createRegistry();
    const g = gaugeFamily(registry, { name: 'g', help: 'G.', labelNames: ['k'] });
    const child = g.bind({ k: 'a' });
    child.set(10);
    child.inc();
    child.dec(3);
    child.set(Number.NaN);
    g.set({ k: 'b' }, -1);
    const text = parsePrometheusText(await registry.metrics());
    expect(text.families.get('g')?.type).toBe('gauge');
    expect(text.value('g', { k: 'a' })).toBe(8);
    expect(text.value('g', { k: 'b' })).toBe(-1);
  });

  it('histograms export cumulative buckets, +Inf, sum and count', async () => {
    const registry = createRegistry();
    const h = histogramFamily(registry, { name: 'h_seconds', help: 'H.', buckets: [0.1, 1, 10] });
    const child = h.bind({});
    for (const v of [0.05, 0.1, 0.5, 5, 50, Number.POSITIVE_INFINITY]) child.observe(v);
    h.observe({}, 1);
    const text = parsePrometheusText(await registry.metrics());
    expect(text.find('h_seconds_bucket').map((s) => [s.labels.le, s.value])).toEqual([
      ['0.1', 2],
      ['1', 4],
      ['10', 5],
      ['+Inf', 6],
    ]);
    expect(text.value('h_seconds_sum')).toBeCloseTo(56.65);
    expect(text.value('h_seconds_count')).toBe(6);
    expect(child.count).toBe(6);
  });

  it.each([
    ['bad metric name', () => new CounterFamily({ name: '1x', help: '' })],
    ['bad label name', () => new CounterFamily({ name: 'x', help: '', labelNames: ['a-b'] })],
    ['reserved label', () => new CounterFamily({ name: 'x', help: '', labelNames: ['__x'] })],
    ['duplicate label', () => new CounterFamily({ name: 'x', help: '', labelNames: ['a', 'a'] })],
    [
      'le on a histogram',
      () => new HistogramFamily({ name: 'x', help: '', labelNames: ['le'], buckets: [1] }),
    ],
    ['no buckets', () => new HistogramFamily({ name: 'x', help: '', buckets: [] })],
    ['unsorted buckets', () => new HistogramFamily({ name: 'x', help: '', buckets: [2, 1] })],
    [
      'infinite bucket',
      () => new HistogramFamily({ name: 'x', help: '', buckets: [1, Number.POSITIVE_INFINITY] }),
    ],
  ])('refuses a definition with %s', (_name, make) => {
    expect(make).toThrow();
  });

  it('returns the registered family for an identical definition and refuses a different one', () => {
    const registry = createRegistry();
    const a = counterFamily(registry, { name: 'z_total', help: 'Z.', labelNames: ['k'] });
    expect(counterFamily(registry, { name: 'z_total', help: 'Z.', labelNames: ['k'] })).toBe(a);
    expect(() => counterFamily(registry, { name: 'z_total', help: 'Z.', labelNames: ['j'] })).toThrow(
      /already registered/,
    );
    expect(() => gaugeFamily(registry, { name: 'z_total', help: 'Z.', labelNames: ['k'] })).toThrow();
    new Counter({ name: 'native_total', help: 'n', registers: [registry] });
    expect(() => counterFamily(registry, { name: 'native_total', help: 'n' })).toThrow();
  });
});
