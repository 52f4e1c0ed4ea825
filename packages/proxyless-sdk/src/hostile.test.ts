// A rogue or buggy control plane must not crash a proxyless process: unknown types, undecodable
// and huge messages, resources with missing fields and cyclic references all end as NACKs,
// stream restarts or ignored pushes, and calls keep using the last good config.
import * as grpc from '@grpc/grpc-js';
import {
  type Any,
  Cluster,
  DiscoveryResponse,
  envoyResource,
  Listener,
  proxylessListener,
  proxylessLoadAssignment,
  proxylessRouteConfiguration,
} from '@weft/xds-protocol/envoy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProxylessClient,
  createProxylessServer,
  type ProxylessClient,
  type ProxylessServer,
} from './index.ts';
import { callUnary, ECHO_PATH, echoImplementation, echoService, freePort } from './test-support/echo.ts';
import { type RogueAds, startRogueAds } from './test-support/rogue.ts';
import {
  type FakeWeftd,
  proxylessMtlsCluster,
  proxylessServerListener,
  startFakeWeftd,
} from './testing/index.ts';

const HOST = 'echo.demo.svc.cluster.local';
const T = 'type.googleapis.com/';
const LDS = `${T}envoy.config.listener.v3.Listener`;
const RDS = `${T}envoy.config.route.v3.RouteConfiguration`;
const CDS = `${T}envoy.config.cluster.v3.Cluster`;

const response = (typeUrl: string, resources: Any[], nonce: string): Uint8Array =>
  DiscoveryResponse.encode(
    DiscoveryResponse.fromPartial({ versionInfo: `rogue-${nonce}`, typeUrl, nonce, resources }),
  ).finish();

/** An aggregate cluster (envoy.extensions.clusters.aggregate.v3.ClusterConfig{clusters}), hand-encoded. */
function aggregateCluster(name: string, children: string[]): Cluster {
  const enc = new TextEncoder();
  const parts = children.flatMap((c) => {
    const b = enc.encode(c);
    return [0x0a, b.length, ...b];
  });
  return Cluster.fromPartial({
    name,
    clusterType: {
      name: 'envoy.clusters.aggregate',
      typedConfig: {
        typeUrl: `${T}envoy.extensions.clusters.aggregate.v3.ClusterConfig`,
        value: Uint8Array.from(parts),
      },
    },
  });
}

