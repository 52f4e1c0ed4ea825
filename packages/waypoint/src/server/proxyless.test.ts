// Proxyless gRPC clients through the waypoint (15009), with real sockets: a grpc-js client holding
// a mesh certificate (what grpc-js-xds does with the certificate provider weftd names) dials the
// waypoint with mesh mTLS and names the service in :authority; the waypoint's engine routes and
// authorizes the call as one from an HBONE tunnel and reaches the endpoint over HBONE. Hostile
// callers on 15009 (plaintext, garbage, no or foreign certificates, wrong ALPN) are refused and
// counted while everyone else is served.
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { createTestCa, type TestCa } from '@weft/ca/testing';
import {
  type CertMaterial,
  createCertStore,
  createHboneServer,
  type HboneServer,
  spiffeIdFromSubjectAltName,
} from '@weft/hbone';
import { allowAll } from '@weft/hbone/testing';
import { compileMesh, type H2Upstream, SHOP, startH2Upstream } from '@weft/l7/testing';
import { authorizationPolicy, pod, service, waypointGateway } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot } from '@weft/proxy-core';
import { parsePrometheusText } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWaypoint, type Waypoint } from './waypoint.ts';

const WAYPOINT_ID = 'spiffe://cluster.local/ns/shop/sa/waypoint';
/** A proxyless client in another namespace. */
const CLIENT_ID = 'spiffe://cluster.local/ns/legacy/sa/client';
/** A proxyless client in the service's namespace, denied one method at the waypoint. */
const SHOP_CLIENT_ID = 'spiffe://cluster.local/ns/shop/sa/grpc-client';
const WEB_ID = 'spiffe://cluster.local/ns/shop/sa/web';
const ENDPOINT_IP = '127.0.0.58';
const WEB_VIP = '10.96.0.10';
const OTHER_VIP = '10.96.0.11';
const WEB = 'web.shop.svc.cluster.local';
const SAY = '/weft.test.Echo/Say';
const FORBIDDEN = '/weft.test.Echo/Forbidden';

const bytes = (b: Buffer) => b;

/** A proxyless client's credentials: its certificate, the waypoint's SPIFFE ID checked. */
function meshCredentials(material: CertMaterial | undefined, trustBundlePem: string, expected = WAYPOINT_ID) {
  return grpc.credentials.createSsl(
    Buffer.from(trustBundlePem),
    material === undefined ? null : Buffer.from(material.keyPem),
    material === undefined ? null : Buffer.from(material.certChainPem.join('\n')),
    {
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdFromSubjectAltName(cert.subjectaltname);
        return id.ok && id.value.id === expected
          ? undefined
          : new Error(`server is ${id.ok ? id.value.id : id.error.message}, expected ${expected}`);
      },
    },
  );
}

type CallResult = { ok: true; reply: string } | { ok: false; code: number; details: string };

/** One unary call through `target` with `authority` as the channel's :authority. */
function call(
  target: string,
  credentials: grpc.ChannelCredentials,
  authority: string,
  method = SAY,
  message = 'hello',
): Promise<CallResult> {
  const client = new grpc.Client(target, credentials, {
    'grpc.enable_retries': 0,
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.default_authority': authority,
    // SNI: an IP address is no valid server name (Bun refuses it)
    'grpc.ssl_target_name_override': 'waypoint.weft.test',
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      method,
      bytes,
      bytes,
      Buffer.from(message),
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (err, value) => {
        client.close();
        if (err !== null) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, reply: (value as Buffer).toString() });
      },
    );
  });
}

