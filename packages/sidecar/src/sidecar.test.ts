// The sidecar over real sockets and real HBONE: sidecar -> sidecar (STRICT, DENY and ALLOW by
// principal at L7 and L4), an ambient pod's node proxy -> sidecar and sidecar -> node proxy, a
// waypoint-bound service through its waypoint, plaintext under STRICT and PERMISSIVE, and
// garbage or unauthenticated peers on every port. The node proxy and the waypoint are played by
// the same pieces the real ones are built from (proxy-core's ambient inbound decision behind an
// HBONE server; the L7 engine in the waypoint role behind one), as this package may not import
// ztunnel or the waypoint.
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createTestCa, type TestCa } from '@weft/ca/testing';
import {
  createCertStore,
  createDuplexPair,
  createHboneClient,
  createHboneServer,
  type HboneServer,
} from '@weft/hbone';
import { createEngine, createHboneUpstreamConnector, createInbound, type Engine } from '@weft/l7';
import { compileMesh, type HttpUpstream, startHttpUpstream } from '@weft/l7/testing';
import {
  authorizationPolicy,
  namespace,
  peerAuthentication,
  pod,
  service,
  waypointGateway,
} from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot, createStateStore, decideInboundHbone } from '@weft/proxy-core';
import { parsePrometheusText } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSidecar, type Sidecar } from './sidecar.ts';
import { exchange, httpOver, socks5Connect, startTcpEchoApp, type TcpEchoApp } from './testing/index.ts';

const TD = 'spiffe://cluster.local/ns/shop/sa';
const ID = {
  client: `${TD}/client`,
  web: `${TD}/web`,
  amb: `${TD}/amb`,
  wp: `${TD}/waypoint`,
  stranger: `${TD}/stranger`,
};
const IP = {
  client: '127.0.71.2',
  web: '127.0.71.3',
  amb: '127.0.71.4',
  wp: '127.0.71.5',
  plain: '127.0.71.6',
};
const NODE = 'node-1';

