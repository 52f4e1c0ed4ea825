import * as grpc from '@grpc/grpc-js';
import { compile, type MeshSnapshot } from '@weft/policy';
import {
  type AdsClientInfo,
  type CachedResource,
  ENVOY_TYPE_URL,
  ResourceCache,
  WEFT_TYPE_URL,
} from '@weft/xds-protocol';
import {
  type Cluster,
  type ClusterLoadAssignment,
  DownstreamTlsContext,
  HTTPFault,
  HttpConnectionManager,
  type Listener,
  type Route,
  type RouteConfiguration,
  UpstreamTlsContext,
} from '@weft/xds-protocol/envoy';
import { describe, expect, it } from 'vitest';
import { ProxylessPublisher } from './proxyless-publisher.ts';
import { ProxylessServerCaches } from './proxyless-server.ts';
import {
  clusterName,
  hasProxyless,
  ProxylessMemo,
  type ProxylessRefusal,
  proxylessClientConfig,
  proxylessServerListeners,
  re2Problem,
  serverSignature,
  serviceDomains,
  WAYPOINT_PROXYLESS_PORT,
} from './proxyless-view.ts';
import { ProxyViews, type StreamCaller, ViewRefused } from './views.ts';

type Obj = Record<string, unknown>;

function snapshotOf(objects: readonly unknown[]): MeshSnapshot {
  const { snapshot, errors } = compile(objects);
  expect(errors).toEqual([]);
  return snapshot;
}

function pod(name: string, ip: string, labels: Record<string, string>, extra: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'demo', uid: `uid-${name}`, labels },
    spec: {
      nodeName: 'node-a',
      serviceAccountName: labels.app ?? name,
      containers: [{ name: 'app', ports: [{ name: 'grpc', containerPort: 9000 }] }],
    },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
    ...extra,
  };
}

function service(name: string, selector: Record<string, string>, ip: string, ns = 'demo'): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: {
      clusterIP: ip,
      selector,
      ports: [{ name: 'grpc', port: 8080, targetPort: 'grpc', appProtocol: 'grpc' }],
    },
  };
}

const dr = (name: string, spec: Obj): Obj => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name, namespace: 'demo' },
  spec: { host: `${name}.demo.svc.cluster.local`, ...spec },
});

const route = (kind: 'GRPCRoute' | 'HTTPRoute', name: string, parent: string, rules: unknown[]): Obj => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind,
  metadata: { name, namespace: 'demo' },
  spec: { parentRefs: [{ group: '', kind: 'Service', name: parent, port: 8080 }], rules },
});

/** Namespace demo in proxyless mode; `plain` (namespace legacy) is out of the mesh. */
function mesh(extra: readonly Obj[] = []): Obj[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'demo', labels: { 'weft.dev/dataplane-mode': 'proxyless' } },
    },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'legacy' } },
    pod('echo-a', '10.0.0.1', { app: 'echo', version: 'v1' }),
    pod('echo-b', '10.0.0.2', { app: 'echo', version: 'v2' }),
    pod('client', '10.0.0.3', { app: 'client' }),
    {
      ...pod('plain', '10.0.9.1', { app: 'plain' }),
      metadata: { name: 'plain', namespace: 'legacy', uid: 'uid-plain', labels: { app: 'plain' } },
    },
    service('echo', { app: 'echo' }, '10.96.0.10'),
    service('echo-v1', { app: 'echo', version: 'v1' }, '10.96.0.11'),
    service('echo-v2', { app: 'echo', version: 'v2' }, '10.96.0.12'),
    service('plain', { app: 'plain' }, '10.96.0.20', 'legacy'),
    ...extra,
  ];
}

const ECHO = 'echo.demo.svc.cluster.local';
const V1 = 'echo-v1.demo.svc.cluster.local';
const V2 = 'echo-v2.demo.svc.cluster.local';

const find = <T extends { name: string }>(xs: readonly T[], name: string): T => {
  const x = xs.find((v) => v.name === name);
  if (x === undefined) throw new Error(`no ${name} in ${xs.map((v) => v.name).join(', ')}`);
  return x;
};
const cla = (xs: readonly ClusterLoadAssignment[], name: string) => {
  const x = xs.find((v) => v.clusterName === name);
  if (x === undefined) throw new Error(`no load assignment ${name}`);
  return x;
};
const hcm = (l: Listener) =>
  HttpConnectionManager.decode(l.apiListener?.apiListener?.value ?? new Uint8Array());
const upstreamTls = (c: Cluster) =>
  c.transportSocket === undefined
    ? undefined
    : UpstreamTlsContext.decode(c.transportSocket.typedConfig?.value ?? new Uint8Array());
