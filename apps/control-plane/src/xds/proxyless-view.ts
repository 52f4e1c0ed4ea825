// What a proxyless gRPC client (@grpc/grpc-js-xds 1.14.1 inside the app, `proxyless~<ns>/<pod>`)
// is told, as Envoy v3 resources, from the one MeshSnapshot. Names are the proxyless contract's:
//   Listener / RouteConfiguration  `<svc>.<ns>.svc.<domain>:<port>` (the channel target
//                                  `xds:///<fqdn>:<port>`), one virtual host whose domains are
//                                  every spelling of the service a target may use
//   Cluster / ClusterLoadAssignment  `outbound|<port>|<subset>|<fqdn>` (EDS service_name = name)
//   server Listener                `xds.weft.dev/grpc/lds/inbound/0.0.0.0:<port>` (per pod)
// Route tables come from GRPCRoute, HTTPRoute and VirtualService alike (they compile to the same
// RouteTable); DestinationRules give load balancing, outlier detection, circuit breaking and TLS.
//
// A service bound to a waypoint is reached THROUGH that waypoint, as from every other mode: its
// L7 policies (targetRefs on the Service or the Gateway) are enforced there only, and the
// destination's ztunnel admits only the waypoint. grpc-js cannot speak HBONE, so the waypoint
// also listens for proxyless callers with mesh mTLS on 15009 (packages/waypoint, proxyless.ts)
// and takes the service from each request's :authority (the channel target's). Such a service's
// RouteConfiguration is one catch-all route to its one cluster `outbound|<port>||<fqdn>`, whose
// endpoints are the waypoint's ready pods at <podIP>:15009 and whose SANs are the waypoint's
// identities: the waypoint applies routes, retries, timeouts, load balancing and DestinationRules,
// so nothing of them is sent or refused here. A route of another service may not send to a
// waypoint-bound backend (the call would carry the first service's :authority, which the
// backend's waypoint refuses): such a backend is refused and left out of the split.
// Services without a waypoint get their routes applied client-side and their endpoints dialled
// directly (as Istio's proxyless clients do).
//
// What grpc-js-xds cannot do is never dropped silently: each such part of an object yields a
// refusal naming the object, the field and why; the rest of the object is still served.
import {
  type BackendPolicy,
  DEFAULT_RETRY_POLICY,
  type HeaderMatch,
  type MeshSnapshot,
  type MtlsMode,
  type PathMatch,
  type RouteRule,
  type RouteTable,
  type Service,
  type TrafficPolicy,
  type Workload,
} from '@weft/policy';
import {
  type ClusterLb,
  type ClusterLoadAssignment,
  type Cluster as EnvoyCluster,
  type Listener,
  type MeshFault,
  type MeshHeaderMatch,
  type MeshPathMatch,
  type MeshRetry,
  type MeshRoute,
  meshClientListener,
  meshCluster,
  meshLoadAssignment,
  meshRouteConfiguration,
  meshServerListener,
  type OutlierDetectionOptions,
  type RouteConfiguration,
} from '@weft/xds-protocol/envoy';

/** The bootstrap certificate provider instance the SDK writes (identity + roots). */
export const CERTIFICATE_PROVIDER = 'weft';
/** `server_listener_resource_name_template` without its `%s`. */
export const SERVER_LISTENER_PREFIX = 'xds.weft.dev/grpc/lds/inbound/';
/** The port a waypoint serves proxyless callers on (mesh mTLS + HTTP/2). */
export const WAYPOINT_PROXYLESS_PORT = 15009;
/** Where every refusal says it comes from. */
export const GRPC_XDS = 'grpc-js-xds 1.14.1';
const UNSUPPORTED = `not supported by proxyless gRPC clients (${GRPC_XDS})`;

/** One part of one object that proxyless clients do not get, and why. */
export interface ProxylessRefusal {
  /** `<Kind> <namespace>/<name>` */
  readonly object: string;
  /** The field, as a path in the object (`spec.rules[0].filters`). */
  readonly field: string;
  readonly reason: string;
}

export interface ProxylessClientConfig {
  readonly listeners: readonly Listener[];
  readonly routeConfigurations: readonly RouteConfiguration[];
  readonly clusters: readonly EnvoyCluster[];
  readonly loadAssignments: readonly ClusterLoadAssignment[];
  readonly refusals: readonly ProxylessRefusal[];
}

