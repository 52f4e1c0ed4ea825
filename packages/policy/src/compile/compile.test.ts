import { describe, expect, it } from 'vitest';
import { diffSnapshots } from '../snapshot.ts';
import {
  authorizationPolicy,
  destinationRule,
  grpcRoute,
  httpRoute,
  meshFixture,
  namespace,
  peerAuthentication,
  pod,
  service,
  tcpRoute,
  virtualService,
  waypointDeployment,
  waypointGateway,
} from '../testing/index.ts';
import { compile } from './compile.ts';

const WEB = 'web.shop.svc.cluster.local';

describe('compile: inventory', () => {
  const { snapshot, errors, warnings } = compile(meshFixture());

  it('compiles the fixture cleanly', () => {
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('builds workloads with identity, mode and services', () => {
    const w = snapshot.workloads['uid-shop-web-1'];
    expect(w).toMatchObject({
      name: 'web-1',
      namespace: 'shop',
      node: 'node-a',
      ips: ['10.1.0.11'],
      serviceAccount: 'web',
      identity: 'spiffe://cluster.local/ns/shop/sa/web',
      mode: 'ambient',
      services: [WEB],
      healthy: true,
    });
    // the shop waypoint serves services only (the default), so workloads are not bound to it
    expect(w?.waypoint).toBeUndefined();
    expect(snapshot.workloads['uid-legacy-client']?.mode).toBe('sidecar');
  });

  it('builds services with VIP, protocol, endpoints and waypoint', () => {
    const s = snapshot.services[WEB];
    expect(s).toMatchObject({
      hostname: WEB,
      vips: ['10.96.1.10'],
      ports: [{ name: 'http', port: 80, targetPort: 'http', appProtocol: 'http' }],
      waypoint: {
        key: 'shop/waypoint',
        namespace: 'shop',
        name: 'waypoint',
        service: 'waypoint.shop.svc.cluster.local',
        addresses: ['10.96.1.2'],
      },
    });
    expect(s?.endpoints).toEqual([
      { workloadUid: 'uid-shop-web-1', ip: '10.1.0.11', port: 80, targetPort: 8080, healthy: true },
      { workloadUid: 'uid-shop-web-2', ip: '10.1.0.12', port: 80, targetPort: 8080, healthy: true },
    ]);
    expect(snapshot.services['db.shop.svc.cluster.local']?.ports[0]?.appProtocol).toBe('tcp');
    // a waypoint's own service never goes through a waypoint
    expect(snapshot.services['waypoint.shop.svc.cluster.local']?.waypoint).toBeUndefined();
  });

  it('describes waypoints', () => {
    expect(snapshot.waypoints['shop/waypoint']).toMatchObject({
      trafficType: 'service',
      service: 'waypoint.shop.svc.cluster.local',
      addresses: ['10.96.1.2'],
      workloads: ['uid-shop-waypoint-0'],
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
    });
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.workloads)).toBe(true);
    expect(Object.isFrozen(snapshot.services[WEB]?.endpoints)).toBe(true);
  });
});

