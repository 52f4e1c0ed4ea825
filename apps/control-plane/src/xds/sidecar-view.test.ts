import * as grpc from '@grpc/grpc-js';
import { compile, type MeshSnapshot } from '@weft/policy';
import { type AdsClientInfo, type CachedResource, ResourceCache, WEFT_TYPE_URL } from '@weft/xds-protocol';
import { describe, expect, it } from 'vitest';
import { testMesh, waypointMesh } from '../testing/index.ts';
import { admitSidecar, sidecarView, sidecarViewSignature } from './sidecar-view.ts';
import { ProxyViews, type StreamCaller, ViewRefused } from './views.ts';

type Obj = Record<string, unknown>;

function snapshotOf(objects: readonly unknown[]): MeshSnapshot {
  const { snapshot, errors } = compile(objects);
  expect(errors).toEqual([]);
  return snapshot;
}

/** `waypointMesh()` plus a pod named like demo's `client`, with the same account, in namespace `legacy`. */
function mesh(): Obj[] {
  return [
    ...waypointMesh(),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'legacy' } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client', namespace: 'legacy', uid: 'uid-legacy-client', labels: { app: 'client' } },
      spec: { nodeName: 'node-b', serviceAccountName: 'client', containers: [{ name: 'app' }] },
      status: { phase: 'Running', podIP: '127.0.30.1', podIPs: [{ ip: '127.0.30.1' }] },
    },
  ];
}

const snapshot = snapshotOf(mesh());
const sorted = (s: ReadonlySet<string> | undefined) => [...(s ?? [])].sort();

describe('sidecarView', () => {
  it.each([
    {
      pod: 'demo/echo-a',
      workload: 'uid-echo-a',
      // its own selector policy; echo's targetRefs policy is echo's waypoint's
      authorizations: ['demo/echo-allow-client'],
    },
    // `other` selects the client pod and no waypoint serves it: its targetRefs policy is enforced
    // by the server-side sidecar
    { pod: 'demo/client', workload: 'uid-client', authorizations: ['demo/other-deny-delete'] },
    { pod: 'legacy/client', workload: 'uid-legacy-client', authorizations: [] },
  ])('$pod: its own workload and policies', ({ pod, workload, authorizations }) => {
    const view = sidecarView(snapshot, pod);
    expect(view?.workload).toBe(workload);
    expect(sorted(view?.authorizations)).toEqual(authorizations);
  });

  it("holds the routes and DestinationRules of the services it reaches directly, not a waypoint's", () => {
    const view = sidecarView(snapshot, 'demo/client');
    // echo is bound to the waypoint: its waypoint applies echo-split; `other` is reached directly.
    expect(sorted(view?.httpRoutes)).toEqual(['other.demo.svc.cluster.local:80']);
    expect(sorted(view?.backendPolicies)).toEqual(['demo/echo-v2.demo.svc.cluster.local']);
  });

  it('holds every route when no service has a waypoint', () => {
    const unbound = waypointMesh().map((o) =>
      o.kind === 'Service' && (o.metadata as { name: string }).name === 'echo'
        ? { ...o, metadata: { name: 'echo', namespace: 'demo' } }
        : o,
    );
    const view = sidecarView(snapshotOf(unbound), 'demo/client');
    expect(sorted(view?.httpRoutes)).toEqual([
      'echo.demo.svc.cluster.local:80',
      'other.demo.svc.cluster.local:80',
    ]);
  });

  it('is undefined for an unknown pod and before the first snapshot', () => {
    expect(sidecarView(snapshot, 'demo/nope')).toBeUndefined();
    expect(sidecarView(snapshot, 'other/client')).toBeUndefined();
    expect(sidecarView(undefined, 'demo/client')).toBeUndefined();
  });

  it('changes its signature only when what it admits changes', () => {
    const again = snapshotOf(mesh());
    const sig = (s: MeshSnapshot, pod: string) => {
      const v = sidecarView(s, pod);
      return v === undefined ? '' : sidecarViewSignature(s, v);
    };
    expect(sig(again, 'demo/echo-a')).toBe(sig(snapshot, 'demo/echo-a'));
    const noPolicy = snapshotOf(
      mesh().filter((o) => (o.metadata as { name: string }).name !== 'echo-allow-client'),
    );
    expect(sig(noPolicy, 'demo/echo-a')).not.toBe(sig(snapshot, 'demo/echo-a'));
    // demo/client never had that policy: its view is unchanged.
    expect(sig(noPolicy, 'demo/client')).toBe(sig(snapshot, 'demo/client'));
  });
});