/** gRPC status names (as GRPCRoute / VirtualService write them) -> codes. */
const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** The retry_on conditions grpc-js-xds acts on (gRFC A44); it ignores every other one. */
const GRPC_RETRY_ON = new Set([
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);
/** grpc-js caps attempts (first try included) at 5 unless the app raises the limit. */
const GRPC_MAX_ATTEMPTS = 5;

export function clusterName(host: string, port: number, subset = ''): string {
  return `outbound|${port}|${subset}|${host}`;
}

export function listenerName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** Every authority a channel target for the service may carry. */
export function serviceDomains(
  service: Pick<Service, 'name' | 'namespace' | 'hostname'>,
  port: number,
): string[] {
  const names = [service.hostname, service.name, `${service.name}.${service.namespace}`];
  return names.flatMap((n) => [n, `${n}:${port}`]);
}

class Refusals {
  private readonly seen = new Map<string, ProxylessRefusal>();
  add(object: string, field: string, reason: string): void {
    const key = `${object}\n${field}\n${reason}`;
    if (!this.seen.has(key)) this.seen.set(key, { object, field, reason });
  }
  list(): ProxylessRefusal[] {
    return [...this.seen.values()].sort((a, b) =>
      a.object === b.object
        ? a.field < b.field
          ? -1
          : a.field > b.field
            ? 1
            : 0
        : a.object < b.object
          ? -1
          : 1,
    );
  }
}

// --- regexes: grpc-js-xds compiles safe_regex with RE2 and throws at call time on what RE2
// rejects. @weft/policy admits only regexes JavaScript compiles and already refuses look-around
// and back-references; of what remains, RE2 rejects the empty classes `[]` and `[^]`.
const RE2_GAPS = /(^|[^\\])\[\^?\]/;

export function re2Problem(pattern: string): string | undefined {
  return RE2_GAPS.test(pattern)
    ? 'uses an empty character class ([] or [^]), which RE2 (used by grpc-js-xds) cannot compile'
    : undefined;
}

// --- routes ---

function objectName(source: RouteRule['source']): string {
  return `${source.kind} ${source.namespace}/${source.name}`;
}

function ruleField(source: RouteRule['source']): string {
  return source.kind === 'VirtualService' ? `spec.http[${source.rule}]` : `spec.rules[${source.rule}]`;
}

/** A PathMatch as the paths grpc-js-xds matches; Gateway PathPrefix becomes exact + prefix "/". */
function pathMatches(p: PathMatch): MeshPathMatch[] {
  const ignoreCase = p.ignoreCase === true ? { ignoreCase: true } : {};
  switch (p.type) {
    case 'exact':
      return [{ type: 'exact', value: p.value, ...ignoreCase }];
    case 'prefix':
      return [{ type: 'prefix', value: p.value, ...ignoreCase }];
    case 'path-prefix': {
      // element-wise prefix (path_separated_prefix is NACKed): "/foo" is "/foo" or "/foo/..."
      const trimmed = p.value.replace(/\/+$/, '');
      if (trimmed === '') return [{ type: 'prefix', value: '/', ...ignoreCase }];
      return [
        { type: 'exact', value: trimmed, ...ignoreCase },
        { type: 'prefix', value: `${trimmed}/`, ...ignoreCase },
      ];
    }
    case 'regex':
      return [{ type: 'regex', value: p.value, ...(p.ignoreCase === true ? { ignoreCase: true } : {}) }];
    default: {
      const never: never = p.type;
      return never;
    }
  }
}

function headerMatch(h: HeaderMatch): MeshHeaderMatch {
  return {
    name: h.name,
    type: h.type,
    ...(h.value === undefined ? {} : { value: h.value }),
    ...(h.invert === true ? { invert: true } : {}),
  };
}

function convertRetry(
  rule: RouteRule,
  refuse: (field: string, reason: string) => void,
): MeshRetry | undefined {
  const r = rule.retries;
  if (r === undefined || r.attempts <= 0) return undefined;
  const isDefault = JSON.stringify(r) === JSON.stringify(DEFAULT_RETRY_POLICY);
  const kept = r.retryOn.filter((c) => GRPC_RETRY_ON.has(c));
  const dropped = r.retryOn.filter((c) => !GRPC_RETRY_ON.has(c));
  // The mesh default (Istio's) is translated to its gRPC part without a word; what a user wrote
  // and a gRPC client cannot honour is refused by name.
  if (!isDefault) {
    if (dropped.length > 0) {
      refuse(
        'retries.retryOn',
        `conditions ${dropped.join(', ')} ${UNSUPPORTED}: only gRPC status conditions (${[...GRPC_RETRY_ON].join(', ')}) are retried`,
      );
    }
    if (r.perTryTimeoutMs !== undefined) {
      refuse(
        'retries.perTryTimeout',
        `per-try timeouts are ${UNSUPPORTED} (gRFC A44 ignores per_try_timeout)`,
      );
    }
    if (r.attempts + 1 > GRPC_MAX_ATTEMPTS) {
      refuse(
        'retries.attempts',
        `${r.attempts} retries: grpc-js caps a call at ${GRPC_MAX_ATTEMPTS} attempts unless the app raises grpc-node.retry_max_attempts_limit`,
      );
    }
  }
  if (kept.length === 0) return undefined;
  return {
    retryOn: kept,
    numRetries: r.attempts,
    ...(r.backoff === undefined ? {} : { backoff: { baseMs: r.backoff.baseMs, maxMs: r.backoff.maxMs } }),
  };
}

function convertFault(
  rule: RouteRule,
  refuse: (field: string, reason: string) => void,
): MeshFault | undefined {
  const f = rule.fault;
  if (f === undefined) return undefined;
  const out: MeshFault = {};
  if (f.delay !== undefined) out.delay = { delayMs: f.delay.delayMs, percent: f.delay.percent };
  if (f.abort !== undefined) {
    if (f.abort.grpcStatus !== undefined) {
      const code = GRPC_CODES[f.abort.grpcStatus.toUpperCase()];
      if (code === undefined)
        refuse('fault.abort.grpcStatus', `unknown gRPC status ${JSON.stringify(f.abort.grpcStatus)}`);
      else out.abort = { grpcStatus: code, percent: f.abort.percent };
    } else if (f.abort.httpStatus !== undefined) {
      out.abort = { httpStatus: f.abort.httpStatus, percent: f.abort.percent };
    }
  }
  return out.delay === undefined && out.abort === undefined ? undefined : out;
}

/** Ring-hash header keys of the clusters a rule sends to (A42: header hash policies only). */
function hashHeadersFor(names: readonly string[], lbs: ReadonlyMap<string, ClusterLbChoice>): string[] {
  const headers = new Set<string>();
  for (const n of names) {
    const h = lbs.get(n)?.hashHeader;
    if (h !== undefined) headers.add(h);
  }
  return [...headers];
}

function convertRule(
  table: RouteTable,
  rule: RouteRule,
  snapshot: MeshSnapshot,
  lbs: ReadonlyMap<string, ClusterLbChoice>,
  refusals: Refusals,
): MeshRoute[] {
  const object = objectName(rule.source);
  const base = ruleField(rule.source);
  const refuse = (field: string, reason: string) => refusals.add(object, `${base}.${field}`, reason);

  const f = rule.filters;
  const unsupportedFilters = [
    f.requestHeaders !== undefined ? 'request header modifiers' : undefined,
    f.responseHeaders !== undefined ? 'response header modifiers' : undefined,
    f.rewrite !== undefined ? 'rewrites' : undefined,
    f.mirrors !== undefined && f.mirrors.length > 0 ? 'mirrors' : undefined,
  ].filter((x): x is string => x !== undefined);
  if (unsupportedFilters.length > 0) {
    refuse('filters', `${unsupportedFilters.join(', ')} ${UNSUPPORTED}; the rule is served without them`);
  }
  if (f.redirect !== undefined) {
    refuse('filters.redirect', `redirects are ${UNSUPPORTED}; the rule is not served`);
    return [];
  }
  if (rule.backends.some((b) => b.requestHeaders !== undefined || b.responseHeaders !== undefined)) {
    refuse('backendRefs.filters', `per-backend header modifiers are ${UNSUPPORTED}`);
  }
  if (rule.timeouts?.perTryMs !== undefined && rule.retries?.perTryTimeoutMs === undefined) {
    refuse('timeouts.backendRequest', `per-try timeouts are ${UNSUPPORTED}`);
  }

  const clusters: { name: string; weight: number }[] = [];
  for (const b of rule.backends) {
    if (b.unresolved !== undefined) {
      refuse('backendRefs', `backend ${b.host} is unresolved (${b.unresolved}); left out of the split`);
      continue;
    }
    if (b.weight <= 0) continue;
    const port = b.port ?? table.port;
    const target = snapshot.services[b.host];
    if (target === undefined) {
      refuse('backendRefs', `backend ${b.host} is not a known service; left out of the split`);
      continue;
    }
    if (target.waypoint !== undefined) {
      refuse(
        'backendRefs',
        `backend ${b.host} is served by waypoint ${target.waypoint.key}, which proxyless clients reach with the :authority of ${table.host} only; left out of the split`,
      );
      continue;
    }
    if (!target.ports.some((p) => p.port === port && p.protocol === 'TCP')) {
      refuse('backendRefs', `backend ${b.host} has no TCP port ${port}; left out of the split`);
      continue;
    }
    const subset = b.subset;
    if (subset !== undefined && !snapshot.backendPolicies[b.host]?.subsets.some((s) => s.name === subset)) {
      refuse(
        'backendRefs',
        `backend ${b.host} has no subset ${subset} in a DestinationRule; left out of the split`,
      );
      continue;
    }
    clusters.push({ name: clusterName(b.host, port, b.subset ?? ''), weight: b.weight });
  }
  if (clusters.length === 0) {
    refuse('backendRefs', 'no backend with weight > 0 to send to; the rule is not served');
    return [];
  }

  const retry = convertRetry(rule, refuse);
  const fault = convertFault(rule, refuse);
  const hashHeaders = hashHeadersFor(
    clusters.map((c) => c.name),
    lbs,
  );
  const common: Omit<MeshRoute, 'match'> = {
    clusters,
    ...(rule.timeouts?.requestMs === undefined ? {} : { timeoutMs: rule.timeouts.requestMs }),
    ...(retry === undefined ? {} : { retry }),
    ...(fault === undefined ? {} : { fault }),
    ...(hashHeaders.length === 0 ? {} : { hashHeaders }),
  };

  const matches = rule.matches.length === 0 ? [{}] : rule.matches;
  const out: MeshRoute[] = [];
  matches.forEach((m, i) => {
    const field = `matches[${i}]`;
    if (m.method !== undefined && m.method.toUpperCase() !== 'POST') {
      refuse(
        `${field}.method`,
        `gRPC calls are always POST; a ${m.method} match never matches and is not served`,
      );
      return;
    }
    if (m.queryParams !== undefined && m.queryParams.length > 0) {
      refuse(`${field}.queryParams`, `query parameter matches are ${UNSUPPORTED}; the match is not served`);
      return;
    }
    if (m.authority !== undefined) {
      refuse(`${field}.authority`, `authority matches are ${UNSUPPORTED}; the match is not served`);
      return;
    }
    if (m.port !== undefined && m.port !== table.port) return;
    const headers: MeshHeaderMatch[] = [];
    for (const h of m.headers ?? []) {
      if (h.name.startsWith(':') || h.name.endsWith('-bin')) {
        refuse(`${field}.headers`, `header ${h.name} is not visible to grpc-js-xds route matching`);
        return;
      }
      if (h.type === 'regex') {
        const problem = re2Problem(h.value ?? '');
        if (problem !== undefined) {
          refuse(`${field}.headers`, `regex ${JSON.stringify(h.value)} ${problem}; the match is not served`);
          return;
        }
      }
      headers.push(headerMatch(h));
    }
    if (m.path?.type === 'regex') {
      const problem = re2Problem(m.path.value);
      if (problem !== undefined) {
        refuse(`${field}.path`, `regex ${JSON.stringify(m.path.value)} ${problem}; the match is not served`);
        return;
      }
    }
    const paths: (MeshPathMatch | undefined)[] = m.path === undefined ? [undefined] : pathMatches(m.path);
    for (const path of paths) {
      out.push({
        match: { ...(path === undefined ? {} : { path }), ...(headers.length === 0 ? {} : { headers }) },
        ...common,
      });
    }
  });
  return out;
}

// --- clusters ---

interface ClusterLbChoice {
  readonly lb: ClusterLb;
  readonly hashHeader?: string;
}

function policyFor(bp: BackendPolicy | undefined, port: number, subset: string): TrafficPolicy | undefined {
  if (bp === undefined) return undefined;
  if (subset !== '') return bp.subsets.find((s) => s.name === subset)?.trafficPolicy;
  return bp.ports[String(port)] ?? bp.trafficPolicy;
}

function lbChoice(
  tp: TrafficPolicy | undefined,
  refuse: (field: string, reason: string) => void,
): ClusterLbChoice {
  const lb = tp?.loadBalancer;
  if (lb === undefined) return { lb: { type: 'round-robin' } };
  switch (lb.type) {
    case 'round-robin':
      return { lb: { type: 'round-robin' } };
    case 'least-request':
      refuse(
        'loadBalancer.simple',
        `LEAST_REQUEST is ${UNSUPPORTED} (gRFC A48 is not implemented); ROUND_ROBIN is used`,
      );
      return { lb: { type: 'round-robin' } };
    case 'random':
    case 'passthrough':
      refuse(
        'loadBalancer.simple',
        `${lb.type === 'random' ? 'RANDOM' : 'PASSTHROUGH'} is ${UNSUPPORTED}; ROUND_ROBIN is used`,
      );
      return { lb: { type: 'round-robin' } };
    case 'consistent-hash': {
      const ring: ClusterLb = {
        type: 'ring-hash',
        ...(lb.minimumRingSize === undefined
          ? {}
          : { minimumRingSize: Math.min(lb.minimumRingSize, 8_388_608) }),
      };
      if ('header' in lb.key) return { lb: ring, hashHeader: lb.key.header.toLowerCase() };
      const what =
        'cookie' in lb.key ? 'httpCookie' : 'sourceIp' in lb.key ? 'useSourceIp' : 'httpQueryParameterName';
      refuse(
        `loadBalancer.consistentHash.${what}`,
        `hashing on ${what} is ${UNSUPPORTED} (gRFC A42 hashes headers only); the ring hashes at random`,
      );
      return { lb: ring };
    }
    default: {
      const never: never = lb;
      return never;
    }
  }
}

function outlier(tp: TrafficPolicy | undefined, refuse: (field: string, reason: string) => void) {
  const od = tp?.outlierDetection;
  if (od === undefined) return undefined;
  const out: OutlierDetectionOptions = {
    intervalMs: od.intervalMs,
    baseEjectionTimeMs: od.baseEjectionTimeMs,
    maxEjectionPercent: od.maxEjectionPercent,
    // Istio's outlier detection has no success-rate ejection; Envoy (and grpc-js) enable it by
    // default, so it is switched off to keep the mesh's meaning.
    enforcingSuccessRate: 0,
    ...(od.consecutive5xxErrors === undefined ? {} : { consecutive5xx: od.consecutive5xxErrors }),
  };
  const consecutive = [
    od.consecutive5xxErrors !== undefined ? 'consecutive5xxErrors' : undefined,
    od.consecutiveGatewayErrors !== undefined ? 'consecutiveGatewayErrors' : undefined,
    od.consecutiveLocalOriginFailures !== undefined ? 'consecutiveLocalOriginFailures' : undefined,
  ].filter((x): x is string => x !== undefined);
  if (consecutive.length > 0) {
    refuse(
      `outlierDetection.${consecutive.join(',')}`,
      `ejection on consecutive errors is ${UNSUPPORTED} (gRFC A50 ejects by success rate and failure percentage only); interval and ejection times are sent, no host is ejected for consecutive errors`,
    );
  }
  return out;
}

function maxRequests(tp: TrafficPolicy | undefined, refuse: (field: string, reason: string) => void) {
  const cp = tp?.connectionPool;
  if (cp === undefined) return undefined;
  const other: string[] = [];
  for (const [k, v] of Object.entries(cp.tcp ?? {})) if (v !== undefined) other.push(`tcp.${k}`);
  for (const [k, v] of Object.entries(cp.http ?? {}))
    if (v !== undefined && k !== 'http2MaxRequests') other.push(`http.${k}`);
  if (other.length > 0) {
    refuse(
      `connectionPool.${other.join(',')}`,
      `${UNSUPPORTED}: gRFC A32 circuit breaking has max_requests (http2MaxRequests) only`,
    );
  }
  return cp.http?.http2MaxRequests;
}

/** The SPIFFE identities behind a set of endpoints, sorted. */
function identities(snapshot: MeshSnapshot, uids: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const uid of uids) {
    const id = snapshot.workloads[uid]?.identity;
    if (id !== undefined && id !== '') out.add(id);
  }
  return [...out].sort();
}

