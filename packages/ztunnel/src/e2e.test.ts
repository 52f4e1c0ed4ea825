// Happy path with real sockets: two ztunnels on loopback (node-a 127.0.31.1, node-b 127.0.32.1, apart from the local demo's nodes), a
// TCP echo workload on node-a, a client workload on node-b entering through SOCKS5 from its pod IP.
import { authorizationPolicy, peerAuthentication } from '@weft/policy/testing';
import { createLocalSocketFactory, REPLY, type SocketAddress, type SocketFactory } from '@weft/proxy-core';
import { localMeshLayout } from '@weft/proxy-core/testing';
import { parseKvLine, parsePrometheusText } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMeshHarness, startLocalMesh } from './testing/harness.ts';
import { httpGet, readUntilClose, roundTrip, socks5Connect, tcpConnect } from './testing/net.ts';

const CLIENT_ID = 'spiffe://cluster.local/ns/demo/sa/client';
const ECHO_ID = 'spiffe://cluster.local/ns/demo/sa/echo';

let mesh: LocalMeshHarness;
// Every upstream socket the ztunnels asked their SocketFactory for.
const connects: SocketAddress[] = [];

beforeAll(async () => {
  const layout = localMeshLayout(31, 32);
  const local = createLocalSocketFactory();
  const sockets: SocketFactory = {
    listen: (addr, opts) => local.listen(addr, opts),
    connect: (addr, opts) => {
      connects.push(addr);
      return local.connect(addr, opts);
    },
  };
  mesh = await startLocalMesh({
    octets: [31, 32],
    deps: {
      sockets,
      // What SO_ORIGINAL_DST would say for a captured connection: the app dialled the echo VIP.
      outboundOriginalDestination: () => ({ ip: layout.echoVip, port: 80 }),
    },
  });
}, 60_000);

afterAll(async () => {
  await mesh?.close();
});

async function viaSocks(target: { hostname: string; port: number } | { ip: string; port: number }) {
  return socks5Connect({
    proxy: mesh.b.ztunnel.addresses.socks5,
    localAddress: mesh.layout.client,
    target,
  });
}

