import { compile, type MeshSnapshot } from '@weft/policy';
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
  waypointGateway,
} from '@weft/policy/testing';
import { describe, expect, it } from 'vitest';
import { Authorization } from '../gen/weft/v1/authorization.ts';
import { BackendPolicy } from '../gen/weft/v1/backend_policy.ts';
import { HttpRoutes } from '../gen/weft/v1/http_routes.ts';
import { Service } from '../gen/weft/v1/service.ts';
import { Waypoint } from '../gen/weft/v1/waypoint.ts';
import { Workload } from '../gen/weft/v1/workload.ts';
import { weftResourceName } from '../weft-resources.ts';
import {
  decodeDomain,
  fromProtoAuthorization,
  fromProtoBackendPolicy,
  fromProtoHttpRoutes,
  fromProtoService,
  fromProtoWaypoint,
  fromProtoWorkload,
  toProtoAuthorization,
  toProtoBackendPolicy,
  toProtoHttpRoutes,
  toProtoService,
  toProtoWaypoint,
  toProtoWorkload,
} from './index.ts';

/** Objects that exercise every field the conversion carries. */
function richObjects(): unknown[] {
  return [
    ...meshFixture(),
    namespace('edge', {
      labels: { 'weft.dev/dataplane-mode': 'ambient', 'weft.dev/use-waypoint': 'planned' },
    }),
    // A waypoint declared but not deployed: bindings without service or addresses.
    waypointGateway('planned', { namespace: 'edge', for: 'all' }),
    pod('dual', {
      namespace: 'edge',
      labels: { app: 'dual', 'service.istio.io/canonical-name': 'dual-app' },
      ip: '10.3.0.7',
      extraIps: ['fd00::7'],
      serviceAccount: 'dual',
      node: 'node-c',
      ready: false,
      ports: [
        { name: 'dns', containerPort: 5353, protocol: 'UDP' },
        { name: 'web', containerPort: 8080 },
      ],
    }),
    pod('bare', { namespace: 'edge', ip: null }),
    service('dual', {
      namespace: 'edge',
      clusterIP: 'fd00::100',
      ports: [
        { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' },
        { name: 'grpc-api', port: 9000, targetPort: 'web', appProtocol: 'grpc' },
        { port: 81, targetPort: 'missing' },
      ],
    }),
    service('headless', { namespace: 'edge', clusterIP: 'None', selector: {} }),
    peerAuthentication('strict-shop', { namespace: 'shop', mode: 'STRICT' }),
    peerAuthentication('web-ports', {
      namespace: 'shop',
      selector: { app: 'web' },
      mode: 'UNSET',
      portLevelMtls: { '8080': 'PERMISSIVE', '9090': 'DISABLE' },
    }),
    authorizationPolicy('mesh-deny', {
      namespace: 'weft-system',
      action: 'DENY',
      rules: [
        {
          from: [
            {
              source: {
                notNamespaces: ['trusted', 'kube-*'],
                ipBlocks: ['10.0.0.0/8', '2001:db8::/32', '1.2.3.4'],
              },
            },
          ],
          to: [{ operation: { ports: ['22'], notPaths: ['/public/*', '*.css', '*'] } }],
          when: [
            { key: 'source.ip', values: ['192.168.0.0/16'] },
            { key: 'request.headers[x-token]', notValues: ['*'] },
          ],
        },
      ],
    }),
    authorizationPolicy('web-allow', {
      namespace: 'shop',
      selector: { app: 'web' },
      rules: [
        {
          from: [
            {
              source: {
                principals: ['cluster.local/ns/legacy/sa/client', '*/sa/admin'],
                requestPrincipals: ['iss/*'],
              },
            },
          ],
          to: [
            {
              operation: {
                hosts: ['Web.Shop.svc.cluster.local', '*.example.com'],
                methods: ['GET', 'HEAD'],
                paths: ['/api/*'],
              },
            },
          ],
        },
        // Given but empty lists match nothing: kept apart from absent ones.
        {
          from: [{ source: { principals: [] } }],
          to: [{ operation: { notPorts: [] } }],
          when: [{ key: 'source.namespace', values: [] }],
        },
        {},
      ],
    }),
    authorizationPolicy('ns-audit', { namespace: 'shop', action: 'AUDIT' }),
    authorizationPolicy('waypoint-targets', {
      namespace: 'shop',
      targetRefs: [
        { kind: 'Service', name: 'web' },
        { kind: 'Gateway', name: 'waypoint' },
      ],
      rules: [
        { from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'], notRemoteIpBlocks: ['203.0.113.9'] } }] },
      ],
    }),
    httpRoute('web-split', {
      namespace: 'shop',
      service: 'web',
      port: 80,
      rules: [
        {
          name: 'canary',
          matches: [
            {
              path: { type: 'PathPrefix', value: '/api' },
              method: 'GET',
              headers: [
                { name: 'X-Canary', value: 'yes' },
                { type: 'RegularExpression', name: 'x-re', value: 'a.*' },
              ],
              queryParams: [{ name: 'debug', value: '1' }],
            },
          ],
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: 'X-A', value: '1' }], remove: ['x-b'] },
            },
            {
              type: 'ResponseHeaderModifier',
              responseHeaderModifier: { add: [{ name: 'x-c', value: '2' }] },
            },
            {
              type: 'URLRewrite',
              urlRewrite: {
                hostname: 'internal',
                path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' },
              },
            },
            { type: 'RequestMirror', requestMirror: { backendRef: { name: 'db', port: 5432 }, percent: 25 } },
          ],
          backendRefs: [
            { name: 'web', port: 80, weight: 90 },
            {
              name: 'web',
              port: 80,
              weight: 10,
              filters: [
                {
                  type: 'RequestHeaderModifier',
                  requestHeaderModifier: { add: [{ name: 'x-v', value: '2' }] },
                },
              ],
            },
            { name: 'nowhere', port: 80, weight: 0 },
          ],
          timeouts: { request: '3s', backendRequest: '1500ms' },
          retry: { attempts: 3, codes: [502, 503], backoff: '100ms' },
        },
        {
          matches: [{ path: { type: 'Exact', value: '/old' } }],
          filters: [
            {
              type: 'RequestRedirect',
              requestRedirect: {
                scheme: 'https',
                hostname: 'new.example.com',
                port: 8443,
                statusCode: 301,
                path: { type: 'ReplaceFullPath', replaceFullPath: '/new' },
              },
            },
          ],
        },
        { matches: [{ path: { type: 'RegularExpression', value: '/r/[0-9]+' } }], backendRefs: [] },
      ],
    }),
    service('api', {
      namespace: 'shop',
      clusterIP: '10.96.1.30',
      ports: [{ name: 'grpc', port: 9000, appProtocol: 'grpc' }],
    }),
    grpcRoute('api-route', {
      namespace: 'shop',
      service: 'api',
      rules: [
        {
          matches: [
            { method: { service: 'shop.Api', method: 'Get' } },
            { method: { type: 'RegularExpression', method: 'List.*' } },
          ],
          backendRefs: [{ name: 'api', port: 9000 }],
        },
      ],
    }),
    tcpRoute('db-route', {
      namespace: 'shop',
      service: 'db',
      rules: [{ backendRefs: [{ name: 'db', port: 5432 }] }],
    }),
    virtualService('web-vs', {
      namespace: 'legacy',
      hosts: ['web.shop.svc.cluster.local'],
      http: [
        {
          name: 'faults',
          match: [
            {
              uri: { prefix: '/Shop' },
              ignoreUriCase: true,
              method: { regex: 'GET|HEAD' },
              authority: { exact: 'web.shop' },
              headers: { 'x-user': { exact: 'tester' } },
              withoutHeaders: { 'x-skip': { prefix: 'y' } },
              queryParams: { q: { regex: '[a-z]+' } },
            },
          ],
          route: [
            {
              destination: { host: 'web.shop.svc.cluster.local', subset: 'v1', port: { number: 80 } },
              headers: { response: { set: { 'x-vs': '1' } } },
            },
          ],
          rewrite: { uriRegexRewrite: { match: '^/Shop/(.*)$', rewrite: '/\\1' }, authority: 'web' },
          timeout: '5s',
          retries: { attempts: 4, perTryTimeout: '250ms', retryOn: '5xx,reset,503' },
          fault: {
            delay: { fixedDelay: '1.5s', percentage: { value: 12.5 } },
            abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 1 } },
          },
          mirrors: [{ destination: { host: 'db.shop.svc.cluster.local' }, percentage: { value: 0.5 } }],
          headers: { request: { add: { 'x-from': 'vs' } } },
        },
        {
          route: [{ destination: { host: 'web.shop.svc.cluster.local' } }],
          fault: { abort: { httpStatus: 418 } },
        },
      ],
    }),
    destinationRule('web-dr', {
      namespace: 'shop',
      host: 'web',
      trafficPolicy: {
        loadBalancer: {
          consistentHash: { httpCookie: { name: 'session', path: '/', ttl: '1h' }, minimumRingSize: 1024 },
        },
        connectionPool: {
          tcp: {
            maxConnections: 100,
            connectTimeout: '2s',
            tcpKeepalive: { probes: 3, time: '60s', interval: '10s' },
            idleTimeout: '1h',
          },
          http: {
            http1MaxPendingRequests: 10,
            maxRetries: 2,
            idleTimeout: '30s',
            h2UpgradePolicy: 'UPGRADE',
            useClientProtocol: true,
          },
        },
        outlierDetection: { consecutive5xxErrors: 7, consecutiveLocalOriginFailures: 2, interval: '5s' },
        tls: {
          mode: 'ISTIO_MUTUAL',
          sni: 'web.shop',
          subjectAltNames: ['spiffe://cluster.local/ns/shop/sa/web'],
        },
        portLevelSettings: [
          { port: { number: 80 }, loadBalancer: { simple: 'LEAST_CONN' } },
          {
            port: { number: 8443 },
            tls: { mode: 'SIMPLE', insecureSkipVerify: true, credentialName: 'cert' },
          },
        ],
      },
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        {
          name: 'v2',
          labels: { version: 'v2' },
          trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } },
        },
      ],
    }),
    destinationRule('db-dr', {
      namespace: 'shop',
      host: 'db.shop.svc.cluster.local',
      trafficPolicy: {
        loadBalancer: { consistentHash: { httpQueryParameterName: 'k' } },
        connectionPool: { http: { maxConcurrentStreams: 5 } },
      },
    }),
    destinationRule('api-dr', {
      namespace: 'shop',
      host: 'api',
      trafficPolicy: {
        loadBalancer: { consistentHash: { httpHeaderName: 'X-Key' } },
        tls: { mode: 'DISABLE' },
      },
    }),
  ];
}