describe('admitSidecar', () => {
  it.each([
    { name: "the pod's own account", pod: 'demo/client', caller: 'demo/client', ok: true },
    {
      name: 'its own account, token bound to its node',
      pod: 'demo/client',
      caller: 'demo/client@node-a',
      ok: true,
    },
    {
      name: 'its own account, token bound to another node',
      pod: 'demo/client',
      caller: 'demo/client@node-b',
      ok: false,
    },
    { name: 'another account of the namespace', pod: 'demo/echo-a', caller: 'demo/client', ok: false },
    {
      name: 'the same account name in another namespace',
      pod: 'legacy/client',
      caller: 'demo/client',
      ok: false,
    },
    { name: 'the other namespace, its own pod', pod: 'legacy/client', caller: 'legacy/client', ok: true },
    { name: 'a pod that does not exist', pod: 'demo/nope', caller: 'demo/client', ok: false },
    { name: 'a ztunnel', pod: 'demo/client', caller: 'weft-system/ztunnel@node-a', ok: false },
  ])('$name -> $ok', ({ pod, caller, ok }) => {
    const [who = '', node] = caller.split('@');
    const [namespace = '', serviceAccount = ''] = who.split('/');
    const r = admitSidecar(snapshot, pod, { namespace, serviceAccount, ...(node ? { node } : {}) });
    expect(r.ok).toBe(ok);
  });

  it('refuses everything before the first snapshot', () => {
    expect(admitSidecar(undefined, 'demo/client', { namespace: 'demo', serviceAccount: 'client' }).ok).toBe(
      false,
    );
  });

  it('says why', () => {
    expect(admitSidecar(snapshot, 'demo/echo-a', { namespace: 'demo', serviceAccount: 'client' })).toEqual({
      ok: false,
      error: 'demo/client is not the service account of pod demo/echo-a (echo)',
    });
    expect(
      admitSidecar(snapshot, 'demo/client', { namespace: 'demo', serviceAccount: 'client', node: 'node-b' }),
    ).toEqual({ ok: false, error: 'token is bound to node node-b, pod demo/client runs on node-a' });
  });
});

describe('ProxyViews for sidecars', () => {
  function client(nodeId: string): AdsClientInfo {
    return {
      streamId: 1,
      protocol: 'delta',
      node: { id: nodeId } as AdsClientInfo['node'],
      nodeId,
      peer: '127.0.0.1:1',
      metadata: new grpc.Metadata(),
      authContext: undefined,
    };
  }
  function views(caller: StreamCaller | undefined, current: () => MeshSnapshot | undefined = () => snapshot) {
    return new ProxyViews({
      cache: new ResourceCache({ name: 'test' }),
      snapshot: current,
      caller: () => caller,
      nodeAgents: [{ namespace: 'weft-system', serviceAccount: 'ztunnel' }],
    });
  }
  const seen = (filter: ((r: CachedResource) => boolean) | undefined, typeUrl: string, name: string) =>
    filter?.({ typeUrl, name } as CachedResource) ?? true;

  it.each([
    {
      nodeId: 'sidecar~demo/client',
      caller: { namespace: 'demo', serviceAccount: 'client' },
      refused: undefined,
    },
    {
      nodeId: 'sidecar~legacy/client',
      caller: { namespace: 'demo', serviceAccount: 'client' },
      refused: 'demo/client may not connect as sidecar~legacy/client',
    },
    {
      nodeId: 'sidecar~demo/echo-a',
      caller: { namespace: 'demo', serviceAccount: 'client' },
      refused: 'is not the service account of pod demo/echo-a',
    },
    {
      nodeId: 'sidecar~demo/client',
      caller: { namespace: 'weft-system', serviceAccount: 'ztunnel', node: 'node-a' },
      refused: 'may not connect as sidecar~demo/client',
    },
  ])('$nodeId as $caller.namespace/$caller.serviceAccount', ({ nodeId, caller, refused }) => {
    const v = views(caller);
    if (refused === undefined) {
      expect(v.identify(client(nodeId))).toEqual({ kind: 'sidecar', namespace: 'demo', name: 'client' });
    } else {
      expect(() => v.identify(client(nodeId))).toThrow(ViewRefused);
      expect(() => v.identify(client(nodeId))).toThrow(refused);
    }
  });

  it('filters by the view and keeps the last one while the pod is gone', () => {
    let current: MeshSnapshot | undefined = snapshot;
    const v = views({ namespace: 'demo', serviceAccount: 'echo' }, () => current);
    const info = client('sidecar~demo/echo-a');
    const filter = v.select(info).filter;
    const W = WEFT_TYPE_URL;
    expect(seen(filter, W.workload, 'uid-legacy-client')).toBe(true);
    expect(seen(filter, W.service, 'legacy/anything')).toBe(true);
    expect(seen(filter, W.authorization, 'demo/echo-allow-client')).toBe(true);
    expect(seen(filter, W.authorization, 'demo/echo-deny-delete')).toBe(false);
    expect(seen(filter, W.httpRoutes, 'echo.demo.svc.cluster.local:80')).toBe(false);
    expect(seen(filter, W.httpRoutes, 'other.demo.svc.cluster.local:80')).toBe(true);
    expect(seen(filter, W.backendPolicy, 'demo/echo-v2.demo.svc.cluster.local')).toBe(true);
    // A new snapshot with the same view keeps the same filter (no push).
    current = snapshotOf(mesh());
    expect(v.select(info).filter).toBe(filter);
    // The pod leaves: the sidecar keeps its policies rather than losing them.
    current = snapshotOf(mesh().filter((o) => (o.metadata as { name: string }).name !== 'echo-a'));
    expect(v.select(info).filter).toBe(filter);
  });

  it('gives an anonymous stream of an unknown pod destinations only', () => {
    const filter = views(undefined).select(client('sidecar~demo/nope')).filter;
    expect(seen(filter, WEFT_TYPE_URL.workload, 'uid-client')).toBe(true);
    expect(seen(filter, WEFT_TYPE_URL.authorization, 'demo/echo-allow-client')).toBe(false);
  });
});

it('a plain ambient mesh: every sidecar of demo sees no waypoint-bound routes', () => {
  const view = sidecarView(snapshotOf(testMesh()), 'demo/client');
  expect(sorted(view?.httpRoutes)).toEqual([]);
});
