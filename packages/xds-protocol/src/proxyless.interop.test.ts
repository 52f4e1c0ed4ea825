// Interop with the real @grpc/grpc-js-xds client: it resolves `xds:///echo` through our ADS
// server (state of the world) to real grpc-js echo servers on 127.0.0.1.
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceCache } from './cache.ts';
import {
  envoyResource,
  type ProxylessRoute,
  proxylessCluster,
  proxylessListener,
  proxylessLoadAssignment,
  proxylessRouteConfiguration,
} from './envoy/proxyless.ts';
import { createResource } from './resource.ts';
import { type AdsServer, createAdsServer, type ListeningAdsServer, listenAds } from './server/ads-server.ts';
import { waitUntil } from './testing/index.ts';
import { ENVOY_TYPE_URL } from './type-urls.ts';

const ECHO_PATH = '/weft.test.Echo/Echo';
const passthrough = (b: Buffer) => b;
const echoService: grpc.ServiceDefinition = {
  Echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: passthrough,
    requestDeserialize: passthrough,
    responseSerialize: passthrough,
    responseDeserialize: passthrough,
  },
};

async function startEcho(reply: string): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(echoService, {
    Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.from(reply)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, server };
}

function routes(rs: ProxylessRoute[]) {
  return envoyResource('routeConfiguration', proxylessRouteConfiguration('echo-routes', ['*'], rs));
}

describe('proxyless gRPC (@grpc/grpc-js-xds) through our ADS server', () => {
  const cache = new ResourceCache({ name: 'proxyless' });
  let ads: AdsServer;
  let listening: ListeningAdsServer;
  let backends: Array<{ port: number; server: grpc.Server }> = [];
  let client: grpc.Client;

  function call(): Promise<string> {
    return new Promise((resolve, reject) =>
      client.makeUnaryRequest(ECHO_PATH, passthrough, passthrough, Buffer.from('hi'), (err, res) =>
        err || res === undefined ? reject(err) : resolve(res.toString()),
      ),
    );
  }

  async function tally(n: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await call();
      counts[r] = (counts[r] ?? 0) + 1;
    }
    return counts;
  }

  /** Calls until every reply of a small batch is `want` (the client applies pushes asynchronously). */
  async function until(want: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const t = await tally(10);
      if (t[want] === 10) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`traffic never settled on ${want}`);
  }

  const row = (typeUrl: string) =>
    ads
      .syncz()
      .flatMap((s) => s.types)
      .find((t) => t.typeUrl === typeUrl);
  const rdsRow = () => row(ENVOY_TYPE_URL.routeConfiguration);
  const edsRow = () => row(ENVOY_TYPE_URL.clusterLoadAssignment);

  beforeAll(async () => {
    backends = [await startEcho('backend-a'), await startEcho('backend-b')];
    cache.apply([
      envoyResource('listener', proxylessListener('echo', { routeConfigName: 'echo-routes' })),
      routes([{ clusters: [{ name: 'cluster-a', weight: 1 }] }]),
      envoyResource('cluster', proxylessCluster('cluster-a')),
      envoyResource('cluster', proxylessCluster('cluster-b')),
      ...backends.map((b, i) =>
        envoyResource(
          'clusterLoadAssignment',
          proxylessLoadAssignment(i === 0 ? 'cluster-a' : 'cluster-b', [
            { address: '127.0.0.1', port: b.port },
          ]),
        ),
      ),
    ]);
    ads = createAdsServer({ cache });
    listening = await listenAds(ads);
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [
        { server_uri: listening.address, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
      ],
      node: { id: 'proxyless~127.0.0.1~echo-client.default~default.svc.cluster.local', locality: {} },
    });
    grpcXds.register();
    client = new grpc.Client('xds:///echo', grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    await listening?.close();
    for (const b of backends) b.server.forceShutdown();
  });

  it('resolves xds:///echo to the backend the route names', async () => {
    expect(await call()).toBe('backend-a');
    const [stream] = ads.syncz();
    expect(stream?.protocol).toBe('sotw');
    expect(stream?.nodeId).toContain('proxyless~');
    expect(stream?.types.map((t) => t.typeUrl)).toEqual([
      ENVOY_TYPE_URL.cluster,
      ENVOY_TYPE_URL.clusterLoadAssignment,
      ENVOY_TYPE_URL.listener,
      ENVOY_TYPE_URL.routeConfiguration,
    ]);
  });

  it('follows a weighted split, then re-routes live traffic on update', async () => {
    cache.apply([
      routes([
        {
          clusters: [
            { name: 'cluster-a', weight: 20 },
            { name: 'cluster-b', weight: 80 },
          ],
        },
      ]),
    ]);
    await waitUntil(() => rdsRow()?.versionAcked === String(cache.revision), 5000, 'split acknowledged');
    // The client fetches cluster-b (CDS, then EDS) before it switches to the new route.
    for (let i = 0; i < 200 && (await tally(10))['backend-b'] === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const split = await tally(200);
    expect(split['backend-a']).toBeGreaterThan(0);
    expect(split['backend-b']).toBeGreaterThan(split['backend-a'] ?? 0);

    cache.apply([routes([{ clusters: [{ name: 'cluster-b', weight: 1 }] }])]);
    await until('backend-b');
  });

  it('NACKs a malformed resource and keeps serving with the previous config', async () => {
    // All-zero weights: grpc-js-xds rejects the route configuration.
    cache.apply([
      routes([
        {
          clusters: [
            { name: 'cluster-a', weight: 0 },
            { name: 'cluster-b', weight: 0 },
          ],
        },
      ]),
    ]);
    await waitUntil(() => rdsRow()?.lastNack !== undefined, 5000, 'NACK of the route configuration');
    expect(rdsRow()?.lastNack?.message).toContain('weighted_clusters');
    expect(await tally(20)).toEqual({ 'backend-b': 20 });

    // Bytes that are not a RouteConfiguration at all are NACKed the same way.
    const before = rdsRow()?.nacks ?? 0;
    cache.apply([
      createResource(ENVOY_TYPE_URL.routeConfiguration, 'echo-routes', new Uint8Array([0x0a, 0xff])),
    ]);
    await waitUntil(() => (rdsRow()?.nacks ?? 0) > before, 5000, 'NACK of undecodable bytes');
    expect(await tally(20)).toEqual({ 'backend-b': 20 });

    // A valid route heals it.
    cache.apply([routes([{ clusters: [{ name: 'cluster-a', weight: 1 }] }])]);
    await until('backend-a');

    // Endpoints without a locality are rejected too; the previous assignment stays in use.
    const bad = proxylessLoadAssignment('cluster-a', [{ address: '127.0.0.1', port: 1 }]);
    for (const e of bad.endpoints) delete e.locality;
    cache.apply([envoyResource('clusterLoadAssignment', bad)]);
    await waitUntil(() => edsRow()?.lastNack !== undefined, 5000, 'NACK of the load assignment');
    expect(edsRow()?.lastNack?.message).toContain('locality');
    expect(await tally(20)).toEqual({ 'backend-a': 20 });
    expect(ads.stats().malformedRequests).toBe(0);
  });
});