function richSnapshot(): MeshSnapshot {
  const result = compile(richObjects());
  expect(result.errors.map((e) => `${e.kind} ${e.name}: ${e.path}: ${e.message}`)).toEqual([]);
  return result.snapshot;
}

const snapshot = richSnapshot();

describe('round trip: domain -> proto -> bytes -> proto -> domain', () => {
  it('covers what the fixture promises', () => {
    expect(Object.keys(snapshot.workloads).length).toBeGreaterThanOrEqual(7);
    expect(
      Object.values(snapshot.workloads).some(
        (w) => w.waypoint !== undefined && w.waypoint.addresses.length === 0,
      ),
    ).toBe(true);
    expect(Object.values(snapshot.peerAuthentication).some((p) => Object.keys(p.ports).length > 0)).toBe(
      true,
    );
    expect(
      Object.values(snapshot.routes)
        .map((r) => r.protocol)
        .sort(),
    ).toEqual(expect.arrayContaining(['grpc', 'http', 'tcp']));
    expect(Object.keys(snapshot.backendPolicies)).toHaveLength(3);
    const waypoints = Object.values(snapshot.waypoints);
    expect(waypoints.some((w) => w.workloads.length > 0 && w.service !== undefined)).toBe(true);
    expect(waypoints.some((w) => w.workloads.length === 0 && w.addresses.length === 0)).toBe(true);
    expect(waypoints.some((w) => w.authorizationPolicies.length > 0)).toBe(true);
    expect(new Set(waypoints.map((w) => w.trafficType)).size).toBeGreaterThan(1);
  });

  it.each(Object.values(snapshot.waypoints).map((w) => [w.key, w] as const))('waypoint %s', (_key, wp) => {
    const proto = Waypoint.decode(Waypoint.encode(toProtoWaypoint(wp)).finish());
    expect(fromProtoWaypoint(proto)).toEqual({ ok: true, value: wp });
  });

  it.each(Object.values(snapshot.workloads).map((w) => [w.key, w] as const))(
    'workload %s',
    (_key, workload) => {
      const proto = Workload.decode(Workload.encode(toProtoWorkload(workload, snapshot)).finish());
      const back = fromProtoWorkload(proto);
      expect(back).toEqual({
        ok: true,
        value: { workload, peerAuthentication: snapshot.peerAuthentication[workload.uid] },
      });
    },
  );

  it.each(Object.values(snapshot.services).map((s) => [s.key, s] as const))('service %s', (_key, svc) => {
    const proto = Service.decode(Service.encode(toProtoService(svc, snapshot)).finish());
    expect(fromProtoService(proto)).toEqual({ ok: true, value: svc });
  });

  it.each(Object.values(snapshot.authorizationPolicies).map((p) => [p.key, p] as const))(
    'authorization %s',
    (_key, policy) => {
      const proto = Authorization.decode(Authorization.encode(toProtoAuthorization(policy)).finish());
      expect(fromProtoAuthorization(proto)).toEqual({ ok: true, value: policy });
    },
  );

  it.each(Object.values(snapshot.routes).map((r) => [r.key, r] as const))('routes %s', (_key, table) => {
    const proto = HttpRoutes.decode(HttpRoutes.encode(toProtoHttpRoutes(table)).finish());
    expect(fromProtoHttpRoutes(proto)).toEqual({ ok: true, value: table });
  });

  it.each(Object.values(snapshot.backendPolicies).map((b) => [b.key, b] as const))(
    'backend policy %s',
    (_key, policy) => {
      const proto = BackendPolicy.decode(BackendPolicy.encode(toProtoBackendPolicy(policy)).finish());
      expect(fromProtoBackendPolicy(proto)).toEqual({ ok: true, value: policy });
    },
  );

  it('fills the waypoint identity from the snapshot and the telemetry names from labels', () => {
    const web = snapshot.workloads['uid-shop-web-1'];
    expect(web).toBeDefined();
    const svc = snapshot.services['web.shop.svc.cluster.local'];
    const ref = svc && toProtoService(svc, snapshot).waypoint;
    expect(ref).toMatchObject({
      gateway: 'shop/waypoint',
      hostname: 'shop/waypoint.shop.svc.cluster.local',
      hbonePort: 15008,
    });
    expect(ref?.identity).toBe('spiffe://cluster.local/ns/shop/sa/waypoint');
    const dual = snapshot.workloads['uid-edge-dual'];
    expect(dual && toProtoWorkload(dual, snapshot)).toMatchObject({
      canonicalName: 'dual-app',
      canonicalRevision: 'latest',
    });
  });

  it('decodeDomain checks the wire, the name and the domain in one step', () => {
    const policy = snapshot.authorizationPolicies['shop/web-allow'];
    if (!policy) throw new Error('fixture');
    const proto = toProtoAuthorization(policy);
    const bytes = Authorization.encode(proto).finish();
    expect(decodeDomain('authorization', bytes, weftResourceName.authorization(proto))).toEqual({
      ok: true,
      value: policy,
    });
    expect(decodeDomain('authorization', bytes, 'shop/other')).toMatchObject({ ok: false });
  });
});

