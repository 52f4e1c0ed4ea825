// BackendPolicy (a compiled DestinationRule for one host) <-> weft.v1.BackendPolicy.
// Limitation: the wire's connection pool is flat, so a `tcp: {}` or `http: {}` group that sets
// nothing reads back as absent (the same behaviour).
import type {
  BackendPolicy,
  BackendSubset,
  BackendTlsPolicy,
  ConnectionPoolPolicy,
  LoadBalancerPolicy,
  OutlierDetectionPolicy,
  TrafficPolicy,
} from '@weft/policy';
import {
  type BackendTls,
  BackendTls_Mode,
  type ConnectionPool,
  type LoadBalancer,
  LoadBalancer_Simple,
  type OutlierDetection,
  type BackendPolicy as ProtoBackendPolicy,
  type TrafficPolicy as ProtoTrafficPolicy,
} from '../gen/weft/v1/backend_policy.ts';
import {
  at,
  type ConvertResult,
  checkedEnum,
  convert,
  distinctStrings,
  duration,
  durationMillis,
  exactlyOne,
  Invalid,
  labels,
  optionalDuration,
  port,
  requireString,
  withHash,
} from './common.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type SimpleLb = Exclude<LoadBalancerPolicy['type'], 'consistent-hash'>;

const SIMPLE_TO_PROTO: Readonly<Record<SimpleLb, LoadBalancer_Simple>> = {
  'round-robin': LoadBalancer_Simple.SIMPLE_ROUND_ROBIN,
  'least-request': LoadBalancer_Simple.SIMPLE_LEAST_REQUEST,
  random: LoadBalancer_Simple.SIMPLE_RANDOM,
  passthrough: LoadBalancer_Simple.SIMPLE_PASSTHROUGH,
};
const SIMPLE_FROM_PROTO = new Map<number, SimpleLb>(
  Object.entries(SIMPLE_TO_PROTO).map(([k, v]) => [v, k as SimpleLb]),
);
const TLS_TO_PROTO: Readonly<Record<BackendTlsPolicy['mode'], BackendTls_Mode>> = {
  DISABLE: BackendTls_Mode.MODE_DISABLE,
  SIMPLE: BackendTls_Mode.MODE_SIMPLE,
  MUTUAL: BackendTls_Mode.MODE_MUTUAL,
  ISTIO_MUTUAL: BackendTls_Mode.MODE_MESH_MUTUAL,
};
const TLS_FROM_PROTO = new Map<number, BackendTlsPolicy['mode']>(
  Object.entries(TLS_TO_PROTO).map(([k, v]) => [v, k as BackendTlsPolicy['mode']]),
);
const H2_UPGRADE = new Set(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']);

// ---- domain -> wire ----

function loadBalancerToProto(lb: LoadBalancerPolicy): LoadBalancer {
  if (lb.type !== 'consistent-hash') return { simple: SIMPLE_TO_PROTO[lb.type] };
  const k = lb.key;
  const key =
    'header' in k
      ? { httpHeaderName: k.header }
      : 'cookie' in k
        ? {
            cookie: {
              name: k.cookie.name,
              path: k.cookie.path ?? '',
              ...(k.cookie.ttlMs === undefined ? {} : { ttl: duration(k.cookie.ttlMs) }),
            },
          }
        : 'sourceIp' in k
          ? { useSourceIp: true }
          : { httpQueryParameterName: k.queryParameter };
  return {
    simple: LoadBalancer_Simple.SIMPLE_UNSPECIFIED,
    consistentHash: {
      ...key,
      ...(lb.minimumRingSize === undefined ? {} : { minimumRingSize: lb.minimumRingSize }),
    },
  };
}

function connectionPoolToProto(cp: ConnectionPoolPolicy): ConnectionPool {
  const t = cp.tcp;
  const h = cp.http;
  const out: ConnectionPool = { h2UpgradePolicy: h?.h2UpgradePolicy ?? '' };
  if (t?.maxConnections !== undefined) out.maxConnections = t.maxConnections;
  if (t?.connectTimeoutMs !== undefined) out.connectTimeout = duration(t.connectTimeoutMs);
  if (t?.keepalive !== undefined) {
    out.tcpKeepalive = {
      ...(t.keepalive.probes === undefined ? {} : { probes: t.keepalive.probes }),
      ...(t.keepalive.timeMs === undefined ? {} : { time: duration(t.keepalive.timeMs) }),
      ...(t.keepalive.intervalMs === undefined ? {} : { interval: duration(t.keepalive.intervalMs) }),
    };
  }
  if (t?.maxConnectionDurationMs !== undefined)
    out.maxConnectionDuration = duration(t.maxConnectionDurationMs);
  if (t?.idleTimeoutMs !== undefined) out.tcpIdleTimeout = duration(t.idleTimeoutMs);
  if (h?.http1MaxPendingRequests !== undefined) out.http1MaxPendingRequests = h.http1MaxPendingRequests;
  if (h?.http2MaxRequests !== undefined) out.http2MaxRequests = h.http2MaxRequests;
  if (h?.maxRequestsPerConnection !== undefined) out.maxRequestsPerConnection = h.maxRequestsPerConnection;
  if (h?.maxRetries !== undefined) out.maxRetries = h.maxRetries;
  if (h?.idleTimeoutMs !== undefined) out.idleTimeout = duration(h.idleTimeoutMs);
  if (h?.useClientProtocol !== undefined) out.useClientProtocol = h.useClientProtocol;
  if (h?.maxConcurrentStreams !== undefined) out.maxConcurrentStreams = h.maxConcurrentStreams;
  return out;
}

function outlierToProto(o: OutlierDetectionPolicy): OutlierDetection {
  return {
    ...(o.consecutive5xxErrors === undefined ? {} : { consecutive5xxErrors: o.consecutive5xxErrors }),
    ...(o.consecutiveGatewayErrors === undefined
      ? {}
      : { consecutiveGatewayErrors: o.consecutiveGatewayErrors }),
    ...(o.consecutiveLocalOriginFailures === undefined
      ? {}
      : { consecutiveLocalOriginFailures: o.consecutiveLocalOriginFailures }),
    interval: duration(o.intervalMs),
    baseEjectionTime: duration(o.baseEjectionTimeMs),
    maxEjectionPercent: o.maxEjectionPercent,
    minHealthPercent: o.minHealthPercent,
  };
}

function tlsToProto(t: BackendTlsPolicy): BackendTls {
  return {
    mode: TLS_TO_PROTO[t.mode],
    sni: t.sni ?? '',
    subjectAltNames: [...(t.subjectAltNames ?? [])],
    credentialName: t.credentialName ?? '',
    ...(t.insecureSkipVerify === undefined ? {} : { insecureSkipVerify: t.insecureSkipVerify }),
  };
}

function trafficPolicyToProto(tp: TrafficPolicy): ProtoTrafficPolicy {
  return {
    ...(tp.loadBalancer === undefined ? {} : { loadBalancer: loadBalancerToProto(tp.loadBalancer) }),
    ...(tp.connectionPool === undefined ? {} : { connectionPool: connectionPoolToProto(tp.connectionPool) }),
    ...(tp.outlierDetection === undefined ? {} : { outlierDetection: outlierToProto(tp.outlierDetection) }),
    ...(tp.tls === undefined ? {} : { tls: tlsToProto(tp.tls) }),
  };
}

export function toProtoBackendPolicy(policy: BackendPolicy): ProtoBackendPolicy {
  return {
    name: policy.source.name,
    namespace: policy.source.namespace,
    hostname: policy.host,
    policy: trafficPolicyToProto(policy.trafficPolicy),
    portPolicies: Object.entries(policy.ports).map(([p, tp]) => ({
      port: Number(p),
      policy: trafficPolicyToProto(tp),
    })),
    subsets: policy.subsets.map((s) => ({
      name: s.name,
      labels: { ...s.labels },
      policy: trafficPolicyToProto(s.trafficPolicy),
      workloads: [...s.workloads],
    })),
  };
}

// ---- wire -> domain ----

function loadBalancerFromProto(path: string, lb: LoadBalancer): LoadBalancerPolicy {
  const ch = lb.consistentHash;
  if (ch === undefined)
    return { type: checkedEnum(at(path, 'simple'), lb.simple, SIMPLE_FROM_PROTO, 'load balancer') };
  const cp = at(path, 'consistent_hash');
  if (lb.simple !== LoadBalancer_Simple.SIMPLE_UNSPECIFIED)
    throw new Invalid(at(path, 'simple'), 'set together with consistent_hash');
  type Key = Extract<LoadBalancerPolicy, { type: 'consistent-hash' }>['key'];
  const keys: Key[] = [];
  if (ch.httpHeaderName !== undefined)
    keys.push({ header: requireString(at(cp, 'http_header_name'), ch.httpHeaderName) });
  if (ch.httpCookie !== undefined)
    keys.push({ cookie: { name: requireString(at(cp, 'http_cookie'), ch.httpCookie) } });
  if (ch.cookie !== undefined) {
    const ttlMs = optionalDuration(at(at(cp, 'cookie'), 'ttl'), ch.cookie.ttl);
    keys.push({
      cookie: {
        name: requireString(at(at(cp, 'cookie'), 'name'), ch.cookie.name),
        ...(ch.cookie.path === '' ? {} : { path: ch.cookie.path }),
        ...(ttlMs === undefined ? {} : { ttlMs }),
      },
    });
  }
  if (ch.useSourceIp !== undefined) {
    if (!ch.useSourceIp) throw new Invalid(at(cp, 'use_source_ip'), 'false is not a key');
    keys.push({ sourceIp: true });
  }
  if (ch.httpQueryParameterName !== undefined) keys.push({ queryParameter: ch.httpQueryParameterName });
  const key = exactlyOne(cp, keys, 'the hash keys');
  return {
    type: 'consistent-hash',
    key,
    ...(ch.minimumRingSize === undefined ? {} : { minimumRingSize: ch.minimumRingSize }),
  };
}

function connectionPoolFromProto(path: string, c: ConnectionPool): ConnectionPoolPolicy {
  const d = (field: string, v: ConnectionPool['connectTimeout']) => optionalDuration(at(path, field), v);
  const tcp: Record<string, unknown> = {
    maxConnections: c.maxConnections,
    connectTimeoutMs: d('connect_timeout', c.connectTimeout),
    keepalive:
      c.tcpKeepalive === undefined
        ? undefined
        : dropUndefined({
            probes: c.tcpKeepalive.probes,
            timeMs: optionalDuration(at(at(path, 'tcp_keepalive'), 'time'), c.tcpKeepalive.time),
            intervalMs: optionalDuration(at(at(path, 'tcp_keepalive'), 'interval'), c.tcpKeepalive.interval),
          }),
    maxConnectionDurationMs: d('max_connection_duration', c.maxConnectionDuration),
    idleTimeoutMs: d('tcp_idle_timeout', c.tcpIdleTimeout),
  };
  if (c.h2UpgradePolicy !== '' && !H2_UPGRADE.has(c.h2UpgradePolicy)) {
    throw new Invalid(
      at(path, 'h2_upgrade_policy'),
      `${JSON.stringify(c.h2UpgradePolicy)} is not DEFAULT, DO_NOT_UPGRADE or UPGRADE`,
    );
  }
  const http: Record<string, unknown> = {
    http1MaxPendingRequests: c.http1MaxPendingRequests,
    http2MaxRequests: c.http2MaxRequests,
    maxRequestsPerConnection: c.maxRequestsPerConnection,
    maxRetries: c.maxRetries,
    idleTimeoutMs: d('idle_timeout', c.idleTimeout),
    h2UpgradePolicy: c.h2UpgradePolicy === '' ? undefined : c.h2UpgradePolicy,
    useClientProtocol: c.useClientProtocol,
    maxConcurrentStreams: c.maxConcurrentStreams,
  };
  const t = dropUndefined(tcp);
  const h = dropUndefined(http);
  return {
    ...(Object.keys(t).length === 0 ? {} : { tcp: t }),
    ...(Object.keys(h).length === 0 ? {} : { http: h }),
  } as ConnectionPoolPolicy;
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

function outlierFromProto(path: string, o: OutlierDetection): OutlierDetectionPolicy {
  const need = <T>(field: string, v: T | undefined): T => {
    if (v === undefined) throw new Invalid(at(path, field), 'missing');
    return v;
  };
  const pct = (field: string, v: number | undefined) => {
    const n = need(field, v);
    if (n > 100) throw new Invalid(at(path, field), `${n} is over 100`);
    return n;
  };
  return {
    ...(o.consecutive5xxErrors === undefined ? {} : { consecutive5xxErrors: o.consecutive5xxErrors }),
    ...(o.consecutiveGatewayErrors === undefined
      ? {}
      : { consecutiveGatewayErrors: o.consecutiveGatewayErrors }),
    ...(o.consecutiveLocalOriginFailures === undefined
      ? {}
      : { consecutiveLocalOriginFailures: o.consecutiveLocalOriginFailures }),
    intervalMs: durationMillis(at(path, 'interval'), need('interval', o.interval)),
    baseEjectionTimeMs: durationMillis(
      at(path, 'base_ejection_time'),
      need('base_ejection_time', o.baseEjectionTime),
    ),
    maxEjectionPercent: pct('max_ejection_percent', o.maxEjectionPercent),
    minHealthPercent: pct('min_health_percent', o.minHealthPercent),
  };
}

function tlsFromProto(path: string, t: BackendTls): BackendTlsPolicy {
  return {
    mode: checkedEnum(at(path, 'mode'), t.mode, TLS_FROM_PROTO, 'TLS mode'),
    ...(t.sni === '' ? {} : { sni: t.sni }),
    ...(t.subjectAltNames.length === 0 ? {} : { subjectAltNames: [...t.subjectAltNames] }),
    ...(t.credentialName === '' ? {} : { credentialName: t.credentialName }),
    ...(t.insecureSkipVerify === undefined ? {} : { insecureSkipVerify: t.insecureSkipVerify }),
  };
}

function trafficPolicyFromProto(path: string, tp: ProtoTrafficPolicy | undefined): TrafficPolicy {
  if (tp === undefined) return {};
  const out: Mutable<TrafficPolicy> = {};
  if (tp.loadBalancer !== undefined)
    out.loadBalancer = loadBalancerFromProto(at(path, 'load_balancer'), tp.loadBalancer);
  if (tp.connectionPool !== undefined)
    out.connectionPool = connectionPoolFromProto(at(path, 'connection_pool'), tp.connectionPool);
  if (tp.outlierDetection !== undefined) {
    out.outlierDetection = outlierFromProto(at(path, 'outlier_detection'), tp.outlierDetection);
  }
  if (tp.tls !== undefined) out.tls = tlsFromProto(at(path, 'tls'), tp.tls);
  return out;
}

export function fromProtoBackendPolicy(proto: ProtoBackendPolicy): ConvertResult<BackendPolicy> {
  return convert(() => {
    const host = requireString('hostname', proto.hostname);
    const base = trafficPolicyFromProto('policy', proto.policy);
    const ports: Record<string, TrafficPolicy> = {};
    const sorted = proto.portPolicies
      .map((p, i) => ({ p, i }))
      .sort((a, b) => String(a.p.port).localeCompare(String(b.p.port)));
    for (const { p, i } of sorted) {
      const path = at('port_policies', i);
      const key = String(port(at(path, 'port'), p.port));
      if (key in ports) throw new Invalid(at(path, 'port'), `port ${key} given twice`);
      ports[key] = trafficPolicyFromProto(at(path, 'policy'), p.policy);
    }
    const names = new Set<string>();
    const subsets: BackendSubset[] = proto.subsets.map((s, i) => {
      const path = at('subsets', i);
      const name = requireString(at(path, 'name'), s.name);
      if (names.has(name)) throw new Invalid(at(path, 'name'), `${name} given twice`);
      names.add(name);
      return {
        name,
        labels: labels(s.labels),
        // The wire says: absent = the top-level policy.
        trafficPolicy: s.policy === undefined ? base : trafficPolicyFromProto(at(path, 'policy'), s.policy),
        workloads: distinctStrings(at(path, 'workloads'), s.workloads),
      };
    });
    const policy: Omit<BackendPolicy, 'hash'> = {
      key: host,
      host,
      source: {
        namespace: requireString('namespace', proto.namespace),
        name: requireString('name', proto.name),
      },
      trafficPolicy: base,
      ports,
      subsets,
    };
    return withHash(policy);
  });
}
