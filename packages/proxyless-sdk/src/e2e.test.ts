// End to end: a proxyless client calls a proxyless XdsServer over mesh mTLS, both set up by the
// SDK against a fake weftd (ADS with hand-built Envoy resources + the real CA API). The server's
// interceptor denies a method by policy.
import { createServer as createNetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { authorizationPolicy, compiledPolicies } from '@weft/policy/testing';
import {
  envoyResource,
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
import {
  ADMIN_PATH,
  callUnary,
  ECHO_PATH,
  echoImplementation,
  echoService,
  freePort,
} from './test-support/echo.ts';
import {
  type FakeWeftd,
  proxylessMtlsCluster,
  proxylessServerListener,
  startFakeWeftd,
} from './testing/index.ts';

const HOST = 'echo.demo.svc.cluster.local';

describe('proxyless client -> proxyless server over mesh mTLS', () => {
  let weftd: FakeWeftd;
  let server: ProxylessServer;
  let client: ProxylessClient;
  let grpcServer: grpc.Server;
  let channel: grpc.Client;
  let port: number;

  beforeAll(async () => {
    weftd = await startFakeWeftd({
      workloads: [
        { token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' },
        { token: 'client-token-0123456789', namespace: 'demo', serviceAccount: 'client' },
      ],
    });
    port = await freePort();
    const cluster = `outbound|${port}||${HOST}`;
    weftd.cache.apply([
      envoyResource('listener', proxylessServerListener(port)),
      envoyResource('listener', proxylessListener(`${HOST}:${port}`, { routeConfigName: `${HOST}:${port}` })),
      envoyResource(
        'routeConfiguration',
        proxylessRouteConfiguration(
          `${HOST}:${port}`,
          [HOST, `${HOST}:${port}`],
          [{ clusters: [{ name: cluster, weight: 1 }] }],
        ),
      ),
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
      policies: compiledPolicies([
        authorizationPolicy('deny-admin', {
          namespace: 'demo',
          action: 'DENY',
          rules: [{ to: [{ operation: { paths: [ADMIN_PATH] } }] }],
        }),
      ]),
    });
    grpcServer = server.createServer();
    grpcServer.addService(echoService, echoImplementation('echo-v1'));
    await server.listen(grpcServer, port, { timeoutMs: 15_000 });
    client = await createProxylessClient({
      pod: 'demo/client-1',
      serviceAccount: 'client',
      xdsAddress: weftd.address,
      token: 'client-token-0123456789',
      bootstrap: 'per-channel',
    });
    channel = new grpc.Client(client.target(HOST, port), client.channelCredentials, client.channelOptions);
  });

  afterAll(async () => {
    channel?.close();
    await client?.close();
    await server?.close();
    await weftd?.close();
  });

  it('calls through xDS with mesh mTLS; the server sees the client SPIFFE identity', async () => {
    const reply = await callUnary(channel, ECHO_PATH);
    expect(reply).toBe('echo-v1|URI:spiffe://cluster.local/ns/demo/sa/client');
    expect(client.identity).toBe('spiffe://cluster.local/ns/demo/sa/client');
    const nodes = weftd.ads.syncz().map((s) => s.nodeId);
    expect(nodes).toContain('proxyless~demo/client-1');
    expect(nodes).toContain('proxyless~demo/echo-v1');
    expect(weftd.adsAuthorization.every((a) => a.startsWith('Bearer '))).toBe(true);
  });

  it('refuses to serve a port already in use, as a value (grpc-js-xds would throw later)', async () => {
    const busy = createNetServer();
    await new Promise<void>((r) => busy.listen(0, '::', () => r()));
    const busyPort = (busy.address() as { port: number }).port;
    try {
      const g = server.createServer();
      await expect(server.listen(g, busyPort, { timeoutMs: 2000 })).rejects.toThrow(
        /cannot serve port .*EADDRINUSE/,
      );
      g.forceShutdown();
    } finally {
      busy.close();
    }
  });

  it('denies a method by policy with PERMISSION_DENIED', async () => {
    await expect(callUnary(channel, ADMIN_PATH)).rejects.toMatchObject({
      code: grpc.status.PERMISSION_DENIED,
      details: 'RBAC: access denied',
    });
    const stats = server.stats();
    expect(stats.authorization).toMatchObject({ denied: 1, unauthenticated: 0, noPolicies: 0, errors: 0 });
    expect(stats.authorization?.allowed).toBeGreaterThanOrEqual(1);
    expect(stats.certificates).toMatchObject({ written: 1, writeErrors: 0, fetchErrors: 0 });
    expect(client.stats().relay).toMatchObject({ streams: 1, activeStreams: 1, guarded: 0 });
  });
});
