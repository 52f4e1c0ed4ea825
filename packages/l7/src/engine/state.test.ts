import { authorizationPolicy, waypointGateway } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { SHOP, serviceWith, WEB_HOST, WEB_VIP } from '../test-support/mesh.ts';
import { compileMesh } from '../testing/index.ts';
import { applyUpdate, batchFromSnapshot, createStateStore, dumpState } from './state.ts';

const mesh = compileMesh([
  ...SHOP,
  waypointGateway('waypoint', { namespace: 'shop' }),
  ...serviceWith([{ name: 'web-1', ip: '10.1.0.11', port: 8080 }]),
  authorizationPolicy('on-gateway', {
    namespace: 'shop',
    targetRefs: [{ kind: 'Gateway', name: 'waypoint' }],
    rules: [{}],
  }),
  authorizationPolicy('on-service', {
    namespace: 'shop',
    targetRefs: [{ kind: 'Service', name: 'web' }],
    rules: [{}],
  }),
  authorizationPolicy('namespace-wide', { namespace: 'shop', rules: [{}] }),
]);

describe('state store', () => {
  it('resolves targets: service VIP:port, workload address, unknown', () => {
    const store = createStateStore({ waypoint: 'shop/waypoint' });
    expect(store.synced).toBe(false);
    applyUpdate(store, batchFromSnapshot(mesh));
    const s = store.current();
    const t = s.target(WEB_VIP, 80);
    expect(t.kind).toBe('service');
    if (t.kind === 'service')
      expect(t.policies.map((p) => p.key)).toEqual(['shop/on-gateway', 'shop/on-service']);
    expect(s.target(WEB_VIP, 81).kind).toBe('unknown');
    expect(s.target('10.1.0.11', 8080).kind).toBe('workload');
    expect(s.target('192.0.2.1', 80).kind).toBe('unknown');
    expect(s.workloadByIp('10.1.0.11')?.name).toBe('web-1');
  });

  it('applies upserts and removals as one new state; readers keep the old one', () => {
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(mesh));
    const before = store.current();
    const seen: number[] = [];
    store.subscribe((s) => seen.push(s.generation));
    const r = applyUpdate(store, { services: { removed: [WEB_HOST] } });
    expect(r.rejected).toEqual([]);
    expect(store.current().target(WEB_VIP, 80).kind).toBe('unknown');
    expect(before.target(WEB_VIP, 80).kind).toBe('service');
    expect(seen).toEqual([before.generation + 1]);
  });

  it('refuses values without a key, keeping the rest', () => {
    const store = createStateStore();
    const svc = mesh.services[WEB_HOST];
    const r = applyUpdate(store, { services: { upserted: [{ ...svc, key: '' } as never, svc as never] } });
    expect(r.rejected).toEqual([{ collection: 'services', key: '', reason: 'missing key' }]);
    expect(store.current().service(WEB_HOST)).toBeDefined();
  });

  it('dumps as JSON', () => {
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(mesh));
    expect(JSON.parse(JSON.stringify(dumpState(store.current()))).services[WEB_HOST].vips).toEqual([WEB_VIP]);
  });
});