function tlsFor(
  snapshot: MeshSnapshot,
  tp: TrafficPolicy | undefined,
  uids: readonly string[],
  refuse: (field: string, reason: string) => void,
) {
  const mode = tp?.tls?.mode;
  if (mode === 'DISABLE') return undefined;
  if (mode === 'SIMPLE' || mode === 'MUTUAL') {
    refuse(
      'tls.mode',
      `${mode} (TLS with credentials outside the mesh) is ${UNSUPPORTED} (certificates come from the mesh certificate provider only); mesh mTLS is used`,
    );
  }
  // Out-of-mesh destinations speak plaintext, as they do to the other data planes.
  const known = uids.map((u) => snapshot.workloads[u]).filter((w): w is Workload => w !== undefined);
  if (known.length > 0 && known.length === uids.length && known.every((w) => w.mode === 'none'))
    return undefined;
  const sans = identities(snapshot, uids);
  return sans.length > 0
    ? { instance: CERTIFICATE_PROVIDER, exactSans: sans }
    : { instance: CERTIFICATE_PROVIDER, prefixSans: [`spiffe://${snapshot.trustDomain}/`] };
}

/** Whether a snapshot has any proxyless workload (nothing is generated otherwise). */
export function hasProxyless(snapshot: MeshSnapshot): boolean {
  return Object.values(snapshot.workloads).some((w) => w.mode === 'proxyless');
}