describe('proxyless gRPC clients through the waypoint (15009)', () => {
  let ca: TestCa;
  let upstream: H2Upstream;
  let endpointHbone: HboneServer;
  let waypoint: Waypoint;
  let client: CertMaterial;
  let shopClient: CertMaterial;
  const seen: { path: string; authority: string }[] = [];

  const issue = async (id: string): Promise<CertMaterial> => {
    const c = await ca.issue(id);
    return { keyPem: c.keyPem, certChainPem: c.certChainPem, trustBundlePem: ca.trustBundlePem };
  };

  beforeAll(async () => {
    ca = await createTestCa();
    const [wp, web] = await Promise.all([issue(WAYPOINT_ID), issue(WEB_ID)]);
    [client, shopClient] = await Promise.all([issue(CLIENT_ID), issue(SHOP_CLIENT_ID)]);
    // the endpoint: an h2c gRPC server (echoes the request message) behind its HBONE inbound
    upstream = await startH2Upstream({ ip: ENDPOINT_IP });
    const echo = upstream.handler;
    upstream.handler = (stream, headers, body) => {
      seen.push({ path: String(headers[':path']), authority: String(headers[':authority']) });
      echo(stream, headers, body);
    };
    endpointHbone = createHboneServer({ certs: createCertStore(web), authorize: allowAll });
    const ep = await endpointHbone.listen({ host: ENDPOINT_IP, port: 0 });
    const mesh = compileMesh([
      ...SHOP,
      waypointGateway('waypoint', { namespace: 'shop' }),
      pod('web-1', {
        namespace: 'shop',
        ip: ENDPOINT_IP,
        labels: { app: 'web' },
        serviceAccount: 'web',
        ports: [{ name: 'grpc', containerPort: upstream.port }],
      }),
      service('web', {
        namespace: 'shop',
        clusterIP: WEB_VIP,
        selector: { app: 'web' },
        waypoint: 'waypoint',
        ports: [{ name: 'grpc', port: 80, targetPort: 'grpc', appProtocol: 'grpc' }],
      }),
      // a service of the mesh that no waypoint serves
      service('other', {
        namespace: 'shop',
        clusterIP: OTHER_VIP,
        selector: { app: 'web' },
        ports: [{ name: 'grpc', port: 80, targetPort: 'grpc', appProtocol: 'grpc' }],
      }),
      authorizationPolicy('deny-forbidden', {
        namespace: 'shop',
        action: 'DENY',
        targetRefs: [{ kind: 'Gateway', name: 'waypoint' }],
        rules: [
          {
            from: [{ source: { principals: ['cluster.local/ns/shop/sa/grpc-client'] } }],
            to: [{ operation: { paths: [FORBIDDEN] } }],
          },
        ],
      }),
    ]);
    waypoint = await createWaypoint(
      {
        name: 'shop/waypoint',
        hbone: { host: '127.0.0.1', port: 0 },
        admin: false,
        metrics: { host: '127.0.0.1', port: 0 },
        readiness: false,
        upstreamHbonePort: ep.port,
        proxylessLimits: { handshakeTimeoutMs: 300, maxConnections: 20 },
      },
      { certs: createCertStore(wp) },
    );
    applyUpdate(waypoint.store, batchFromSnapshot(mesh));
  });
  afterAll(async () => {
    await waypoint?.close();
    await endpointHbone?.close({ graceMs: 0 });
    await upstream?.close();
  });

  const target = () => `127.0.0.1:${waypoint.addresses.proxyless?.port}`;
  const metrics = async () =>
    parsePrometheusText(
      await fetch(`http://127.0.0.1:${waypoint.addresses.metrics?.port}/stats/prometheus`).then((r) =>
        r.text(),
      ),
    );
  const rejected = async (reason: string) =>
    (await metrics()).families
      .get('weft_rejected_total')
      ?.samples.find((s) => s.labels.component === 'waypoint' && s.labels.reason === reason)?.value ?? 0;

  it('listens next to HBONE (port 0 with an HBONE port 0)', () => {
    expect(waypoint.addresses.proxyless?.ip).toBe('127.0.0.1');
    expect(waypoint.addresses.proxyless?.port).toBeGreaterThan(0);
    expect(waypoint.addresses.proxyless?.port).not.toBe(waypoint.addresses.hbone.port);
  });

  it('serves a grpc-js client with mesh certificates, to the endpoint over HBONE, with the caller in telemetry', async () => {
    const r = await call(target(), meshCredentials(client, ca.trustBundlePem), `${WEB}:80`, SAY, 'hi');
    expect(r).toEqual({ ok: true, reply: 'hi' });
    expect(seen.at(-1)?.path).toBe(SAY);
    const total = (await metrics()).families.get('istio_requests_total');
    const sample = total?.samples.find(
      (s) => s.labels.source_principal === CLIENT_ID && s.labels.response_code === '200',
    );
    expect(sample?.labels).toMatchObject({
      reporter: 'waypoint',
      destination_service: WEB,
      destination_workload: 'web-1',
      connection_security_policy: 'mutual_tls',
      request_protocol: 'grpc',
      grpc_response_status: '0',
    });
  });

  it('resolves every spelling of the service a channel target may carry', async () => {
    const creds = meshCredentials(shopClient, ca.trustBundlePem);
    // <svc>:<port> is looked up in the caller's namespace (shop)
    for (const authority of [`${WEB}:80`, 'web.shop:80', 'web.shop.svc:80', 'web:80', `${WEB_VIP}:80`]) {
      expect(await call(target(), creds, authority), authority).toEqual({ ok: true, reply: 'hello' });
    }
    // from legacy, "web" is web.legacy, which does not exist
    const r = await call(target(), meshCredentials(client, ca.trustBundlePem), 'web:80');
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
  });

  it('applies an L7 DENY by principal and path at the waypoint; other callers and methods pass', async () => {
    const shop = meshCredentials(shopClient, ca.trustBundlePem);
    const denied = await call(target(), shop, `${WEB}:80`, FORBIDDEN);
    expect(denied).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    expect(seen.some((s) => s.path === FORBIDDEN)).toBe(false);
    expect(await call(target(), shop, `${WEB}:80`, SAY)).toEqual({ ok: true, reply: 'hello' });
    const other = await call(target(), meshCredentials(client, ca.trustBundlePem), `${WEB}:80`, FORBIDDEN);
    expect(other).toEqual({ ok: true, reply: 'hello' });
    expect(seen.at(-1)?.path).toBe(FORBIDDEN);
  });

  it('answers UNAVAILABLE for an unknown authority and PERMISSION_DENIED for a service it does not serve, counted', async () => {
    const creds = meshCredentials(client, ca.trustBundlePem);
    const unknownBefore = await rejected('proxyless_unknown_destination');
    const notBoundBefore = await rejected('proxyless_not_bound');
    for (const authority of ['nope.shop.svc.cluster.local:80', `${WEB}:81`, `${WEB}`, '10.96.0.99:80']) {
      const r = await call(target(), creds, authority);
      expect(r, authority).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    }
    const r = await call(target(), creds, 'other.shop.svc.cluster.local:80');
    expect(r).toMatchObject({ ok: false, code: grpc.status.PERMISSION_DENIED });
    expect(r.ok ? '' : r.details).toContain('not served by waypoint shop/waypoint');
    expect(await rejected('proxyless_unknown_destination')).toBe(unknownBefore + 4);
    expect(await rejected('proxyless_not_bound')).toBe(notBoundBefore + 1);
  });

  it('refuses plaintext, garbage, certificate-less, foreign and non-h2 callers, counted, and keeps serving', async () => {
    const before = {
      notTls: await rejected('proxyless_not_tls'),
      noCert: await rejected('proxyless_mtls_no_client_cert'),
      untrusted: await rejected('proxyless_mtls_untrusted_cert'),
    };
    // plaintext gRPC (h2c)
    const plain = await call(target(), grpc.credentials.createInsecure(), `${WEB}:80`);
    expect(plain).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    // garbage and an HTTP/1.1 request
    for (const junk of [
      Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]),
      Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'),
    ]) {
      const closed = await new Promise<string>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port: waypoint.addresses.proxyless?.port ?? 0 });
        let got = '';
        s.on('error', () => {});
        s.on('data', (c) => {
          got += c.toString('latin1');
        });
        s.on('close', () => resolve(got));
        s.write(junk);
      });
      expect(closed).toBe('');
    }
    // TLS without a client certificate
    const noCert = await call(target(), meshCredentials(undefined, ca.trustBundlePem), `${WEB}:80`);
    expect(noCert).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    // a certificate from another CA
    const foreignCa = await createTestCa();
    const f = await foreignCa.issue(CLIENT_ID);
    const foreign = await call(
      target(),
      meshCredentials(
        { keyPem: f.keyPem, certChainPem: f.certChainPem, trustBundlePem: foreignCa.trustBundlePem },
        ca.trustBundlePem,
      ),
      `${WEB}:80`,
    );
    expect(foreign).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    // mesh mTLS without ALPN h2 (a plain TLS client): refused after the handshake
    const alpn = await new Promise<boolean>((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: waypoint.addresses.proxyless?.port ?? 0,
        key: client.keyPem,
        cert: client.certChainPem.join('\n'),
        ca: ca.trustBundlePem,
        checkServerIdentity: () => undefined,
        servername: 'waypoint.weft.test',
      });
      s.on('error', () => {});
      s.on('data', () => {});
      s.on('close', () => resolve(true));
      s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    });
    expect(alpn).toBe(true);

    expect(await rejected('proxyless_not_tls')).toBeGreaterThanOrEqual(before.notTls + 3);
    expect(await rejected('proxyless_mtls_no_client_cert')).toBeGreaterThan(before.noCert);
    expect(await rejected('proxyless_mtls_untrusted_cert')).toBeGreaterThan(before.untrusted);
    expect(await rejected('proxyless_mtls_alpn')).toBeGreaterThanOrEqual(1);
    // still serving
    expect(await call(target(), meshCredentials(client, ca.trustBundlePem), `${WEB}:80`)).toEqual({
      ok: true,
      reply: 'hello',
    });
  });

  it('drops a silent caller after the handshake deadline and refuses connections over the limit, counted', async () => {
    const port = waypoint.addresses.proxyless?.port ?? 0;
    const timeouts = async () =>
      (await rejected('proxyless_handshake_timeout')) + (await rejected('proxyless_mtls_handshake_timeout'));
    const silentBefore = await timeouts();
    const limitBefore = await rejected('proxyless_connection_limit');
    const open = (write?: Buffer) =>
      new Promise<{ closed: Promise<void> }>((resolve) => {
        const s = netConnect({ host: '127.0.0.1', port });
        s.on('error', () => {});
        const closed = new Promise<void>((r) => s.on('close', () => r()));
        s.on('connect', () => {
          if (write !== undefined) s.write(write);
          resolve({ closed });
        });
      });
    // silent: nothing sent; half a ClientHello: a TLS record header and no more
    const silent = await open();
    const half = await open(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40, 0x01]));
    await Promise.all([silent.closed, half.closed]);
    // the silent one before the sniffer saw TLS, the half one inside the TLS handshake
    expect(await timeouts()).toBe(silentBefore + 2);
    // 25 silent connections against a limit of 20: the extra ones are refused at once
    const many = await Promise.all(Array.from({ length: 25 }, () => open()));
    await Promise.all(many.map((m) => m.closed));
    expect(await rejected('proxyless_connection_limit')).toBeGreaterThanOrEqual(limitBefore + 5);
    expect(await call(target(), meshCredentials(client, ca.trustBundlePem), `${WEB}:80`)).toEqual({
      ok: true,
      reply: 'hello',
    });
  });
});