describe('hostile xDS', () => {
  let weftd: FakeWeftd;
  let rogue: RogueAds;
  let server: ProxylessServer;
  let client: ProxylessClient;
  let channel: grpc.Client;
  let port: number;
  let cluster: string;
  let name: string;
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);

  const routeTo = (c: string) =>
    envoyResource(
      'routeConfiguration',
      proxylessRouteConfiguration(name, [HOST, name], [{ clusters: [{ name: c, weight: 1 }] }]),
    );

  const nackOf = (nodeId: string, typeUrl: string): string | undefined =>
    weftd.ads
      .syncz()
      .filter((st) => st.nodeId === nodeId)
      .flatMap((st) => st.types)
      .find((t) => t.typeUrl === typeUrl)?.lastNack?.message;

  async function until(check: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('condition not met');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The good config still serves. */
  async function stillServing(): Promise<void> {
    for (let i = 0; i < 5; i++) expect(await callUnary(channel, ECHO_PATH)).toMatch(/^echo-v1\|/);
  }

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    weftd = await startFakeWeftd({
      workloads: [
        { token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' },
        { token: 'client-token-0123456789', namespace: 'demo', serviceAccount: 'client' },
      ],
    });
    rogue = await startRogueAds(weftd.address);
    port = await freePort();
    cluster = `outbound|${port}||${HOST}`;
    name = `${HOST}:${port}`;
    weftd.cache.apply([
      envoyResource('listener', proxylessServerListener(port)),
      envoyResource('listener', proxylessListener(name, { routeConfigName: name })),
      routeTo(cluster),
      envoyResource('cluster', proxylessMtlsCluster(cluster, ['spiffe://cluster.local/ns/demo/sa/echo'])),
      envoyResource(
        'clusterLoadAssignment',
        proxylessLoadAssignment(cluster, [{ address: '127.0.0.1', port }]),
      ),
    ]);
    server = await createProxylessServer({
      pod: 'demo/echo-v1',
      serviceAccount: 'echo',
      xdsAddress: weftd.address,
      token: 'echo-token-0123456789',
      bootstrap: 'per-channel',
      policies: [],
    });
    const s = server.createServer();
    s.addService(echoService, echoImplementation('echo-v1'));
    await server.listen(s, port, { timeoutMs: 15_000 });
    // The client's xDS goes through the rogue server (the CA is weftd's).
    client = await createProxylessClient({
      pod: 'demo/client-1',
      serviceAccount: 'client',
      xdsAddress: rogue.address,
      caAddress: weftd.address,
      token: 'client-token-0123456789',
      bootstrap: 'per-channel',
    });
    channel = new grpc.Client(client.target(HOST, port), client.channelCredentials, client.channelOptions);
    await stillServing();
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    channel?.close();
    await client?.close();
    await server?.close();
    rogue?.close();
    await weftd?.close();
  });

  it('ignores pushes of unknown types and undecodable messages', async () => {
    expect(
      rogue.inject(
        response(
          `${T}evil.v1.Thing`,
          [{ typeUrl: `${T}evil.v1.Thing`, value: new Uint8Array([1, 2, 3]) }],
          'u1',
        ),
      ),
    ).toBe(1);
    rogue.inject(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    rogue.inject(response(LDS, [{ typeUrl: `${T}evil.v1.Thing`, value: new Uint8Array([9]) }], 'u2'));
    rogue.inject(response(LDS, [{ typeUrl: LDS, value: new Uint8Array([0x0a, 0xff]) }], 'u3'));
    await new Promise((r) => setTimeout(r, 300));
    await stillServing();
  });

  it('survives resources with missing fields', async () => {
    const bare = (typeUrl: string, bytes: Uint8Array): Any => ({ typeUrl, value: bytes });
    // A Listener with no api_listener, a Cluster with no type, a route config whose route has no action.
    rogue.inject(response(LDS, [bare(LDS, Listener.encode(Listener.fromPartial({ name })).finish())], 'm1'));
    rogue.inject(
      response(CDS, [bare(CDS, Cluster.encode(Cluster.fromPartial({ name: cluster })).finish())], 'm2'),
    );
    await new Promise((r) => setTimeout(r, 300));
    // The rogue pushes named real resources: restore them from weftd's side for the next checks.
    weftd.cache.apply([routeTo(cluster)]);
    await stillServing();
  });

  it('survives a huge message (past the relay and the client limits)', async () => {
    const huge = new Uint8Array(20 * 1024 * 1024);
    rogue.inject(response(RDS, [{ typeUrl: RDS, value: huge }], 'h1'));
    // The xDS stream is torn down and re-established; the channel keeps its config meanwhile.
    await new Promise((r) => setTimeout(r, 500));
    await stillServing();
  });

  it('survives cyclic aggregate clusters and routes that point at them', async () => {
    weftd.cache.apply([
      envoyResource('cluster', aggregateCluster('loop-a', ['loop-b'])),
      envoyResource('cluster', aggregateCluster('loop-b', ['loop-a'])),
      envoyResource('cluster', aggregateCluster('self', ['self'])),
      routeTo('loop-a'),
    ]);
    // A cycle has no endpoints: once the client applied it (how soon depends on the machine's
    // load, so poll rather than sleep), calls fail UNAVAILABLE and the process lives; a good
    // route heals it.
    let failure: unknown;
    for (let i = 0; i < 100 && failure === undefined; i++) {
      failure = await callUnary(channel, ECHO_PATH, 2000).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (failure === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(failure).toMatchObject({ code: grpc.status.UNAVAILABLE });
    weftd.cache.apply([routeTo(cluster)]);
    for (let i = 0; i < 100; i++) {
      if (
        await callUnary(channel, ECHO_PATH, 2000).then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await stillServing();
  });

  it('survives a non-forwarding route in a client route configuration', async () => {
    const rc = proxylessRouteConfiguration(
      name,
      [HOST, name],
      [{ clusters: [{ name: cluster, weight: 1 }] }],
    );
    for (const vh of rc.virtualHosts)
      for (const r of vh.routes) {
        r.route = undefined;
        r.nonForwardingAction = {};
      }
    weftd.cache.apply([envoyResource('routeConfiguration', rc)]);
    // The relay turned the crash into a NACK weftd sees.
    await until(() => nackOf('proxyless~demo/client-1', RDS) !== undefined);
    expect(nackOf('proxyless~demo/client-1', RDS)).toContain('redirect');
    weftd.cache.apply([routeTo(cluster)]);
    for (let i = 0; i < 100; i++) {
      if (
        await callUnary(channel, ECHO_PATH, 2000).then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await stillServing();
  });

  it('survives a server Listener update that adds a default filter chain', async () => {
    const l = proxylessServerListener(port);
    weftd.cache.apply([
      envoyResource('listener', Listener.fromPartial({ ...l, defaultFilterChain: l.filterChains[0] })),
    ]);
    await until(() => nackOf('proxyless~demo/echo-v1', LDS) !== undefined);
    await stillServing();
    weftd.cache.apply([envoyResource('listener', proxylessServerListener(port))]);
    await stillServing();
  });

  it('never raised an uncaught exception', () => {
    expect(uncaught).toEqual([]);
  });
});