interface ClusterUnit {
  readonly clusters: readonly EnvoyCluster[];
  readonly loadAssignments: readonly ClusterLoadAssignment[];
  readonly lbs: readonly (readonly [string, ClusterLbChoice])[];
  readonly refusals: readonly ProxylessRefusal[];
}

interface RouteUnit {
  readonly listener: Listener;
  readonly routeConfiguration: RouteConfiguration;
  readonly refusals: readonly ProxylessRefusal[];
}

/**
 * Units of a previous run, by service port, with the key of what they were built from: a unit
 * whose inputs kept their hashes is reused as is (the same message objects, so a publisher can
 * keep their encoding too). Each run keeps only the units it used.
 */
export class ProxylessMemo {
  clusters = new Map<string, { readonly key: string; readonly unit: ClusterUnit }>();
  routes = new Map<string, { readonly key: string; readonly unit: RouteUnit }>();
}

/** The pods running the waypoint a service is bound to. */
function waypointPods(snapshot: MeshSnapshot, service: Service): Workload[] {
  const key = service.waypoint?.key;
  if (key === undefined) return [];
  return (snapshot.waypoints[key]?.workloads ?? [])
    .map((uid) => snapshot.workloads[uid])
    .filter((w): w is Workload => w !== undefined);
}

/**
 * A waypoint-bound service port: one cluster whose endpoints are the waypoint's ready pods on
 * their proxyless port, checked against the waypoint's identities. The service's
 * DestinationRule is the waypoint's to apply (no subsets, no refusals here).
 */