const addressOf = (e: ClusterLoadAssignment['endpoints'][number]['lbEndpoints'][number]) =>
  `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}`;
const routesOf = (r: RouteConfiguration): Route[] => r.virtualHosts[0]?.routes ?? [];
/** A route as a short readable shape. */
function shape(r: Route) {
  const m = r.match;
  const a = r.route;
  const fault = r.typedPerFilterConfig['envoy.filters.http.fault'];
  return {
    path:
      m?.path ??
      (m?.prefix !== undefined
        ? `${m.prefix}*`
        : m?.safeRegex?.regex !== undefined
          ? `~${m.safeRegex.regex}`
          : ''),
    ...(m?.headers.length
      ? {
          headers: m.headers.map(
            (h) =>
              `${h.invertMatch ? '!' : ''}${h.name}=${h.stringMatch?.exact ?? h.stringMatch?.prefix ?? h.stringMatch?.safeRegex?.regex ?? (h.presentMatch ? '*' : '')}`,
          ),
        }
      : {}),
    to: a?.cluster ?? a?.weightedClusters?.clusters.map((c) => `${c.name}@${c.weight}`),
    ...(a?.maxStreamDuration?.maxStreamDuration
      ? { timeoutS: a.maxStreamDuration.maxStreamDuration.seconds }
      : {}),
    ...(a?.retryPolicy ? { retryOn: a.retryPolicy.retryOn, retries: a.retryPolicy.numRetries } : {}),
    ...(a?.hashPolicy.length ? { hash: a.hashPolicy.map((h) => h.header?.headerName) } : {}),
    ...(fault ? { fault: HTTPFault.decode(fault.value) } : {}),
  };
}
const refusedFields = (rs: readonly ProxylessRefusal[], object: string) =>
  rs.filter((r) => r.object === object).map((r) => r.field);

describe('proxylessClientConfig: a service without routes', () => {
  const config = proxylessClientConfig(snapshotOf(mesh()));

  it('names the Listener and its RouteConfiguration after the channel target, with every spelling as a domain', () => {
    const l = find(config.listeners, `${ECHO}:8080`);
    const h = hcm(l);
    expect(h.rds?.routeConfigName).toBe(`${ECHO}:8080`);
    expect(h.rds?.configSource?.ads).toEqual({});
    expect(h.httpFilters.map((f) => f.name)).toEqual(['envoy.filters.http.router']);
    const rc = find(config.routeConfigurations, `${ECHO}:8080`);
    expect(rc.virtualHosts[0]?.domains).toEqual([
      ECHO,
      `${ECHO}:8080`,
      'echo',
      'echo:8080',
      'echo.demo',
      'echo.demo:8080',
    ]);
    expect(routesOf(rc).map(shape)).toEqual([{ path: '*', to: `outbound|8080||${ECHO}` }]);
  });

  it('sends to an EDS cluster with mesh mTLS checking the endpoints’ SPIFFE identities', () => {
    const c = find(config.clusters, `outbound|8080||${ECHO}`);
    expect(c.type).toBe(3); // EDS
    expect(c.edsClusterConfig?.serviceName).toBe(c.name);
    expect(c.lbPolicy).toBe(0); // ROUND_ROBIN
    expect(c.transportSocket?.name).toBe('envoy.transport_sockets.tls');
    const tls = upstreamTls(c);
    expect(tls?.commonTlsContext?.tlsCertificateProviderInstance?.instanceName).toBe('weft');
    const v = tls?.commonTlsContext?.combinedValidationContext?.defaultValidationContext;
    expect(v?.caCertificateProviderInstance?.instanceName).toBe('weft');
    expect(v?.matchSubjectAltNames.map((m) => m.exact)).toEqual(['spiffe://cluster.local/ns/demo/sa/echo']);
  });

  it('assigns endpoints with a locality and a weight on every locality', () => {
    const a = cla(config.loadAssignments, `outbound|8080||${ECHO}`);
    expect(a.endpoints).toHaveLength(1);
    const l = a.endpoints[0];
    expect(l?.locality).toEqual({ region: '', zone: '', subZone: '' });
    expect(l?.loadBalancingWeight).toBe(2);
    expect(l?.priority).toBe(0);
    expect(
      l?.lbEndpoints.map(
        (e) =>
          `${e.endpoint?.address?.socketAddress?.address}:${e.endpoint?.address?.socketAddress?.portValue}`,
      ),
    ).toEqual(['10.0.0.1:9000', '10.0.0.2:9000']);
  });

  it('talks plaintext to an out-of-mesh service', () => {
    expect(
      find(config.clusters, 'outbound|8080||plain.legacy.svc.cluster.local').transportSocket,
    ).toBeUndefined();
  });

  it('refuses nothing', () => {
    expect(config.refusals).toEqual([]);
  });
});