describe('createSidecar', () => {
  let ca: TestCa;
  const material = async (id: string) => {
    const c = await ca.issue(id);
    const m = { keyPem: c.keyPem, certChainPem: c.certChainPem, trustBundlePem: ca.trustBundlePem };
    // the default and the named identity: callers ask for either
    const certs = createCertStore(m);
    certs.set(m, id);
    return certs;
  };
  const store = createStateStore();
  const apps: { close(): Promise<void> }[] = [];
  let webApp: HttpUpstream;
  let clientApp: HttpUpstream;
  let ambApp: HttpUpstream;
  let plainApp: HttpUpstream;
  let webTcp: TcpEchoApp;
  let client: Sidecar;
  let web: Sidecar;
  const servers: HboneServer[] = [];
  let waypointEngine: Engine;
  const ztunnelPeers: string[] = [];

  beforeAll(async () => {
    ca = await createTestCa();
    [webApp, clientApp, ambApp, plainApp] = await Promise.all([
      startHttpUpstream({ name: 'web-1', ip: IP.web }),
      startHttpUpstream({ name: 'client', ip: IP.client }),
      startHttpUpstream({ name: 'amb-1', ip: IP.amb }),
      startHttpUpstream({ name: 'plain-1', ip: IP.plain }),
    ]);
    webTcp = await startTcpEchoApp(IP.web);
    apps.push(webApp, clientApp, ambApp, plainApp, webTcp);
    const mesh = compileMesh([
      namespace('shop'),
      pod('client', {
        namespace: 'shop',
        ip: IP.client,
        node: NODE,
        serviceAccount: 'client',
        mode: 'sidecar',
        ports: [{ name: 'http', containerPort: clientApp.port }],
      }),
      pod('web-1', {
        namespace: 'shop',
        ip: IP.web,
        node: NODE,
        serviceAccount: 'web',
        mode: 'sidecar',
        labels: { app: 'web' },
        ports: [
          { name: 'http', containerPort: webApp.port },
          { name: 'tcp', containerPort: webTcp.port },
        ],
      }),
      pod('amb-1', {
        namespace: 'shop',
        ip: IP.amb,
        node: NODE,
        serviceAccount: 'amb',
        mode: 'ambient',
        labels: { app: 'amb' },
        ports: [{ name: 'http', containerPort: ambApp.port }],
      }),
      pod('plain-1', {
        namespace: 'shop',
        ip: IP.plain,
        node: NODE,
        serviceAccount: 'amb',
        mode: 'ambient',
        labels: { app: 'plain' },
        ports: [{ name: 'http', containerPort: plainApp.port }],
      }),
      pod('waypoint-1', {
        namespace: 'shop',
        ip: IP.wp,
        node: NODE,
        serviceAccount: 'waypoint',
        mode: 'none',
        labels: { 'gateway.networking.k8s.io/gateway-name': 'wp' },
      }),
      waypointGateway('wp', { namespace: 'shop' }),
      service('web', {
        namespace: 'shop',
        selector: { app: 'web' },
        ports: [
          { name: 'http', port: 80, targetPort: 'http' },
          { name: 'tcp', port: 90, targetPort: 'tcp', appProtocol: 'tcp' },
        ],
      }),
      service('bound', {
        namespace: 'shop',
        selector: { app: 'amb' },
        waypoint: 'wp',
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      }),
      service('plain', {
        namespace: 'shop',
        selector: { app: 'plain' },
        ports: [{ name: 'http', port: 80, targetPort: 'http' }],
      }),
      peerAuthentication('web-strict', { namespace: 'shop', mode: 'STRICT', selector: { app: 'web' } }),
      authorizationPolicy('web-allow', {
        namespace: 'shop',
        action: 'ALLOW',
        selector: { app: 'web' },
        rules: [
          {
            from: [
              { source: { principals: ['cluster.local/ns/shop/sa/client', 'cluster.local/ns/shop/sa/amb'] } },
            ],
          },
        ],
      }),
      authorizationPolicy('web-deny-admin', {
        namespace: 'shop',
        action: 'DENY',
        selector: { app: 'web' },
        // the port named: at L4 a DENY's HTTP fields are dropped (stricter), so without it the rule
        // would refuse every TCP connection to the pod, as Istio does
        rules: [{ to: [{ operation: { ports: [String(webApp.port)], paths: ['/admin'] } }] }],
      }),
    ] as never);
    applyUpdate(store, batchFromSnapshot(mesh));

    const quiet = { admin: { port: 0 }, metrics: { port: 0 }, readiness: { port: 0 } };
    client = await createSidecar(
      { pod: 'shop/client', podIp: IP.client, identity: ID.client, ...quiet },
      { certs: await material(ID.client), store },
    );
    web = await createSidecar(
      { pod: 'shop/web-1', podIp: IP.web, identity: ID.web, ...quiet },
      { certs: await material(ID.web), store },
    );

    // the ambient pods' node proxy: proxy-core's inbound decision in ambient mode behind HBONE
    const ztunnelCerts = createCertStore();
    for (const id of [ID.amb]) {
      const c = await ca.issue(id);
      ztunnelCerts.set(
        { keyPem: c.keyPem, certChainPem: c.certChainPem, trustBundlePem: ca.trustBundlePem },
        id,
      );
    }
    for (const ip of [IP.amb, IP.plain]) {
      const z = createHboneServer({
        certs: ztunnelCerts,
        identity: ID.amb,
        authorize: (peer, dest) => {
          ztunnelPeers.push(`${peer.identity} -> ${dest.ip}:${dest.port}`);
          const d = decideInboundHbone(store.state, {
            nodeName: NODE,
            mode: 'ambient',
            destination: dest,
            peerIdentity: peer.identity,
            sourceIp: peer.ip,
            ...(peer.forwardedFor ? { forwardedFor: peer.forwardedFor } : {}),
          });
          return d.allow ? { allow: true } : { allow: false, reason: d.message, status: d.status };
        },
      });
      await z.listen({ host: ip, port: 15008 });
      servers.push(z);
    }
    // the waypoint: the L7 engine in the waypoint role behind HBONE, endpoints over HBONE
    const wpCerts = await material(ID.wp);
    waypointEngine = createEngine(
      { role: 'waypoint', waypoint: 'shop/wp' },
      {
        store,
        connector: createHboneUpstreamConnector({ client: createHboneClient({ certs: wpCerts }) }),
      },
    );
    const wpInbound = createInbound(waypointEngine);
    const wp = createHboneServer({
      certs: wpCerts,
      authorize: () => ({ allow: true }),
      connectUpstream: (dest, ctx) => {
        const [outer, inner] = createDuplexPair();
        wpInbound.handle(inner, {
          remoteIp: ctx.peer.ip,
          remotePort: ctx.peer.port,
          principal: ctx.peer.identity,
          forwardedFor: ctx.peer.forwardedFor,
          destinationIp: dest.ip,
          destinationPort: dest.port,
          security: 'mutual_tls',
        });
        return Promise.resolve(outer);
      },
    });
    await wp.listen({ host: IP.wp, port: 15008 });
    servers.push(wp);
  });

  afterAll(async () => {
    await client?.close();
    await web?.close();
    for (const s of servers) await s.close({ graceMs: 0 });
    waypointEngine?.close();
    for (const a of apps) await a.close();
  });

  const socks = (sc: Sidecar, host: string, port: number, from = IP.client) =>
    socks5Connect({
      proxy: sc.addresses.socks5 as { ip: string; port: number },
      localAddress: from,
      host,
      port,
    });
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

  it('is ready once config is synced and its certificate installed', async () => {
    expect(client.ready()).toBe(true);
    const r = await fetch(
      `http://${client.addresses.readiness?.ip}:${client.addresses.readiness?.port}/healthz/ready`,
    );
    expect(r.status).toBe(200);
    expect(client.addresses.hbone).toEqual({ ip: IP.client, port: 15008 });
  });

  it('sidecar -> sidecar under STRICT: HTTP through both engines, reporter source and destination', async () => {
    const { reply, socket } = await socks(client, 'web.shop.svc.cluster.local', 80);
    expect(reply).toBe(0);
    const r = await httpOver(socket, '/hello', 'web.shop.svc.cluster.local');
    expect(r.status).toBe(200);
    expect(webApp.requests.at(-1)?.url).toBe('/hello');
    const src = (await metrics(client)).families
      .get('istio_requests_total')
      ?.samples.find((s) => s.labels.response_code === '200');
    expect(src?.labels).toMatchObject({ reporter: 'source', source_principal: ID.client });
    const dst = (await metrics(web)).families
      .get('istio_requests_total')
      ?.samples.find((s) => s.labels.response_code === '200');
    expect(dst?.labels).toMatchObject({
      reporter: 'destination',
      source_principal: ID.client,
      connection_security_policy: 'mutual_tls',
    });
  });

  it('L7: the DENY by path refuses /admin (403) at the destination sidecar', async () => {
    const { socket } = await socks(client, 'web.shop.svc.cluster.local', 80);
    expect((await httpOver(socket, '/admin', 'web')).status).toBe(403);
  });

  it('L7 and L4: the ALLOW by principal admits the client and the ambient pod, not a stranger', async () => {
    const stranger = createHboneClient({ certs: await material(ID.stranger) });
    const amb = createHboneClient({ certs: await material(ID.amb) });
    try {
      const via = { ip: IP.web, port: 15008 };
      // the ambient pod's ztunnel tunnels with the pod's certificate and names it in Forwarded
      const fromAmb = await amb.connect({
        via,
        dest: { ip: IP.web, port: webApp.port },
        expectedIdentity: ID.web,
        forwardedFor: IP.amb,
      });
      expect((await httpOver(fromAmb, '/from-ambient', 'web')).status).toBe(200);
      const fromStranger = await stranger.connect({
        via,
        dest: { ip: IP.web, port: webApp.port },
        expectedIdentity: ID.web,
      });
      expect((await httpOver(fromStranger, '/x', 'web')).status).toBe(403);
      // L4 (TCP port): the client's bytes come back, the stranger's connection is closed
      const { socket } = await socks(client, 'web.shop.svc.cluster.local', 90);
      expect(await exchange(socket, 'ping')).toBe('ping');
      const tcpStranger = await stranger.connect({
        via,
        dest: { ip: IP.web, port: webTcp.port },
        expectedIdentity: ID.web,
      });
      expect(await exchange(tcpStranger, 'ping')).toBe('');
    } finally {
      await stranger.close({ graceMs: 0 });
      await amb.close({ graceMs: 0 });
    }
  });

  it('sidecar -> ambient pod: HBONE to its node proxy, which admits the client identity', async () => {
    const { reply, socket } = await socks(client, 'plain.shop.svc.cluster.local', 80);
    expect(reply).toBe(0);
    expect((await httpOver(socket, '/to-ambient', 'plain')).status).toBe(200);
    expect(plainApp.requests.at(-1)?.url).toBe('/to-ambient');
    expect(ztunnelPeers).toContain(`${ID.client} -> ${IP.plain}:${plainApp.port}`);
  });

  it('sidecar -> a waypoint-bound service goes through the waypoint, whose call the guard accepts', async () => {
    const before = ambApp.requests.length;
    const { reply, socket } = await socks(client, 'bound.shop.svc.cluster.local', 80);
    expect(reply).toBe(0);
    expect((await httpOver(socket, '/bound', 'bound.shop.svc.cluster.local')).status).toBe(200);
    expect(ambApp.requests.length).toBe(before + 1);
    // the destination saw the waypoint, never the client
    expect(ztunnelPeers).toContain(`${ID.wp} -> ${IP.amb}:${ambApp.port}`);
    expect(ztunnelPeers).not.toContain(`${ID.client} -> ${IP.amb}:${ambApp.port}`);
    // dialling the guarded pod directly goes through the waypoint too
    const direct = await socks(client, IP.amb, ambApp.port);
    expect(direct.reply).toBe(0);
    expect((await httpOver(direct.socket, '/direct', IP.amb)).status).toBe(200);
    expect(ztunnelPeers).not.toContain(`${ID.client} -> ${IP.amb}:${ambApp.port}`);
  });

  it('plaintext to 15006 is refused under STRICT and allowed under PERMISSIVE', async () => {
    const strict = connect({
      host: IP.web,
      port: web.addresses.inbound?.port as number,
      localAddress: IP.client,
    });
    expect(await exchange(strict, 'GET / HTTP/1.1\r\nhost: web\r\n\r\n')).toBe('');
    expect(await rejected(web, 'strict_mtls')).toBeGreaterThan(0);
    const permissive = connect({
      host: IP.client,
      port: client.addresses.inbound?.port as number,
      localAddress: IP.web,
    });
    expect((await httpOver(permissive, '/plain', 'client')).status).toBe(200);
    expect(clientApp.requests.at(-1)?.url).toBe('/plain');
  });

  it('garbage and unauthenticated peers on every port: refused, counted, still serving', async () => {
    const garbage = Buffer.from('\x16\x03\x01\x00\xffgarbage\r\n\r\n\x00\x01');
    for (const a of Object.values(web.addresses)) {
      const s = connect({ host: a.ip, port: a.port, localAddress: IP.client });
      await exchange(s, garbage);
    }
    // TLS without a client certificate to HBONE
    await new Promise<void>((resolve) => {
      const t = tlsConnect({ host: IP.web, port: 15008, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
      t.on('error', () => resolve());
      t.on('close', () => resolve());
      t.on('secureConnect', () => t.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
    });
    // SOCKS5 from an address that is not the pod's
    const foreign = await socks(client, 'web.shop.svc.cluster.local', 80, '127.0.0.1');
    expect(foreign.reply).toBe(-1);
    expect(await rejected(client, 'foreign_source')).toBeGreaterThan(0);
    const bad = connect({
      host: IP.client,
      port: client.addresses.socks5?.port as number,
      localAddress: IP.client,
    });
    await exchange(bad, Buffer.from([4, 1, 0, 80]));
    expect(await rejected(client, 'socks5_bad_handshake')).toBeGreaterThan(0);
    const hboneRejects =
      (await metrics(web)).families
        .get('weft_rejected_total')
        ?.samples.filter((s) => s.labels.component === 'sidecar' && s.labels.reason?.startsWith('hbone_')) ??
      [];
    expect(hboneRejects.reduce((n, s) => n + s.value, 0)).toBeGreaterThan(0);
    const { socket } = await socks(client, 'web.shop.svc.cluster.local', 80);
    expect((await httpOver(socket, '/still', 'web')).status).toBe(200);
  });
});