function waypointClusterUnit(snapshot: MeshSnapshot, service: Service, port: number): ClusterUnit {
  const name = clusterName(service.hostname, port);
  const pods = waypointPods(snapshot, service);
  const sans = [...new Set(pods.map((w) => w.identity).filter((id) => id !== ''))].sort();
  const tls =
    sans.length > 0
      ? { instance: CERTIFICATE_PROVIDER, exactSans: sans }
      : { instance: CERTIFICATE_PROVIDER, prefixSans: [`spiffe://${snapshot.trustDomain}/`] };
  const ready = pods.filter((w) => w.healthy && w.ips[0] !== undefined);
  return {
    clusters: [meshCluster({ name, lb: { type: 'round-robin' }, tls })],
    loadAssignments: [
      meshLoadAssignment(name, [
        {
          locality: {},
          endpoints: ready.map((w) => ({ address: w.ips[0] as string, port: WAYPOINT_PROXYLESS_PORT })),
        },
      ]),
    ],
    lbs: [[name, { lb: { type: 'round-robin' } }]],
    refusals: [],
  };
}

function clusterUnit(snapshot: MeshSnapshot, service: Service, port: number): ClusterUnit {
  if (service.waypoint !== undefined) return waypointClusterUnit(snapshot, service, port);
  const refusals = new Refusals();
  const clusters: EnvoyCluster[] = [];
  const loadAssignments: ClusterLoadAssignment[] = [];
  const lbs: [string, ClusterLbChoice][] = [];
  const bp = snapshot.backendPolicies[service.hostname];
  const drObject = bp === undefined ? '' : `DestinationRule ${bp.source.namespace}/${bp.source.name}`;
  const endpoints = service.endpoints.filter((e) => e.port === port);
  const subsets: { name: string; uids: ReadonlySet<string> | undefined; field: string }[] = [
    { name: '', uids: undefined, field: 'spec.trafficPolicy' },
    ...(bp?.subsets ?? []).map((s, i) => ({
      name: s.name,
      uids: new Set(s.workloads),
      field: `spec.subsets[${i}].trafficPolicy`,
    })),
  ];
  for (const subset of subsets) {
    const name = clusterName(service.hostname, port, subset.name);
    const tp = policyFor(bp, port, subset.name);
    const refuse = (field: string, reason: string) =>
      refusals.add(drObject, `${subset.field}.${field}`, reason);
    const mine = endpoints.filter((e) => subset.uids === undefined || subset.uids.has(e.workloadUid));
    const choice = lbChoice(tp, refuse);
    lbs.push([name, choice]);
    const od = outlier(tp, refuse);
    const max = maxRequests(tp, refuse);
    const tls = tlsFor(
      snapshot,
      tp,
      mine.map((e) => e.workloadUid),
      refuse,
    );
    clusters.push(
      meshCluster({
        name,
        lb: choice.lb,
        ...(od === undefined ? {} : { outlierDetection: od }),
        ...(max === undefined ? {} : { maxRequests: max }),
        ...(tls === undefined ? {} : { tls }),
      }),
    );
    loadAssignments.push(
      meshLoadAssignment(name, [
        {
          locality: {},
          endpoints: mine.map((e) => ({ address: e.ip, port: e.targetPort, healthy: e.healthy })),
        },
      ]),
    );
  }
  return { clusters, loadAssignments, lbs, refusals: refusals.list() };
}