describe('proxylessClientConfig: routes', () => {
  it.each([
    {
      what: 'a GRPCRoute weighted split on one method',
      objects: [
        route('GRPCRoute', 'split', 'echo', [
          {
            matches: [{ method: { service: 'weft.Echo', method: 'Echo' } }],
            backendRefs: [
              { name: 'echo-v1', port: 8080, weight: 80 },
              { name: 'echo-v2', port: 8080, weight: 20 },
            ],
          },
        ]),
      ],
      routes: [
        {
          path: '/weft.Echo/Echo',
          to: [`outbound|8080||${V1}@80`, `outbound|8080||${V2}@20`],
          retryOn: 'unavailable,cancelled',
          retries: 2,
        },
      ],
      refused: [],
    },
    {
      what: 'an HTTPRoute path prefix, header match and timeout',
      objects: [
        route('HTTPRoute', 'hr', 'echo', [
          {
            matches: [
              {
                path: { type: 'PathPrefix', value: '/weft.Echo' },
                headers: [{ name: 'x-canary', value: '1' }],
              },
            ],
            backendRefs: [{ name: 'echo-v2', port: 8080 }],
            timeouts: { request: '3s' },
          },
        ]),
      ],
      routes: [
        {
          path: '/weft.Echo',
          headers: ['x-canary=1'],
          to: `outbound|8080||${V2}`,
          timeoutS: 3,
          retryOn: 'unavailable,cancelled',
          retries: 2,
        },
        {
          path: '/weft.Echo/*',
          headers: ['x-canary=1'],
          to: `outbound|8080||${V2}`,
          timeoutS: 3,
          retryOn: 'unavailable,cancelled',
          retries: 2,
        },
      ],
      refused: [],
    },
    {
      what: 'a VirtualService with faults, gRPC retries and a regex RE2 cannot compile',
      objects: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'vs', namespace: 'demo' },
          spec: {
            hosts: ['echo'],
            http: [
              {
                match: [{ uri: { regex: '/weft\\.Echo/[^]*' } }, { uri: { prefix: '/weft.Echo/' } }],
                route: [{ destination: { host: 'echo-v1' } }],
                fault: {
                  abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 50 } },
                  delay: { fixedDelay: '1s', percentage: { value: 10 } },
                },
                retries: { attempts: 3, retryOn: 'unavailable,5xx', perTryTimeout: '1s' },
              },
            ],
          },
        },
      ],
      routes: [
        {
          path: '/weft.Echo/*',
          to: `outbound|8080||${V1}`,
          retryOn: 'unavailable',
          retries: 3,
          fault: HTTPFault.fromPartial({
            delay: {
              fixedDelay: { seconds: 1, nanos: 0 },
              percentage: { numerator: 100_000, denominator: 2 },
            },
            abort: { grpcStatus: 14, percentage: { numerator: 500_000, denominator: 2 } },
          }),
        },
      ],
      refused: [
        'spec.http[0].matches[0].path',
        'spec.http[0].retries.perTryTimeout',
        'spec.http[0].retries.retryOn',
      ],
    },
    {
      what: 'an HTTPRoute with filters, a redirect and a query match',
      objects: [
        route('HTTPRoute', 'hr', 'echo', [
          {
            matches: [{ queryParams: [{ name: 'a', value: 'b' }] }, { path: { type: 'Exact', value: '/x' } }],
            filters: [
              { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'a', value: 'b' }] } },
            ],
            backendRefs: [{ name: 'echo-v1', port: 8080 }],
          },
          {
            filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'elsewhere' } }],
          },
        ]),
      ],
      routes: [{ path: '/x', to: `outbound|8080||${V1}`, retryOn: 'unavailable,cancelled', retries: 2 }],
      refused: [
        'spec.rules[0].filters',
        'spec.rules[0].matches[0].queryParams',
        'spec.rules[1].filters.redirect',
      ],
    },
  ])('$what', ({ objects, routes, refused }) => {
    const config = proxylessClientConfig(snapshotOf(mesh(objects)));
    const rc = find(config.routeConfigurations, `${ECHO}:8080`);
    expect(routesOf(rc).map(shape)).toEqual(routes);
    const object = `${(objects[0] as Obj).kind} demo/${((objects[0] as Obj).metadata as Obj).name}`;
    expect(refusedFields(config.refusals, object).sort()).toEqual(refused);
    for (const r of config.refusals) expect(r.reason).not.toBe('');
    // The fault filter is in the Listener exactly when a route injects faults, before the Router.
    const filters = hcm(find(config.listeners, `${ECHO}:8080`)).httpFilters.map((f) => f.name);
    const faults = routes.some((r) => 'fault' in r);
    expect(filters).toEqual(
      faults ? ['envoy.filters.http.fault', 'envoy.filters.http.router'] : ['envoy.filters.http.router'],
    );
    // never a non-forwarding route on the client side
    for (const r of routesOf(rc)) expect(r.nonForwardingAction).toBeUndefined();
  });
});

