// weftd with KubernetesSource against the fake API server, and the TLS xDS port.
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { AuthzPolicy } from '@weft/policy';
import { WEFT_TYPE_URL } from '@weft/xds-protocol';
import type { WorkloadWithPeerAuthentication } from '@weft/xds-protocol/convert';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from './sources/index.ts';
import {
  CORE_FAKE_RESOURCES,
  connectProxy,
  FakeApiServer,
  kubeConfigFor,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
  testMesh,
} from './testing/index.ts';

const W = WEFT_TYPE_URL;

describe('weftd, Kubernetes mode (fake API server)', () => {
  let api: FakeApiServer;
  let t: TestControlPlane;

  beforeAll(async () => {
    api = await FakeApiServer.start({
      token: 'weftd-sa-token',
      resources: [
        ...CORE_FAKE_RESOURCES,
        {
          group: 'security.istio.io',
          version: 'v1',
          kind: 'AuthorizationPolicy',
          plural: 'authorizationpolicies',
          namespaced: true,
        },
      ],
    });
    for (const o of testMesh()) api.create(o as unknown as KubeObject);
    t = await startTestControlPlane({
      config: {
        kubeConfig: kubeConfigFor(api, 'weftd-sa-token'),
        kubernetesSource: { backoff: { initialMs: 20, maxMs: 200 } },
      },
    });
  });

  afterAll(async () => {
    await t?.close();
    await api?.close();
  });

  it('compiles and serves the same objects', async () => {
    const proxy = connectProxy({
      target: t.cp.addresses.xds as string,
      nodeId: 'ztunnel~node-a',
      token: TEST_TOKENS.ztunnelNodeA,
    });
    try {
      await proxy.client.synced();
      await proxy.handler.waitFor(
        () => proxy.handler.count(W.workload) === 3 && proxy.handler.count(W.authorization) === 1,
      );
      // The API server assigns uids; workloads are keyed by them.
      const workloads = [
        ...(proxy.handler.resources.get(W.workload)?.values() ?? []),
      ] as WorkloadWithPeerAuthentication[];
      const echoA = workloads.find((w) => w.workload.name === 'echo-a');
      expect(echoA?.workload).toMatchObject({ ips: ['127.0.10.1'], node: 'node-a' });
      expect(echoA?.workload.uid).not.toBe('uid-echo-a');
      // A change in the cluster reaches the proxy.
      api.create({
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'deny-all-client', namespace: 'demo' },
        spec: { selector: { matchLabels: { app: 'client' } }, action: 'DENY', rules: [{}] },
      } as KubeObject);
      await proxy.handler.waitFor(
        () => proxy.handler.get(W.authorization, 'demo/deny-all-client') !== undefined,
      );
      expect(proxy.handler.get<AuthzPolicy>(W.authorization, 'demo/deny-all-client')?.action).toBe('DENY');
      expect(t.cp.configStatus().sources[0]?.source).toBe('kubernetes');
    } finally {
      proxy.close();
    }
  });

  it('serves xDS over TLS with a certificate from the embedded CA (SPIFFE identity of weftd)', async () => {
    let seen: string | undefined;
    const credentials = grpc.credentials.createSsl(Buffer.from(t.cp.trustBundlePem), null, null, {
      // The serving certificate names weftd by SPIFFE ID (no DNS name): check that instead.
      checkServerIdentity: (_host, cert) => {
        seen = cert.subjectaltname;
        return cert.subjectaltname?.includes('URI:spiffe://cluster.local/ns/weft-system/sa/weftd')
          ? undefined
          : new Error(`unexpected server identity ${cert.subjectaltname}`);
      },
    });
    const proxy = connectProxy({
      target: t.cp.addresses.xdsTls as string,
      nodeId: 'ztunnel~node-b',
      token: TEST_TOKENS.ztunnelNodeB,
      credentials,
      // SNI must be a name (Bun refuses an IP address there); the identity check above decides.
      channelOptions: { 'grpc.ssl_target_name_override': 'weftd.weft-system' },
    });
    try {
      await proxy.client.synced();
      await proxy.handler.waitFor(() => proxy.handler.count(W.workload) === 3);
      expect(seen).toContain('spiffe://cluster.local/ns/weft-system/sa/weftd');
      // node-b runs only echo-b: the policy selecting `client` (node-a) is not sent.
      expect(proxy.handler.get(W.authorization, 'demo/deny-all-client')).toBeUndefined();
      expect(proxy.handler.get(W.authorization, 'demo/echo-allow-client')).toBeDefined();
      expect(new X509Certificate(t.cp.trustBundlePem).ca).toBe(true);
    } finally {
      proxy.close();
    }
  });
});