describe('compile: workload details', () => {
  it('pod label beats namespace label; invalid labels are reported', () => {
    const { snapshot, warnings } = compile([
      namespace('a', { labels: { 'weft.dev/dataplane-mode': 'ambient' } }),
      pod('p1', { namespace: 'a' }),
      pod('p2', { namespace: 'a', mode: 'sidecar' }),
      pod('p3', { namespace: 'a', mode: 'none' }),
      pod('p4', { namespace: 'a', labels: { 'weft.dev/dataplane-mode': 'turbo' } }),
      pod('p5', { namespace: 'b' }),
    ]);
    const modes = Object.fromEntries(Object.values(snapshot.workloads).map((w) => [w.name, w.mode]));
    expect(modes).toEqual({ p1: 'ambient', p2: 'sidecar', p3: 'none', p4: 'ambient', p5: 'none' });
    expect(warnings.map((w) => [w.name, w.code])).toEqual([['p4', 'invalid']]);
  });

  it('binds workload waypoints when the waypoint serves workloads', () => {
    const { snapshot, warnings } = compile([
      namespace('a', { labels: { 'weft.dev/dataplane-mode': 'ambient' } }),
      waypointGateway('wp', { namespace: 'a', for: 'all' }),
      ...waypointDeployment('wp', { namespace: 'a' }),
      pod('p1', { namespace: 'a', waypoint: 'wp' }),
      pod('p2', { namespace: 'a', waypoint: 'missing' }),
      pod('p3', { namespace: 'a', mode: 'sidecar', waypoint: 'wp' }),
    ]);
    expect(snapshot.workloads['uid-a-p1']?.waypoint?.key).toBe('a/wp');
    expect(snapshot.workloads['uid-a-p2']?.waypoint).toBeUndefined();
    expect(snapshot.workloads['uid-a-p3']?.waypoint).toBeUndefined();
    expect(snapshot.workloads['uid-a-wp-0']?.waypoint).toBeUndefined();
    expect(warnings).toMatchObject([
      { code: 'unresolved-reference', name: 'p2', message: 'waypoint a/missing not found' },
    ]);
  });

  it('drops finished pods, excludes unaddressed pods from endpoints, marks unready ones', () => {
    const { snapshot } = compile([
      pod('done', { labels: { app: 's' }, phase: 'Succeeded' }),
      pod('pending', { labels: { app: 's' }, ip: null, phase: 'Pending' }),
      pod('unready', { labels: { app: 's' }, ready: false }),
      service('s', { ports: [{ port: 80, targetPort: 8080 }] }),
    ]);
    expect(Object.keys(snapshot.workloads).sort()).toEqual(['uid-default-pending', 'uid-default-unready']);
    expect(snapshot.services['s.default.svc.cluster.local']?.endpoints).toMatchObject([
      { workloadUid: 'uid-default-unready', healthy: false },
    ]);
  });

  it('forces host-network pods out of the mesh', () => {
    const { snapshot, warnings } = compile([pod('h', { mode: 'ambient', hostNetwork: true })]);
    expect(snapshot.workloads['uid-default-h']?.mode).toBe('none');
    expect(warnings[0]?.code).toBe('ignored');
  });

  it('resolves named target ports per pod and canonicalises addresses', () => {
    const { snapshot } = compile([
      pod('a', { labels: { app: 's' }, ip: '10.0.0.1', ports: [{ name: 'web', containerPort: 8080 }] }),
      pod('b', { labels: { app: 's' }, ip: '10.0.0.2', ports: [{ name: 'web', containerPort: 9090 }] }),
      pod('c', { labels: { app: 's' }, ip: '10.0.0.3' }),
      pod('v6', { labels: { app: 's6' }, ip: '10.0.0.4', extraIps: ['FD00:0::4'] }),
      service('s', { ports: [{ name: 'http', port: 80, targetPort: 'web' }] }),
      service('s6', { clusterIP: 'fd00::96:1', ports: [{ port: 80 }] }),
    ]);
    expect(
      snapshot.services['s.default.svc.cluster.local']?.endpoints.map((e) => [e.workloadUid, e.targetPort]),
    ).toEqual([
      ['uid-default-a', 8080],
      ['uid-default-b', 9090],
    ]);
    expect(snapshot.workloads['uid-default-v6']?.ips).toEqual(['10.0.0.4', 'fd00::4']);
    expect(snapshot.services['s6.default.svc.cluster.local']?.endpoints[0]?.ip).toBe('fd00::4');
  });
});

describe('compile: errors', () => {
  it('rejects a bad object alone and reports unknown kinds', () => {
    const { snapshot, errors, stats } = compile([
      ...meshFixture(),
      authorizationPolicy('bad', {
        namespace: 'shop',
        rules: [{ to: [{ operation: { paths: ['nope'] } }] }],
      }),
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'shop' } },
      'not an object',
    ]);
    expect(errors.map((e) => e.code)).toEqual(['invalid', 'unknown-kind', 'invalid']);
    expect(errors[0]).toMatchObject({
      kind: 'AuthorizationPolicy',
      namespace: 'shop',
      name: 'bad',
      path: 'spec.rules[0].to[0].operation.paths[0]',
    });
    expect(snapshot.services[WEB]).toBeDefined();
    expect(stats).toMatchObject({ rejected: 3, byCode: { invalid: 2, 'unknown-kind': 1 } });
    expect(stats.objects).toBe(stats.accepted + stats.rejected);
  });

  it('keeps one of two duplicates, independent of order', () => {
    const a = { ...pod('p', { ip: '10.0.0.1' }) };
    const b = { ...pod('p', { ip: '10.0.0.2' }) };
    const r1 = compile([a, b]);
    const r2 = compile([b, a]);
    expect(r1.errors.map((e) => e.code)).toEqual(['duplicate']);
    expect(r1.snapshot.version).toBe(r2.snapshot.version);
  });

  it('flattens List objects', () => {
    const { snapshot } = compile([
      { apiVersion: 'v1', kind: 'List', items: [pod('a'), { kind: 'PodList', items: [pod('b')] }] },
    ]);
    expect(Object.keys(snapshot.workloads)).toEqual(['uid-default-a', 'uid-default-b']);
  });

  it('puts objects without a namespace into the default namespace', () => {
    const p = pod('p');
    delete (p.metadata as Record<string, unknown>).namespace;
    expect(compile([p]).snapshot.workloads['uid-default-p']?.namespace).toBe('default');
  });
});