/** What a service port's clusters are built from. */
function clusterKey(snapshot: MeshSnapshot, service: Service, port: number): string {
  if (service.waypoint !== undefined) {
    const pods = waypointPods(snapshot, service).map((w) => w.hash);
    return `${snapshot.trustDomain}|${service.hash}|waypoint=${service.waypoint.key}|${pods.join(',')}`;
  }
  const workloads = service.endpoints
    .filter((e) => e.port === port)
    .map((e) => snapshot.workloads[e.workloadUid]?.hash ?? '-');
  return `${snapshot.trustDomain}|${service.hash}|${snapshot.backendPolicies[service.hostname]?.hash ?? ''}|${workloads.join(',')}`;
}

function routeUnit(
  snapshot: MeshSnapshot,
  service: Service,
  port: number,
  lbs: ReadonlyMap<string, ClusterLbChoice>,
): RouteUnit {
  const refusals = new Refusals();
  const name = listenerName(service.hostname, port);
  const table = snapshot.routes[`${service.hostname}:${port}`];
  let routes: MeshRoute[];
  if (service.waypoint !== undefined) {
    // the waypoint applies the service's routes; the client sends every call there
    routes = [{ match: {}, clusters: [{ name: clusterName(service.hostname, port), weight: 1 }] }];
  } else if (table === undefined || table.protocol === 'tcp') {
    const own = clusterName(service.hostname, port);
    const ring = hashHeadersFor([own], lbs);
    routes = [
      { match: {}, clusters: [{ name: own, weight: 1 }], ...(ring.length > 0 ? { hashHeaders: ring } : {}) },
    ];
    for (const rule of table?.rules ?? []) {
      refusals.add(
        objectName(rule.source),
        ruleField(rule.source),
        `TCP routes are ${UNSUPPORTED}; gRPC calls to ${name} go to the service itself`,
      );
    }
  } else {
    routes = table.rules.flatMap((rule) => convertRule(table, rule, snapshot, lbs, refusals));
  }
  return {
    routeConfiguration: meshRouteConfiguration(name, serviceDomains(service, port), routes),
    listener: meshClientListener(name, {
      routeConfigName: name,
      fault: routes.some((r) => r.fault !== undefined),
    }),
    refusals: refusals.list(),
  };
}