describe('proxylessClientConfig: DestinationRules', () => {
  it.each([
    {
      what: 'consistent hash on a header: RING_HASH, and the routes hash that header',
      rule: dr('echo-v1', {
        trafficPolicy: {
          loadBalancer: { consistentHash: { httpHeaderName: 'X-User', minimumRingSize: 64 } },
        },
      }),
      check: (c: Cluster, rc: RouteConfiguration) => {
        expect(c.lbPolicy).toBe(2); // RING_HASH
        expect(c.ringHashLbConfig?.minimumRingSize).toBe(64);
        expect(routesOf(rc).map(shape)[0]?.hash).toEqual(['x-user']);
      },
      refused: [],
    },
    {
      what: 'LEAST_REQUEST falls back to ROUND_ROBIN, refused',
      rule: dr('echo-v1', { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }),
      check: (c: Cluster) => expect(c.lbPolicy).toBe(0),
      refused: ['spec.trafficPolicy.loadBalancer.simple'],
    },
    {
      what: 'cookie hashing keeps the ring, refused',
      rule: dr('echo-v1', {
        trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'c' } } } },
      }),
      check: (c: Cluster) => expect(c.lbPolicy).toBe(2),
      refused: ['spec.trafficPolicy.loadBalancer.consistentHash.httpCookie'],
    },
    {
      what: 'outlier detection and circuit breaking',
      rule: dr('echo-v1', {
        trafficPolicy: {
          connectionPool: { http: { http2MaxRequests: 7 }, tcp: { maxConnections: 3 } },
          outlierDetection: {
            consecutive5xxErrors: 4,
            interval: '5s',
            baseEjectionTime: '20s',
            maxEjectionPercent: 30,
          },
        },
      }),
      check: (c: Cluster) => {
        expect(c.circuitBreakers?.thresholds).toEqual([
          expect.objectContaining({ priority: 0, maxRequests: 7 }),
        ]);
        expect(c.outlierDetection).toMatchObject({
          interval: { seconds: 5, nanos: 0 },
          baseEjectionTime: { seconds: 20, nanos: 0 },
          maxEjectionPercent: 30,
          consecutive5xx: 4,
          enforcingSuccessRate: 0,
        });
      },
      refused: [
        'spec.trafficPolicy.connectionPool.tcp.maxConnections',
        'spec.trafficPolicy.outlierDetection.consecutive5xxErrors',
      ],
    },
    {
      what: 'tls DISABLE: plaintext',
      rule: dr('echo-v1', { trafficPolicy: { tls: { mode: 'DISABLE' } } }),
      check: (c: Cluster) => expect(c.transportSocket).toBeUndefined(),
      refused: [],
    },
  ])('$what', ({ rule, check, refused }) => {
    const config = proxylessClientConfig(snapshotOf(mesh([rule])));
    check(find(config.clusters, `outbound|8080||${V1}`), find(config.routeConfigurations, `${V1}:8080`));
    expect(refusedFields(config.refusals, 'DestinationRule demo/echo-v1')).toEqual(refused);
  });

  it('leaves out backends whose cluster does not exist, refused', () => {
    const vs = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'vs', namespace: 'demo' },
      spec: {
        hosts: ['echo'],
        http: [
          {
            route: [
              { destination: { host: 'echo-v1', subset: 'nope' }, weight: 50 },
              { destination: { host: 'echo-v2' }, weight: 50 },
            ],
          },
        ],
      },
    };
    const config = proxylessClientConfig(snapshotOf(mesh([vs])));
    expect(routesOf(find(config.routeConfigurations, `${ECHO}:8080`)).map(shape)[0]?.to).toBe(
      `outbound|8080||${V2}`,
    );
    expect(config.refusals).toContainEqual({
      object: 'VirtualService demo/vs',
      field: 'spec.http[0].backendRefs',
      reason: expect.stringContaining('has no subset nope'),
    });
  });

  it('makes a cluster per subset, holding the subset’s endpoints, that routes can name', () => {
    const config = proxylessClientConfig(
      snapshotOf(
        mesh([
          dr('echo', { subsets: [{ name: 'v2', labels: { version: 'v2' } }] }),
          {
            apiVersion: 'networking.istio.io/v1',
            kind: 'VirtualService',
            metadata: { name: 'vs', namespace: 'demo' },
            spec: { hosts: ['echo'], http: [{ route: [{ destination: { host: 'echo', subset: 'v2' } }] }] },
          },
        ]),
      ),
    );
    const name = clusterName(ECHO, 8080, 'v2');
    expect(name).toBe(`outbound|8080|v2|${ECHO}`);
    find(config.clusters, name);
    expect(cla(config.loadAssignments, name).endpoints[0]?.lbEndpoints).toHaveLength(1);
    expect(routesOf(find(config.routeConfigurations, `${ECHO}:8080`)).map(shape)[0]?.to).toBe(name);
  });
});