describe('compile: hashes', () => {
  const base = [
    ...meshFixture(),
    authorizationPolicy('allow-web', {
      namespace: 'shop',
      selector: { app: 'web' },
      rules: [{ from: [{ source: { namespaces: ['legacy'] } }] }],
    }),
    httpRoute('split', {
      namespace: 'shop',
      service: 'web',
      rules: [{ backendRefs: [{ name: 'web', port: 80 }] }],
    }),
  ];

  it('does not depend on input order', () => {
    const a = compile(base).snapshot;
    const b = compile([...base].reverse()).snapshot;
    expect(b.version).toBe(a.version);
    expect(b.workloads['uid-shop-web-1']?.hash).toBe(a.workloads['uid-shop-web-1']?.hash);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
  });

  it('changes only the hashes of what changed', () => {
    const a = compile(base).snapshot;
    const changed = base.map((o) =>
      o === base[7]
        ? pod('web-2', {
            namespace: 'shop',
            labels: { app: 'web', version: 'v2' },
            ip: '10.1.0.99',
            serviceAccount: 'web',
            node: 'node-b',
            ports: [{ name: 'http', containerPort: 8080 }],
          })
        : o,
    );
    const b = compile(changed).snapshot;
    expect(b.version).not.toBe(a.version);
    const delta = diffSnapshots(a, b);
    expect(delta.workloads).toEqual({ upserted: ['uid-shop-web-2'], removed: [] });
    expect(delta.services.upserted).toEqual([WEB]);
    expect(delta.authorizationPolicies.upserted).toEqual([]);
    expect(delta.routes.upserted).toEqual([]);
    expect(diffSnapshots(undefined, a).workloads.upserted.length).toBe(Object.keys(a.workloads).length);
  });
});

describe('compile: authorization', () => {
  const { snapshot, warnings } = compile([
    ...meshFixture(),
    authorizationPolicy('mesh-deny', {
      namespace: 'weft-system',
      action: 'DENY',
      rules: [{ from: [{ source: { ipBlocks: ['192.0.2.0/24'] } }] }],
    }),
    authorizationPolicy('root-selector', {
      namespace: 'weft-system',
      selector: { app: 'client' },
      rules: [{}],
    }),
    authorizationPolicy('ns-allow', {
      namespace: 'shop',
      rules: [{ from: [{ source: { principals: ['spiffe://cluster.local/ns/legacy/sa/client'] } }] }],
    }),
    authorizationPolicy('web-only', {
      namespace: 'shop',
      selector: { app: 'web' },
      action: 'AUDIT',
      rules: [{}],
    }),
    authorizationPolicy('svc', {
      namespace: 'shop',
      targetRefs: [{ kind: 'Service', name: 'web' }],
      rules: [{ to: [{ operation: { paths: ['/api/*'] } }] }],
    }),
    authorizationPolicy('gw', {
      namespace: 'shop',
      targetRefs: [
        { kind: 'Gateway', name: 'waypoint' },
        { kind: 'Gateway', name: 'nope' },
      ],
    }),
  ]);

  it('normalizes rules', () => {
    const p = snapshot.authorizationPolicies['shop/ns-allow'];
    expect(p).toMatchObject({ scope: 'namespace', action: 'ALLOW' });
    expect(p?.rules[0]?.from[0]?.principals).toEqual(['cluster.local/ns/legacy/sa/client']);
    expect(snapshot.authorizationPolicies['weft-system/mesh-deny']?.scope).toBe('mesh');
    expect(snapshot.authorizationPolicies['shop/svc']?.targets).toEqual([
      { kind: 'Service', namespace: 'shop', name: 'web' },
    ]);
    expect(snapshot.authorizationPolicies['shop/gw']?.rules).toEqual([]);
  });

  it('indexes policies by workload, service and waypoint', () => {
    expect(snapshot.workloads['uid-shop-web-1']?.authorizationPolicies).toEqual([
      'shop/ns-allow',
      'shop/web-only',
      'weft-system/mesh-deny',
    ]);
    expect(snapshot.workloads['uid-shop-db-1']?.authorizationPolicies).toEqual([
      'shop/ns-allow',
      'weft-system/mesh-deny',
    ]);
    expect(snapshot.workloads['uid-legacy-client']?.authorizationPolicies).toEqual([
      'weft-system/mesh-deny',
      'weft-system/root-selector',
    ]);
    expect(snapshot.services[WEB]?.authorizationPolicies).toEqual(['shop/svc']);
    expect(snapshot.waypoints['shop/waypoint']?.authorizationPolicies).toEqual(['shop/gw']);
    expect(warnings).toMatchObject([
      { code: 'unresolved-reference', name: 'gw', path: 'spec.targetRefs[1]' },
    ]);
  });
});

