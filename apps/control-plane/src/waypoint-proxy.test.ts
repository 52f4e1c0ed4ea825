// A waypoint proxy against a real weftd: admitted only with its service account's token, it gets
// the scoped view of its Gateway over delta ADS, follows changes, and the CA issues it its own
// identity.
import { X509Certificate } from 'node:crypto';
import { createCsr, generateRsaKeyPair } from '@weft/ca';
import { createCaClient } from '@weft/ca/client';
import type { AuthzPolicy, RouteTable, Waypoint } from '@weft/policy';
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
  writeManifest,
} from './testing/index.ts';

const W = WEFT_TYPE_URL;
const ALL_TYPES = [
  domainResourceType('workload'),
  domainResourceType('service'),
  domainResourceType('authorization'),
  domainResourceType('httpRoutes'),
  domainResourceType('backendPolicy'),
  domainResourceType('waypoint'),
];

class DetailRecorder extends RecordingHandler {
  readonly details: string[] = [];
  override onConnectionState(state: ConnectionState, detail?: string): void {
    if (detail !== undefined) this.details.push(detail);
    super.onConnectionState(state);
  }
}

const names = (p: TestProxy, type: string) => [...(p.handler.resources.get(type)?.keys() ?? [])].sort();

describe('weftd and a waypoint proxy', () => {
  let t: TestControlPlane;
  let waypoint: TestProxy;

  beforeAll(async () => {
    t = await startTestControlPlane({ objects: waypointMesh() });
    waypoint = connectProxy({
      target: t.cp.addresses.xds as string,
      nodeId: 'waypoint~demo/waypoint',
      token: TEST_TOKENS.waypoint,
      types: ALL_TYPES,
    });
    await waypoint.client.synced();
  });

  afterAll(async () => {
    waypoint?.close();
    await t?.close();
  });

  it('serves the scoped view of its Gateway', () => {
    expect(names(waypoint, W.service)).toEqual([
      'demo/echo-v1.demo.svc.cluster.local',
      'demo/echo-v2.demo.svc.cluster.local',
      'demo/echo.demo.svc.cluster.local',
    ]);
    // Every workload (callers are named in telemetry), not only the bound ones.
    expect(names(waypoint, W.workload)).toEqual(['uid-client', 'uid-echo-a', 'uid-echo-b', 'uid-waypoint-0']);
    expect(names(waypoint, W.httpRoutes)).toEqual(['echo.demo.svc.cluster.local:80']);
    expect(names(waypoint, W.backendPolicy)).toEqual(['demo/echo-v2.demo.svc.cluster.local']);
    expect(names(waypoint, W.authorization)).toEqual(['demo/echo-deny-delete', 'demo/gateway-deny-delete']);
    expect(waypoint.handler.get<AuthzPolicy>(W.authorization, 'demo/echo-deny-delete')?.scope).toBe(
      'targets',
    );
  });

  it('sends the waypoint its own Waypoint: its pods and the policies naming its Gateway', () => {
    expect(names(waypoint, W.waypoint)).toEqual(['demo/waypoint']);
    expect(waypoint.handler.get<Waypoint>(W.waypoint, 'demo/waypoint')).toEqual(
      t.cp.snapshot()?.waypoints['demo/waypoint'],
    );
    expect(waypoint.handler.get<Waypoint>(W.waypoint, 'demo/waypoint')).toMatchObject({
      trafficType: 'service',
      workloads: ['uid-waypoint-0'],
      authorizationPolicies: ['demo/gateway-deny-delete'],
    });
  });

  it("sends every Waypoint to ztunnels and sidecars, and no other waypoint's to a waypoint", async () => {
    const spare = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'spare', namespace: 'demo' },
      spec: {
        gatewayClassName: 'weft-waypoint',
        listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
      },
    };
    await writeManifest(t.dir, 'mesh.yaml', [...waypointMesh(), spare]);
    const xds = t.cp.addresses.xds as string;
    const ztunnel = connectProxy({
      target: xds,
      nodeId: 'ztunnel~node-a',
      token: TEST_TOKENS.ztunnelNodeA,
      types: [...ALL_TYPES.slice(0, 3), domainResourceType('waypoint')],
    });
    const sidecar = connectProxy({
      target: xds,
      nodeId: 'sidecar~demo/echo-a',
      token: TEST_TOKENS.echo,
      types: ALL_TYPES,
    });
    try {
      for (const p of [ztunnel, sidecar])
        await p.handler.waitFor(() => p.handler.count(W.waypoint) === 2, 10_000);
      expect(names(ztunnel, W.waypoint)).toEqual(['demo/spare', 'demo/waypoint']);
      expect(names(sidecar, W.waypoint)).toEqual(['demo/spare', 'demo/waypoint']);
      expect(names(waypoint, W.waypoint)).toEqual(['demo/waypoint']);
    } finally {
      ztunnel.close();
      sidecar.close();
      await writeManifest(t.dir, 'mesh.yaml', waypointMesh());
      await waitFor(() => t.cp.snapshot()?.waypoints['demo/spare'] === undefined, 'spare removed', 10_000);
    }
  });

  it('delivers a route rule with no backends and no redirect (the waypoint answers 500 for it)', () => {
    const table = waypoint.handler.get<RouteTable>(W.httpRoutes, 'echo.demo.svc.cluster.local:80');
    expect(table?.rules.map((r) => r.backends.map((b) => `${b.host}=${b.weight}`))).toEqual([
      [],
      ['echo-v1.demo.svc.cluster.local=90', 'echo-v2.demo.svc.cluster.local=10'],
    ]);
  });

  it('follows binding changes: an unbound service leaves the view, its policies and routes too', async () => {
    const objects = waypointMesh().map((o) =>
      o.kind === 'Service' && (o.metadata as { name: string }).name === 'echo'
        ? { ...o, metadata: { name: 'echo', namespace: 'demo' } }
        : o,
    );
    await writeManifest(t.dir, 'mesh.yaml', objects);
    await waypoint.handler.waitFor(
      () =>
        waypoint.handler.count(W.service) === 0 &&
        waypoint.handler.count(W.httpRoutes) === 0 &&
        waypoint.handler.count(W.workload) === 4 &&
        waypoint.handler.count(W.authorization) === 1,
      10_000,
    );
    expect(names(waypoint, W.httpRoutes)).toEqual([]);
    expect(names(waypoint, W.authorization)).toEqual(['demo/gateway-deny-delete']);
    expect(names(waypoint, W.workload)).toEqual(['uid-client', 'uid-echo-a', 'uid-echo-b', 'uid-waypoint-0']);
    await writeManifest(t.dir, 'mesh.yaml', waypointMesh());
    await waypoint.handler.waitFor(() => waypoint.handler.count(W.service) === 3, 10_000);
  });

  it.each([
    {
      who: 'another account of the namespace',
      token: TEST_TOKENS.client,
      nodeId: 'waypoint~demo/waypoint',
      why: 'is not the service account of waypoint demo/waypoint',
    },
    {
      who: 'a Gateway that does not exist',
      token: TEST_TOKENS.waypoint,
      nodeId: 'waypoint~demo/nope',
      why: 'no waypoint Gateway demo/nope',
    },
    {
      who: 'a ztunnel token',
      token: TEST_TOKENS.ztunnelNodeA,
      nodeId: 'waypoint~demo/waypoint',
      why: 'may not connect as waypoint~demo/waypoint',
    },
  ])('refuses $who', async ({ token, nodeId, why }) => {
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
  });

  it('issues the waypoint a certificate for its own identity', async () => {
    const ca = createCaClient({ address: t.cp.addresses.xds as string, token: () => TEST_TOKENS.waypoint });
    try {
      const r = await ca.createCertificate({ csr: createCsr(await generateRsaKeyPair(2048)) });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const leaf = new X509Certificate(r.value.certChain[0] as string);
      expect(leaf.subjectAltName).toBe('URI:spiffe://cluster.local/ns/demo/sa/waypoint');
    } finally {
      ca.close();
    }
  });
});
