// Reliability with a real ADS server (@weft/xds-protocol) and a real CA: the config source goes
// away and comes back, a ztunnel restarts. Nodes on 127.0.3.x (node-a) and 127.0.4.x (node-b).
import type { MeshSnapshot } from '@weft/policy/runtime';
import { authorizationPolicy } from '@weft/policy/testing';
import { REPLY } from '@weft/proxy-core';
import { compileOrThrow, localMeshLayout, localMeshObjects } from '@weft/proxy-core/testing';
import {
  createAdsServer,
  type ListeningAdsServer,
  listenAds,
  ResourceCache,
  weftResource,
} from '@weft/xds-protocol';
import { toProtoAuthorization, toProtoService, toProtoWorkload } from '@weft/xds-protocol/convert';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCaServer, type TestCaServer } from './testing/ca.ts';
import { type EchoServer, httpGet, roundTrip, socks5Connect, startTcpEcho } from './testing/net.ts';
import { createZtunnel, type Ztunnel, type ZtunnelConfig } from './ztunnel.ts';

const layout = localMeshLayout(3, 4);

function fill(cache: ResourceCache, snapshot: MeshSnapshot): void {
  const resources = [
    ...Object.values(snapshot.workloads).map((w) => weftResource('workload', toProtoWorkload(w, snapshot))),
    ...Object.values(snapshot.services).map((s) => weftResource('service', toProtoService(s, snapshot))),
    ...Object.values(snapshot.authorizationPolicies).map((p) =>
      weftResource('authorization', toProtoAuthorization(p)),
    ),
  ];
  const byType = new Map<string, typeof resources>();
  for (const r of resources) byType.set(r.typeUrl, [...(byType.get(r.typeUrl) ?? []), r]);
  for (const typeUrl of ['workload', 'service', 'authorization'].map(
    (k) => `type.googleapis.com/weft.v1.${k[0]?.toUpperCase()}${k.slice(1)}`,
  ))
    cache.replaceType(typeUrl, byType.get(typeUrl) ?? []);
}

let snapshot = compileOrThrow(localMeshObjects({ layout }));
let cache: ResourceCache;
let ads: ListeningAdsServer;
let adsPort: number;
let ca: TestCaServer;
let echo: EchoServer;
let a: Ztunnel;
let b: Ztunnel;

const configOf = (node: { name: string; ip: string }): ZtunnelConfig => ({
  nodeName: node.name,
  nodeIp: node.ip,
  xdsAddress: ads.address,
  caAddress: ca.address,
  tokenFile: ca.tokenFiles[node.name] as string,
  xdsBackoff: { initialMs: 50, maxMs: 200 },
  connectTimeoutMs: 3000,
});

async function startAds(port = 0): Promise<void> {
  ads = await listenAds(createAdsServer({ cache }), `127.0.0.1:${port}`);
  adsPort = ads.port;
}

