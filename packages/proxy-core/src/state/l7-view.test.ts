// The L7 view of the one store (moved with the waypoint's former store): targets, generations,
// refused values, the dump. A waypoint of the shop namespace serves service web on 10.96.0.10:80.
import { authorizationPolicy, namespace, pod, service, waypointGateway } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { compileOrThrow } from '../testing/mesh.ts';
import { l7State } from './l7-view.ts';
import { applyUpdate, batchFromSnapshot, createStateStore, dumpState } from './store.ts';

const WEB_VIP = '10.96.0.10';
const WEB_HOST = 'web.shop.svc.cluster.local';

const mesh = compileOrThrow([
  namespace('shop'),
  namespace('legacy'),
  waypointGateway('waypoint', { namespace: 'shop' }),
  pod('web-1', {
    namespace: 'shop',
    ip: '10.1.0.11',
    labels: { app: 'web' },
    serviceAccount: 'web',
    ports: [{ name: 'http', containerPort: 8080 }],
  }),
  service('web', {
    namespace: 'shop',
    clusterIP: WEB_VIP,
    selector: { app: 'web' },
    ports: [{ name: 'http', port: 80, targetPort: 'http' }],
  }),
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

describe('L7 view of the store', () => {
  it('resolves targets: service VIP:port, workload address, unknown', () => {
    const store = createStateStore();
    expect(store.state.synced).toBe(false);
    applyUpdate(store, batchFromSnapshot(mesh));
    const s = l7State(store.state, 'shop/waypoint');
    const t = s.target(WEB_VIP, 80);
    expect(t.kind).toBe('service');
    if (t.kind === 'service')
      expect(t.policies.map((p) => p.key)).toEqual(['shop/on-gateway', 'shop/on-service']);
    expect(s.target(WEB_VIP, 81).kind).toBe('unknown');
    expect(s.target('10.1.0.11', 8080).kind).toBe('workload');
    expect(s.target('192.0.2.1', 80).kind).toBe('unknown');
    expect(s.workloadByIp('10.1.0.11')?.name).toBe('web-1');
  });

  it('without its Waypoint resource a waypoint applies only the service policies: no targetRef is matched here', () => {
    const store = createStateStore();
    applyUpdate(store, { ...batchFromSnapshot(mesh, 'xds'), waypoints: { upserts: [] } });
    const t = l7State(store.state, 'shop/waypoint').target(WEB_VIP, 80);
    if (t.kind !== 'service') throw new Error(t.kind);
    expect(t.policies.map((p) => p.key)).toEqual(['shop/on-service']);
  });

  it("with a Waypoint resource, the policies it lists are the waypoint's own, and only those", () => {
    const own = mesh.waypoints['shop/waypoint'];
    if (own === undefined) throw new Error('no waypoint');
    const policyKeys = (store: ReturnType<typeof createStateStore>) => {
      const t = l7State(store.state, 'shop/waypoint').target(WEB_VIP, 80);
      if (t.kind !== 'service') throw new Error(t.kind);
      return t.policies.map((p) => p.key);
    };
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(mesh, 'xds'));
    expect(policyKeys(store)).toEqual(['shop/on-gateway', 'shop/on-service']);
    // The resource decides, not a targetRef match: a Waypoint listing none applies none.
    applyUpdate(store, { source: 'xds', waypoints: { upserts: [{ ...own, authorizationPolicies: [] }] } });
    expect(policyKeys(store)).toEqual(['shop/on-service']);
  });

  it('applies upserts and removals as one new state; readers keep the old one', () => {
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(mesh));
    const before = l7State(store.state);
    const seen: number[] = [];
    store.subscribe((s) => seen.push(s.generation));
    const r = applyUpdate(store, { source: 'test', services: { removals: [WEB_HOST] } });
    expect(r.rejected).toEqual([]);
    expect(l7State(store.state).target(WEB_VIP, 80).kind).toBe('unknown');
    expect(before.target(WEB_VIP, 80).kind).toBe('service');
    expect(seen).toEqual([before.generation + 1]);
  });

  it('refuses values without a key, keeping the rest', () => {
    const store = createStateStore();
    const svc = mesh.services[WEB_HOST];
    const route = { key: '', rules: [] } as never;
    if (svc === undefined) throw new Error('no web service');
    const r = applyUpdate(store, {
      source: 'test',
      services: { upserts: [{ ...svc, hostname: '' }, svc] },
      routes: { upserts: [route] },
    });
    expect(r.rejected).toEqual([
      { source: 'test', collection: 'services', key: '', field: 'hostname', message: 'empty' },
      { source: 'test', collection: 'routes', key: '', field: 'key', message: 'empty' },
    ]);
    expect(l7State(store.state).service(WEB_HOST)).toBeDefined();
  });

  it('dumps as JSON', () => {
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(mesh));
    const dump = JSON.parse(JSON.stringify(dumpState(store))) as {
      services: { hostname: string; vips: string[] }[];
    };
    expect(dump.services.find((s) => s.hostname === WEB_HOST)?.vips).toEqual([WEB_VIP]);
  });
});