describe('compile: peer authentication', () => {
  it('precomputes modes per workload and port', () => {
    const { snapshot } = compile([
      ...meshFixture(),
      peerAuthentication('mesh', { namespace: 'weft-system', mode: 'STRICT' }),
      peerAuthentication('legacy', { namespace: 'legacy', mode: 'PERMISSIVE' }),
      peerAuthentication('db', {
        namespace: 'shop',
        selector: { app: 'db' },
        mode: 'UNSET',
        portLevelMtls: { '9000': 'DISABLE' },
      }),
    ]);
    expect(snapshot.peerAuthentication['uid-shop-web-1']).toMatchObject({ mode: 'STRICT', ports: {} });
    expect(snapshot.peerAuthentication['uid-shop-db-1']).toMatchObject({
      mode: 'STRICT',
      ports: { '9000': 'DISABLE' },
    });
    expect(snapshot.peerAuthentication['uid-legacy-client']).toMatchObject({ mode: 'PERMISSIVE' });
  });
});

describe('compile: routes', () => {
  it('orders Gateway API matches by precedence across routes', () => {
    const { snapshot, warnings } = compile([
      ...meshFixture(),
      service('web-v2', {
        namespace: 'shop',
        selector: { app: 'web', version: 'v2' },
        ports: [{ name: 'http', port: 80, targetPort: 8080 }],
      }),
      httpRoute('catch-all', {
        namespace: 'shop',
        service: 'web',
        creationTimestamp: '2024-01-01T00:00:00Z',
        rules: [
          {
            backendRefs: [
              { name: 'web', port: 80, weight: 90 },
              { name: 'web-v2', port: 80, weight: 10 },
            ],
          },
        ],
      }),
      httpRoute('specific', {
        namespace: 'shop',
        service: 'web',
        creationTimestamp: '2024-02-01T00:00:00Z',
        rules: [
          {
            name: 'api',
            matches: [
              { path: { type: 'PathPrefix', value: '/api' } },
              { path: { type: 'Exact', value: '/login' }, method: 'POST' },
            ],
            filters: [
              {
                type: 'RequestHeaderModifier',
                requestHeaderModifier: { set: [{ name: 'X-Route', value: 'api' }] },
              },
            ],
            backendRefs: [{ name: 'web-v2', port: 80 }],
            timeouts: { request: '2s', backendRequest: '500ms' },
            retry: { attempts: 3, codes: [502, 503], backoff: '100ms' },
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
            filters: [
              {
                type: 'RequestRedirect',
                requestRedirect: {
                  path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/new' },
                  statusCode: 301,
                },
              },
            ],
          },
        ],
      }),
    ]);
    expect(warnings).toEqual([]);
    const table = snapshot.routes[`${WEB}:80`];
    expect(table?.protocol).toBe('http');
    expect(table?.rules.map((r) => r.matches[0]?.path)).toEqual([
      { type: 'exact', value: '/login' },
      { type: 'path-prefix', value: '/api' },
      { type: 'path-prefix', value: '/old' },
      { type: 'path-prefix', value: '/' },
    ]);
    const api = table?.rules[1];
    expect(api).toMatchObject({
      name: 'api',
      source: { kind: 'HTTPRoute', namespace: 'shop', name: 'specific', rule: 0 },
      backends: [{ host: 'web-v2.shop.svc.cluster.local', port: 80, weight: 1 }],
      filters: { requestHeaders: { set: [{ name: 'x-route', value: 'api' }] } },
      timeouts: { requestMs: 2000, perTryMs: 500 },
      retries: { attempts: 3, retryOnStatus: [502, 503], backoff: { baseMs: 100, maxMs: 1000 } },
    });
    expect(table?.rules[2]?.filters.redirect).toEqual({
      path: { type: 'prefix', value: '/new' },
      statusCode: 301,
    });
    expect(table?.rules[3]?.backends.map((b) => b.weight)).toEqual([90, 10]);
  });

  it('compiles GRPCRoute method matches to paths', () => {
    const { snapshot } = compile([
      ...meshFixture(),
      service('grpc', { namespace: 'shop', selector: { app: 'web' }, ports: [{ name: 'grpc', port: 9000 }] }),
      grpcRoute('g', {
        namespace: 'shop',
        service: 'grpc',
        rules: [
          {
            matches: [{ method: { service: 'echo.Echo', method: 'Say' } }],
            backendRefs: [{ name: 'grpc', port: 9000 }],
          },
          { matches: [{ method: { service: 'echo.Echo' } }], backendRefs: [{ name: 'grpc', port: 9000 }] },
        ],
      }),
    ]);
    const table = snapshot.routes['grpc.shop.svc.cluster.local:9000'];
    expect(table?.protocol).toBe('grpc');
    expect(table?.rules.map((r) => r.matches[0]?.path)).toEqual([
      { type: 'exact', value: '/echo.Echo/Say' },
      { type: 'prefix', value: '/echo.Echo/' },
    ]);
  });

  it('compiles TCPRoute on TCP ports', () => {
    const { snapshot } = compile([
      ...meshFixture(),
      tcpRoute('t', {
        namespace: 'shop',
        service: 'db',
        rules: [{ backendRefs: [{ name: 'db', port: 5432, weight: 1 }] }],
      }),
    ]);
    expect(snapshot.routes['db.shop.svc.cluster.local:5432']).toMatchObject({
      protocol: 'tcp',
      rules: [{ matches: [], backends: [{ host: 'db.shop.svc.cluster.local', port: 5432, weight: 1 }] }],
    });
  });

  it('compiles VirtualService into the same model', () => {
    const { snapshot, warnings } = compile([
      ...meshFixture(),
      virtualService('vs', {
        namespace: 'shop',
        hosts: ['web'],
        http: [
          {
            name: 'canary',
            match: [
              {
                uri: { prefix: '/api' },
                headers: { 'X-Canary': { exact: 'yes' } },
                queryParams: { debug: { exact: '1' } },
                method: { exact: 'GET' },
              },
            ],
            route: [
              { destination: { host: 'web', subset: 'v2' }, weight: 25 },
              { destination: { host: 'web', subset: 'v1' }, weight: 75 },
            ],
            rewrite: { uri: '/v2/api', authority: 'internal' },
            timeout: '3s',
            retries: { attempts: 4, perTryTimeout: '1s', retryOn: '5xx,reset,503' },
            fault: {
              delay: { fixedDelay: '100ms', percentage: { value: 10 } },
              abort: { httpStatus: 503, percentage: { value: 1.5 } },
            },
            mirror: { host: 'db' },
            mirrorPercentage: { value: 5 },
            headers: { request: { set: { 'X-A': 'b' } }, response: { remove: ['server'] } },
          },
          { match: [{ port: 9999 }], route: [{ destination: { host: 'web' } }] },
          { redirect: { uri: '/moved', redirectCode: 308 } },
        ],
      }),
    ]);
    expect(warnings).toEqual([]);
    const rules = snapshot.routes[`${WEB}:80`]?.rules ?? [];
    expect(rules).toHaveLength(2);
    expect(rules[0]).toMatchObject({
      name: 'canary',
      source: { kind: 'VirtualService', rule: 0 },
      matches: [
        {
          path: { type: 'prefix', value: '/api' },
          method: 'GET',
          headers: [{ name: 'x-canary', type: 'exact', value: 'yes' }],
          queryParams: [{ name: 'debug', type: 'exact', value: '1' }],
        },
      ],
      backends: [
        { host: WEB, subset: 'v2', weight: 25 },
        { host: WEB, subset: 'v1', weight: 75 },
      ],
      filters: {
        rewrite: { host: 'internal', path: { type: 'prefix', value: '/v2/api' } },
        mirrors: [{ backend: { host: 'db.shop.svc.cluster.local' }, percent: 5 }],
        requestHeaders: { set: [{ name: 'x-a', value: 'b' }] },
        responseHeaders: { remove: ['server'] },
      },
      timeouts: { requestMs: 3000, perTryMs: 1000 },
      retries: {
        attempts: 4,
        perTryTimeoutMs: 1000,
        retryOn: ['5xx', 'reset', 'retriable-status-codes'],
        retryOnStatus: [503],
      },
      fault: { delay: { delayMs: 100, percent: 10 }, abort: { httpStatus: 503, percent: 1.5 } },
    });
    expect(rules[1]).toMatchObject({
      matches: [],
      backends: [],
      filters: { redirect: { path: { type: 'full', value: '/moved' }, statusCode: 308 } },
    });
  });

  it('lets Gateway API routes win over a VirtualService on the same port', () => {
    const { snapshot, warnings } = compile([
      ...meshFixture(),
      httpRoute('r', {
        namespace: 'shop',
        service: 'web',
        rules: [{ backendRefs: [{ name: 'web', port: 80 }] }],
      }),
      virtualService('vs', {
        namespace: 'shop',
        hosts: ['web'],
        http: [{ route: [{ destination: { host: 'db' } }] }],
      }),
    ]);
    expect(snapshot.routes[`${WEB}:80`]?.rules[0]?.source.kind).toBe('HTTPRoute');
    expect(warnings).toMatchObject([{ code: 'conflict', kind: 'VirtualService' }]);
  });

  it('reports unresolved backends and parents but keeps the route', () => {
    const { snapshot, warnings } = compile([
      ...meshFixture(),
      httpRoute('r', {
        namespace: 'shop',
        service: 'web',
        rules: [{ backendRefs: [{ name: 'ghost', port: 80 }] }],
      }),
      httpRoute('r2', { namespace: 'shop', service: 'ghost', rules: [{}] }),
    ]);
    expect(snapshot.routes[`${WEB}:80`]?.rules[0]?.backends[0]).toMatchObject({
      unresolved: 'Service shop/ghost not found',
    });
    expect(warnings.map((w) => [w.name, w.path])).toEqual([
      ['r', 'spec.rules[0].backendRefs[0]'],
      ['r2', 'spec.parentRefs[0]'],
    ]);
  });
});

