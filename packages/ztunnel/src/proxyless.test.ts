// Ambient <-> proxyless under STRICT, with real sockets: grpc-js servers and clients holding mesh
// certificates stand for the proxyless workloads (their own gRPC library speaks mesh mTLS on the
// workload port, ALPN h2, no HBONE).
//
// Outbound: the ambient client's app speaks h2c to a service whose endpoint is proxyless; its
// ztunnel originates mesh mTLS with the client's certificate and checks the server's identity.
// Inbound: a proxyless client dials an ambient pod's port with mesh mTLS; the capture sends it to
// 15006 (local mode: the client dials 15006 itself), where ztunnel terminates it as the pod,
// authorizes the client's identity like an HBONE peer's, and hands the plaintext to the app.
import { createTestCa } from '@weft/ca/testing';
import { authorizationPolicy, peerAuthentication, pod, service } from '@weft/policy/testing';
import { parseKvLine } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMeshHarness, startLocalMesh } from './testing/harness.ts';
import { type GrpcEchoServer, grpcCall, meshChannelCredentials, startGrpcEcho } from './testing/index.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';
const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';
const GRPC_ID = 'spiffe://cluster.local/ns/demo/sa/grpc';
const API_ID = 'spiffe://cluster.local/ns/demo/sa/api';
const PROXYLESS_CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/grpc-client';

const GRPC_IP = '127.0.41.80';
const IMPOSTOR_IP = '127.0.41.81';
const API_IP = '127.0.41.90';
const PROXYLESS_CLIENT_IP = '127.0.42.80';
const GRPC_VIP = '10.96.41.80';

const EXTRA = [
  // proxyless gRPC server on node-a, behind service grpc (8080 -> 50051)
  pod('grpc-1', {
    namespace: 'demo',
    labels: { app: 'grpc' },
    ip: GRPC_IP,
    serviceAccount: 'grpc',
    node: 'node-a',
    mode: 'proxyless',
    ports: [{ name: 'grpc', containerPort: 50051 }],
  }),
  service('grpc', {
    namespace: 'demo',
    clusterIP: GRPC_VIP,
    selector: { app: 'grpc' },
    ports: [{ name: 'grpc', port: 8080, targetPort: 50051 }],
  }),
  // a proxyless pod whose server presents someone else's certificate
  pod('impostor', {
    namespace: 'demo',
    labels: { app: 'impostor' },
    ip: IMPOSTOR_IP,
    serviceAccount: 'impostor',
    node: 'node-a',
    mode: 'proxyless',
    ports: [{ name: 'grpc', containerPort: 50051 }],
  }),
  // an ambient gRPC app (h2c) on node-a
  pod('api-1', {
    namespace: 'demo',
    labels: { app: 'api' },
    ip: API_IP,
    serviceAccount: 'api',
    node: 'node-a',
    ports: [{ name: 'grpc', containerPort: 7070 }],
  }),
  // a proxyless gRPC client on node-b
  pod('grpc-client', {
    namespace: 'demo',
    labels: { app: 'grpc-client' },
    ip: PROXYLESS_CLIENT_IP,
    serviceAccount: 'grpc-client',
    node: 'node-b',
    mode: 'proxyless',
  }),
  peerAuthentication('default', { namespace: 'weft-system', mode: 'STRICT' }),
];

const denyProxylessClient = authorizationPolicy('deny-grpc-client', {
  namespace: 'demo',
  action: 'DENY',
  selector: { app: 'api' },
  rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/grpc-client'] } }] }],
});

let mesh: LocalMeshHarness;
const servers: GrpcEchoServer[] = [];
let grpcServer: GrpcEchoServer;
let impostor: GrpcEchoServer;
let api: GrpcEchoServer;
let toService: string;
let toImpostor: string;
let api15006: string;

beforeAll(async () => {
  mesh = await startLocalMesh({
    octets: [41, 42],
    extra: EXTRA,
    nodes: {
      b: {
        config: {
          forwards: [
            // the client's app dials the service VIP; the impostor's pod IP
            { port: 0, sourceIp: '127.0.42.10', target: { kind: 'address', ip: GRPC_VIP, port: 8080 } },
            { port: 0, sourceIp: '127.0.42.10', target: { kind: 'address', ip: IMPOSTOR_IP, port: 50051 } },
          ],
        },
      },
    },
  });
  grpcServer = await startGrpcEcho({ ip: GRPC_IP, port: 50051, tls: await mesh.issue('a', GRPC_ID) });
  impostor = await startGrpcEcho({ ip: IMPOSTOR_IP, port: 50051, tls: await mesh.issue('a', ECHO_ID) });
  api = await startGrpcEcho({ ip: API_IP, port: 7070 });
  servers.push(grpcServer, impostor, api);
  const [f0, f1] = mesh.b.ztunnel.addresses.forwards;
  toService = `${f0?.ip}:${f0?.port}`;
  toImpostor = `${f1?.ip}:${f1?.port}`;
  const apiUid = mesh.a.store.state.workloadByIp(API_IP)?.uid as string;
  const listener = mesh.a.ztunnel.addresses.workloads[apiUid]?.plaintext;
  api15006 = `${listener?.ip}:${listener?.port}`;
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await mesh?.close();
});