const workload0 = Object.values(snapshot.workloads).find((w) => w.key === 'uid-shop-web-1');
const service0 = snapshot.services['web.shop.svc.cluster.local'];
const authz0 = snapshot.authorizationPolicies['weft-system/mesh-deny'];
const routes0 = snapshot.routes['web.shop.svc.cluster.local:80'];
const backend0 = snapshot.backendPolicies['web.shop.svc.cluster.local'];
const waypoint0 = snapshot.waypoints['shop/waypoint'];
if (!workload0 || !service0 || !authz0 || !routes0 || !backend0 || !waypoint0)
  throw new Error('fixture incomplete');

type Mutator<T> = (m: T) => void;

describe('malformed protos are rejected with the field named', () => {
  const workloadCases: [string, Mutator<Workload>, string][] = [
    ['empty uid', (w) => (w.uid = ''), 'uid: empty'],
    ['bad address', (w) => (w.addresses = [new Uint8Array(3)]), 'addresses[0]: 3 bytes, want 4 or 16'],
    ['foreign identity', (w) => (w.identity = 'spiffe://cluster.local/ns/other/sa/web'), 'identity: '],
    [
      'not spiffe',
      (w) => (w.identity = 'cluster.local/ns/shop/sa/web'),
      'identity: "cluster.local/ns/shop/sa/web" does not start with spiffe://',
    ],
    [
      'not a workload ID',
      (w) => (w.identity = 'spiffe://cluster.local/ns/shop'),
      'identity: "spiffe://cluster.local/ns/shop" is not of the form',
    ],
    ['identity port', (w) => (w.identity = 'spiffe://cluster.local:1/ns/shop/sa/web'), 'has ":"'],
    ['unset mode', (w) => (w.dataPlaneMode = 0), 'data_plane_mode: 0 is not a known data plane mode'],
    ['unknown mode', (w) => (w.dataPlaneMode = 42 as never), 'data_plane_mode: 42'],
    [
      'port 0',
      (w) => (w.containerPorts = [{ name: 'x', port: 0, protocol: 'TCP' }]),
      'container_ports[0].port: 0 is not a port',
    ],
    [
      'port protocol',
      (w) => (w.containerPorts = [{ name: 'x', port: 1, protocol: 'ICMP' }]),
      'container_ports[0].protocol',
    ],
    ['mtls port', (w) => (w.portMtlsModes = { 70000: 1 }), 'port_mtls_modes[70000]'],
    ['mtls mode', (w) => (w.mtlsMode = 9 as never), 'mtls_mode: 9'],
    [
      'repeated policy',
      (w) => (w.authorizationPolicies = ['a/b', 'a/b']),
      'authorization_policies[1]: "a/b" repeated',
    ],
    [
      'waypoint gateway',
      (w) => (w.waypoint = { hbonePort: 0, identity: '', gateway: 'nogw' }),
      'waypoint.gateway: "nogw"',
    ],
  ];
  it.each(workloadCases)('workload: %s', (_n, mutate, error) => {
    const proto = toProtoWorkload(workload0, snapshot);
    mutate(proto);
    const r = fromProtoWorkload(Workload.decode(Workload.encode(proto).finish()));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(error);
  });

  const serviceCases: [string, Mutator<Service>, string][] = [
    ['empty hostname', (s) => (s.hostname = ''), 'hostname: empty'],
    [
      'vip bytes',
      (s) => (s.vips = [{ network: '', address: new Uint8Array(7) }]),
      'vips[0].address: 7 bytes',
    ],
    [
      'app protocol',
      (s) => ((s.ports[0] as { appProtocol: string }).appProtocol = 'smtp'),
      'ports[0].app_protocol',
    ],
    [
      'both target ports',
      (s) => ((s.ports[0] as { targetPort: number }).targetPort = 8080),
      'ports[0].target_port: set together with target_port_name',
    ],
    [
      'endpoint port',
      (s) => ((s.endpoints[0] as { ports: Record<number, number> }).ports = { 81: 8080 }),
      'endpoints[0].ports[81]: 81 is not a port of the service',
    ],
    [
      'endpoint address',
      (s) => ((s.endpoints[0] as { address: Uint8Array }).address = new Uint8Array()),
      'endpoints[0].address: 0 bytes',
    ],
    [
      'endpoint twice',
      (s) => s.endpoints.push(s.endpoints[0] as never),
      'endpoints[2].workload_uid: uid-shop-web-1 listed twice',
    ],
  ];
  it.each(serviceCases)('service: %s', (_n, mutate, error) => {
    const proto = toProtoService(service0, snapshot);
    mutate(proto);
    const r = fromProtoService(Service.decode(Service.encode(proto).finish()));
    expect(r).toEqual({ ok: false, error: expect.stringContaining(error) });
  });

  const authzCases: [string, Mutator<Authorization>, string][] = [
    ['unset action', (a) => (a.action = 0), 'action: 0 is not a known action'],
    ['unset scope', (a) => (a.scope = 0), 'scope: 0 is not a known scope'],
    ['selector on mesh scope', (a) => (a.selector = { app: 'x' }), 'selector: set for scope mesh'],
    ['targets without refs', (a) => (a.scope = 4), 'target_refs: empty for scope targets'],
    [
      'cidr bytes',
      (a) => ((a.rules[0]?.from[0]?.ipBlocks[0] as { address: Uint8Array }).address = new Uint8Array(5)),
      'rules[0].from[0].ip_blocks[0].address: 5 bytes',
    ],
    [
      'cidr prefix',
      (a) => ((a.rules[0]?.from[0]?.ipBlocks[0] as { prefixLen: number }).prefixLen = 33),
      'rules[0].from[0].ip_blocks[0].prefix_len: 33 is outside 0..32',
    ],
    [
      'regex principal',
      (a) => a.rules[0]?.from[0]?.notNamespaces.push({ regex: '.*', ignoreCase: false }),
      'rules[0].from[0].not_namespaces[2].regex: regular expressions are not allowed here',
    ],
    [
      'empty oneof',
      (a) => a.rules[0]?.from[0]?.notNamespaces.push({ ignoreCase: false }),
      'rules[0].from[0].not_namespaces[2]: none of exact',
    ],
    [
      'two oneof members',
      (a) => a.rules[0]?.to[0]?.notPaths.push({ exact: 'a', prefix: 'b', ignoreCase: false }),
      'rules[0].to[0].not_paths[3]: more than one of',
    ],
    ['port 0', (a) => a.rules[0]?.to[0]?.ports.push(0), 'rules[0].to[0].ports[1]: 0 is not a port'],
    [
      'empty_fields lie',
      (a) => a.rules[0]?.to[0]?.emptyFields.push('ports'),
      'rules[0].to[0].empty_fields[0]: ports is listed as empty but has values',
    ],
    [
      'empty_fields name',
      (a) => a.rules[0]?.to[0]?.emptyFields.push('bogus'),
      'rules[0].to[0].empty_fields[0]: "bogus" is not a list field',
    ],
    [
      'condition without values',
      (a) => a.rules[0]?.when.push({ key: 'source.ip', values: [], notValues: [], emptyFields: [] }),
      'rules[0].when[2]: neither values nor not_values given',
    ],
    [
      'target kind',
      (a) => {
        a.scope = 4;
        a.targetRefs = [{ group: '', kind: 'Pod', name: 'x', namespace: 'shop' }];
      },
      'target_refs[0].kind: "Pod" is not Gateway or Service',
    ],
  ];
  it.each(authzCases)('authorization: %s', (_n, mutate, error) => {
    const proto = toProtoAuthorization(authz0);
    mutate(proto);
    const r = fromProtoAuthorization(Authorization.decode(Authorization.encode(proto).finish()));
    expect(r).toEqual({ ok: false, error: expect.stringContaining(error) });
  });

  const routeCases: [string, Mutator<HttpRoutes>, string][] = [
    ['port 0', (r) => (r.port = 0), 'port: 0 is not a port'],
    ['protocol', (r) => (r.protocol = 'udp'), 'protocol: "udp"'],
    ['missing source', (r) => delete (r.rules[0] as { source?: unknown }).source, 'rules[0].source: missing'],
    [
      'bad regex',
      (r) => ((r.rules[0]?.matches[0] as { path: unknown }).path = { regex: '(', ignoreCase: false }),
      'rules[0].matches[0].path.regex: "(" is not a regular expression',
    ],
    [
      'two path kinds',
      (r) =>
        ((r.rules[0]?.matches[0] as { path: unknown }).path = {
          exact: '/a',
          prefix: '/b',
          ignoreCase: false,
        }),
      'rules[0].matches[0].path: more than one of',
    ],
    [
      'grpc method field',
      (r) => ((r.rules[0]?.matches[0] as { grpcService: string }).grpcService = 'a.B'),
      'rules[0].matches[0].grpc_service',
    ],
    [
      'suffix header',
      (r) =>
        r.rules[0]?.matches[0]?.headers.push({
          name: 'x',
          value: { suffix: 'a', ignoreCase: false },
          invert: false,
        }),
      '.value.suffix: not allowed here',
    ],
    [
      'empty filter',
      (r) => r.rules[0]?.filters.push({}),
      'rules[0].filters[4]: none of the filter kinds is set',
    ],
    [
      'filter twice',
      (r) => r.rules[0]?.filters.push({ requestHeaderModifier: { set: [], add: [], remove: [] } }),
      'rules[0].filters[4].requestHeaderModifier: given twice',
    ],
    [
      'redirect on backend',
      (r) =>
        r.rules[0]?.backends[0]?.filters.push({
          requestRedirect: { scheme: '', hostname: 'x', port: 0, statusCode: 0 },
        }),
      'rules[0].backends[0].filters[0]: requestRedirect is not allowed on a backend',
    ],
    [
      'mirror percent',
      (r) => ((r.rules[0]?.filters[3]?.requestMirror as { percent: number }).percent = 101),
      'rules[0].filters[3].request_mirror.percent: 101 is outside 0..100',
    ],
    [
      'negative duration',
      (r) => ((r.rules[0] as { requestTimeout: unknown }).requestTimeout = { seconds: -1, nanos: 0 }),
      'rules[0].request_timeout: negative or malformed duration',
    ],
    [
      'backoff half',
      (r) => delete (r.rules[0] as { retry: { maxBackoff?: unknown } }).retry.maxBackoff,
      'rules[0].retry.max_backoff: backoff and max_backoff go together',
    ],
  ];
  it.each(routeCases)('routes: %s', (_n, mutate, error) => {
    const proto = toProtoHttpRoutes(routes0);
    const canary = proto.rules.findIndex((r) => r.ruleName === 'canary');
    proto.rules = [proto.rules[canary] as never, ...proto.rules.filter((_r, i) => i !== canary)];
    mutate(proto);
    const r = fromProtoHttpRoutes(HttpRoutes.decode(HttpRoutes.encode(proto).finish()));
    expect(r).toEqual({ ok: false, error: expect.stringContaining(error) });
  });

  const backendCases: [string, Mutator<BackendPolicy>, string][] = [
    ['empty hostname', (b) => (b.hostname = ''), 'hostname: empty'],
    [
      'two hash keys',
      (b) => ((b.policy?.loadBalancer?.consistentHash as { httpHeaderName?: string }).httpHeaderName = 'x'),
      'policy.load_balancer.consistent_hash: more than one of the hash keys',
    ],
    [
      'simple and hash',
      (b) => ((b.policy?.loadBalancer as { simple: number }).simple = 1),
      'policy.load_balancer.simple: set together with consistent_hash',
    ],
    [
      'tls mode',
      (b) => ((b.policy?.tls as { mode: number }).mode = 0),
      'policy.tls.mode: 0 is not a known TLS mode',
    ],
    [
      'h2 upgrade',
      (b) => ((b.policy?.connectionPool as { h2UpgradePolicy: string }).h2UpgradePolicy = 'SOMETIMES'),
      'policy.connection_pool.h2_upgrade_policy',
    ],
    [
      'outlier interval',
      (b) => delete (b.policy as { outlierDetection: { interval?: unknown } }).outlierDetection.interval,
      'policy.outlier_detection.interval: missing',
    ],
    ['port twice', (b) => b.portPolicies.push(b.portPolicies[0] as never), 'port 80 given twice'],
    ['subset twice', (b) => b.subsets.push(b.subsets[0] as never), 'subsets[2].name: v1 given twice'],
  ];
  it.each(backendCases)('backend policy: %s', (_n, mutate, error) => {
    const proto = toProtoBackendPolicy(backend0);
    mutate(proto);
    const r = fromProtoBackendPolicy(BackendPolicy.decode(BackendPolicy.encode(proto).finish()));
    expect(r).toEqual({ ok: false, error: expect.stringContaining(error) });
  });

  const waypointCases: [string, Mutator<Waypoint>, string][] = [
    ['empty name', (w) => (w.name = ''), 'name: empty'],
    ['empty namespace', (w) => (w.namespace = ''), 'namespace: empty'],
    ['slash in name', (w) => (w.name = 'a/b'), 'name: "shop/a/b" is not "<namespace>/<name>"'],
    ['unset traffic type', (w) => (w.trafficType = 0), 'traffic_type: 0 is not a known traffic type'],
    ['unknown traffic type', (w) => (w.trafficType = 9 as never), 'traffic_type: 9'],
    [
      'listener port',
      (w) => w.listeners.push({ name: 'x', port: 0, protocol: 'HBONE' }),
      'listeners[1].port: 0 is not a port',
    ],
    [
      'listener protocol',
      (w) => w.listeners.push({ name: 'x', port: 1, protocol: '' }),
      'listeners[1].protocol: empty',
    ],
    [
      'address bytes',
      (w) => w.addresses.push({ network: '', address: new Uint8Array(5) }),
      '.address: 5 bytes',
    ],
    ['empty workload', (w) => w.workloads.push(''), 'workloads[1]: empty'],
    ['workload twice', (w) => w.workloads.push(w.workloads[0] as string), 'workloads[1]: "uid-'],
    [
      'policy twice',
      (w) => w.authorizationPolicies.push(w.authorizationPolicies[0] as string),
      'authorization_policies[1]: "shop/',
    ],
  ];
  it.each(waypointCases)('waypoint: %s', (_n, mutate, error) => {
    const proto = toProtoWaypoint(waypoint0);
    mutate(proto);
    const r = fromProtoWaypoint(Waypoint.decode(Waypoint.encode(proto).finish()));
    expect(r).toEqual({ ok: false, error: expect.stringContaining(error) });
  });

  it('a waypoint resource is checked on the wire and by name', () => {
    const proto = toProtoWaypoint(waypoint0);
    const bytes = Waypoint.encode(proto).finish();
    expect(decodeDomain('waypoint', bytes, 'shop/waypoint')).toEqual({ ok: true, value: waypoint0 });
    expect(decodeDomain('waypoint', bytes, 'shop/other')).toMatchObject({ ok: false });
    const bad = Waypoint.encode({ ...proto, listeners: [{ name: 'x', port: 70000, protocol: 'HBONE' }] });
    expect(decodeDomain('waypoint', bad.finish(), 'shop/waypoint')).toEqual({
      ok: false,
      error: 'listeners[0].port: 70000 out of range',
    });
  });

  it('garbage bytes are a value, not a throw', () => {
    for (const kind of [
      'workload',
      'service',
      'authorization',
      'httpRoutes',
      'backendPolicy',
      'waypoint',
    ] as const) {
      const r = decodeDomain(kind, new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x01]), 'x');
      expect(r.ok).toBe(false);
    }
  });
});
