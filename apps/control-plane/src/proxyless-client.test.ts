// A real proxyless gRPC client (@grpc/grpc-js-xds) against a real weftd: it streams as its pod
// (`proxyless~demo/client`, the pod's service-account token added by a small relay, as the SDK's
// relay does), ACKs every Envoy resource weftd generates from a GRPCRoute weighted split and
// DestinationRules, and its calls reach two grpc-js servers over mesh mTLS (certificates from
// weftd's CA, SANs checked) in the route's proportions. Also: an xDS-enabled server gets its
// Listener (STRICT), the SDK's weft.v1 stream gets the pod's view, a NACK shows in /debug/syncz,
// a VirtualService's header match, fault and retries and a ring hash work as written, what
// grpc-js-xds cannot do is refused in /debug/config_status and counted, and calls for a service
// bound to a waypoint go to the waypoint's pods on their proxyless port (15009).
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createCsr, generateRsaKeyPair } from '@weft/ca';
import { createCaClient } from '@weft/ca/client';
import { ENVOY_TYPE_URL, SOTW_METHOD_PATH, WEFT_TYPE_URL } from '@weft/xds-protocol';
import { domainResourceType } from '@weft/xds-protocol/convert';
import { DiscoveryResponse } from '@weft/xds-protocol/envoy';
import { loadGrpcXds, XDS_BOOTSTRAP_OPTION } from '@weft/xds-protocol/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectProxy,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
  waitFor,
  writeManifest,
} from './testing/index.ts';

const ECHO_PATH = '/weft.test.Echo/Echo';
const passthrough = (b: Buffer) => b;
const HOST = 'echo.demo.svc.cluster.local';

const echoDefinition: grpc.ServiceDefinition = {
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

interface Issued {
  certChain: string;
  key: string;
}

async function issue(t: TestControlPlane, token: string): Promise<Issued> {
  const ca = createCaClient({ address: t.cp.addresses.xds as string, token: () => token });
  try {
    const key = await generateRsaKeyPair(2048);
    const r = await ca.createCertificate({ csr: createCsr(key) });
    if (!r.ok) throw new Error(`certificate: ${JSON.stringify(r.error)}`);
    return { certChain: r.value.certChain.join('\n'), key: key.privateKeyPem };
  } finally {
    ca.close();
  }
}

async function startEcho(
  host: string,
  reply: string,
  certs: Issued,
  rootPem: string,
): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(echoDefinition, {
    Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.from(reply)),
  });
  const creds = grpc.ServerCredentials.createSsl(
    Buffer.from(rootPem),
    [{ cert_chain: Buffer.from(certs.certChain), private_key: Buffer.from(certs.key) }],
    true,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, server };
}

/**
 * grpc-js-xds speaks plaintext ADS without credentials; this relay forwards its stream to weftd
 * byte for byte with the pod's token added (what the SDK's relay does).
 */