describe('compile: backend policies', () => {
  it('compiles DestinationRules with subsets and port settings', () => {
    const { snapshot, warnings } = compile([
      ...meshFixture(),
      destinationRule('web', {
        namespace: 'shop',
        host: 'web',
        trafficPolicy: {
          loadBalancer: { consistentHash: { httpHeaderName: 'X-User' } },
          connectionPool: {
            tcp: { maxConnections: 100, connectTimeout: '250ms' },
            http: { http2MaxRequests: 1000, idleTimeout: '1m' },
          },
          outlierDetection: { consecutive5xxErrors: 3, interval: '5s' },
          tls: { mode: 'ISTIO_MUTUAL' },
          portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'LEAST_REQUEST' } }],
        },
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } },
        ],
      }),
      destinationRule('other', { namespace: 'legacy', host: 'web.shop.svc.cluster.local' }),
    ]);
    const p = snapshot.backendPolicies[WEB];
    expect(p?.source).toEqual({ namespace: 'shop', name: 'web' });
    expect(p?.trafficPolicy).toEqual({
      loadBalancer: { type: 'consistent-hash', key: { header: 'x-user' } },
      connectionPool: {
        tcp: { maxConnections: 100, connectTimeoutMs: 250 },
        http: { http2MaxRequests: 1000, idleTimeoutMs: 60_000 },
      },
      outlierDetection: {
        consecutive5xxErrors: 3,
        intervalMs: 5000,
        baseEjectionTimeMs: 30_000,
        maxEjectionPercent: 10,
        minHealthPercent: 0,
      },
      tls: { mode: 'ISTIO_MUTUAL' },
    });
    expect(p?.ports['80']?.loadBalancer).toEqual({ type: 'least-request' });
    expect(p?.subsets.map((s) => [s.name, s.workloads, s.trafficPolicy.loadBalancer])).toEqual([
      ['v1', ['uid-shop-web-1'], { type: 'consistent-hash', key: { header: 'x-user' } }],
      ['v2', ['uid-shop-web-2'], { type: 'random' }],
    ]);
    expect(warnings).toMatchObject([{ code: 'conflict', namespace: 'legacy', name: 'other' }]);
  });
});