/** What a service port's routes are built from (its table, and every backend they name). */
function routeKey(snapshot: MeshSnapshot, service: Service, port: number): string {
  const table = snapshot.routes[`${service.hostname}:${port}`];
  const hosts = new Set<string>([service.hostname]);
  for (const rule of table?.rules ?? []) for (const b of rule.backends) hosts.add(b.host);
  const parts = [...hosts]
    .sort()
    .map(
      (h) =>
        `${h}=${snapshot.services[h]?.hash ?? '-'}/${snapshot.backendPolicies[h]?.hash ?? ''}/${snapshot.services[h]?.waypoint?.key ?? ''}`,
    );
  return `${table?.hash ?? ''}|${parts.join(',')}`;
}

/** Every client-side resource for every service port, and what was refused. */
export function proxylessClientConfig(snapshot: MeshSnapshot, memo?: ProxylessMemo): ProxylessClientConfig {
  const refusals = new Refusals();
  const clusters: EnvoyCluster[] = [];
  const loadAssignments: ClusterLoadAssignment[] = [];
  const listeners: Listener[] = [];
  const routeConfigurations: RouteConfiguration[] = [];
  const lbs = new Map<string, ClusterLbChoice>();
  const clusterMemo = new Map<string, { readonly key: string; readonly unit: ClusterUnit }>();
  const routeMemo = new Map<string, { readonly key: string; readonly unit: RouteUnit }>();
  const keep = (rs: readonly ProxylessRefusal[]) => {
    for (const r of rs) refusals.add(r.object, r.field, r.reason);
  };

  const services = Object.values(snapshot.services).sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
  const ports = (service: Service) => service.ports.filter((p) => p.protocol === 'TCP').map((p) => p.port);
  for (const service of services) {
    for (const port of ports(service)) {
      const id = `${service.hostname}:${port}`;
      const key = clusterKey(snapshot, service, port);
      const prev = memo?.clusters.get(id);
      const unit = prev !== undefined && prev.key === key ? prev.unit : clusterUnit(snapshot, service, port);
      clusterMemo.set(id, { key, unit });
      clusters.push(...unit.clusters);
      loadAssignments.push(...unit.loadAssignments);
      for (const [n, c] of unit.lbs) lbs.set(n, c);
      keep(unit.refusals);
    }
  }
  for (const service of services) {
    for (const port of ports(service)) {
      const id = `${service.hostname}:${port}`;
      const key = routeKey(snapshot, service, port);
      const prev = memo?.routes.get(id);
      const unit =
        prev !== undefined && prev.key === key ? prev.unit : routeUnit(snapshot, service, port, lbs);
      routeMemo.set(id, { key, unit });
      listeners.push(unit.listener);
      routeConfigurations.push(unit.routeConfiguration);
      keep(unit.refusals);
    }
  }
  if (memo !== undefined) {
    memo.clusters = clusterMemo;
    memo.routes = routeMemo;
  }
  return { listeners, routeConfigurations, clusters, loadAssignments, refusals: refusals.list() };
}

