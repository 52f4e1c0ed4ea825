// Sidecar <-> proxyless under STRICT, with real sockets: grpc-js servers and clients holding mesh
// certificates stand for the proxyless workloads (their own gRPC library speaks mesh mTLS on the
// workload port, ALPN h2, no HBONE).
//
// Outbound: the sidecar pod's app speaks h2c; the sidecar originates mesh mTLS with the pod's
// certificate and checks the server's identity. Inbound: a proxyless client dials the sidecar
// pod's port with mesh mTLS; capture sends it to 15006 (local mode: the client dials 15006
// itself), where the sidecar terminates it as the pod and its L7 engine sees the decrypted gRPC
// calls with the peer's identity, so policies on principals and on methods (paths) apply.
import { createServer, connect as netConnect, type Server } from 'node:net';
import { createTestCa, type TestCa } from '@weft/ca/testing';
import { type CertMaterial, createCertStore } from '@weft/hbone';
import { compileMesh } from '@weft/l7/testing';
import { authorizationPolicy, namespace, peerAuthentication, pod, service } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore } from '@weft/proxy-core';
import { parsePrometheusText } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSidecar, type Sidecar } from './sidecar.ts';
import { type GrpcEchoServer, grpcCall, meshChannelCredentials, startGrpcEcho } from './testing/index.ts';

const TD = 'spiffe://cluster.local/ns/shop/sa';
const ID = {
  client: `${TD}/client`,
  web: `${TD}/web`,
  grpc: `${TD}/grpc`,
  impostor: `${TD}/impostor`,
  proxylessClient: `${TD}/grpc-client`,
};
const IP = {
  client: '127.0.73.2',
  web: '127.0.73.3',
  grpc: '127.0.73.80',
  impostor: '127.0.73.81',
  proxylessClient: '127.0.73.90',
};
const NODE = 'node-1';
/** web-1's gRPC port, declared grpc: the L7 engine serves it. */
const WEB_PORT = 7070;
/** web-1's second gRPC port, declared tcp: the engine's TCP proxy (L4) serves it. */
const WEB_TCP_PORT = 7071;

const objects = (extra: unknown[] = []) => [
  namespace('shop'),
  pod('client', { namespace: 'shop', ip: IP.client, node: NODE, serviceAccount: 'client', mode: 'sidecar' }),
  pod('web-1', {
    namespace: 'shop',
    ip: IP.web,
    node: NODE,
    serviceAccount: 'web',
    mode: 'sidecar',
    labels: { app: 'web' },
    ports: [
      { name: 'grpc', containerPort: WEB_PORT },
      { name: 'grpc-tcp', containerPort: WEB_TCP_PORT },
    ],
  }),
  service('web', {
    namespace: 'shop',
    selector: { app: 'web' },
    ports: [
      { name: 'grpc', port: 80, targetPort: 'grpc', appProtocol: 'grpc' },
      { name: 'grpc-tcp', port: 81, targetPort: 'grpc-tcp', appProtocol: 'tcp' },
    ],
  }),
  pod('grpc-1', {
    namespace: 'shop',
    ip: IP.grpc,
    node: NODE,
    serviceAccount: 'grpc',
    mode: 'proxyless',
    labels: { app: 'grpc' },
    ports: [{ name: 'grpc', containerPort: 50051 }],
  }),
  service('grpc', {
    namespace: 'shop',
    selector: { app: 'grpc' },
    ports: [{ name: 'grpc', port: 8080, targetPort: 50051 }],
  }),
  pod('impostor', {
    namespace: 'shop',
    ip: IP.impostor,
    node: NODE,
    serviceAccount: 'impostor',
    mode: 'proxyless',
    ports: [{ name: 'grpc', containerPort: 50051 }],
  }),
  pod('grpc-client', {
    namespace: 'shop',
    ip: IP.proxylessClient,
    node: NODE,
    serviceAccount: 'grpc-client',
    mode: 'proxyless',
  }),
  peerAuthentication('strict', { namespace: 'shop', mode: 'STRICT' }),
  // L7: the proxyless client may not call the Forbidden method (a path, as Istio writes gRPC
  // methods) on the grpc port; the port named, as at L4 a DENY's HTTP fields are dropped (stricter)
  authorizationPolicy('web-deny-forbidden', {
    namespace: 'shop',
    action: 'DENY',
    selector: { app: 'web' },
    rules: [
      {
        from: [{ source: { principals: ['cluster.local/ns/shop/sa/grpc-client'] } }],
        to: [{ operation: { ports: [String(WEB_PORT)], paths: ['/weft.test.Echo/Forbidden'] } }],
      },
    ],
  }),
  ...extra,
];