describe('proxylessClientConfig: a service bound to a waypoint', () => {
  const gw = { 'gateway.networking.k8s.io/gateway-name': 'waypoint' };
  const waypointPod = (name: string, ip: string, ready: boolean): Obj => ({
    ...pod(name, ip, gw, ready ? {} : {}),
    spec: { nodeName: 'node-a', serviceAccountName: 'waypoint', containers: [{ name: 'proxy' }] },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  });
  const bound = (extra: readonly Obj[] = []) =>
    mesh([
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'Gateway',
        metadata: { name: 'waypoint', namespace: 'demo' },
        spec: {
          gatewayClassName: 'weft-waypoint',
          listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
        },
      },
      waypointPod('waypoint-0', '10.0.5.1', true),
      waypointPod('waypoint-1', '10.0.5.2', true),
      waypointPod('waypoint-2', '10.0.5.3', false),
      ...extra,
    ]).map((o) =>
      // echo is bound to the waypoint
      o.kind === 'Service' && (o.metadata as Obj).name === 'echo'
        ? { ...o, metadata: { ...(o.metadata as Obj), labels: { 'weft.dev/use-waypoint': 'waypoint' } } }
        : o,
    );
  const routesAndRules = [
    route('GRPCRoute', 'split', 'echo', [
      {
        matches: [{ method: { service: 'demo.Echo', method: 'Say' } }],
        backendRefs: [
          { name: 'echo-v1', port: 8080, weight: 90 },
          { name: 'echo-v2', port: 8080, weight: 10 },
        ],
        filters: [
          { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x', value: 'y' }] } },
        ],
      },
    ]),
    dr('echo', {
      trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } },
      subsets: [{ name: 'v1', labels: { version: 'v1' } }],
    }),
  ];
  const config = proxylessClientConfig(snapshotOf(bound(routesAndRules)));
  const name = `outbound|8080||${ECHO}`;

  it('routes every call to one cluster: the waypoint applies the routes', () => {
    const rc = find(config.routeConfigurations, `${ECHO}:8080`);
    expect(rc.virtualHosts[0]?.domains).toContain(`${ECHO}:8080`);
    expect(routesOf(rc).map(shape)).toEqual([{ path: '*', to: name }]);
    expect(hcm(find(config.listeners, `${ECHO}:8080`)).httpFilters.map((f) => f.name)).toEqual([
      'envoy.filters.http.router',
    ]);
  });

  it("lists the waypoint's ready pods on 15009, checked against the waypoint's identity", () => {
    const table = [
      ['endpoints', cla(config.loadAssignments, name).endpoints.flatMap((l) => l.lbEndpoints.map(addressOf))],
      [
        'sans',
        upstreamTls(
          find(config.clusters, name),
        )?.commonTlsContext?.combinedValidationContext?.defaultValidationContext?.matchSubjectAltNames.map(
          (m) => m.exact,
        ),
      ],
      ['lb', find(config.clusters, name).lbPolicy],
      [
        'subset clusters',
        config.clusters.filter((c) => c.name.startsWith('outbound|8080|v1|')).map((c) => c.name),
      ],
    ];
    expect(Object.fromEntries(table)).toEqual({
      endpoints: ['10.0.5.1:15009', '10.0.5.2:15009'],
      sans: ['spiffe://cluster.local/ns/demo/sa/waypoint'],
      lb: 0,
      'subset clusters': [],
    });
    expect(WAYPOINT_PROXYLESS_PORT).toBe(15009);
  });

  it('refuses none of the route or DestinationRule features: the waypoint handles them', () => {
    expect(refusedFields(config.refusals, 'GRPCRoute demo/split')).toEqual([]);
    expect(refusedFields(config.refusals, 'DestinationRule demo/echo')).toEqual([]);
    // the unbound services keep their direct clusters
    expect(
      cla(config.loadAssignments, `outbound|8080||${V1}`).endpoints.flatMap((l) =>
        l.lbEndpoints.map(addressOf),
      ),
    ).toEqual(['10.0.0.1:9000']);
  });

  it("refuses an unbound service's route backend that a waypoint serves (the call would carry the wrong :authority)", () => {
    const c = proxylessClientConfig(
      snapshotOf(
        bound([
          route('GRPCRoute', 'to-echo', 'echo-v1', [
            {
              backendRefs: [
                { name: 'echo', port: 8080, weight: 50 },
                { name: 'echo-v2', port: 8080, weight: 50 },
              ],
            },
          ]),
        ]),
      ),
    );
    expect(c.refusals.filter((r) => r.object === 'GRPCRoute demo/to-echo')).toEqual([
      {
        object: 'GRPCRoute demo/to-echo',
        field: 'spec.rules[0].backendRefs',
        reason: `backend ${ECHO} is served by waypoint demo/waypoint, which proxyless clients reach with the :authority of ${V1} only; left out of the split`,
      },
    ]);
    expect(routesOf(find(c.routeConfigurations, `${V1}:8080`)).map((r) => shape(r).to)).toEqual([
      `outbound|8080||${V2}`,
    ]);
  });

  it('follows the waypoint pods in the memo: a pod turning ready is a new unit', () => {
    const memo = new ProxylessMemo();
    const first = proxylessClientConfig(snapshotOf(bound()), memo);
    const again = proxylessClientConfig(snapshotOf(bound()), memo);
    expect(find(again.clusters, name)).toBe(find(first.clusters, name));
    const more = bound().map((o) =>
      (o.metadata as Obj).name === 'waypoint-2' ? waypointPod('waypoint-2', '10.0.5.3', true) : o,
    );
    const next = proxylessClientConfig(snapshotOf(more), memo);
    expect(cla(next.loadAssignments, name).endpoints.flatMap((l) => l.lbEndpoints.map(addressOf))).toEqual([
      '10.0.5.1:15009',
      '10.0.5.2:15009',
      '10.0.5.3:15009',
    ]);
  });

  it('sends no endpoints while the waypoint has no ready pod', () => {
    const none = bound().filter((o) => !String((o.metadata as Obj).name).startsWith('waypoint-'));
    const c = proxylessClientConfig(snapshotOf(none));
    expect(cla(c.loadAssignments, name).endpoints).toEqual([]);
    expect(routesOf(find(c.routeConfigurations, `${ECHO}:8080`)).map(shape)).toEqual([
      { path: '*', to: name },
    ]);
  });
});

