// Mesh mTLS at both ends: a proxyless server refuses callers with foreign, expired or absent
// certificates (STRICT) and lets policies decide for callers without one (PERMISSIVE); a
// proxyless client refuses servers with foreign or expired certificates.
import * as grpc from '@grpc/grpc-js';
import { createTestCa, type TestCa, type TestCertificate } from '@weft/ca/testing';
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
import { callUnary, ECHO_PATH, echoImplementation, echoService, freePort } from './test-support/echo.ts';
import {
  type FakeWeftd,
  proxylessMtlsCluster,
  proxylessServerListener,
  startFakeWeftd,
} from './testing/index.ts';

const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';
const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';
const HOUR = 3600_000;

/** A plain grpc-js client with TLS and (optionally) a client certificate, no xDS. */
function tlsClient(port: number, roots: string, cert?: TestCertificate): grpc.Client {
  const creds = grpc.credentials.createSsl(
    Buffer.from(roots),
    cert ? Buffer.from(cert.keyPem) : null,
    cert ? Buffer.from(cert.certChainPem.join('\n')) : null,
    // Mesh certificates carry a SPIFFE URI, no host name: identity is checked by the caller's test.
    { checkServerIdentity: () => undefined },
  );
  // A name for SNI (Bun refuses an IP address as the TLS server name).
  return new grpc.Client(`127.0.0.1:${port}`, creds, { 'grpc.ssl_target_name_override': 'echo.demo.svc' });
}

/** A plain TLS server (no xDS) presenting `cert`, standing in for an impostor. */
async function impostor(
  cert: TestCertificate,
  roots: string,
): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(echoService, echoImplementation('impostor'));
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(roots),
    [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.certChainPem.join('\n')) }],
    false,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, server };
}

