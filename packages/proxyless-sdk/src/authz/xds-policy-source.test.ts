// The pod's policies from its own weft.v1 view: a compiled mesh is published by a fake weftd,
// and the source picks what this pod's Workload lists.
import * as grpc from '@grpc/grpc-js';
import { compile } from '@weft/policy';
import { authorizationPolicy, namespace, pod, service, serviceAccount } from '@weft/policy/testing';
import { weftResource } from '@weft/xds-protocol';
import { toProtoAuthorization, toProtoService, toProtoWorkload } from '@weft/xds-protocol/convert';
import { describe, expect, it } from 'vitest';
import { startFakeWeftd } from '../testing/index.ts';
import { tokenProvider } from '../token.ts';
import { podPolicies, xdsPolicySource } from './xds-policy-source.ts';

function mesh(extra: unknown[] = []) {
  const { snapshot, errors } = compile([
    namespace('demo'),
    serviceAccount('echo', 'demo'),
    pod('echo-v1', { namespace: 'demo', serviceAccount: 'echo', mode: 'proxyless', labels: { app: 'echo' } }),
    pod('other', { namespace: 'demo', serviceAccount: 'echo', mode: 'proxyless', labels: { app: 'other' } }),
    authorizationPolicy('deny-admin', {
      namespace: 'demo',
      action: 'DENY',
      selector: { app: 'echo' },
      rules: [{ to: [{ operation: { paths: ['/weft.test.Echo/Admin'] } }] }],
    }),
    service('echo', { namespace: 'demo', selector: { app: 'echo' } }),
    authorizationPolicy('service-policy', {
      namespace: 'demo',
      action: 'DENY',
      targetRefs: [{ kind: 'Service', name: 'echo' }],
      rules: [{ from: [{ source: { namespaces: ['elsewhere'] } }] }],
    }),
    ...extra,
  ]);
  expect(errors).toEqual([]);
  return snapshot;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('xdsPolicySource', () => {
  it('podPolicies: the policies the named pod lists, none for an unknown pod', () => {
    const s = mesh();
    const workloads = new Map(
      Object.values(s.workloads).map(
        (w) => [w.uid, { workload: w, peerAuthentication: { mode: 'STRICT' } }] as const,
      ),
    );
    const byKey = new Map(Object.values(s.authorizationPolicies).map((p) => [p.key, p] as const));
    expect(podPolicies(workloads as never, byKey, 'demo', 'echo-v1')?.map((p) => p.key)).toEqual([
      'demo/deny-admin',
    ]);
    expect(podPolicies(workloads as never, byKey, 'demo', 'other')).toEqual([]);
    expect(podPolicies(workloads as never, byKey, 'demo', 'nope')).toBeUndefined();
    // A Service selecting the pod brings its own (targetRefs) policies, as at a sidecar's inbound.
    const services = new Map(Object.values(s.services).map((v) => [v.hostname, v] as const));
    expect(podPolicies(workloads as never, byKey, 'demo', 'echo-v1', services)?.map((p) => p.key)).toEqual([
      'demo/deny-admin',
      'demo/service-policy',
    ]);
  });

  it("follows weftd's weft.v1 view of the pod, with the pod's token", async () => {
    const weftd = await startFakeWeftd({
      workloads: [{ token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' }],
    });
    const publish = (s: ReturnType<typeof mesh>) =>
      weftd.cache.apply([
        ...Object.values(s.workloads).map((w) => weftResource('workload', toProtoWorkload(w))),
        ...Object.values(s.services).map((v) => weftResource('service', toProtoService(v))),
        ...Object.values(s.authorizationPolicies).map((p) =>
          weftResource('authorization', toProtoAuthorization(p)),
        ),
      ]);
    const source = xdsPolicySource({
      xdsAddress: weftd.address,
      credentials: grpc.credentials.createInsecure(),
      token: tokenProvider({ token: 'echo-token-0123456789' }),
      nodeId: 'proxyless~demo/echo-v1',
      namespace: 'demo',
      pod: 'echo-v1',
    });
    try {
      expect(source.current()).toBeUndefined();
      publish(mesh());
      await until(() => source.current() !== undefined);
      expect(source.current()?.map((p) => p.key)).toEqual(['demo/deny-admin', 'demo/service-policy']);
      publish(
        mesh([
          authorizationPolicy('allow-client', {
            namespace: 'demo',
            action: 'ALLOW',
            rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
          }),
        ]),
      );
      await until(() => source.current()?.length === 3);
      expect(source.current()?.map((p) => p.key)).toEqual([
        'demo/allow-client',
        'demo/deny-admin',
        'demo/service-policy',
      ]);
      expect(weftd.adsAuthorization[0]).toBe('Bearer echo-token-0123456789');
    } finally {
      source.close?.();
      await weftd.close();
    }
  });

  it('a mesh with no policy at all is an answer: no policy, calls decided (not failed closed)', async () => {
    const weftd = await startFakeWeftd({
      workloads: [{ token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' }],
    });
    const { snapshot, errors } = compile([
      namespace('demo'),
      serviceAccount('echo', 'demo'),
      pod('echo-v1', {
        namespace: 'demo',
        serviceAccount: 'echo',
        mode: 'proxyless',
        labels: { app: 'echo' },
      }),
    ]);
    expect(errors).toEqual([]);
    weftd.cache.apply(
      Object.values(snapshot.workloads).map((w) => weftResource('workload', toProtoWorkload(w))),
    );
    const source = xdsPolicySource({
      xdsAddress: weftd.address,
      credentials: grpc.credentials.createInsecure(),
      token: tokenProvider({ token: 'echo-token-0123456789' }),
      nodeId: 'proxyless~demo/echo-v1',
      namespace: 'demo',
      pod: 'echo-v1',
    });
    try {
      await until(() => source.current() !== undefined);
      expect(source.current()).toEqual([]);
    } finally {
      source.close?.();
      await weftd.close();
    }
  });
});
