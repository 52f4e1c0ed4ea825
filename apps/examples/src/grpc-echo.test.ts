// The gRPC echo example end to end, in one process: two proxyless echo servers (v1, v2) behind a
// weighted 80/20 split and a proxyless client, all set up by @weft/proxyless-sdk against a fake
// weftd (hand-built Envoy resources, real CA API); a policy denies Admin.
import { createServer } from 'node:net';
import { authorizationPolicy, compiledPolicies } from '@weft/policy/testing';
import {
  createProxylessClient,
  createProxylessServer,
  type ProxylessClient,
  type ProxylessServer,
} from '@weft/proxyless-sdk';
import {
  type FakeWeftd,
  proxylessMtlsCluster,
  proxylessServerListener,
  startFakeWeftd,
} from '@weft/proxyless-sdk/testing';
import {
  envoyResource,
  proxylessListener,
  proxylessLoadAssignment,
  proxylessRouteConfiguration,
} from '@weft/xds-protocol/envoy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callEcho,
  createGrpcEchoClient,
  type GrpcEchoServer,
  runEchoCalls,
  startGrpcEchoServer,
} from './grpc-echo.ts';

const HOST = 'echo.demo.svc.cluster.local';
const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '0.0.0.0', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

describe('gRPC echo example (proxyless)', () => {
  let weftd: FakeWeftd;
  const sdkServers: ProxylessServer[] = [];
  const echoServers: GrpcEchoServer[] = [];
  let sdkClient: ProxylessClient;
  let client: ReturnType<typeof createGrpcEchoClient>;

  beforeAll(async () => {
    weftd = await startFakeWeftd({
      workloads: [
        { token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' },
        { token: 'client-token-0123456789', namespace: 'demo', serviceAccount: 'client' },
      ],
    });
    // Each version has its own port (one process here; in a cluster each pod has its own IP).
    const ports = { v1: await freePort(), v2: await freePort() };
    const servicePort = 8080;
    const cluster = (v: string) => `outbound|${servicePort}|${v}|${HOST}`;
    const name = `${HOST}:${servicePort}`;
    weftd.cache.apply([
      envoyResource('listener', proxylessListener(name, { routeConfigName: name })),
      envoyResource(
        'routeConfiguration',
        proxylessRouteConfiguration(
          name,
          [HOST, name],
          [
            {
              clusters: [
                { name: cluster('v1'), weight: 80 },
                { name: cluster('v2'), weight: 20 },
              ],
            },
          ],
        ),
      ),
      ...(['v1', 'v2'] as const).flatMap((v) => [
        envoyResource('listener', proxylessServerListener(ports[v])),
        envoyResource('cluster', proxylessMtlsCluster(cluster(v), [ECHO_ID])),
        envoyResource(
          'clusterLoadAssignment',
          proxylessLoadAssignment(cluster(v), [{ address: '127.0.0.1', port: ports[v] }]),
        ),
      ]),
    ]);
    const policies = compiledPolicies([
      authorizationPolicy('deny-admin', {
        namespace: 'demo',
        action: 'DENY',
        rules: [{ to: [{ operation: { paths: ['/weft.examples.v1.Echo/Admin'] } }] }],
      }),
    ]);
    for (const v of ['v1', 'v2'] as const) {
      const proxyless = await createProxylessServer({
        pod: `demo/echo-${v}`,
        serviceAccount: 'echo',
        xdsAddress: weftd.address,
        token: 'echo-token-0123456789',
        bootstrap: 'per-channel',
        policies,
      });
      sdkServers.push(proxyless);
      echoServers.push(
        await startGrpcEchoServer({ proxyless, port: ports[v], pod: `echo-${v}`, version: v }),
      );
    }
    sdkClient = await createProxylessClient({
      pod: 'demo/client-1',
      serviceAccount: 'client',
      xdsAddress: weftd.address,
      token: 'client-token-0123456789',
      bootstrap: 'per-channel',
    });
    client = createGrpcEchoClient(sdkClient, HOST, servicePort);
  });

  afterAll(async () => {
    client?.close();
    await sdkClient?.close();
    for (const e of echoServers) await e.close();
    for (const s of sdkServers) await s.close();
    await weftd?.close();
  });

  it('the server answers with its pod, version and the caller identity', async () => {
    const reply = await callEcho(client, 'Echo', 'hello');
    expect(reply).toMatchObject({ message: 'hello', peer: 'spiffe://cluster.local/ns/demo/sa/client' });
    expect(['echo-v1 v1', 'echo-v2 v2']).toContain(`${reply.pod} ${reply.version}`);
  });

  it('a weighted split is visible from the client', async () => {
    const tally = await runEchoCalls(client, 'Echo', 200);
    expect(tally.ok).toBe(200);
    expect(tally.served['echo-v1 v1']).toBeGreaterThan(tally.served['echo-v2 v2'] ?? 0);
    expect(tally.served['echo-v2 v2']).toBeGreaterThan(0);
  });

  it('a denied method comes back as PERMISSION_DENIED', async () => {
    const tally = await runEchoCalls(client, 'Admin', 5);
    expect(tally).toMatchObject({ ok: 0, errors: { PERMISSION_DENIED: 5 } });
    expect(tally.lastError).toBe('PERMISSION_DENIED: RBAC: access denied');
  });
});
