import { request as h1request } from 'node:http';
import { connect as h2connect } from 'node:http2';
import type { Duplex } from 'node:stream';
import { createTestCa, type TestCa } from '@weft/ca/testing';
import {
  createCertStore,
  createHboneClient,
  createHboneServer,
  type HboneClient,
  type HboneServer,
} from '@weft/hbone';
import { allowAll } from '@weft/hbone/testing';
import {
  compileMesh,
  type HttpUpstream,
  SHOP,
  serviceWith,
  startHttpUpstream,
  WEB_VIP,
} from '@weft/l7/testing';
import { authorizationPolicy, waypointGateway } from '@weft/policy/testing';
import { applyUpdate, batchFromSnapshot } from '@weft/proxy-core';
import { createAccessLogger } from '@weft/telemetry';
import { memorySink, parseKvLine, parsePrometheusText } from '@weft/telemetry/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWaypoint, type Waypoint } from './waypoint.ts';

const WAYPOINT_ID = 'spiffe://cluster.local/ns/shop/sa/waypoint';
const CLIENT_ID = 'spiffe://cluster.local/ns/legacy/sa/client';
const WEB_ID = 'spiffe://cluster.local/ns/shop/sa/web';

function h1Over(tunnel: Duplex, path: string, host = `${WEB_VIP}:80`) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const req = h1request({ path, headers: { host }, createConnection: () => tunnel as never }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('createWaypoint over HBONE', () => {
  let ca: TestCa;
  let upstream: HttpUpstream;
  let endpointHbone: HboneServer;
  let waypoint: Waypoint;
  let client: HboneClient;
  const sink = memorySink();

  beforeAll(async () => {
    ca = await createTestCa();
    const [wp, cl, web] = await Promise.all([ca.issue(WAYPOINT_ID), ca.issue(CLIENT_ID), ca.issue(WEB_ID)]);
    const material = (c: typeof wp) => ({
      keyPem: c.keyPem,
      certChainPem: c.certChainPem,
      trustBundlePem: ca.trustBundlePem,
    });
    upstream = await startHttpUpstream({ name: 'web-1', ip: '127.0.0.21' });
    // the endpoint's HBONE inbound (what its ztunnel does), on the endpoint's address
    endpointHbone = createHboneServer({ certs: createCertStore(material(web)), authorize: allowAll });
    const ep = await endpointHbone.listen({ host: '127.0.0.21', port: 0 });
    const mesh = compileMesh([
      ...SHOP,
      waypointGateway('waypoint', { namespace: 'shop' }),
      ...serviceWith([{ name: 'web-1', ip: upstream.ip, port: upstream.port }]),
      authorizationPolicy('deny-admin', {
        namespace: 'shop',
        action: 'DENY',
        targetRefs: [{ kind: 'Gateway', name: 'waypoint' }],
        rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }],
      }),
    ]);
    waypoint = await createWaypoint(
      {
        name: 'shop/waypoint',
        hbone: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        metrics: { host: '127.0.0.1', port: 0 },
        readiness: { host: '127.0.0.1', port: 0 },
        upstreamHbonePort: ep.port,
      },
      { certs: createCertStore(material(wp)), accessLog: createAccessLogger({ sink }) },
    );
    applyUpdate(waypoint.store, batchFromSnapshot(mesh));
    client = createHboneClient({ certs: createCertStore(material(cl)) });
  });
  afterAll(async () => {
    await client.close({ graceMs: 0 });
    await waypoint.close();
    await endpointHbone.close({ graceMs: 0 });
    await upstream.close();
  });

  const tunnel = (port = 80) =>
    client.connect({
      via: { ip: '127.0.0.1', port: waypoint.addresses.hbone.port },
      dest: { ip: WEB_VIP, port },
      expectedIdentity: WAYPOINT_ID,
    });

  it('proxies HTTP/1.1 from an HBONE tunnel to the endpoint over HBONE, with the caller identity in telemetry', async () => {
    const r = await h1Over(await tunnel(), '/hello', 'web.shop.svc.cluster.local');
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body);
    expect(echoed.url).toBe('/hello');
    expect(echoed.headers['x-request-id']).toBeDefined();
    const metrics = await fetch(`http://127.0.0.1:${waypoint.addresses.metrics?.port}/stats/prometheus`).then(
      (x) => x.text(),
    );
    const parsed = parsePrometheusText(metrics);
    const total = parsed.families.get('istio_requests_total');
    const sample = total?.samples.find((s) => s.labels.response_code === '200');
    expect(sample?.labels).toMatchObject({
      reporter: 'waypoint',
      source_principal: CLIENT_ID,
      destination_service: 'web.shop.svc.cluster.local',
      destination_workload: 'web-1',
      connection_security_policy: 'mutual_tls',
      request_protocol: 'http',
    });
    const line = sink.lines.map((l) => parseKvLine(l)).find((l) => l.path === '/hello');
    expect(line).toMatchObject({
      status: '200',
      src_principal: CLIENT_ID,
      upstream_host: `127.0.0.21:${upstream.port}`,
    });
  });

  it('denies by policy attached to the waypoint with 403 "RBAC: access denied", logged', async () => {
    const r = await h1Over(await tunnel(), '/public/../admin');
    expect(r.status).toBe(403);
    expect(r.body).toBe('RBAC: access denied');
    const line = sink.lines.map((l) => parseKvLine(l)).find((l) => l.path === '/public/../admin');
    expect(line).toMatchObject({
      status: '403',
      rbac: 'deny',
      rbac_policy: 'shop/deny-admin',
      response_flags: 'RBAC',
    });
  });

  it('speaks HTTP/2 (h2c) inside the tunnel', async () => {
    const t = await tunnel();
    const session = h2connect('http://web', { createConnection: () => t as never });
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const s = session.request({ ':path': '/h2', ':authority': 'web.shop.svc.cluster.local' });
      let status = 0;
      let body = '';
      s.on('response', (h) => {
        status = Number(h[':status']);
      });
      s.on('data', (c) => {
        body += c;
      });
      s.on('end', () => resolve({ status, body }));
      s.on('error', reject);
      s.end();
    });
    session.close();
    expect(status).toBe(200);
    expect(JSON.parse(body).url).toBe('/h2');
  });

  it('refuses tunnels to destinations it does not serve', async () => {
    await expect(tunnel(81)).rejects.toMatchObject({ kind: 'denied' });
  });

  it('serves config dump, readiness and metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${waypoint.addresses.admin?.port}/config_dump`);
    const dump = (await res.json()) as {
      config: { services: { hostname: string }[] };
      filters: { name: string }[];
    };
    expect(dump.config.services.map((s) => s.hostname)).toContain('web.shop.svc.cluster.local');
    expect(dump.filters.map((f) => f.name)).toContain('router');
    const ready = await fetch(`http://127.0.0.1:${waypoint.addresses.readiness?.port}/healthz/ready`);
    expect(ready.status).toBe(200);
  });
});
