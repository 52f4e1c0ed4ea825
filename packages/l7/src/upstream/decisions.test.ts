// Load balancing, outlier detection, pool limits and the protocol of a workload addressed directly,
// as tables (no sockets).
import { namespace, pod, service } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore, l7State } from '@weft/proxy-core';
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../runtime.ts';
import { compileMesh } from '../testing/index.ts';
import { buildRing, hash32, type LbCandidate, newLbState, pickEndpoint, ringLookup } from './lb.ts';
import { createPoolLimits } from './limits.ts';
import { createOutlierDetector, outcomeForStatus } from './outlier.ts';
import { workloadProtocol } from './upstreams.ts';

const eps = (n: number, active: number[] = []): LbCandidate[] =>
  Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}:80`, active: active[i] ?? 0 }));

const seq = (values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length] as number;
};

describe('pickEndpoint', () => {
  it('round robin walks the list', () => {
    const s = newLbState();
    const picks = Array.from(
      { length: 5 },
      () => pickEndpoint({ type: 'round-robin' }, eps(3), s, Math.random)?.address,
    );
    expect(picks).toEqual(['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.1:80', '10.0.0.2:80']);
  });

  it.each([
    [0, '10.0.0.1:80'],
    [0.5, '10.0.0.2:80'],
    [0.99, '10.0.0.3:80'],
  ])('random %f -> %s', (r, expected) => {
    expect(pickEndpoint({ type: 'random' }, eps(3), newLbState(), () => r)?.address).toBe(expected);
  });

  it.each([
    // two draws pick candidates i and j (j skips i); the one with fewer requests wins
    [[0, 0], [5, 0, 9], '10.0.0.2:80'],
    [[0, 0.5], [0, 3, 1], '10.0.0.1:80'],
    [[0.9, 0], [4, 2, 3], '10.0.0.3:80'],
  ] as const)('least request with draws %j and loads %j -> %s', (draws, active, expected) => {
    expect(
      pickEndpoint({ type: 'least-request' }, eps(3, [...active]), newLbState(), seq([...draws]))?.address,
    ).toBe(expected);
  });

  it('consistent hash is stable per key and moves few keys when an endpoint goes', () => {
    const policy = { type: 'consistent-hash', key: { header: 'x-user' } } as const;
    const s = newLbState();
    const keys = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const before = keys.map((k) => pickEndpoint(policy, eps(4), s, Math.random, { hashKey: k })?.address);
    const again = keys.map((k) => pickEndpoint(policy, eps(4), s, Math.random, { hashKey: k })?.address);
    expect(again).toEqual(before);
    const three = eps(4).slice(0, 3);
    const after = keys.map((k) => pickEndpoint(policy, three, s, Math.random, { hashKey: k })?.address);
    const moved = keys.filter((_, i) => before[i] !== '10.0.0.4:80' && before[i] !== after[i]).length;
    // the ring is rebuilt with more points per remaining host, so a few other keys move too
    expect(moved).toBeLessThan(keys.length / 5);
    // every endpoint gets some keys
    expect(new Set(before).size).toBe(4);
  });

  it('consistent hash without a key falls back to random', () => {
    const policy = { type: 'consistent-hash', key: { header: 'x-user' } } as const;
    expect(pickEndpoint(policy, eps(3), newLbState(), () => 0.99)?.address).toBe('10.0.0.3:80');
  });

  it('no candidates, no pick', () => {
    expect(pickEndpoint(undefined, [], newLbState(), Math.random)).toBeUndefined();
  });

  it('ring lookup wraps around', () => {
    const ring = buildRing(['a', 'b'], 4);
    expect(ringLookup(ring, 'anything')).toMatch(/^[ab]$/);
    expect(hash32('x')).toBe(hash32('x'));
  });
});

describe('outlier detection', () => {
  const policy = {
    consecutive5xxErrors: 3,
    consecutiveGatewayErrors: 2,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionPercent: 50,
    minHealthPercent: 0,
  };

  it('ejects after consecutive 5xx, for base x count, and lets it back after', () => {
    let now = 0;
    const od = createOutlierDetector(policy, { now: () => now });
    expect(od.report('a', 'error-5xx', 4)).toBe(false);
    expect(od.report('a', 'error-5xx', 4)).toBe(false);
    expect(od.report('a', 'error-5xx', 4)).toBe(true);
    expect(od.isEjected('a')).toBe(true);
    now = 29_999;
    expect(od.isEjected('a')).toBe(true);
    now = 30_000;
    expect(od.isEjected('a')).toBe(false);
    // second ejection lasts twice as long
    for (let i = 0; i < 3; i++) od.report('a', 'error-5xx', 4);
    now = 30_000 + 59_999;
    expect(od.isEjected('a')).toBe(true);
    now = 30_000 + 60_000;
    expect(od.isEjected('a')).toBe(false);
    expect(od.ejectionCount('a')).toBe(2);
  });

  it('a success resets the count; gateway errors have their own lower threshold', () => {
    const od = createOutlierDetector(policy, { now: () => 0 });
    od.report('a', 'error-5xx', 4);
    od.report('a', 'error-5xx', 4);
    od.report('a', 'success', 4);
    expect(od.report('a', 'error-5xx', 4)).toBe(false);
    expect(od.report('b', 'gateway-error', 4)).toBe(false);
    expect(od.report('b', 'gateway-error', 4)).toBe(true);
  });

  it('never ejects more than maxEjectionPercent (but always one)', () => {
    const od = createOutlierDetector({ ...policy, maxEjectionPercent: 10 }, { now: () => 0 });
    for (let i = 0; i < 2; i++) od.report('a', 'gateway-error', 4);
    expect(od.isEjected('a')).toBe(true);
    for (let i = 0; i < 2; i++) od.report('b', 'gateway-error', 4);
    expect(od.isEjected('b')).toBe(false);
    expect(od.ejected()).toEqual(['a']);
  });

  it.each([
    [200, 'success'],
    [404, 'success'],
    [500, 'error-5xx'],
    [502, 'gateway-error'],
    [503, 'gateway-error'],
    [504, 'gateway-error'],
  ] as const)('status %i is %s', (status, outcome) => {
    expect(outcomeForStatus(status)).toBe(outcome);
  });
});

describe('pool limits', () => {
  it('unlimited by default', () => {
    const l = createPoolLimits(undefined, false);
    for (let i = 0; i < 1000; i++) expect((l.admit() as { ok: boolean }).ok).toBe(true);
  });

  it('HTTP/1.1: maxConnections run, http1MaxPendingRequests wait, the rest overflow', async () => {
    const l = createPoolLimits({ tcp: { maxConnections: 2 }, http: { http1MaxPendingRequests: 1 } }, false);
    const a = l.admit();
    const b = l.admit();
    expect(a).toMatchObject({ ok: true });
    expect(b).toMatchObject({ ok: true });
    const c = l.admit();
    expect(c).toBeInstanceOf(Promise);
    expect(l.admit()).toEqual({ ok: false, reason: 'overflow' });
    expect(l.overflows).toBe(1);
    (a as { release: () => void }).release();
    expect(await c).toMatchObject({ ok: true });
    expect(l.active).toBe(2);
  });

  it('a waiting request that goes away leaves the queue', async () => {
    const l = createPoolLimits({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 5 } }, false);
    l.admit();
    const c = new Cancellation();
    const w = l.admit(c);
    c.abort();
    expect(await w).toEqual({ ok: false, reason: 'aborted' });
    expect(l.pending).toBe(0);
  });

  it('HTTP/2: only http2MaxRequests bounds', () => {
    const l = createPoolLimits({ tcp: { maxConnections: 1 }, http: { http2MaxRequests: 2 } }, true);
    expect(l.admit()).toMatchObject({ ok: true });
    expect(l.admit()).toMatchObject({ ok: true });
    expect(l.admit()).toEqual({ ok: false, reason: 'overflow' });
  });
});

describe('workloadProtocol: a workload addressed directly speaks what its service port declares', () => {
  const objects = (appProtocol?: string) => [
    namespace('shop'),
    pod('api-1', {
      namespace: 'shop',
      ip: '10.1.0.5',
      labels: { app: 'api' },
      ports: [
        { name: 'grpc', containerPort: 7070 },
        { name: 'other', containerPort: 8080 },
      ],
    }),
    service('api', {
      namespace: 'shop',
      selector: { app: 'api' },
      ports: [
        { name: 'main', port: 80, targetPort: 7070, ...(appProtocol !== undefined ? { appProtocol } : {}) },
        { name: 'other', port: 81, targetPort: 8080 },
      ],
    }),
  ];
  const of = (appProtocol: string | undefined, port: number) => {
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(compileMesh(objects(appProtocol))));
    const state = l7State(store.state);
    const w = store.state.workloadByIp('10.1.0.5');
    if (w === undefined) throw new Error('no workload');
    return workloadProtocol(state, w, port);
  };
  it.each([
    ['grpc', 7070, 'h2'],
    ['http2', 7070, 'h2'],
    ['grpc-web', 7070, 'h2'],
    ['http', 7070, 'http1'],
    [undefined, 7070, 'http1'],
    ['grpc', 8080, 'http1'],
    ['grpc', 9999, 'http1'],
  ] as const)('appProtocol %s, target port %i: %s', (appProtocol, port, expected) => {
    expect(of(appProtocol, port)).toBe(expected);
  });
});
