// Capture mode without root: two sidecars on loopback addresses stand in for two pods, and the
// original destination that SO_ORIGINAL_DST would give is a function of the test. An app
// connection accepted on the client's outbound listener (whatever its source address, as a v6
// or v4 socket inside the pod netns may have) goes over HBONE to the web pod; a plaintext
// connection on the web pod's inbound listener reaches the port the caller dialled.
import { connect, createServer, type Socket } from 'node:net';
import { createTestCa, type TestCa } from '@weft/ca/testing';
import { createCertStore } from '@weft/hbone';
import { compileMesh } from '@weft/l7/testing';
import { namespace, pod } from '@weft/policy/testing';
import {
  applyUpdate,
  batchFromSnapshot,
  createLocalSocketFactory,
  createStateStore,
  type SocketAddress,
} from '@weft/proxy-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureAppConnector, captureSocketFactory, loadCaptureNet } from './capture.ts';
import { createSidecar, type Sidecar } from './sidecar.ts';
import { exchange, startTcpEchoApp, type TcpEchoApp } from './testing/index.ts';

const TD = 'spiffe://cluster.local/ns/cap/sa';
const IP = { client: '127.0.74.2', web: '127.0.74.3', stranger: '127.0.74.9' };

function dial(ip: string, port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: ip, port, localAddress, allowHalfOpen: true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('createSidecar capture mode', () => {
  let ca: TestCa;
  let echo: TcpEchoApp;
  let client: Sidecar;
  let web: Sidecar;
  // What the kernel would answer for each accepted socket, keyed by the listener's port.
  const original = new Map<number, SocketAddress>();
  const captureNet = {
    originalDestination: (s: Socket) => original.get(s.localPort ?? 0),
  };

  beforeAll(async () => {
    ca = await createTestCa();
    echo = await startTcpEchoApp(IP.web);
    const store = createStateStore();
    const mesh = compileMesh([
      namespace('cap'),
      pod('client', {
        namespace: 'cap',
        ip: IP.client,
        node: 'n',
        serviceAccount: 'client',
        mode: 'sidecar',
      }),
      pod('web-1', {
        namespace: 'cap',
        ip: IP.web,
        node: 'n',
        serviceAccount: 'web',
        mode: 'sidecar',
        ports: [{ name: 'tcp', containerPort: echo.port }],
      }),
    ] as never);
    applyUpdate(store, batchFromSnapshot(mesh));
    const certs = async (id: string) => {
      const c = await ca.issue(id);
      const m = { keyPem: c.keyPem, certChainPem: c.certChainPem, trustBundlePem: ca.trustBundlePem };
      const s = createCertStore(m);
      s.set(m, id);
      return s;
    };
    // Explicit addresses keep the test off the wildcards (other tests share this host).
    const listeners = (ip: string) => ({
      outbound: { host: ip, port: 0 },
      inbound: { host: ip, port: 0 },
      socks5: false as const,
      admin: { host: ip, port: 0 },
      metrics: false as const,
      readiness: false as const,
    });
    client = await createSidecar(
      {
        pod: 'cap/client',
        podIp: IP.client,
        identity: `${TD}/client`,
        capture: true,
        ...listeners(IP.client),
      },
      { certs: await certs(`${TD}/client`), store, captureNet },
    );
    web = await createSidecar(
      { pod: 'cap/web-1', podIp: IP.web, identity: `${TD}/web`, capture: true, ...listeners(IP.web) },
      { certs: await certs(`${TD}/web`), store, captureNet },
    );
  }, 30_000);

  afterAll(async () => {
    await client?.close();
    await web?.close();
    await echo?.close();
  });

  it('outbound: the original destination picks the peer; the source address does not matter', async () => {
    const out = client.addresses.capture?.outbound[0];
    expect(out).toBeDefined();
    if (out === undefined) return;
    original.set(out.port, { ip: IP.web, port: echo.port });
    // Not the pod IP: inside the pod netns an IPv6 or secondary address is the pod's all the same.
    const s = await dial(out.ip, out.port, IP.stranger);
    expect(await exchange(s, 'captured app')).toBe('captured app');
    // It went over HBONE: the web pod's sidecar accepted an mTLS connection.
    const stats = (await (await fetch(`http://${IP.web}:${web.addresses.admin?.port}/stats`)).json()) as {
      hbone: { connections: { accepted: number } };
    };
    expect(stats.hbone.connections.accepted).toBeGreaterThanOrEqual(1);
  });

  it('inbound: a plaintext caller reaches the port SO_ORIGINAL_DST names', async () => {
    const inb = web.addresses.capture?.inbound[0];
    if (inb === undefined) throw new Error('no inbound listener');
    original.set(inb.port, { ip: IP.web, port: echo.port });
    const s = await dial(inb.ip, inb.port, IP.stranger);
    expect(await exchange(s, 'plaintext in')).toBe('plaintext in');
  });

  it('a connection with no original destination (and no --outbound-target) is refused', async () => {
    const out = client.addresses.capture?.outbound[0];
    if (out === undefined) throw new Error('no outbound listener');
    original.delete(out.port);
    const s = await dial(out.ip, out.port, IP.client);
    expect(await exchange(s, 'nowhere')).toBe('');
  });

  it('the admin dump says capture mode', async () => {
    const dump = (await (
      await fetch(`http://${IP.client}:${client.addresses.admin?.port}/config_dump`)
    ).json()) as {
      capture: boolean;
    };
    expect(dump.capture).toBe(true);
  });

  it('without SO_ORIGINAL_DST available, capture mode refuses to start and says why', async () => {
    const loaded = await loadCaptureNet();
    if (loaded.ok) {
      expect(typeof loaded.net.originalDestination).toBe('function');
      return;
    }
    await expect(
      createSidecar(
        { pod: 'cap/x', podIp: '127.0.74.20', identity: `${TD}/x`, capture: true },
        { certs: createCertStore() },
      ),
    ).rejects.toThrow(/capture mode cannot start: @weft\/linux-net/);
  });

  it('the capture socket factory binds 0.0.0.0 and an IPv6-only :: on the same port', async () => {
    const sockets = captureSocketFactory(createLocalSocketFactory());
    const v4 = await sockets.listen({ ip: '0.0.0.0', port: 0 });
    const a = v4.address();
    if (a === null || typeof a === 'string') throw new Error('no address');
    try {
      const v6 = await sockets.listen({ ip: '::', port: a.port });
      v6.close();
    } catch (err) {
      // A host without IPv6 cannot bind ::; what matters is that it never collides with 0.0.0.0.
      expect((err as { code?: string }).code).not.toBe('EADDRINUSE');
    } finally {
      v4.close();
    }
  });

  it('the app is reached at the pod IP from 127.0.0.6, the source the pod rules never capture', async () => {
    const seen: string[] = [];
    const app = createServer((s) => {
      seen.push(s.remoteAddress ?? '');
      s.end();
    });
    await new Promise<void>((r) => app.listen(0, '127.0.74.30', r));
    const a = app.address();
    if (a === null || typeof a === 'string') throw new Error('no address');
    const stream = await captureAppConnector()(
      {
        ip: '127.0.74.30',
        port: a.port,
        address: `127.0.74.30:${a.port}`,
        workloadUid: undefined,
        identity: undefined,
      },
      { signal: AbortSignal.timeout(2000), timeoutMs: 2000 },
    );
    stream.destroy();
    app.close();
    expect(seen).toEqual(['127.0.0.6']);
  });
});