describe('ambient client -> proxyless server (ztunnel originates mesh mTLS)', () => {
  it('the call arrives over mTLS with the client identity; both ends are reported', async () => {
    const r = await grpcCall({ target: toService, message: 'to proxyless' });
    expect(r).toEqual({ ok: true, reply: `Say from ${CLIENT_ID}: to proxyless` });
    expect(grpcServer.calls.at(-1)).toEqual({ method: 'Say', peerIdentity: CLIENT_ID });
    await waitFor(() => mesh.b.accessLog.lines.some((l) => l.includes(`upstream_host=${GRPC_IP}:50051`)));
    const line = parseKvLine(
      mesh.b.accessLog.lines.find((l) => l.includes(`upstream_host=${GRPC_IP}:50051`)) as string,
    );
    expect(line).toMatchObject({
      reporter: 'source',
      security: 'mutual_tls',
      src_principal: CLIENT_ID,
      dst_principal: GRPC_ID,
      dst_workload: 'grpc-1',
      dst_service: 'grpc.demo.svc.cluster.local',
    });
  });

  it('a server that proves another identity is refused before any byte of the app goes out', async () => {
    const before = mesh.b.ztunnel.telemetry.rejects.count('mtls_connect_failed');
    const r = await grpcCall({ target: toImpostor, deadlineMs: 3000 });
    expect(r.ok).toBe(false);
    expect(impostor.calls).toHaveLength(0);
    expect(mesh.b.ztunnel.telemetry.rejects.count('mtls_connect_failed')).toBeGreaterThan(before);
  });
});

describe('proxyless client -> ambient server (ztunnel terminates mesh mTLS on 15006)', () => {
  it('the proxyless client is served, and sees the pod identity', async () => {
    const r = await grpcCall({
      target: api15006,
      credentials: meshChannelCredentials(await mesh.issue('b', PROXYLESS_CLIENT_ID), {
        expectedServer: API_ID,
      }),
      message: 'from proxyless',
    });
    // the app behind ztunnel speaks h2c: it sees plaintext (grpc-js binds no source address here,
    // so the peer's workload is known by its identity only)
    expect(r).toEqual({ ok: true, reply: 'Say from plaintext: from proxyless' });
    await waitFor(() =>
      mesh.a.accessLog.lines.some((l) => l.includes(`src_principal=${PROXYLESS_CLIENT_ID}`)),
    );
    const line = parseKvLine(
      mesh.a.accessLog.lines.find((l) => l.includes(`src_principal=${PROXYLESS_CLIENT_ID}`)) as string,
    );
    expect(line).toMatchObject({
      reporter: 'destination',
      security: 'mutual_tls',
      dst_principal: API_ID,
      dst_workload: 'api-1',
      rbac: 'allow',
    });
  });

  it('a DENY by principal applies to it as to an HBONE peer', async () => {
    mesh.apply([...EXTRA, denyProxylessClient]);
    try {
      const before = mesh.a.ztunnel.telemetry.rejects.count('denied');
      const calls = api.calls.length;
      const r = await grpcCall({
        target: api15006,
        credentials: meshChannelCredentials(await mesh.issue('b', PROXYLESS_CLIENT_ID), {
          expectedServer: API_ID,
        }),
        deadlineMs: 3000,
      });
      expect(r.ok).toBe(false);
      expect(api.calls.length).toBe(calls);
      expect(mesh.a.ztunnel.telemetry.rejects.count('denied')).toBeGreaterThan(before);
      // the ambient client is not named by the policy: still allowed over HBONE
    } finally {
      mesh.apply(EXTRA);
    }
  });

  it('plaintext to 15006 is still refused under STRICT', async () => {
    const before = mesh.a.ztunnel.telemetry.rejects.count('strict_mtls');
    const r = await grpcCall({ target: api15006, deadlineMs: 3000 });
    expect(r.ok).toBe(false);
    await waitFor(() => mesh.a.ztunnel.telemetry.rejects.count('strict_mtls') > before);
  });

  it('a TLS client without a certificate is refused and counted', async () => {
    const before = mesh.a.ztunnel.telemetry.rejects.count('mtls_tls');
    const bundle = (await mesh.issue('b', PROXYLESS_CLIENT_ID)).trustBundlePem;
    const r = await grpcCall({
      target: api15006,
      credentials: meshChannelCredentials(undefined, { expectedServer: API_ID, trustBundlePem: bundle }),
      deadlineMs: 3000,
    });
    expect(r.ok).toBe(false);
    await waitFor(() => mesh.a.ztunnel.telemetry.rejects.count('mtls_tls') > before);
  });

  it('a client certificate from a foreign CA is refused and counted', async () => {
    const before = mesh.a.ztunnel.telemetry.rejects.count('mtls_tls');
    const foreign = await createTestCa();
    const cert = await foreign.issue(PROXYLESS_CLIENT_ID);
    const bundle = (await mesh.issue('b', PROXYLESS_CLIENT_ID)).trustBundlePem;
    const r = await grpcCall({
      target: api15006,
      credentials: meshChannelCredentials(
        { keyPem: cert.keyPem, certChainPem: cert.certChainPem, trustBundlePem: bundle },
        { expectedServer: API_ID },
      ),
      deadlineMs: 3000,
    });
    expect(r.ok).toBe(false);
    await waitFor(() => mesh.a.ztunnel.telemetry.rejects.count('mtls_tls') > before);
  });

  it('garbage that looks like a ClientHello never reaches the app', async () => {
    const { connect } = await import('node:net');
    const [ip, port] = api15006.split(':') as [string, string];
    const calls = api.calls.length;
    const before = mesh.a.ztunnel.telemetry.rejects.count('mtls_handshake');
    const s = connect({ host: ip, port: Number(port) });
    s.on('error', () => {});
    s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0xff, 0xff, 0xff, 0xff]));
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.resume();
    });
    await waitFor(() => mesh.a.ztunnel.telemetry.rejects.count('mtls_handshake') > before);
    expect(api.calls.length).toBe(calls);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