describe('two ztunnels, local mode', () => {
  it('both nodes are ready and serve their admin endpoints', async () => {
    for (const n of [mesh.a, mesh.b]) {
      const ready = await httpGet(`http://${n.ip}:15021/healthz/ready`);
      expect(ready.status).toBe(200);
    }
    const certs = JSON.parse((await httpGet(`http://${mesh.a.ip}:15000/certs`)).body) as {
      certificates: { identity: string; state: string; serial: string; notAfter: string; chain: unknown[] }[];
    };
    expect(certs.certificates.map((c) => [c.identity, c.state])).toEqual([[ECHO_ID, 'ready']]);
    expect(certs.certificates[0]?.chain.length).toBeGreaterThanOrEqual(2);
    expect(mesh.ca.issued()).toBe(3); // node-a: echo; node-b: client and echo (echo-2)
    const dump = JSON.parse((await httpGet(`http://${mesh.b.ip}:15000/config_dump`)).body) as {
      workloads: unknown[];
      synced: boolean;
    };
    expect(dump.synced).toBe(true);
    expect(dump.workloads).toHaveLength(4);
  });

  it('client -> echo through SOCKS5 and HBONE mTLS; the server side logs both identities', async () => {
    const r = await viaSocks({ hostname: mesh.layout.echoHost, port: 80 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(await roundTrip(r.socket, 'hello through the mesh')).toBe('hello through the mesh');
    const conns = JSON.parse((await httpGet(`http://${mesh.a.ip}:15000/connections`)).body) as {
      connections: { direction: string; sourceIdentity: string; destinationIdentity: string }[];
    };
    expect(conns.connections).toContainEqual(
      expect.objectContaining({
        direction: 'inbound',
        sourceIdentity: CLIENT_ID,
        destinationIdentity: ECHO_ID,
      }),
    );
    r.socket.end();
    await readUntilClose(r.socket);
    // Both legs came from the SocketFactory: the HBONE connection to echo-1's node (15008) and,
    // on node-a, the upstream to the app.
    expect(connects).toContainEqual({ ip: mesh.layout.echo1, port: 15008 });
    expect(connects).toContainEqual({ ip: mesh.layout.echo1, port: 8080 });
    await waitFor(() => mesh.a.accessLog.lines.some((l) => l.includes('reporter=destination')));
    const line = parseKvLine(
      mesh.a.accessLog.lines.find((l) => l.includes('reporter=destination')) as string,
    );
    expect(line).toMatchObject({
      src_principal: CLIENT_ID,
      dst_principal: ECHO_ID,
      src_workload: 'client',
      dst_workload: 'echo-1',
      // :authority was the pod IP; the service is found from the store.
      dst_service: mesh.layout.echoHost,
      security: 'mutual_tls',
      rbac: 'allow',
      bytes_received: '22',
      bytes_sent: '22',
    });
    await waitFor(() => mesh.b.accessLog.lines.some((l) => l.includes('reporter=source')));
    const out = parseKvLine(mesh.b.accessLog.lines.find((l) => l.includes('reporter=source')) as string);
    expect(out).toMatchObject({
      dst_service: mesh.layout.echoHost,
      upstream_host: `${mesh.layout.echo1}:8080`,
    });
  });

  it('captured outbound (15001) with an injected original destination takes the same path', async () => {
    const c = await tcpConnect(mesh.b.ip, mesh.b.ztunnel.addresses.outboundCapture.port, mesh.layout.client);
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(await roundTrip(c.socket, 'captured')).toBe('captured');
    c.socket.destroy();
  });

  it('Istio TCP metrics on both sides', async () => {
    const family = async (n: typeof mesh.a, name: string) =>
      parsePrometheusText(await n.registry.metrics()).families.get(name)?.samples ?? [];
    const dest = await family(mesh.a, 'istio_tcp_connections_opened_total');
    expect(dest).toContainEqual(
      expect.objectContaining({
        labels: expect.objectContaining({
          reporter: 'destination',
          source_workload: 'client',
          destination_workload: 'echo-1',
          destination_service: mesh.layout.echoHost,
          destination_service_name: 'echo',
          destination_service_namespace: 'demo',
          source_principal: CLIENT_ID,
          connection_security_policy: 'mutual_tls',
        }),
      }),
    );
    const src = await family(mesh.b, 'istio_tcp_connections_opened_total');
    expect(src).toContainEqual(
      expect.objectContaining({
        labels: expect.objectContaining({
          reporter: 'source',
          destination_service: mesh.layout.echoHost,
          connection_security_policy: 'mutual_tls',
        }),
      }),
    );
    const scraped = await httpGet(`http://${mesh.a.ip}:15020/metrics`);
    expect(scraped.body).toContain('istio_tcp_received_bytes_total{');
  });

  it('an L4 DENY policy by source principal refuses new connections', async () => {
    const deny = authorizationPolicy('deny-client', {
      namespace: 'demo',
      action: 'DENY',
      selector: { app: 'echo' },
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
    });
    mesh.apply([deny]);
    const r = await viaSocks({ ip: mesh.layout.echoVip, port: 80 });
    expect(r.ok ? 'connected' : r.reply).toBe(REPLY.notAllowed);
    await waitFor(() => mesh.a.accessLog.lines.some((l) => l.includes('reason=denied')));
    expect(mesh.a.ztunnel.telemetry.rejects.count('denied')).toBeGreaterThan(0);
    const line = parseKvLine(mesh.a.accessLog.lines.find((l) => l.includes('reason=denied')) as string);
    expect(line).toMatchObject({ rbac: 'deny', rbac_policy: 'demo/deny-client', src_principal: CLIENT_ID });
    // By namespace, too.
    mesh.apply([
      {
        ...deny,
        spec: { ...(deny.spec as object), rules: [{ from: [{ source: { namespaces: ['demo'] } }] }] },
      },
    ]);
    const r2 = await viaSocks({ ip: mesh.layout.echoVip, port: 80 });
    expect(r2.ok ? 'connected' : r2.reply).toBe(REPLY.notAllowed);
    mesh.apply([]);
    const r3 = await viaSocks({ ip: mesh.layout.echoVip, port: 80 });
    expect(r3.ok).toBe(true);
    if (r3.ok) r3.socket.destroy();
  });

  it('STRICT refuses a plaintext caller on 15006; PERMISSIVE lets it through', async () => {
    mesh.apply([peerAuthentication('default', { namespace: 'weft-system', mode: 'STRICT' })]);
    const refused = await tcpConnect(mesh.layout.echo1, 15006, '127.0.31.99');
    expect(refused.ok).toBe(true);
    if (refused.ok) {
      refused.socket.write('hello?');
      const got = await readUntilClose(refused.socket);
      expect(got).toEqual({ data: '', closed: true });
    }
    await waitFor(() => mesh.a.accessLog.lines.some((l) => l.includes('reason=strict_mtls')));
    expect(mesh.a.ztunnel.telemetry.rejects.count('strict_mtls')).toBe(1);
    const strictLine = parseKvLine(
      mesh.a.accessLog.lines.find((l) => l.includes('reason=strict_mtls')) as string,
    );
    expect(strictLine).toMatchObject({ security: 'none', dst_service: mesh.layout.echoHost });

    mesh.apply([
      peerAuthentication('default', { namespace: 'weft-system', mode: 'STRICT' }),
      peerAuthentication('echo-permissive', {
        namespace: 'demo',
        selector: { app: 'echo' },
        mode: 'PERMISSIVE',
      }),
    ]);
    const allowed = await tcpConnect(mesh.layout.echo1, 15006, '127.0.31.99');
    expect(allowed.ok).toBe(true);
    if (allowed.ok) {
      expect(await roundTrip(allowed.socket, 'plain')).toBe('plain');
      allowed.socket.end();
      await readUntilClose(allowed.socket);
    }
    const plainLine = () =>
      mesh.a.accessLog.lines
        .map((l) => parseKvLine(l))
        .find((l) => l.security === 'none' && l.rbac === 'allow' && l.src_addr?.startsWith('127.0.31.99:'));
    await waitFor(() => plainLine() !== undefined);
    expect(plainLine()).toMatchObject({ reporter: 'destination', dst_service: mesh.layout.echoHost });
    // Mesh traffic is unaffected by STRICT.
    const mtls = await viaSocks({ hostname: mesh.layout.echoHost, port: 80 });
    expect(mtls.ok).toBe(true);
    if (mtls.ok) {
      expect(await roundTrip(mtls.socket, 'x')).toBe('x');
      mtls.socket.destroy();
    }
    mesh.apply([]);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