// --- server side ---

/** The mTLS mode of one port of a workload (PeerAuthentication, resolved by @weft/policy). */
export function portMode(snapshot: MeshSnapshot, pod: Workload, port: number): MtlsMode {
  const pa = snapshot.peerAuthentication[pod.uid];
  return pa?.ports[String(port)] ?? pa?.mode ?? 'PERMISSIVE';
}

/** The ports an xDS server of the pod may bind: its container ports and its services' target ports. */
export function serverPorts(snapshot: MeshSnapshot, pod: Workload): number[] {
  const ports = new Set<number>();
  for (const p of pod.ports) if (p.protocol === 'TCP') ports.add(p.port);
  for (const host of pod.services) {
    for (const e of snapshot.services[host]?.endpoints ?? [])
      if (e.workloadUid === pod.uid) ports.add(e.targetPort);
  }
  for (const port of Object.keys(snapshot.peerAuthentication[pod.uid]?.ports ?? {})) {
    const n = Number(port);
    if (Number.isInteger(n) && n > 0 && n < 65536) ports.add(n);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * The server Listeners of one pod, one per port, bound as `0.0.0.0:<port>` (what the SDK binds):
 * STRICT requires a mesh client certificate, PERMISSIVE asks for one and accepts TLS without it
 * (the SDK's interceptor then sees no peer identity; plaintext on the same port cannot be told
 * apart by grpc-js-xds), DISABLE serves plaintext.
 */
export function proxylessServerListeners(snapshot: MeshSnapshot, pod: Workload): Listener[] {
  return serverPorts(snapshot, pod).map((port) => {
    const mode = portMode(snapshot, pod, port);
    return meshServerListener({
      name: `${SERVER_LISTENER_PREFIX}0.0.0.0:${port}`,
      address: '0.0.0.0',
      port,
      ...(mode === 'DISABLE'
        ? {}
        : { tls: { instance: CERTIFICATE_PROVIDER, requireClientCertificate: mode === 'STRICT' } }),
    });
  });
}

/** A stable text of what a pod's server Listeners depend on. */
export function serverSignature(snapshot: MeshSnapshot, pod: Workload): string {
  return serverPorts(snapshot, pod)
    .map((p) => `${p}=${portMode(snapshot, pod, p)}`)
    .join(',');
}
