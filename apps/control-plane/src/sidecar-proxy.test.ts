// A sidecar proxy against a real weftd: admitted only with the token of its pod's service account,
// it gets the view of its pod over delta ADS, and the CA issues it that account's identity and no
// other. Every refusal is counted.
import { X509Certificate } from 'node:crypto';
import { createCsr, generateRsaKeyPair } from '@weft/ca';
import { createCaClient } from '@weft/ca/client';
import { type ConnectionState, createDeltaAdsClient, WEFT_TYPE_URL } from '@weft/xds-protocol';
import { domainResourceType } from '@weft/xds-protocol/convert';
import { RecordingHandler } from '@weft/xds-protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  connectProxy,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
  type TestProxy,
  waitFor,
  waypointMesh,
} from './testing/index.ts';

const W = WEFT_TYPE_URL;
const ALL_TYPES = [
  domainResourceType('workload'),
  domainResourceType('service'),
  domainResourceType('authorization'),
  domainResourceType('httpRoutes'),
  domainResourceType('backendPolicy'),
];

class DetailRecorder extends RecordingHandler {
  readonly details: string[] = [];
  override onConnectionState(state: ConnectionState, detail?: string): void {
    if (detail !== undefined) this.details.push(detail);
    super.onConnectionState(state);
  }
}

/** `waypointMesh()` plus pod `legacy/echo-0`, run by an `echo` account of its own namespace. */
function mesh(): unknown[] {
  return [
    ...waypointMesh(),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'legacy' } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'echo-0', namespace: 'legacy', uid: 'uid-legacy-echo-0', labels: { app: 'echo' } },
      spec: { nodeName: 'node-b', serviceAccountName: 'echo', containers: [{ name: 'app' }] },
      status: { phase: 'Running', podIP: '127.0.30.1', podIPs: [{ ip: '127.0.30.1' }] },
    },
  ];
}

const names = (p: TestProxy, type: string) => [...(p.handler.resources.get(type)?.keys() ?? [])].sort();

async function metric(t: TestControlPlane, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://${t.cp.addresses.admin}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

describe('weftd and a sidecar proxy', () => {
  let t: TestControlPlane;
  let sidecar: TestProxy;

  beforeAll(async () => {
    t = await startTestControlPlane({ objects: mesh() });
    sidecar = connectProxy({
      target: t.cp.addresses.xds as string,
      nodeId: 'sidecar~demo/echo-a',
      token: TEST_TOKENS.echo,
      types: ALL_TYPES,
    });
    await sidecar.client.synced();
  });

  afterAll(async () => {
    sidecar?.close();
    await t?.close();
  });

  it('streams as its own pod and gets that pod’s view', () => {
    expect(names(sidecar, W.workload)).toEqual([
      'uid-client',
      'uid-echo-a',
      'uid-echo-b',
      'uid-legacy-echo-0',
      'uid-waypoint-0',
    ]);
    expect(names(sidecar, W.service)).toEqual([
      'demo/echo-v1.demo.svc.cluster.local',
      'demo/echo-v2.demo.svc.cluster.local',
      'demo/echo.demo.svc.cluster.local',
      'demo/other.demo.svc.cluster.local',
    ]);
    // Its own pod's selector policy; the targetRefs policies are the waypoint's.
    expect(names(sidecar, W.authorization)).toEqual(['demo/echo-allow-client']);
    // `echo` goes through its waypoint, which applies echo-split; `other` is reached directly.
    expect(names(sidecar, W.httpRoutes)).toEqual(['other.demo.svc.cluster.local:80']);
    expect(names(sidecar, W.backendPolicy)).toEqual(['demo/echo-v2.demo.svc.cluster.local']);
    expect(t.cp.syncz().find((p) => p.id === 'sidecar~demo/echo-a')).toMatchObject({
      kind: 'sidecar',
      namespace: 'demo',
      name: 'echo-a',
    });
  });

  it.each([
    {
      who: "another namespace's pod with the same account name",
      token: TEST_TOKENS.echo,
      nodeId: 'sidecar~legacy/echo-0',
      why: 'demo/echo may not connect as sidecar~legacy/echo-0',
    },
    {
      who: 'a pod of another account',
      token: TEST_TOKENS.echo,
      nodeId: 'sidecar~demo/client',
      why: 'demo/echo is not the service account of pod demo/client (client)',
    },
    {
      who: 'a pod that does not exist',
      token: TEST_TOKENS.echo,
      nodeId: 'sidecar~demo/nope',
      why: 'no pod demo/nope',
    },
    {
      who: 'a ztunnel token',
      token: TEST_TOKENS.ztunnelNodeA,
      nodeId: 'sidecar~demo/client',
      why: 'may not connect as sidecar~demo/client',
    },
  ])('refuses $who, counted', async ({ token, nodeId, why }) => {
    const before = await metric(t, 'weft_rejected_total', { component: 'weftd', reason: 'xds_bad_node' });
    const handler = new DetailRecorder();
    const client = createDeltaAdsClient({
      target: t.cp.addresses.xds as string,
      node: { id: nodeId },
      types: ALL_TYPES,
      handler,
      metadata: () => bearer(token),
      backoff: { initialMs: 50, maxMs: 200 },
    });
    try {
      await waitFor(() => handler.details.some((d) => d.includes(why)), `refusal: ${why}`, 5000);
      expect(handler.count(W.workload)).toBe(0);
    } finally {
      client.close();
    }
    const after = await metric(t, 'weft_rejected_total', { component: 'weftd', reason: 'xds_bad_node' });
    expect(after).toBeGreaterThan(before);
  });

  it("issues a certificate for the pod's service account and refuses any other, counted", async () => {
    const ca = createCaClient({ address: t.cp.addresses.xds as string, token: () => TEST_TOKENS.echo });
    try {
      const csr = createCsr(await generateRsaKeyPair(2048));
      const own = await ca.createCertificate({ csr });
      expect(own.ok).toBe(true);
      if (!own.ok) return;
      const leaf = new X509Certificate(own.value.certChain[0] as string);
      expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/demo/sa/echo');

      const labels = { reason: 'impersonation_denied' };
      const before = await metric(t, 'weft_ca_certificate_requests_rejected_total', labels);
      for (const other of [
        'spiffe://cluster.local/ns/demo/sa/client',
        'spiffe://cluster.local/ns/legacy/sa/echo',
      ]) {
        const r = await ca.createCertificate({ csr, impersonatedIdentity: other });
        expect(r).toMatchObject({ ok: false, error: { codeName: 'PERMISSION_DENIED' } });
      }
      expect(await metric(t, 'weft_ca_certificate_requests_rejected_total', labels)).toBe(before + 2);
    } finally {
      ca.close();
    }
  });
});
