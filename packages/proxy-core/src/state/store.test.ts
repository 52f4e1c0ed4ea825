import type { Workload } from '@weft/policy';
import { authorizationPolicy, peerAuthentication, service } from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { compileOrThrow, localMeshObjects, LOCAL_MESH as M, NODE_A, NODE_B } from '../testing/mesh.ts';
import { applyUpdate, batchFromSnapshot, createStateStore, dumpState, type ProxyState } from './store.ts';

const policies = [
  authorizationPolicy('mesh-wide', { namespace: 'weft-system', action: 'AUDIT', rules: [{}] }),
  authorizationPolicy('ns-demo', {
    namespace: 'demo',
    action: 'DENY',
    rules: [{ from: [{ source: { namespaces: ['x'] } }] }],
  }),
  authorizationPolicy('sel-echo', { namespace: 'demo', selector: { app: 'echo' }, rules: [{}] }),
  authorizationPolicy('root-sel-echo', { namespace: 'weft-system', selector: { app: 'echo' }, rules: [{}] }),
  authorizationPolicy('other-sel-echo', { namespace: 'other', selector: { app: 'echo' }, rules: [{}] }),
  authorizationPolicy('targets', {
    namespace: 'demo',
    targetRefs: [{ kind: 'Service', name: 'echo' }],
    rules: [{}],
  }),
];

function loaded(extra: unknown[] = []): ProxyState {
  const store = createStateStore();
  applyUpdate(store, batchFromSnapshot(compileOrThrow([...localMeshObjects(), ...extra]), 'file'));
  return store.state;
}

describe('state store indexes', () => {
  const state = loaded(policies);
  it.each([
    { ip: M.echo1, name: 'echo-1' },
    { ip: `::ffff:${M.echo1}`, name: 'echo-1' },
    { ip: M.client, name: 'client' },
    { ip: '127.0.9.9', name: undefined },
    { ip: 'garbage', name: undefined },
  ])('workload by IP $ip', ({ ip, name }) => {
    expect(state.workloadByIp(ip)?.name).toBe(name);
  });

  it('workload by uid, services by VIP:port and hostname', () => {
    expect(state.workloadByUid('uid-demo-client')?.ips).toEqual([M.client]);
    expect(state.serviceByAddress(M.echoVip, 80)?.service.hostname).toBe(M.echoHost);
    expect(state.serviceByAddress(M.echoVip, 80)?.port.port).toBe(80);
    expect(state.serviceByAddress(M.echoVip, 81)).toBeUndefined();
    expect(state.isServiceVip(M.echoVip)).toBe(true);
    expect(state.isServiceVip(M.echo1)).toBe(false);
    expect(state.serviceByHostname('Echo.Demo.svc.cluster.local.')?.name).toBe('echo');
    expect(state.workloadsOnNode(NODE_A.name).map((w) => w.name)).toEqual(['echo-1']);
    expect(
      state
        .workloadsOnNode(NODE_B.name)
        .map((w) => w.name)
        .sort(),
    ).toEqual(['client', 'echo-2', 'legacy']);
  });

  describe('service for an endpoint (inbound: which service a connection to a workload port served)', () => {
    const extra = [
      // Both select echo-1 on 8080: "alpha" wins by hostname order, whatever the object order.
      service('zeta', {
        namespace: 'demo',
        selector: { app: 'echo' },
        ports: [{ port: 81, targetPort: 8080 }],
      }),
      service('alpha', {
        namespace: 'demo',
        selector: { app: 'echo' },
        ports: [{ port: 82, targetPort: 8080 }],
      }),
      service('admin', {
        namespace: 'demo',
        selector: { app: 'echo' },
        ports: [{ port: 90, targetPort: 9090 }],
      }),
    ];
    const withMore = loaded(extra);
    it.each([
      { state: 'fixture', uid: 'uid-demo-echo-1', port: 8080, hostname: M.echoHost },
      { state: 'fixture', uid: 'uid-demo-echo-2', port: 8080, hostname: M.echoHost },
      { state: 'fixture', uid: 'uid-other-legacy', port: 9000, hostname: 'legacy.other.svc.cluster.local' },
      { state: 'fixture', uid: 'uid-demo-echo-1', port: 9999, hostname: undefined },
      { state: 'fixture', uid: 'uid-demo-client', port: 8080, hostname: undefined },
      { state: 'fixture', uid: 'nope', port: 8080, hostname: undefined },
      { state: 'more', uid: 'uid-demo-echo-1', port: 8080, hostname: 'alpha.demo.svc.cluster.local' },
      { state: 'more', uid: 'uid-demo-echo-1', port: 9090, hostname: 'admin.demo.svc.cluster.local' },
    ])('$state: $uid port $port -> $hostname', ({ state: which, uid, port, hostname }) => {
      expect((which === 'more' ? withMore : state).serviceForEndpoint(uid, port)?.hostname).toBe(hostname);
    });
  });

  it('policies by workload: mesh, namespace, selector (own and root namespace); never targetRefs', () => {
    expect(state.policiesForWorkload('uid-demo-echo-1').map((p) => p.key)).toEqual([
      'demo/ns-demo',
      'demo/sel-echo',
      'weft-system/mesh-wide',
      'weft-system/root-sel-echo',
    ]);
    expect(state.policiesForWorkload('uid-demo-client').map((p) => p.key)).toEqual([
      'demo/ns-demo',
      'weft-system/mesh-wide',
    ]);
    expect(state.policiesForWorkload('uid-other-legacy').map((p) => p.key)).toEqual([
      'weft-system/mesh-wide',
    ]);
    expect(state.policiesForWorkload('nope')).toEqual([]);
  });

  it("policies by workload are compile's selection, as the workload lists them (weftd sends the list)", () => {
    const store = createStateStore();
    const snap = compileOrThrow([...localMeshObjects(), ...policies]);
    applyUpdate(store, batchFromSnapshot(snap, 'xds'));
    const echo = snap.workloads['uid-demo-echo-1'];
    expect(echo?.authorizationPolicies.length).toBeGreaterThan(0);
    expect(store.state.policiesForWorkload('uid-demo-echo-1').map((p) => p.key)).toEqual(
      [...(echo?.authorizationPolicies ?? [])].sort(),
    );
    // A workload whose list is empty has no policies: the store does not select again.
    const bare = Object.values(snap.workloads).map((w) => ({ ...w, authorizationPolicies: [] }));
    applyUpdate(store, { source: 'xds', workloads: { upserts: bare } });
    expect(store.state.policiesForWorkload('uid-demo-echo-1')).toEqual([]);
  });

  it('peer authentication: resolved entry first, policies otherwise', () => {
    const snap = compileOrThrow([
      ...localMeshObjects(),
      peerAuthentication('strict', { namespace: 'demo', mode: 'STRICT' }),
    ]);
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(snap, 'file'));
    const echo = store.state.workloadByIp(M.echo1) as Workload;
    expect(store.state.peerAuthenticationMode(echo, 8080)).toBe('STRICT');
    // Without the resolved entries the policies decide the same.
    applyUpdate(store, { source: 'file', peerAuthentication: { removals: [echo.uid] } });
    expect(store.state.peerAuthentication.has(echo.uid)).toBe(false);
    expect(store.state.peerAuthenticationMode(echo, 8080)).toBe('STRICT');
    const legacy = store.state.workloadByIp(M.legacy) as Workload;
    expect(store.state.peerAuthenticationMode(legacy, 9000)).toBe('PERMISSIVE');
  });
});