describe('ProxylessMemo', () => {
  it('reuses the units of service ports whose inputs kept their hashes, rebuilds the rest', () => {
    const memo = new ProxylessMemo();
    const first = proxylessClientConfig(snapshotOf(mesh()), memo);
    const again = proxylessClientConfig(snapshotOf(mesh()), memo);
    expect(again.clusters.every((c, i) => c === first.clusters[i])).toBe(true);
    expect(again.routeConfigurations.every((r, i) => r === first.routeConfigurations[i])).toBe(true);
    // A DestinationRule on echo-v1 rebuilds echo-v1's cluster and routes, and nothing else.
    const changed = proxylessClientConfig(
      snapshotOf(mesh([dr('echo-v1', { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } })])),
      memo,
    );
    const rebuilt = changed.clusters.filter((c) => !first.clusters.includes(c)).map((c) => c.name);
    expect(rebuilt).toEqual([`outbound|8080||${V1}`]);
    const rerouted = changed.routeConfigurations
      .filter((r) => !first.routeConfigurations.includes(r))
      .map((r) => r.name);
    expect(rerouted).toEqual([`${V1}:8080`]);
    expect(changed.refusals.map((r) => r.object)).toEqual(['DestinationRule demo/echo-v1']);
  });
});

describe('proxylessServerListeners', () => {
  const pa = (name: string, spec: Obj): Obj => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name, namespace: 'demo' },
    spec,
  });

  it.each([
    { what: 'no PeerAuthentication: PERMISSIVE', objects: [], want: { 9000: 'PERMISSIVE' } },
    {
      what: 'STRICT',
      objects: [pa('default', { mtls: { mode: 'STRICT' } })],
      want: { 9000: 'STRICT' },
    },
    {
      what: 'a port-level DISABLE next to STRICT',
      objects: [
        pa('echo', {
          selector: { matchLabels: { app: 'echo' } },
          mtls: { mode: 'STRICT' },
          portLevelMtls: { 9100: { mode: 'DISABLE' } },
        }),
      ],
      want: { 9000: 'STRICT', 9100: 'DISABLE' },
    },
  ])('$what', ({ objects, want }) => {
    const snapshot = snapshotOf(mesh(objects));
    const podOf = snapshot.workloads['uid-echo-a'];
    if (podOf === undefined) throw new Error('no pod');
    const listeners = proxylessServerListeners(snapshot, podOf);
    const got: Record<string, string> = {};
    for (const l of listeners) {
      const port = l.address?.socketAddress?.portValue ?? 0;
      expect(l.name).toBe(`xds.weft.dev/grpc/lds/inbound/0.0.0.0:${port}`);
      expect(l.address?.socketAddress?.address).toBe('0.0.0.0');
      expect(l.defaultFilterChain).toBeUndefined();
      expect(l.filterChains).toHaveLength(1);
      const chain = l.filterChains[0];
      expect(chain?.filterChainMatch).toBeUndefined();
      const h = HttpConnectionManager.decode(chain?.filters[0]?.typedConfig?.value ?? new Uint8Array());
      expect(h.routeConfig?.virtualHosts[0]?.routes[0]?.nonForwardingAction).toEqual({});
      expect(h.httpFilters.map((f) => f.name)).toEqual(['envoy.filters.http.router']);
      const socket = chain?.transportSocket;
      if (socket === undefined) {
        got[port] = 'DISABLE';
        continue;
      }
      expect(socket.name).toBe('envoy.transport_sockets.tls');
      const tls = DownstreamTlsContext.decode(socket.typedConfig?.value ?? new Uint8Array());
      expect(tls.commonTlsContext?.tlsCertificateProviderInstance?.instanceName).toBe('weft');
      got[port] = tls.requireClientCertificate === true ? 'STRICT' : 'PERMISSIVE';
    }
    expect(got).toEqual(want);
    expect(serverSignature(snapshot, podOf)).toBe(
      Object.entries(want)
        .map(([p, m]) => `${p}=${m}`)
        .join(','),
    );
  });
});