describe('mesh mTLS: expired and foreign certificates', () => {
  let meshCa: TestCa;
  let foreignCa: TestCa;
  let weftd: FakeWeftd;
  const servers: ProxylessServer[] = [];
  const plain: grpc.Server[] = [];
  const impostorPorts = { expired: 0, foreign: 0 };
  let client: ProxylessClient;
  let strictPort: number;
  let permissivePort: number;
  const certs: Record<
    'client' | 'expiredClient' | 'foreignClient' | 'expiredEcho' | 'foreignEcho',
    TestCertificate
  > = {} as never;
  const clients: grpc.Client[] = [];
  const channel = (c: grpc.Client) => {
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    meshCa = await createTestCa();
    foreignCa = await createTestCa();
    const expired = { notBefore: new Date(Date.now() - 3 * HOUR), ttlSeconds: 3600 };
    certs.client = await meshCa.issue(CLIENT_ID);
    certs.expiredClient = await meshCa.issue(CLIENT_ID, expired);
    certs.foreignClient = await foreignCa.issue(CLIENT_ID);
    certs.expiredEcho = await meshCa.issue(ECHO_ID, expired);
    certs.foreignEcho = await foreignCa.issue(ECHO_ID);

    weftd = await startFakeWeftd({
      ca: meshCa.authority,
      workloads: [
        { token: 'echo-token-0123456789', namespace: 'demo', serviceAccount: 'echo' },
        { token: 'client-token-0123456789', namespace: 'demo', serviceAccount: 'client' },
      ],
    });
    strictPort = await freePort();
    permissivePort = await freePort();
    const impostors = {
      expired: await impostor(certs.expiredEcho, meshCa.rootCertPem),
      foreign: await impostor(certs.foreignEcho, foreignCa.rootCertPem),
    };
    plain.push(impostors.expired.server, impostors.foreign.server);
    impostorPorts.expired = impostors.expired.port;
    impostorPorts.foreign = impostors.foreign.port;
    const clientSide = (kind: 'expired' | 'foreign') => {
      const host = `${kind}.demo.svc.cluster.local`;
      const port = impostors[kind].port;
      const name = `${host}:${port}`;
      const cluster = `outbound|${port}||${host}`;
      return [
        envoyResource('listener', proxylessListener(name, { routeConfigName: name })),
        envoyResource(
          'routeConfiguration',
          proxylessRouteConfiguration(name, [host, name], [{ clusters: [{ name: cluster, weight: 1 }] }]),
        ),
        envoyResource('cluster', proxylessMtlsCluster(cluster, [ECHO_ID])),
        envoyResource(
          'clusterLoadAssignment',
          proxylessLoadAssignment(cluster, [{ address: '127.0.0.1', port }]),
        ),
      ];
    };
    weftd.cache.apply([
      envoyResource('listener', proxylessServerListener(strictPort)),
      envoyResource('listener', proxylessServerListener(permissivePort, { requireClientCertificate: false })),
      ...clientSide('expired'),
      ...clientSide('foreign'),
    ]);
    const allowClientOnly = compiledPolicies([
      authorizationPolicy('allow-client', {
        namespace: 'demo',
        action: 'ALLOW',
        rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
      }),
    ]);
    for (const [port, policies] of [
      [strictPort, []],
      [permissivePort, allowClientOnly],
    ] as const) {
      const s = await createProxylessServer({
        pod: `demo/echo-${port}`,
        serviceAccount: 'echo',
        xdsAddress: weftd.address,
        token: 'echo-token-0123456789',
        bootstrap: 'per-channel',
        policies,
      });
      servers.push(s);
      const g = s.createServer();
      g.addService(echoService, echoImplementation('echo'));
      await s.listen(g, port, { timeoutMs: 15_000 });
    }
    client = await createProxylessClient({
      pod: 'demo/client-1',
      serviceAccount: 'client',
      xdsAddress: weftd.address,
      token: 'client-token-0123456789',
      bootstrap: 'per-channel',
    });
    // Two CAs, five certificates, two xDS-driven servers and a client: on a loaded 2-core
    // machine this setup alone has taken over 20 s.
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await client?.close();
    for (const s of servers) await s.close();
    for (const p of plain) p.forceShutdown();
    await weftd?.close();
  });

  describe('server side (STRICT)', () => {
    it('serves a caller with a valid mesh certificate', async () => {
      const reply = await callUnary(
        channel(tlsClient(strictPort, meshCa.rootCertPem, certs.client)),
        ECHO_PATH,
      );
      expect(reply).toBe(`echo|URI:${CLIENT_ID}`);
    });
    it.each([
      ['an expired certificate', 'expiredClient'],
      ['a certificate from a foreign CA (same SPIFFE ID)', 'foreignClient'],
      ['no certificate', undefined],
    ] as const)('refuses a caller with %s', async (_n, which) => {
      const c = channel(
        tlsClient(strictPort, meshCa.rootCertPem, which === undefined ? undefined : certs[which]),
      );
      await expect(callUnary(c, ECHO_PATH, 5000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    });
  });

  describe('server side (PERMISSIVE: TLS, client certificate optional)', () => {
    it('a caller without a certificate has no principal: the policy decides (denied)', async () => {
      const c = channel(tlsClient(permissivePort, meshCa.rootCertPem));
      await expect(callUnary(c, ECHO_PATH, 5000)).rejects.toMatchObject({
        code: grpc.status.PERMISSION_DENIED,
        details: 'RBAC: access denied',
      });
    });
    it('a caller with the allowed identity is served', async () => {
      const c = channel(tlsClient(permissivePort, meshCa.rootCertPem, certs.client));
      expect(await callUnary(c, ECHO_PATH)).toBe(`echo|URI:${CLIENT_ID}`);
    });
    it.each([
      ['a foreign', 'foreignClient'],
      ['an expired', 'expiredClient'],
    ] as const)('%s certificate is refused, not taken for no certificate', async (_n, which) => {
      const c = channel(tlsClient(permissivePort, meshCa.rootCertPem, certs[which]));
      await expect(callUnary(c, ECHO_PATH, 5000)).rejects.toMatchObject({
        code: grpc.status.UNAUTHENTICATED,
      });
    });
  });

  describe('client side', () => {
    it.each(['expired', 'foreign'] as const)('refuses a server with a %s certificate', async (kind) => {
      const port = impostorPorts[kind];
      const c = channel(
        new grpc.Client(
          client.target(`${kind}.demo.svc.cluster.local`, port),
          client.channelCredentials,
          client.channelOptions,
        ),
      );
      await expect(callUnary(c, ECHO_PATH, 5000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    });
  });
});
