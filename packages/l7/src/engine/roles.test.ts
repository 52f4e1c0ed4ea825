// The engine in each role against the same mesh: which policies and which routes apply.
import { authorizationPolicy, httpRoute, waypointGateway } from '@weft/policy/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineRole } from '../role.ts';
import { SHOP, serviceWith, WEB_VIP } from '../test-support/mesh.ts';
import {
  type HttpUpstream,
  httpRequest,
  startHttpUpstream,
  startTestProxy,
  type TestProxy,
} from '../testing/index.ts';
import { createEngine } from './engine.ts';

const POD_IP = '127.0.0.63';
const deny = (name: string, path: string, attach: object) =>
  authorizationPolicy(name, {
    namespace: 'shop',
    action: 'DENY',
    ...attach,
    rules: [{ to: [{ operation: { paths: [path] } }] }],
  });

describe('engine roles', () => {
  let app: HttpUpstream;
  const proxies = new Map<EngineRole, TestProxy>();

  beforeAll(async () => {
    app = await startHttpUpstream({ name: 'app', ip: POD_IP });
    const objects = [
      ...SHOP,
      // the waypoint this engine runs as: its Gateway lists the policies that target it
      waypointGateway('wp', { namespace: 'shop' }),
      ...serviceWith([{ name: 'web-1', ip: app.ip, port: app.port }]),
      httpRoute('web', {
        namespace: 'shop',
        service: 'web',
        rules: [
          {
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: { set: [{ name: 'x-route', value: 'web' }] },
              },
            ],
            backendRefs: [{ name: 'web', port: 80 }],
          },
        ],
      }),
      deny('by-selector', '/pod-deny', { selector: { app: 'web' } }),
      deny('by-service', '/svc-deny', { targetRefs: [{ kind: 'Service', name: 'web' }] }),
      deny('by-gateway', '/wp-deny', { targetRefs: [{ kind: 'Gateway', name: 'wp' }] }),
    ];
    const vip = { ip: WEB_VIP, port: 80 };
    const pod = { ip: app.ip, port: app.port };
    proxies.set(
      'waypoint',
      await startTestProxy(objects, { destination: vip, config: { role: 'waypoint', waypoint: 'shop/wp' } }),
    );
    proxies.set(
      'sidecar-inbound',
      await startTestProxy(objects, { destination: pod, config: { role: 'sidecar-inbound' } }),
    );
    proxies.set(
      'sidecar-outbound',
      await startTestProxy(objects, { destination: vip, config: { role: 'sidecar-outbound' } }),
    );
  });
  afterAll(async () => {
    for (const p of proxies.values()) await p.close();
    await app.close();
  });

  // role, path -> status, whether the HTTPRoute applied (its header reached the app)
  const table: readonly [EngineRole, string, number, boolean][] = [
    ['waypoint', '/svc-deny', 403, false],
    ['waypoint', '/wp-deny', 403, false],
    ['waypoint', '/pod-deny', 200, true],
    ['sidecar-inbound', '/pod-deny', 403, false],
    ['sidecar-inbound', '/svc-deny', 403, false],
    ['sidecar-inbound', '/wp-deny', 200, false],
    ['sidecar-outbound', '/svc-deny', 200, true],
    ['sidecar-outbound', '/pod-deny', 200, true],
    ['sidecar-outbound', '/wp-deny', 200, true],
  ];
  it.each(table)('%s %s -> %i (route applied: %s)', async (role, path, status, routed) => {
    const p = proxies.get(role);
    if (p === undefined) throw new Error(role);
    const r = await httpRequest(p.port, { path });
    expect(r.status).toBe(status);
    if (status === 200) {
      const echoed = JSON.parse(r.body);
      expect(echoed.url).toBe(path);
      expect(echoed.headers['x-route']).toBe(routed ? 'web' : undefined);
    }
  });

  it('reports with the role', () => {
    expect([...proxies].map(([role, p]) => [role, p.engine.role, p.engine.telemetry.reporter])).toEqual([
      ['waypoint', 'waypoint', 'waypoint'],
      ['sidecar-inbound', 'sidecar-inbound', 'destination'],
      ['sidecar-outbound', 'sidecar-outbound', 'source'],
    ]);
  });

  it('is a waypoint unless told otherwise', () => {
    const e = createEngine();
    expect([e.role, e.telemetry.reporter]).toEqual(['waypoint', 'waypoint']);
    e.close();
  });
});