describe('helpers', () => {
  it.each([
    ['/weft\\.Echo/.*', undefined],
    ['/echo/[\\]^]+', undefined],
    ['/echo/\\[]', undefined],
    ['/echo/[^]*', 'empty character class'],
    ['[]', 'empty character class'],
  ])('re2Problem(%j)', (pattern, problem) => {
    const got = re2Problem(pattern);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(problem);
  });

  it('serviceDomains lists every authority a target may carry', () => {
    expect(serviceDomains({ name: 'a', namespace: 'n', hostname: 'a.n.svc.cluster.local' }, 80)).toEqual([
      'a.n.svc.cluster.local',
      'a.n.svc.cluster.local:80',
      'a',
      'a:80',
      'a.n',
      'a.n:80',
    ]);
  });

  it('hasProxyless: nothing is generated for a mesh without proxyless workloads', () => {
    expect(hasProxyless(snapshotOf(mesh()))).toBe(true);
    const none = mesh().map((o) =>
      o.kind === 'Namespace' ? { ...o, metadata: { name: (o.metadata as Obj).name } } : o,
    );
    expect(hasProxyless(snapshotOf(none))).toBe(false);
  });
});

describe('ProxyViews for proxyless clients', () => {
  const snapshot = snapshotOf(mesh());
  function client(nodeId: string): AdsClientInfo {
    return {
      streamId: 1,
      protocol: 'sotw',
      node: { id: nodeId } as AdsClientInfo['node'],
      nodeId,
      peer: '127.0.0.1:1',
      metadata: new grpc.Metadata(),
      authContext: undefined,
    };
  }
  const cache = new ResourceCache({ name: 'test' });
  const servers = new ProxylessServerCaches(cache);
  const views = (caller: StreamCaller | undefined) =>
    new ProxyViews({
      cache,
      snapshot: () => snapshot,
      caller: () => caller,
      proxylessCache: (s, pod) => servers.cacheFor(s, pod),
      nodeAgents: [{ namespace: 'weft-system', serviceAccount: 'ztunnel' }],
    });

  it.each([
    {
      nodeId: 'proxyless~demo/client',
      caller: { namespace: 'demo', serviceAccount: 'client' },
      refused: undefined,
    },
    {
      nodeId: 'proxyless~demo/echo-a',
      caller: { namespace: 'demo', serviceAccount: 'client' },
      refused: 'demo/client is not the service account of pod demo/echo-a (echo)',
    },
    {
      nodeId: 'proxyless~legacy/plain',
      caller: { namespace: 'demo', serviceAccount: 'client' },
      refused: 'demo/client may not connect as proxyless~legacy/plain',
    },
    {
      nodeId: 'proxyless~demo/nope',
      caller: { namespace: 'demo', serviceAccount: 'client' },
      refused: 'no pod demo/nope',
    },
    {
      nodeId: 'proxyless~demo/client',
      caller: { namespace: 'weft-system', serviceAccount: 'ztunnel', node: 'node-a' },
      refused: 'may not connect as proxyless~demo/client',
    },
  ])('$nodeId as $caller.namespace/$caller.serviceAccount', ({ nodeId, caller, refused }) => {
    const v = views(caller);
    if (refused === undefined) {
      expect(v.identify(client(nodeId))).toEqual({ kind: 'proxyless', namespace: 'demo', name: 'client' });
    } else {
      expect(() => v.identify(client(nodeId))).toThrow(ViewRefused);
      expect(() => v.identify(client(nodeId))).toThrow(refused);
    }
  });

  it("reads the Envoy types and its pod's weft.v1 view, from its group's cache", () => {
    const view = views({ namespace: 'demo', serviceAccount: 'echo' }).select(client('proxyless~demo/echo-a'));
    const seen = (typeUrl: string, name: string) =>
      view.filter?.({ typeUrl, name } as CachedResource) ?? true;
    expect(seen(ENVOY_TYPE_URL.listener, `${ECHO}:8080`)).toBe(true);
    expect(seen(ENVOY_TYPE_URL.cluster, `outbound|8080||${ECHO}`)).toBe(true);
    expect(seen(WEFT_TYPE_URL.workload, 'uid-client')).toBe(true);
    expect(seen(WEFT_TYPE_URL.authorization, 'demo/not-mine')).toBe(false);
    // Its server Listener (port 9000, PERMISSIVE) is in its group's cache, over the shared one.
    expect(view.cache).not.toBe(cache);
    expect(
      view.cache.get(ENVOY_TYPE_URL.listener, 'xds.weft.dev/grpc/lds/inbound/0.0.0.0:9000'),
    ).toBeDefined();
    // Pods with the same ports and modes share a group.
    const other = views({ namespace: 'demo', serviceAccount: 'echo' }).select(
      client('proxyless~demo/echo-b'),
    );
    expect(other.cache).toBe(view.cache);
    expect(servers.size).toBe(1);
  });
});