describe('applyUpdate', () => {
  it('applies upserts and removals, bumps the generation, notifies subscribers', () => {
    const store = createStateStore();
    const seen: number[] = [];
    store.subscribe((s, prev) => seen.push(s.generation * 10 + prev.generation));
    const snap = compileOrThrow(localMeshObjects());
    const r1 = applyUpdate(store, batchFromSnapshot(snap, 'file'));
    expect(r1.generation).toBe(1);
    expect(store.state.synced).toBe(true);
    const r2 = applyUpdate(store, {
      source: 'file',
      workloads: { removals: ['uid-demo-client', 'missing'] },
    });
    expect(r2.removed).toBe(1);
    expect(store.state.workloadByIp(M.client)).toBeUndefined();
    expect(seen).toEqual([10, 21]);
  });

  it('keeps the previous generation for readers that hold it', () => {
    const store = createStateStore();
    applyUpdate(store, batchFromSnapshot(compileOrThrow(localMeshObjects()), 'file'));
    const before = store.state;
    applyUpdate(store, { source: 'file', replace: true });
    expect(store.state.workloads.size).toBe(0);
    expect(before.workloadByIp(M.echo1)?.name).toBe('echo-1');
  });

  it('rejects bad objects alone, naming the field, and counts them', () => {
    const store = createStateStore();
    const snap = compileOrThrow(localMeshObjects());
    const good = Object.values(snap.workloads)[0] as Workload;
    const result = applyUpdate(store, {
      source: 'xds',
      workloads: {
        upserts: [
          good,
          { ...good, uid: 'bad-ip', ips: ['999.1.1.1'] },
          { ...good, uid: '' },
          { ...good, uid: 'bad-id', identity: 'not-spiffe' },
          { ...good, uid: 'bad-id-path', identity: 'spiffe://cluster.local/ns/a/sa/../b' },
          { ...good, uid: 'bad-mode', mode: 'warp' as 'none' },
          null as unknown as Workload,
        ],
      },
      authorizationPolicies: {
        upserts: [
          {
            key: 'a/b',
            name: 'b',
            namespace: 'a',
            action: 'CUSTOM' as 'ALLOW',
            scope: 'mesh',
            rules: [],
            hash: '',
          },
        ],
      },
    });
    expect(result.applied).toBe(1);
    expect(result.rejected.map((r) => `${r.collection}:${r.key}:${r.field}`)).toEqual([
      'workloads:bad-ip:ips[0]',
      'workloads::uid',
      'workloads:bad-id:identity',
      'workloads:bad-id-path:identity',
      'workloads:bad-mode:mode',
      'workloads::',
      'authorizationPolicies:a/b:action',
    ]);
    expect(result.rejected.find((r) => r.key === 'bad-id-path')?.message).toMatch(/has a "\.\." segment/);
    expect(store.rejectedTotal.workloads).toBe(6);
    expect(store.state.workloads.size).toBe(1);
    const dump = dumpState(store) as { rejected: { recent: unknown[] }; workloads: unknown[] };
    expect(dump.rejected.recent).toHaveLength(7);
    expect(JSON.parse(JSON.stringify(dump)).workloads).toHaveLength(1);
  });

  it('a throwing subscriber does not stop the writer', () => {
    const store = createStateStore();
    store.subscribe(() => {
      throw new Error('boom');
    });
    expect(applyUpdate(store, { source: 'x', synced: true }).generation).toBe(1);
  });

  it('refuses a store it did not make', () => {
    expect(() => applyUpdate({} as never, { source: 'x' })).toThrow(/createStateStore/);
  });
});