const denyProxylessClient = authorizationPolicy('web-deny-grpc-client', {
  namespace: 'shop',
  action: 'DENY',
  selector: { app: 'web' },
  rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/grpc-client'] } }] }],
});

describe('sidecar <-> proxyless gRPC', () => {
  let ca: TestCa;
  const store = createStateStore();
  const apply = (extra: unknown[] = []) =>
    applyUpdate(store, batchFromSnapshot(compileMesh(objects(extra) as never)));
  const issue = async (id: string): Promise<CertMaterial> => {
    const c = await ca.issue(id);
    return { keyPem: c.keyPem, certChainPem: c.certChainPem, trustBundlePem: ca.trustBundlePem };
  };
  const certsOf = async (id: string) => {
    const m = await issue(id);
    const certs = createCertStore(m);
    certs.set(m, id);
    return certs;
  };
  const grpcServers: GrpcEchoServer[] = [];
  let webApp: GrpcEchoServer;
  let webTcpApp: GrpcEchoServer;
  /** The port a connection to web-1's 15006 was meant for (SO_ORIGINAL_DST in capture mode). */
  let originalPort = WEB_TCP_PORT;
  let proxylessServer: GrpcEchoServer;
  let impostor: GrpcEchoServer;
  let client: Sidecar;
  let web: Sidecar;
  const relays: Server[] = [];

  /**
   * The client pod's app dialling `target` through its sidecar's outbound listener: grpc-js binds
   * no source address, so a relay on 127.0.0.1 connects from the pod's IP, as the app would.
   */
  const viaClientSidecar = async (host: string, port: number): Promise<string> => {
    const sidecar = await createSidecar(
      {
        pod: 'shop/client',
        podIp: IP.client,
        identity: ID.client,
        outboundTarget: { kind: 'hostname', hostname: host, port },
        hbone: { port: 0 },
        outbound: { port: 0 },
        inbound: false,
        socks5: false,
        admin: false,
        metrics: { port: 0 },
        readiness: false,
      },
      { certs: await certsOf(ID.client), store },
    );
    closers.push(() => sidecar.close());
    client = sidecar;
    const out = sidecar.addresses.outbound as { ip: string; port: number };
    const relay = createServer((app) => {
      app.on('error', () => {});
      const up = netConnect({ host: out.ip, port: out.port, localAddress: IP.client });
      up.on('error', () => app.destroy());
      app.pipe(up).pipe(app);
      app.on('close', () => up.destroy());
    });
    relays.push(relay);
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(relay.address() as { port: number }).port}`;
  };
  const closers: (() => Promise<void>)[] = [];
  const metrics = async (sc: Sidecar) =>
    parsePrometheusText(
      await fetch(`http://${sc.addresses.metrics?.ip}:${sc.addresses.metrics?.port}/stats/prometheus`).then(
        (r) => r.text(),
      ),
    );
  const rejected = async (sc: Sidecar, reason: string) =>
    (await metrics(sc)).families
      .get('weft_rejected_total')
      ?.samples.find((s) => s.labels.component === 'sidecar' && s.labels.reason === reason)?.value ?? 0;
  const web15006 = () => `${IP.web}:${web.addresses.inbound?.port}`;
  const asProxylessClient = async () =>
    meshChannelCredentials(await issue(ID.proxylessClient), { expectedServer: ID.web });

  beforeAll(async () => {
    ca = await createTestCa();
    apply();
    webApp = await startGrpcEcho({ ip: IP.web, port: WEB_PORT });
    webTcpApp = await startGrpcEcho({ ip: IP.web, port: WEB_TCP_PORT });
    proxylessServer = await startGrpcEcho({ ip: IP.grpc, port: 50051, tls: await issue(ID.grpc) });
    // the impostor's server presents web's certificate
    impostor = await startGrpcEcho({ ip: IP.impostor, port: 50051, tls: await issue(ID.web) });
    grpcServers.push(webApp, webTcpApp, proxylessServer, impostor);
    web = await createSidecar(
      {
        pod: 'shop/web-1',
        podIp: IP.web,
        identity: ID.web,
        admin: { port: 0 },
        metrics: { port: 0 },
        readiness: { port: 0 },
        socks5: { port: 0 },
        outbound: { port: 0 },
      },
      { certs: await certsOf(ID.web), store, inboundOriginalPort: () => originalPort },
    );
  }, 30_000);

  afterAll(async () => {
    for (const c of closers) await c();
    await web?.close();
    for (const r of relays) r.close();
    for (const s of grpcServers) await s.close();
  });

  describe('sidecar client -> proxyless server (the sidecar originates mesh mTLS)', () => {
    it('the call arrives over mTLS with the pod identity', async () => {
      const target = await viaClientSidecar('grpc.shop.svc.cluster.local', 8080);
      const r = await grpcCall({ target, message: 'to proxyless' });
      expect(r).toEqual({ ok: true, reply: `Say from ${ID.client}: to proxyless` });
      expect(proxylessServer.calls.at(-1)).toEqual({ method: 'Say', peerIdentity: ID.client });
    });

    it('a server that proves another identity is refused and counted', async () => {
      const target = await viaClientSidecar(IP.impostor, 50051);
      const r = await grpcCall({ target, deadlineMs: 3000 });
      expect(r.ok).toBe(false);
      expect(impostor.calls).toHaveLength(0);
      expect(await rejected(client, 'outbound_mtls_failed')).toBeGreaterThan(0);
    });
  });

  describe('proxyless client -> sidecar server (the sidecar terminates mesh mTLS on 15006)', () => {
    it('an allowed call is served; the app behind the sidecar sees h2c', async () => {
      originalPort = WEB_TCP_PORT;
      const r = await grpcCall({ target: web15006(), credentials: await asProxylessClient(), message: 'hi' });
      expect(r).toEqual({ ok: true, reply: 'Say from plaintext: hi' });
      expect(webTcpApp.calls.at(-1)).toEqual({ method: 'Say', peerIdentity: undefined });
    });

    it('a DENY by principal applies', async () => {
      originalPort = WEB_TCP_PORT;
      apply([denyProxylessClient]);
      try {
        const calls = webTcpApp.calls.length;
        const r = await grpcCall({ target: web15006(), credentials: await asProxylessClient() });
        expect(r.ok).toBe(false);
        expect(webTcpApp.calls.length).toBe(calls);
      } finally {
        apply();
      }
    });

    it('on a port declared grpc the L7 engine serves the decrypted call (h2c to the app)', async () => {
      originalPort = WEB_PORT;
      const r = await grpcCall({
        target: web15006(),
        credentials: await asProxylessClient(),
        message: 'at L7',
      });
      expect(r).toEqual({ ok: true, reply: 'Say from plaintext: at L7' });
      expect(webApp.calls.at(-1)).toEqual({ method: 'Say', peerIdentity: undefined });
    });

    it('the L7 engine sees the decrypted call and the peer identity: a DENY on a method (path) applies', async () => {
      originalPort = WEB_PORT;
      const calls = webApp.calls.length;
      const r = await grpcCall({
        target: web15006(),
        credentials: await asProxylessClient(),
        method: 'Forbidden',
      });
      expect(r.ok).toBe(false);
      expect(r.ok ? 0 : r.code).toBe(7); // PERMISSION_DENIED, from the engine's authorization
      expect(webApp.calls.length).toBe(calls);
    });

    it('plaintext to 15006 is still refused under STRICT', async () => {
      originalPort = WEB_TCP_PORT;
      const before = await rejected(web, 'strict_mtls');
      const r = await grpcCall({ target: web15006(), deadlineMs: 3000 });
      expect(r.ok).toBe(false);
      expect(await rejected(web, 'strict_mtls')).toBeGreaterThan(before);
    });

    it('a TLS client without a certificate is refused and counted', async () => {
      const r = await grpcCall({
        target: web15006(),
        credentials: meshChannelCredentials(undefined, {
          expectedServer: ID.web,
          trustBundlePem: ca.trustBundlePem,
        }),
        deadlineMs: 3000,
      });
      expect(r.ok).toBe(false);
      expect(await rejected(web, 'mtls_no_client_cert')).toBeGreaterThan(0);
    });

    it('a client certificate from a foreign CA is refused and counted', async () => {
      const foreign = await createTestCa();
      const c = await foreign.issue(ID.proxylessClient);
      const r = await grpcCall({
        target: web15006(),
        credentials: meshChannelCredentials(
          { keyPem: c.keyPem, certChainPem: c.certChainPem, trustBundlePem: ca.trustBundlePem },
          { expectedServer: ID.web },
        ),
        deadlineMs: 3000,
      });
      expect(r.ok).toBe(false);
      expect(await rejected(web, 'mtls_untrusted_cert')).toBeGreaterThan(0);
    });
  });
});