async function startRelay(
  target: string,
  token: string,
  tamper: (response: Buffer) => Buffer = (b) => b,
): Promise<{ address: string; close(): void }> {
  const upstream = new grpc.Client(target, grpc.credentials.createInsecure());
  const server = new grpc.Server();
  server.addService(
    {
      Stream: {
        path: SOTW_METHOD_PATH,
        requestStream: true,
        responseStream: true,
        requestSerialize: passthrough,
        requestDeserialize: passthrough,
        responseSerialize: passthrough,
        responseDeserialize: passthrough,
      },
    },
    {
      Stream: (down: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        const md = new grpc.Metadata();
        md.set('authorization', `Bearer ${token}`);
        const up = upstream.makeBidiStreamRequest(SOTW_METHOD_PATH, passthrough, passthrough, md);
        up.on('data', (b: Buffer) => down.write(tamper(b)));
        up.on('error', (err: grpc.ServiceError) =>
          down.emit('error', { code: err.code, details: err.details }),
        );
        up.on('end', () => down.end());
        down.on('data', (b: Buffer) => up.write(b));
        down.on('end', () => up.end());
        down.on('error', () => up.cancel());
        down.on('cancelled', () => up.cancel());
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () => {
      server.forceShutdown();
      upstream.close();
    },
  };
}

/** A TCP port nothing listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

function pod(name: string, ip: string, sa: string, labels: Record<string, string>, port?: number) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'demo', uid: `uid-${name}`, labels },
    spec: {
      nodeName: 'node-a',
      serviceAccountName: sa,
      containers: [
        { name: 'app', ...(port === undefined ? {} : { ports: [{ name: 'grpc', containerPort: port }] }) },
      ],
    },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

function service(name: string, selector: Record<string, string>, ip: string) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'demo' },
    spec: {
      clusterIP: ip,
      selector,
      ports: [{ name: 'grpc', port: 8080, targetPort: 'grpc', appProtocol: 'grpc' }],
    },
  };
}

/**
 * Namespace `demo` in proxyless mode under STRICT mTLS: a client, echo v1 and v2 behind `echo`,
 * split 80/20, and `echo-x`, served by an xDS-enabled server.
 */
function mesh(v1Port: number, v2Port: number, xPort: number, mtls = 'STRICT'): unknown[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'weft-system' } },
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'demo', labels: { 'weft.dev/dataplane-mode': 'proxyless' } },
    },
    pod('client', '127.0.0.3', 'client', { app: 'client' }),
    pod('echo-v1', '127.0.0.1', 'echo', { app: 'echo', version: 'v1' }, v1Port),
    pod('echo-v2', '127.0.0.2', 'echo', { app: 'echo', version: 'v2' }, v2Port),
    pod('echo-x', '127.0.0.4', 'echo', { app: 'echo-x' }, xPort),
    service('echo', { app: 'echo' }, '10.96.0.10'),
    service('echo-x', { app: 'echo-x' }, '10.96.0.13'),
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'PeerAuthentication',
      metadata: { name: 'default', namespace: 'demo' },
      spec: { mtls: { mode: mtls } },
    },
    service('echo-v1', { app: 'echo', version: 'v1' }, '10.96.0.11'),
    service('echo-v2', { app: 'echo', version: 'v2' }, '10.96.0.12'),
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GRPCRoute',
      metadata: { name: 'echo-split', namespace: 'demo' },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: 'echo', port: 8080 }],
        rules: [
          {
            backendRefs: [
              { name: 'echo-v1', port: 8080, weight: 80 },
              { name: 'echo-v2', port: 8080, weight: 20 },
            ],
          },
        ],
      },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'echo-v1', namespace: 'demo' },
      spec: {
        host: 'echo-v1.demo.svc.cluster.local',
        trafficPolicy: {
          loadBalancer: { simple: 'ROUND_ROBIN' },
          connectionPool: { http: { http2MaxRequests: 100 } },
          outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' },
        },
      },
    },
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'echo-v2', namespace: 'demo' },
      spec: {
        host: 'echo-v2.demo.svc.cluster.local',
        trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
      },
    },
  ];
}

