// weftd end to end on loopback: a folder of YAML -> weftd -> real delta ADS clients, the CA, the
// admin API, restarts and hostile peers.
import { X509Certificate } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createCsr, generateRsaKeyPair } from '@weft/ca';
import { createCaClient } from '@weft/ca/client';
import type { AuthzPolicy, Workload } from '@weft/policy';
import { DELTA_METHOD_PATH, WEFT_TYPE_URL, weftResourceType } from '@weft/xds-protocol';
import type { WorkloadWithPeerAuthentication } from '@weft/xds-protocol/convert';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectProxy,
  startTestControlPlane,
  TEST_TOKENS,
  type TestControlPlane,
  type TestProxy,
  testMesh,
  waitFor,
  writeManifest,
} from './testing/index.ts';

const W = WEFT_TYPE_URL;

async function http(
  address: string,
  path: string,
  token?: string,
): Promise<{ status: number; text: string; json: () => unknown }> {
  const res = await fetch(`http://${address}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

/** The value of one sample of the Prometheus text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== '{' && rest[0] !== ' ') continue;
    if (Object.entries(labels).every(([k, v]) => rest.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

function metric(t: TestControlPlane, name: string, labels: Record<string, string> = {}): Promise<number> {
  return http(t.cp.addresses.admin, '/metrics').then((r) => sample(r.text, name, labels));
}

function rejects(t: TestControlPlane, reason: string): Promise<number> {
  return metric(t, 'weft_rejected_total', { component: 'weftd', reason });
}

describe('weftd, local mode', () => {
  let t: TestControlPlane;
  let proxy: TestProxy;

  beforeAll(async () => {
    t = await startTestControlPlane();
    proxy = connectProxy({
      target: t.cp.addresses.xds as string,
      nodeId: 'ztunnel~node-a',
      token: TEST_TOKENS.ztunnelNodeA,
    });
    await proxy.client.synced();
  });

  afterAll(async () => {
    proxy?.close();
    await t?.close();
  });

  it('serves converted workloads and services to a real delta ADS client', async () => {
    const { handler } = proxy;
    await handler.waitFor(() => handler.count(W.workload) === 3 && handler.count(W.service) === 1);
    const snapshot = t.cp.snapshot();
    const echoA = handler.get<WorkloadWithPeerAuthentication>(W.workload, 'uid-echo-a');
    expect(echoA?.workload).toEqual(snapshot?.workloads['uid-echo-a']);
    expect(echoA?.workload).toMatchObject({
      node: 'node-a',
      ips: ['127.0.10.1'],
      identity: 'spiffe://cluster.local/ns/demo/sa/echo',
    });
    expect(echoA?.peerAuthentication).toMatchObject({ mode: 'PERMISSIVE' });
    // ztunnel gets every workload (node-b's too), but only the policies of its node's workloads.
    expect(handler.get<{ workload: Workload }>(W.workload, 'uid-echo-b')?.workload.node).toBe('node-b');
    expect(handler.get<AuthzPolicy>(W.authorization, 'demo/echo-allow-client')?.action).toBe('ALLOW');
  });

  it('pushes an added DENY policy to the proxies of its node only, and the proxy acknowledges its version', async () => {
    const nodeB = connectProxy({
      target: t.cp.addresses.xds as string,
      nodeId: 'ztunnel~node-b',
      token: TEST_TOKENS.ztunnelNodeB,
    });
    /** weftd's view of one proxy's Authorization stream. */
    const authz = (id: string) =>
      t.cp
        .syncz()
        .find((p) => p.id === id)
        ?.types.find((x) => x.type === 'weft.v1.Authorization');
    try {
      await nodeB.client.synced();
      await writeManifest(t.dir, 'deny.yaml', [
        {
          apiVersion: 'security.istio.io/v1',
          kind: 'AuthorizationPolicy',
          metadata: { name: 'deny-node-a-client', namespace: 'demo' },
          spec: {
            selector: { matchLabels: { app: 'client' } },
            action: 'DENY',
            rules: [{ to: [{ operation: { ports: ['9999'] } }] }],
          },
        },
      ]);
      // The selected `client` pod runs on node-a: node-a's ztunnel gets the policy...
      await proxy.handler.waitFor(
        () => proxy.handler.get(W.authorization, 'demo/deny-node-a-client') !== undefined,
      );
      expect(proxy.handler.get<AuthzPolicy>(W.authorization, 'demo/deny-node-a-client')?.action).toBe('DENY');
      // ...and weftd sees the response that carried it acknowledged, not NACKed.
      const carried = proxy.client.status().find((s) => s.typeUrl === W.authorization)?.systemVersion ?? '';
      expect(carried).not.toBe('');
      await waitFor(() => {
        const a = authz('ztunnel~node-a');
        return a !== undefined && a.pendingNonce === undefined && Number(a.versionAcked) >= Number(carried);
      }, "node-a's ACK of the DENY");
      expect(authz('ztunnel~node-a')?.lastNack).toBeUndefined();
      // node-b's view changed in the same publish: once nothing is in flight to node-b, anything
      // weftd sent it has been applied. node-b's ztunnel never sees the policy.
      await waitFor(() => {
        const b = authz('ztunnel~node-b');
        return b !== undefined && b.pendingNonce === undefined && b.versionAcked === b.versionSent;
      }, 'node-b idle');
      expect(nodeB.handler.get(W.authorization, 'demo/deny-node-a-client')).toBeUndefined();
      expect(nodeB.client.versions(W.authorization).has('demo/deny-node-a-client')).toBe(false);
      expect(nodeB.handler.count(W.workload)).toBe(3);
      expect(authz('ztunnel~node-b')?.lastNack).toBeUndefined();
    } finally {
      nodeB.close();
    }
  });

  it('rejects a bad object alone, naming the field, logged and counted once, and keeps serving the rest', async () => {
    const before = await rejects(t, 'config_invalid');
    await writeManifest(t.dir, 'bad.yaml', [
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'broken', namespace: 'demo' },
        spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: 'not-a-list' } }] }] },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'extra', namespace: 'demo' },
        spec: { clusterIP: '10.96.0.11', selector: { app: 'echo' }, ports: [{ port: 81, targetPort: 8080 }] },
      },
    ]);
    await proxy.handler.waitFor(() => proxy.handler.count(W.service) === 2);
    const status = (await http(t.cp.addresses.admin, '/debug/config_status', TEST_TOKENS.admin)).json() as {
      rejected: { key: string; field: string; reason: string }[];
    };
    const broken = status.rejected.find((r) => r.key.endsWith('/demo/broken'));
    expect(broken?.field).toBe('spec.rules[0].from[0].source.principals');
    expect(broken?.reason).toContain(
      'AuthorizationPolicy demo/broken: spec.rules[0].from[0].source.principals',
    );
    // Later recompiles (another edit) do not count or log it again.
    await writeManifest(t.dir, 'other.yaml', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } },
    ]);
    await waitFor(() => t.cp.snapshot()?.namespaces.other !== undefined, 'namespace other');
    expect(await rejects(t, 'config_invalid')).toBe(before + 1);
    expect(proxy.handler.get(W.authorization, 'demo/broken')).toBeUndefined();
    expect(proxy.handler.count(W.workload)).toBe(3);
  });

  it('serves the injection MutatingWebhookConfiguration with its own trust bundle, to admins only', async () => {
    const path = '/debug/injection_webhook_config';
    expect((await http(t.cp.addresses.admin, path)).status).toBe(401);
    const res = await http(t.cp.addresses.admin, path, TEST_TOKENS.admin);
    expect(res.status).toBe(200);
    const cfg = res.json() as { kind: string; webhooks: { clientConfig: { caBundle: string } }[] };
    expect(cfg.kind).toBe('MutatingWebhookConfiguration');
    for (const h of cfg.webhooks)
      expect(Buffer.from(h.clientConfig.caBundle, 'base64').toString()).toBe(t.cp.trustBundlePem);
  });

  it('keeps the last valid version of an object while its new version is invalid', async () => {
    await writeManifest(t.dir, 'deny.yaml', [
      {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'deny-node-a-client', namespace: 'demo' },
        spec: { selector: { matchLabels: { app: 'client' } }, action: 'SOMETIMES' },
      },
    ]);
    await waitFor(
      () => t.cp.configStatus().rejected.some((r) => r.name === 'deny-node-a-client'),
      'the rejection of the edit',
    );
    const r = t.cp.configStatus().rejected.find((x) => x.name === 'deny-node-a-client');
    expect(r).toMatchObject({ field: 'spec.action', servingLastValid: true });
    expect(t.cp.snapshot()?.authorizationPolicies['demo/deny-node-a-client']?.action).toBe('DENY');
    expect(proxy.handler.get<AuthzPolicy>(W.authorization, 'demo/deny-node-a-client')?.action).toBe('DENY');
  });

  it('gives a ztunnel certificates for workloads on its node only', async () => {
    const client = createCaClient({
      address: t.cp.addresses.xds as string,
      token: () => TEST_TOKENS.ztunnelNodeA,
    });
    try {
      const keys = await generateRsaKeyPair(2048);
      const csr = createCsr(keys);
      const mine = await client.createCertificate({
        csr,
        impersonatedIdentity: 'spiffe://cluster.local/ns/demo/sa/client',
      });
      expect(mine.ok).toBe(true);
      if (!mine.ok) return;
      const leaf = new X509Certificate(mine.value.certChain[0] as string);
      expect(leaf.subjectAltName).toContain('URI:spiffe://cluster.local/ns/demo/sa/client');
      expect(mine.value.trustBundle.join('')).toBe(t.cp.trustBundlePem);
      // `echo` runs on node-a and node-b; a workload that runs only elsewhere is refused.
      const ok2 = await client.createCertificate({
        csr,
        impersonatedIdentity: 'spiffe://cluster.local/ns/demo/sa/echo',
      });
      expect(ok2.ok).toBe(true);
      const nodeB = createCaClient({
        address: t.cp.addresses.xds as string,
        token: () => TEST_TOKENS.ztunnelNodeB,
      });
      const elsewhere = await nodeB.createCertificate({
        csr,
        impersonatedIdentity: 'spiffe://cluster.local/ns/demo/sa/client',
      });
      nodeB.close();
      expect(elsewhere).toMatchObject({ ok: false, error: { codeName: 'PERMISSION_DENIED' } });
      if (!elsewhere.ok) expect(elsewhere.error.message).toContain('node node-b');
    } finally {
      client.close();
    }
  });

  it('shows ACK and NACK state per proxy and type in /debug/syncz', async () => {
    // A proxy whose Workload decoder refuses echo-b: the server sees a NACK for that type.
    const picky = connectProxy({
      target: t.cp.addresses.xds as string,
      nodeId: 'ztunnel~node-b',
      token: TEST_TOKENS.ztunnelNodeB,
      types: [
        {
          typeUrl: W.workload,
          decode: (bytes, name) =>
            name === 'uid-echo-b'
              ? { ok: false, error: 'echo-b refused by test' }
              : weftResourceType('workload').decode(bytes, name),
        },
        weftResourceType('service'),
      ],
    });
    try {
      await picky.client.synced();
      type Syncz = {
        proxies: {
          id: string;
          kind: string;
          node: string;
          types: {
            type: string;
            versionSent: string;
            versionAcked: string;
            lastNack?: { message: string };
          }[];
        }[];
      };
      let mine: Syncz['proxies'][number] | undefined;
      await waitFor(() => {
        mine = t.cp
          .syncz()
          .find((p) => p.id === 'ztunnel~node-b' && p.types.some((x) => x.lastNack !== undefined)) as never;
        return mine !== undefined;
      }, 'a NACK in syncz');
      const body = (await http(t.cp.addresses.admin, '/debug/syncz', TEST_TOKENS.admin)).json() as Syncz;
      const row = body.proxies.find(
        (p) => p.id === 'ztunnel~node-b' && p.types.some((x) => x.lastNack !== undefined),
      );
      expect(row).toMatchObject({ kind: 'ztunnel', node: 'node-b' });
      const workloads = row?.types.find((x) => x.type === 'weft.v1.Workload');
      expect(workloads?.lastNack?.message).toContain('uid-echo-b: echo-b refused by test');
      const services = row?.types.find((x) => x.type === 'weft.v1.Service');
      expect(services?.versionAcked).not.toBe('');
      expect(services?.versionAcked).toBe(services?.versionSent);
      expect(services?.lastNack).toBeUndefined();
    } finally {
      picky.close();
    }
  });

  it('refuses garbage bytes and unauthenticated calls on the xDS and admin ports, counts them, and keeps serving', async () => {
    const xds = t.cp.addresses.xds as string;
    const [host, port] = [xds.slice(0, xds.lastIndexOf(':')), Number(xds.slice(xds.lastIndexOf(':') + 1))];
    const garbageBefore = await rejects(t, 'xds_not_http2');
    await new Promise<void>((resolve) => {
      const s = connect({ host, port }, () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    await waitFor(() => true);
    expect(await rejects(t, 'xds_not_http2')).toBe(garbageBefore + 1);

    // ADS without a token, and with a node id the token does not allow.
    const call = (md: grpc.Metadata, nodeId: string) =>
      new Promise<grpc.StatusObject>((resolve) => {
        const c = new grpc.Client(xds, grpc.credentials.createInsecure());
        const stream = c.makeBidiStreamRequest(
          DELTA_METHOD_PATH,
          (x: Uint8Array) => Buffer.from(x),
          (b: Buffer) => b,
          md,
        );
        stream.on('status', (s: grpc.StatusObject) => {
          c.close();
          resolve(s);
        });
        stream.on('error', () => {});
        stream.on('data', () => {});
        // DeltaDiscoveryRequest{ node{ id }, type_url }
        const { DeltaDiscoveryRequest } = DELTA_REQUEST;
        stream.write(DeltaDiscoveryRequest(nodeId));
      });
    const unauthBefore = await rejects(t, 'xds_unauthenticated');
    expect((await call(new grpc.Metadata(), 'ztunnel~node-a')).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await rejects(t, 'xds_unauthenticated')).toBe(unauthBefore + 1);
    const wrongNode = new grpc.Metadata();
    wrongNode.set('authorization', `Bearer ${TEST_TOKENS.ztunnelNodeA}`);
    const refused = await call(wrongNode, 'ztunnel~node-b');
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    const asClient = new grpc.Metadata();
    asClient.set('authorization', `Bearer ${TEST_TOKENS.client}`);
    expect((await call(asClient, 'ztunnel~node-a')).code).toBe(grpc.status.PERMISSION_DENIED);

    // The CA without a token.
    const anon = createCaClient({ address: xds });
    const keys = await generateRsaKeyPair(2048);
    const r = await anon.createCertificate({ csr: createCsr(keys) });
    anon.close();
    expect(r).toMatchObject({ ok: false, error: { codeName: 'UNAUTHENTICATED' } });

    // Admin: garbage, no token, a token outside weft-system, the right token.
    const admin = t.cp.addresses.admin;
    const badBefore = await rejects(t, 'admin_bad_request');
    const reply = await new Promise<string>((resolve) => {
      const [ah, ap] = [
        admin.slice(0, admin.lastIndexOf(':')),
        Number(admin.slice(admin.lastIndexOf(':') + 1)),
      ];
      let got = '';
      const s = connect({ host: ah, port: ap }, () => s.write('\x16\x03\x01\x00\xff garbage\r\n\r\n'));
      s.on('data', (d) => {
        got += d.toString('latin1');
      });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
    expect(reply).toContain('400');
    expect(await rejects(t, 'admin_bad_request')).toBe(badBefore + 1);
    expect((await http(admin, '/debug/config_dump')).status).toBe(401);
    expect((await http(admin, '/debug/config_dump', 'not-a-known-token-at-all')).status).toBe(401);
    expect((await http(admin, '/debug/config_dump', TEST_TOKENS.client)).status).toBe(403);
    expect(await rejects(t, 'admin_unauthenticated')).toBeGreaterThanOrEqual(2);
    const dump = await http(admin, '/debug/config_dump', TEST_TOKENS.admin);
    expect(dump.status).toBe(200);
    expect((dump.json() as { version: string }).version).toBe(t.cp.snapshot()?.version);
    expect((await http(admin, '/healthz/ready')).status).toBe(200);
    // Still serving.
    expect(proxy.client.state).toBe('connected');
  });

  it('answers a frame header announcing 16 MiB with GOAWAY and closes that connection, on both xDS ports', async () => {
    const frameSizeError = 0x6;
    const probe = (address: string, tls: boolean) =>
      new Promise<{ goaway: number | undefined; closed: boolean }>((resolve) => {
        const sep = address.lastIndexOf(':');
        const [host, port] = [address.slice(0, sep), Number(address.slice(sep + 1))];
        const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
        const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
        const huge = Buffer.from([0xff, 0xff, 0xff, 0x0, 0, 0, 0, 0, 1]); // DATA, 16 MiB - 1, stream 1
        const socket = tls
          ? tlsConnect({ host, port, ALPNProtocols: ['h2'], rejectUnauthorized: false })
          : connect({ host, port });
        let received = Buffer.alloc(0);
        const guard = setTimeout(() => {
          socket.destroy();
          resolve({ goaway: goawayCode(received), closed: false });
        }, 15_000);
        socket.on(tls ? 'secureConnect' : 'connect', () =>
          socket.write(Buffer.concat([preface, settings, huge])),
        );
        socket.on('data', (d: Buffer) => {
          received = Buffer.concat([received, d]);
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearTimeout(guard);
          resolve({ goaway: goawayCode(received), closed: true });
        });
      });
    for (const [address, tls] of [
      [t.cp.addresses.xds as string, false],
      [t.cp.addresses.xdsTls as string, true],
    ] as const) {
      expect(await probe(address, tls)).toEqual({ goaway: frameSizeError, closed: true });
    }
    expect(proxy.client.state).toBe('connected');
  });
});

/** The error code of the first GOAWAY frame in a server's byte stream, if any. */
function goawayCode(bytes: Buffer): number | undefined {
  let at = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    const type = bytes[at + 3];
    if (type === 0x7 && at + 9 + 8 <= bytes.length) return bytes.readUInt32BE(at + 9 + 4);
    at += 9 + length;
  }
  return undefined;
}

// The DeltaDiscoveryRequest bytes for a raw stream (node.id + type_url), built by hand so the
// test does not depend on the server's own encoder.
const DELTA_REQUEST = {
  DeltaDiscoveryRequest(nodeId: string): Buffer {
    const str = (field: number, s: string) => {
      const b = Buffer.from(s);
      return Buffer.concat([Buffer.from([(field << 3) | 2, b.length]), b]);
    };
    const node = str(1, nodeId);
    return Buffer.concat([Buffer.from([(1 << 3) | 2, node.length]), node, str(2, W.workload)]);
  },
};

describe('weftd restarts', () => {
  it('keeps its CA root and lets proxies resync on the same address', async () => {
    let t = await startTestControlPlane();
    const xds = t.cp.addresses.xds as string;
    const bundle = t.cp.trustBundlePem;
    const proxy = connectProxy({ target: xds, nodeId: 'ztunnel~node-a', token: TEST_TOKENS.ztunnelNodeA });
    try {
      await proxy.client.synced();
      await proxy.handler.waitFor(() => proxy.handler.count(W.workload) === 3);
      await t.cp.close();
      await waitFor(() => proxy.client.state !== 'connected', 'the proxy to notice');
      // The proxy keeps its last good state while weftd is away.
      expect(proxy.handler.count(W.workload)).toBe(3);
      // Same folder, same CA dir, same port; one pod less meanwhile.
      const mesh = testMesh().filter((o) => (o as { metadata: { name: string } }).metadata.name !== 'echo-b');
      await writeManifest(t.dir, 'mesh.yaml', mesh);
      const again = await startTestControlPlane({ dir: t.dir, caDir: t.caDir, config: { xdsAddress: xds } });
      const first = t;
      t = again;
      expect(again.cp.trustBundlePem).toBe(bundle);
      await proxy.handler.waitFor(
        () => proxy.client.state === 'connected' && proxy.handler.count(W.workload) === 2,
        10_000,
      );
      expect(proxy.client.stats().streamsStarted).toBeGreaterThanOrEqual(2);
      await rm(first.dir, { recursive: true, force: true });
    } finally {
      proxy.close();
      await t.close();
      await rm(join(t.caDir), { recursive: true, force: true });
    }
  });
});
