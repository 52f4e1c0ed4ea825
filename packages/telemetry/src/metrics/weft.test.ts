import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../testing/index.ts';
import { createRegistry } from './registry.ts';
import { rejectCounter, weftCounter, weftGauge, weftHistogram, weftMetricName } from './weft.ts';

describe('weft metric names', () => {
  it.each([
    ['ztunnel', 'connections_active', 'gauge', undefined, 'weft_ztunnel_connections_active'],
    ['xds', 'pushes', 'counter', undefined, 'weft_xds_pushes_total'],
    ['hbone', 'tunnel_setup', 'histogram', 'seconds', 'weft_hbone_tunnel_setup_seconds'],
    ['ca', 'issued_cert', 'counter', 'bytes', 'weft_ca_issued_cert_bytes_total'],
  ] as const)('%s/%s (%s, %s) -> %s', (component, name, kind, unit, expected) => {
    expect(weftMetricName(component, name, kind, unit)).toBe(expected);
  });

  it.each([
    ['Ztunnel', 'x'],
    ['z-tunnel', 'x'],
    ['ztunnel', 'Pushes'],
    ['ztunnel', 'pushes_total'],
    ['ztunnel', 'weft_pushes'],
    ['ztunnel', 'latency_ms'],
    ['ztunnel', 'latency_seconds'],
    ['ztunnel', 'double__underscore'],
    ['ztunnel', ''],
  ])('refuses component %j subject %j', (component, name) => {
    expect(() => weftMetricName(component, name, 'counter')).toThrow();
  });

  it('builds families under the scheme', async () => {
    const registry = createRegistry();
    weftCounter(registry, { component: 'xds', name: 'pushes', help: 'Pushes.', labelNames: ['type'] }).inc({
      type: 'weft.v1.Workload',
    });
    weftGauge(registry, { component: 'ztunnel', name: 'connections_active', help: 'Open.' }).set({}, 3);
    weftHistogram(registry, {
      component: 'hbone',
      name: 'tunnel_setup',
      unit: 'seconds',
      help: 'Setup.',
      buckets: [0.01, 0.1, 1],
    }).observe({}, 0.05);
    const text = parsePrometheusText(await registry.metrics());
    expect(text.value('weft_xds_pushes_total', { type: 'weft.v1.Workload' })).toBe(1);
    expect(text.value('weft_ztunnel_connections_active')).toBe(3);
    expect(text.value('weft_hbone_tunnel_setup_seconds_count')).toBe(1);
    expect(() =>
      weftCounter(registry, { component: 'xds', name: 'x', help: '', labelNames: ['Bad'] }),
    ).toThrow();
  });
});

describe('rejectCounter', () => {
  it('counts refusals by component and reason on one shared family', async () => {
    const registry = createRegistry();
    const xds = rejectCounter<'bad_resource' | 'unknown_type'>('xds', registry);
    const hbone = rejectCounter<'bad_authority'>('hbone', registry);
    xds.reject('bad_resource');
    xds.reject('bad_resource', 2);
    xds.bind('unknown_type').inc();
    hbone.reject('bad_authority');
    expect(xds.count('bad_resource')).toBe(3);
    expect(hbone.count('bad_authority')).toBe(1);
    const text = parsePrometheusText(await registry.metrics());
    expect(text.families.get('weft_rejected_total')?.type).toBe('counter');
    expect(text.find('weft_rejected_total').map((s) => [s.labels, s.value])).toEqual([
      [{ component: 'xds', reason: 'bad_resource' }, 3],
      [{ component: 'xds', reason: 'unknown_type' }, 1],
      [{ component: 'hbone', reason: 'bad_authority' }, 1],
    ]);
  });

  it('works without a registry and reads 0 for unseen reasons', () => {
    const r = rejectCounter('policy');
    expect(r.count('anything')).toBe(0);
    r.reject('anything');
    expect(r.count('anything')).toBe(1);
  });

  it('refuses a malformed component', () => {
    expect(() => rejectCounter('Bad Component')).toThrow();
  });
});