describe('ProxylessPublisher', () => {
  const plain = () =>
    snapshotOf(
      mesh().map((o) =>
        o.kind === 'Namespace' ? { ...o, metadata: { name: (o.metadata as Obj).name } } : o,
      ),
    );

  it('makes nothing while no workload runs proxyless, until a proxyless client connects', () => {
    const cache = new ResourceCache();
    const p = new ProxylessPublisher(cache);
    expect(p.publish(plain()).resources).toBe(0);
    expect(cache.size(ENVOY_TYPE_URL.listener)).toBe(0);
    expect(p.demand(plain())?.resources).toBe(16); // 4 services x (Cluster, load assignment, Listener, routes)
    expect(cache.size(ENVOY_TYPE_URL.listener)).toBe(4);
    expect(p.demand(plain())).toBeUndefined();
    expect(p.publish(plain()).changed).toBe(0);
  });

  it('removes what a new snapshot no longer has, and reports each refusal once', () => {
    const cache = new ResourceCache();
    const p = new ProxylessPublisher(cache);
    const least = dr('echo-v1', { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } });
    expect(p.publish(snapshotOf(mesh([least]))).newRefusals).toHaveLength(1);
    expect(p.publish(snapshotOf(mesh([least]))).newRefusals).toHaveLength(0);
    expect(p.refusals()).toHaveLength(1);
    const fewer = mesh().filter((o) => (o.metadata as Obj).name !== 'echo-v2');
    p.publish(snapshotOf(fewer));
    expect(p.refusals()).toEqual([]);
    expect(cache.get(ENVOY_TYPE_URL.cluster, `outbound|8080||${V2}`)).toBeUndefined();
    expect(cache.get(ENVOY_TYPE_URL.cluster, `outbound|8080||${V1}`)).toBeDefined();
  });
});

describe('ProxylessServerCaches', () => {
  it('keeps a group while a stream was given it, then drops it', () => {
    const cache = new ResourceCache();
    const servers = new ProxylessServerCaches(cache);
    const s = snapshotOf(mesh());
    const pod = s.workloads['uid-echo-a'];
    if (pod === undefined) throw new Error('no pod');
    servers.cacheFor(s, pod);
    const none = snapshotOf(mesh().filter((o) => o.kind !== 'Pod'));
    servers.prune(none);
    expect(servers.size).toBe(1); // given out since the last prune
    servers.prune(none);
    expect(servers.size).toBe(0);
  });
});