beforeAll(async () => {
  cache = new ResourceCache({ name: 'reliability' });
  fill(cache, snapshot);
  await startAds();
  ca = await startTestCaServer({
    nodes: [layout.nodeA.name, layout.nodeB.name],
    workloads: () => Object.values(snapshot.workloads),
  });
  echo = await startTcpEcho(layout.echo1, 8080);
  a = await createZtunnel(configOf(layout.nodeA));
  b = await createZtunnel(configOf(layout.nodeB));
  await Promise.all([a.whenReady(), b.whenReady()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await ads?.close();
  await echo?.close();
  await ca?.close();
});

const dial = () =>
  socks5Connect({
    proxy: b.addresses.socks5,
    localAddress: layout.client,
    target: { hostname: layout.echoHost, port: 80 },
  });

describe('reliability', () => {
  it('is ready only after the xDS sync and certificates; config came over xDS', async () => {
    expect((await httpGet(`http://${layout.nodeA.ip}:15021/healthz/ready`)).status).toBe(200);
    expect(a.store.state.sources.get('xds')?.synced).toBe(true);
    expect(a.store.state.workloads.size).toBe(4);
    expect(a.store.state.peerAuthentication.size).toBe(4);
  });

  it('config source away: open connections keep working, new ones use the last config; resync on return', async () => {
    const open = await dial();
    expect(open.ok).toBe(true);
    if (!open.ok) return;
    expect(await roundTrip(open.socket, 'before')).toBe('before');

    await ads.close();
    await waitForAsync(async () => (await xdsConnection(layout.nodeB.ip)) === 'disconnected');
    expect(await roundTrip(open.socket, 'during')).toBe('during');
    const fresh = await dial();
    expect(fresh.ok).toBe(true);
    if (fresh.ok) {
      expect(await roundTrip(fresh.socket, 'new while away')).toBe('new while away');
      fresh.socket.destroy();
    }
    expect((await httpGet(`http://${layout.nodeB.ip}:15021/healthz/ready`)).status).toBe(200);

    // weftd comes back (same address) with a DENY policy: the ztunnels resync and enforce it.
    snapshot = compileOrThrow([
      ...localMeshObjects({ layout }),
      authorizationPolicy('deny-client', {
        namespace: 'demo',
        action: 'DENY',
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
      }),
    ]);
    fill(cache, snapshot);
    await startAds(adsPort);
    await waitFor(() => a.store.state.authorizationPolicies.size === 1, 10_000);
    const denied = await dial();
    expect(denied.ok ? 'connected' : denied.reply).toBe(REPLY.notAllowed);
    // The connection opened before the policy is reset too: open tunnels are decided again on
    // every change (a pooled tunnel, a waypoint's, must not outlive the policy that allowed it).
    const socket = open.socket;
    await waitFor(() => socket.destroyed || socket.readableEnded, 10_000);
    socket.destroy();

    snapshot = compileOrThrow(localMeshObjects({ layout }));
    fill(cache, snapshot);
    await waitFor(() => a.store.state.authorizationPolicies.size === 0, 10_000);
  });

  it('a malformed resource is NACKed alone; the rest of the push applies', async () => {
    const good = Object.values(snapshot.workloads)[0];
    if (good === undefined) throw new Error('no workload');
    const bad = {
      ...toProtoWorkload(good, snapshot),
      uid: 'bad-uid',
      identity: 'spiffe://cluster.local/ns/x/sa/y',
    };
    const nacksBefore = (await xdsStats(layout.nodeA.ip)).nacks;
    cache.set(weftResource('workload', bad));
    await waitForAsync(async () => (await xdsStats(layout.nodeA.ip)).nacks > nacksBefore);
    expect(a.store.state.workloadByUid('bad-uid')).toBeUndefined();
    expect(a.store.state.workloads.size).toBe(4);
    cache.delete('type.googleapis.com/weft.v1.Workload', 'bad-uid');
  });

  it('a restarted ztunnel serves new connections as soon as it is ready', async () => {
    await a.close();
    const down = await dial();
    expect(down.ok).toBe(false);
    a = await createZtunnel(configOf(layout.nodeA));
    await a.whenReady();
    const r = await dial();
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(await roundTrip(r.socket, 'after restart')).toBe('after restart');
      r.socket.destroy();
    }
  });
});

async function xdsConnection(nodeIp: string): Promise<string | undefined> {
  const dump = JSON.parse((await httpGet(`http://${nodeIp}:15000/config_dump`)).body) as {
    xds?: { connection?: { state?: string } };
  };
  return dump.xds?.connection?.state;
}

async function xdsStats(nodeIp: string): Promise<{ nacks: number }> {
  const dump = JSON.parse((await httpGet(`http://${nodeIp}:15000/config_dump`)).body) as {
    xds: { stats: { nacks: number } };
  };
  return dump.xds.stats;
}

async function waitForAsync(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