describe('weftd and a real proxyless gRPC client (grpc-js-xds)', () => {
  let t: TestControlPlane;
  let relay: { address: string; close(): void };
  let certDir: string;
  let backends: { port: number; server: grpc.Server }[] = [];
  let client: grpc.Client;
  let xPort = 0;
  const closers: (() => void)[] = [];

  /** A bootstrap as the SDK writes it, with the pod's certificate files in a folder of its own. */
  async function bootstrapFor(podName: string, relayAddress: string, certs: Issued): Promise<object> {
    const dir = join(certDir, podName);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'cert-chain.pem'), certs.certChain);
    await writeFile(join(dir, 'key.pem'), certs.key);
    await writeFile(join(dir, 'root-cert.pem'), t.cp.trustBundlePem);
    return {
      xds_servers: [
        { server_uri: relayAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
      ],
      node: { id: `proxyless~demo/${podName}`, locality: {} },
      certificate_providers: {
        weft: {
          plugin_name: 'file_watcher',
          config: {
            certificate_file: join(dir, 'cert-chain.pem'),
            private_key_file: join(dir, 'key.pem'),
            ca_certificate_file: join(dir, 'root-cert.pem'),
            refresh_interval: '1s',
          },
        },
      },
      server_listener_resource_name_template: 'xds.weft.dev/grpc/lds/inbound/%s',
    };
  }

  const call = (c: grpc.Client = client): Promise<string> =>
    new Promise((resolve, reject) =>
      c.makeUnaryRequest(ECHO_PATH, passthrough, passthrough, Buffer.from('hi'), (err, res) =>
        err || res === undefined ? reject(err) : resolve(res.toString()),
      ),
    );

  beforeAll(async () => {
    // The CA first (the endpoints need certificates before their ports go into the manifests).
    t = await startTestControlPlane({ objects: mesh(1, 2, 3) });
    const root = t.cp.trustBundlePem;
    const echoCerts = await issue(t, TEST_TOKENS.echo);
    backends = [
      await startEcho('127.0.0.1', 'v1', echoCerts, root),
      await startEcho('127.0.0.2', 'v2', echoCerts, root),
    ];
    xPort = await freePort();
    await writeManifest(t.dir, 'mesh.yaml', mesh(backends[0]?.port ?? 0, backends[1]?.port ?? 0, xPort));
    await waitFor(
      () =>
        t.cp.snapshot()?.services[HOST]?.endpoints.some((e) => e.targetPort === backends[0]?.port) === true,
      'endpoints with the echo ports',
    );

    certDir = await mkdtemp(join(tmpdir(), 'weft-proxyless-'));
    relay = await startRelay(t.cp.addresses.xds as string, TEST_TOKENS.client);
    const bootstrap = await bootstrapFor('client', relay.address, await issue(t, TEST_TOKENS.client));
    const xds = await loadGrpcXds();
    client = new grpc.Client(
      `xds:///${HOST}:8080`,
      new xds.XdsChannelCredentials(grpc.credentials.createInsecure()),
      { [XDS_BOOTSTRAP_OPTION]: JSON.stringify(bootstrap) },
    );
  });

  afterAll(async () => {
    for (const c of closers.reverse()) c();
    client?.close();
    relay?.close();
    for (const b of backends) b.server.forceShutdown();
    await t?.close();
    if (certDir !== undefined) await rm(certDir, { recursive: true, force: true });
  });

  it('calls reach both endpoints over mesh mTLS, in the split’s proportions', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const r = await call();
      counts[r] = (counts[r] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['v1', 'v2']);
    // 80/20 of 200: v1 ~ 160 (sd ~ 5.7).
    expect(counts.v1).toBeGreaterThan(130);
    expect(counts.v2).toBeGreaterThan(15);
  });

  it('ACKs every resource, as /debug/syncz shows, with no NACK', async () => {
    await waitFor(() => {
      const p = t.cp.syncz().find((s) => s.id === 'proxyless~demo/client');
      return p !== undefined && p.types.length === 4 && p.types.every((x) => x.pendingNonce === undefined);
    }, 'proxyless stream settled');
    const p = t.cp.syncz().find((s) => s.id === 'proxyless~demo/client');
    expect(p).toMatchObject({ kind: 'proxyless', namespace: 'demo', name: 'client' });
    expect(p?.types.map((x) => x.type).sort()).toEqual([
      'envoy.config.cluster.v3.Cluster',
      'envoy.config.endpoint.v3.ClusterLoadAssignment',
      'envoy.config.listener.v3.Listener',
      'envoy.config.route.v3.RouteConfiguration',
    ]);
    for (const x of p?.types ?? []) {
      expect(x.nacks, x.type).toBe(0);
      expect(x.lastNack, x.type).toBeUndefined();
      expect(x.acks, x.type).toBeGreaterThan(0);
      expect(x.versionAcked, x.type).toBe(x.versionSent);
    }
    // The route's clusters and their endpoints, and nothing of other kinds.
    expect(p?.types.find((x) => x.type.endsWith('Cluster'))?.resources).toBe(2);
  });

  it('serves an xDS-enabled server its Listener (STRICT mesh mTLS) and the client reaches it', async () => {
    const xds = await loadGrpcXds();
    const serverRelay = await startRelay(t.cp.addresses.xds as string, TEST_TOKENS.echo);
    closers.push(() => serverRelay.close());
    const bootstrap = await bootstrapFor('echo-x', serverRelay.address, await issue(t, TEST_TOKENS.echo));
    const server = new xds.XdsServer({ [XDS_BOOTSTRAP_OPTION]: JSON.stringify(bootstrap) });
    closers.push(() => server.forceShutdown());
    server.addService(echoDefinition, {
      Echo: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
        cb(null, Buffer.from('xds-server')),
    });
    // The callback fires once the server's Listener is accepted and it serves.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the xDS server never served')), 10_000);
      server.bindAsync(
        `0.0.0.0:${xPort}`,
        new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()),
        (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        },
      );
    });
    const toServer = new grpc.Client(
      `xds:///echo-x.demo.svc.cluster.local:8080`,
      new xds.XdsChannelCredentials(grpc.credentials.createInsecure()),
      {
        [XDS_BOOTSTRAP_OPTION]: JSON.stringify(
          await bootstrapFor('client', relay.address, await issue(t, TEST_TOKENS.client)),
        ),
      },
    );
    closers.push(() => toServer.close());
    expect(await call(toServer)).toBe('xds-server');

    const s = t.cp.syncz().find((p) => p.id === 'proxyless~demo/echo-x');
    const lds = s?.types.find((x) => x.type === 'envoy.config.listener.v3.Listener');
    expect(lds).toMatchObject({ nacks: 0, resources: 1 });
    expect(lds?.versionAcked).toBe(lds?.versionSent);
    // A plaintext caller (no mesh certificate) is refused by STRICT.
    const plain = new grpc.Client(`127.0.0.4:${xPort}`, grpc.credentials.createInsecure());
    closers.push(() => plain.close());
    await expect(call(plain)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    // So is TLS without a client certificate, until PeerAuthentication turns PERMISSIVE: the
    // server's stream moves to the PERMISSIVE group's Listener, and the server keeps serving.
    const noCert = () => {
      const c = new grpc.Client(
        `127.0.0.4:${xPort}`,
        grpc.credentials.createSsl(Buffer.from(t.cp.trustBundlePem), null, null, {
          checkServerIdentity: () => undefined,
        }),
        // SNI may not be an IP literal (Bun refuses it); the certificate is checked by the CA only
        { 'grpc.ssl_target_name_override': 'echo-x.demo.svc.cluster.local' },
      );
      closers.push(() => c.close());
      return c;
    };
    await expect(call(noCert())).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    const before = lds?.versionAcked;
    await writeManifest(
      t.dir,
      'mesh.yaml',
      mesh(backends[0]?.port ?? 0, backends[1]?.port ?? 0, xPort, 'PERMISSIVE'),
    );
    await waitFor(() => {
      const row = t.cp
        .syncz()
        .find((p) => p.id === 'proxyless~demo/echo-x')
        ?.types.find((x) => x.type === 'envoy.config.listener.v3.Listener');
      return row !== undefined && row.versionAcked !== before && row.versionAcked === row.versionSent;
    }, 'the PERMISSIVE Listener acknowledged');
    expect(await call(noCert())).toBe('xds-server');
    expect(await call(toServer)).toBe('xds-server');
    const after = t.cp.syncz().find((p) => p.id === 'proxyless~demo/echo-x');
    expect(after?.types.every((x) => x.nacks === 0)).toBe(true);
    await writeManifest(t.dir, 'mesh.yaml', mesh(backends[0]?.port ?? 0, backends[1]?.port ?? 0, xPort));
  });

  it("gives the pod's SDK its weft.v1 view on the same node id", async () => {
    const sdk = connectProxy({
      target: t.cp.addresses.xds as string,
      nodeId: 'proxyless~demo/client',
      token: TEST_TOKENS.client,
      types: [
        domainResourceType('workload'),
        domainResourceType('service'),
        domainResourceType('authorization'),
      ],
    });
    closers.push(() => sdk.close());
    await sdk.client.synced();
    expect(sdk.handler.count(WEFT_TYPE_URL.workload)).toBe(4);
    expect(sdk.handler.count(WEFT_TYPE_URL.service)).toBe(4);
  });

  it('shows a NACK from a proxyless client in /debug/syncz', async () => {
    // A relay that spoils the first load assignment it forwards: grpc-js-xds must reject it.
    let spoiled = false;
    const bad = await startRelay(t.cp.addresses.xds as string, TEST_TOKENS.client, (b) => {
      if (spoiled) return b;
      const res = DiscoveryResponse.decode(b);
      const first = res.resources[0];
      if (res.typeUrl !== ENVOY_TYPE_URL.clusterLoadAssignment || first === undefined) return b;
      spoiled = true;
      first.value = new Uint8Array([0x0a, 0xff]);
      return Buffer.from(DiscoveryResponse.encode(res).finish());
    });
    closers.push(() => bad.close());
    const bootstrap = await bootstrapFor('client', bad.address, await issue(t, TEST_TOKENS.client));
    const xds = await loadGrpcXds();
    const c = new grpc.Client(
      `xds:///${HOST}:8080`,
      new xds.XdsChannelCredentials(grpc.credentials.createInsecure()),
      { [XDS_BOOTSTRAP_OPTION]: JSON.stringify(bootstrap) },
    );
    closers.push(() => c.close());
    c.waitForReady(Date.now() + 3000, () => {});
    const nacked = async () => {
      const res = await fetch(`http://${t.cp.addresses.admin}/debug/syncz`, {
        headers: { authorization: `Bearer ${TEST_TOKENS.admin}` },
      });
      const body = (await res.json()) as {
        proxies: { id: string; types: { type: string; nacks: number; lastNack?: { message: string } }[] }[];
      };
      return body.proxies
        .filter((p) => p.id === 'proxyless~demo/client')
        .flatMap((p) => p.types)
        .find((x) => x.type === 'envoy.config.endpoint.v3.ClusterLoadAssignment' && x.nacks > 0);
    };
    let row = await nacked();
    for (let i = 0; row === undefined && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 25));
      row = await nacked();
    }
    expect(row?.lastNack?.message).toContain('xDS response validation errors');
  });

  it('refuses what grpc-js-xds cannot do, in /debug/config_status', async () => {
    const res = await fetch(`http://${t.cp.addresses.admin}/debug/config_status`, {
      headers: { authorization: `Bearer ${TEST_TOKENS.admin}` },
    });
    const status = (await res.json()) as {
      proxyless: { refused: { object: string; field: string; reason: string }[] };
    };
    const refused = status.proxyless.refused;
    expect(refused).toContainEqual({
      object: 'DestinationRule demo/echo-v2',
      field: 'spec.trafficPolicy.loadBalancer.simple',
      reason: expect.stringContaining('LEAST_REQUEST is not supported by proxyless gRPC clients'),
    });
    expect(refused.find((r) => r.object === 'DestinationRule demo/echo-v1')?.field).toBe(
      'spec.trafficPolicy.outlierDetection.consecutive5xxErrors',
    );
    // and counted
    const metrics = await (await fetch(`http://${t.cp.addresses.admin}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.includes('reason="proxyless_unsupported"'));
    expect(Number(line?.slice(line.lastIndexOf(' ') + 1))).toBeGreaterThanOrEqual(refused.length);
  });

  it("sends calls for a waypoint-bound service to the waypoint's pods on 15009, checking the waypoint's identity", async () => {
    // a stand-in for the waypoint's proxyless listener (packages/waypoint serves it for real):
    // mesh mTLS with the waypoint's certificate, the service named by :authority
    const WAYPOINT_IP = '127.0.77.9';
    const wpCerts = await issue(t, TEST_TOKENS.waypoint);
    const authorities: string[] = [];
    const wp = new grpc.Server();
    wp.addService(echoDefinition, {
      Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        authorities.push(call.getHost());
        cb(null, Buffer.from('waypoint'));
      },
    });
    await new Promise<number>((resolve, reject) =>
      wp.bindAsync(
        `${WAYPOINT_IP}:15009`,
        grpc.ServerCredentials.createSsl(
          Buffer.from(t.cp.trustBundlePem),
          [{ cert_chain: Buffer.from(wpCerts.certChain), private_key: Buffer.from(wpCerts.key) }],
          true,
        ),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    closers.push(() => wp.forceShutdown());
    const gw = { 'gateway.networking.k8s.io/gateway-name': 'waypoint' };
    await writeManifest(t.dir, 'waypoint.yaml', [
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'waypoint', namespace: 'demo' },
        spec: {
          gatewayClassName: 'weft-waypoint',
          listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
        },
      },
      pod('waypoint-0', WAYPOINT_IP, 'waypoint', gw),
      {
        ...service('echo-w', { app: 'echo' }, '10.96.0.15'),
        metadata: { name: 'echo-w', namespace: 'demo', labels: { 'weft.dev/use-waypoint': 'waypoint' } },
      },
    ]);
    await waitFor(() => {
      const s = t.cp.snapshot();
      return (
        s?.services['echo-w.demo.svc.cluster.local']?.waypoint?.key === 'demo/waypoint' &&
        s.waypoints['demo/waypoint']?.workloads.length === 1
      );
    }, 'echo-w bound to a waypoint with a pod');
    const xds = await loadGrpcXds();
    const c = new grpc.Client(
      'xds:///echo-w.demo.svc.cluster.local:8080',
      new xds.XdsChannelCredentials(grpc.credentials.createInsecure()),
      {
        [XDS_BOOTSTRAP_OPTION]: JSON.stringify(
          await bootstrapFor('client', relay.address, await issue(t, TEST_TOKENS.client)),
        ),
      },
    );
    closers.push(() => c.close());
    expect(await call(c)).toBe('waypoint');
    expect(authorities).toEqual(['echo-w.demo.svc.cluster.local:8080']);
  });

  it('applies a VirtualService (header match, fault abort, timeout, retries) and ring hash, all ACKed', async () => {
    await writeManifest(t.dir, 'routes.yaml', [
      service('echo-r', { app: 'echo' }, '10.96.0.14'),
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: 'echo-r', namespace: 'demo' },
        spec: {
          hosts: ['echo-r'],
          http: [
            {
              match: [{ headers: { 'x-fail': { exact: '1' } } }],
              fault: { abort: { grpcStatus: 'PERMISSION_DENIED', percentage: { value: 100 } } },
              route: [{ destination: { host: 'echo-r' } }],
            },
            {
              match: [{ uri: { regex: '/weft\\.test\\.Echo/.*' } }],
              route: [{ destination: { host: 'echo-r' } }],
              timeout: '5s',
              retries: { attempts: 2, retryOn: 'unavailable,resource-exhausted' },
            },
          ],
        },
      },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'DestinationRule',
        metadata: { name: 'echo-r', namespace: 'demo' },
        spec: {
          host: 'echo-r.demo.svc.cluster.local',
          trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } },
        },
      },
    ]);
    await waitFor(
      () => t.cp.snapshot()?.routes['echo-r.demo.svc.cluster.local:8080'] !== undefined,
      'echo-r routes',
    );
    const xds = await loadGrpcXds();
    const c = new grpc.Client(
      'xds:///echo-r.demo.svc.cluster.local:8080',
      new xds.XdsChannelCredentials(grpc.credentials.createInsecure()),
      {
        [XDS_BOOTSTRAP_OPTION]: JSON.stringify(
          await bootstrapFor('client', relay.address, await issue(t, TEST_TOKENS.client)),
        ),
      },
    );
    closers.push(() => c.close());
    const callWith = (md: Record<string, string>): Promise<string> => {
      const metadata = new grpc.Metadata();
      for (const [k, v] of Object.entries(md)) metadata.set(k, v);
      return new Promise((resolve, reject) =>
        c.makeUnaryRequest(ECHO_PATH, passthrough, passthrough, Buffer.from('hi'), metadata, (err, res) =>
          err || res === undefined ? reject(err) : resolve(res.toString()),
        ),
      );
    };
    await expect(callWith({ 'x-fail': '1' })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    // One user's calls all land on one endpoint; across users, both endpoints serve.
    const byUser: Record<string, Set<string>> = {};
    // 32 users: the ring is built from the endpoints' addresses (random ports here), so with a
    // handful of users all of them landing on one endpoint is a real chance (8 users: ~1 %).
    for (let u = 0; u < 32; u++) {
      const user = `user-${u}`;
      byUser[user] = new Set();
      for (let i = 0; i < 5; i++) byUser[user]?.add(await callWith({ 'x-user': user }));
    }
    for (const seen of Object.values(byUser)) expect(seen.size).toBe(1);
    expect(new Set(Object.values(byUser).flatMap((s) => [...s])).size).toBe(2);

    const streams = t.cp.syncz().filter((p) => p.id === 'proxyless~demo/client');
    for (const x of streams.flatMap((p) => p.types)) {
      if (x.type.endsWith('ClusterLoadAssignment') && x.nacks > 0) continue; // the spoiled stream above
      expect(x.nacks, x.type).toBe(0);
    }
  });
});
