// DestinationRule -> BackendPolicy per service host. When several rules name the same host,
// the one in the service's namespace wins, then the root namespace, then any; older first.
import { durationMs } from '../duration.ts';
import { contentHash } from '../hash.ts';
import { selectorMatches } from '../labels.ts';
import type { DestinationRuleResource, TrafficPolicyResource } from '../schemas/networking.ts';
import type {
  BackendPolicy,
  BackendSubset,
  ConnectionPoolPolicy,
  LoadBalancerPolicy,
  OutlierDetectionPolicy,
  TrafficPolicy,
} from '../snapshot.ts';
import { type CompileContext, defined, nsOf, olderFirst, sortedRecord } from './context.ts';
import type { Inventory, WorkloadDraft } from './inventory.ts';

type PolicyFields = Omit<TrafficPolicyResource, 'portLevelSettings'>;

const ms = (d: string | undefined) => (d === undefined ? undefined : durationMs(d));

function loadBalancer(lb: PolicyFields['loadBalancer']): LoadBalancerPolicy | undefined {
  if (!lb) return undefined;
  const ch = lb.consistentHash;
  if (ch) {
    const minimumRingSize = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
    const key: Extract<LoadBalancerPolicy, { type: 'consistent-hash' }>['key'] =
      ch.httpHeaderName !== undefined
        ? { header: ch.httpHeaderName.toLowerCase() }
        : ch.httpCookie !== undefined
          ? {
              cookie: defined({
                name: ch.httpCookie.name,
                path: ch.httpCookie.path,
                ttlMs: ms(ch.httpCookie.ttl),
              }),
            }
          : ch.useSourceIp
            ? { sourceIp: true }
            : { queryParameter: ch.httpQueryParameterName ?? '' };
    return { type: 'consistent-hash', key, ...(minimumRingSize !== undefined ? { minimumRingSize } : {}) };
  }
  switch (lb.simple) {
    case 'ROUND_ROBIN':
      return { type: 'round-robin' };
    case 'LEAST_REQUEST':
    case 'LEAST_CONN':
      return { type: 'least-request' };
    case 'RANDOM':
      return { type: 'random' };
    case 'PASSTHROUGH':
      return { type: 'passthrough' };
    case 'UNSPECIFIED':
    case undefined:
      return undefined;
    default: {
      const never: never = lb.simple;
      return never;
    }
  }
}

function connectionPool(cp: PolicyFields['connectionPool']): ConnectionPoolPolicy | undefined {
  if (!cp) return undefined;
  const tcp = cp.tcp
    ? defined({
        maxConnections: cp.tcp.maxConnections,
        connectTimeoutMs: ms(cp.tcp.connectTimeout),
        keepalive: cp.tcp.tcpKeepalive
          ? defined({
              probes: cp.tcp.tcpKeepalive.probes,
              timeMs: ms(cp.tcp.tcpKeepalive.time),
              intervalMs: ms(cp.tcp.tcpKeepalive.interval),
            })
          : undefined,
        maxConnectionDurationMs: ms(cp.tcp.maxConnectionDuration),
        idleTimeoutMs: ms(cp.tcp.idleTimeout),
      })
    : undefined;
  const http = cp.http
    ? defined({ ...cp.http, idleTimeout: undefined, idleTimeoutMs: ms(cp.http.idleTimeout) })
    : undefined;
  return defined({ tcp, http }) as ConnectionPoolPolicy;
}

/** Istio's defaults fill what the rule leaves out. */
function outlierDetection(od: PolicyFields['outlierDetection']): OutlierDetectionPolicy | undefined {
  if (!od) return undefined;
  return defined({
    consecutive5xxErrors: od.consecutive5xxErrors ?? od.consecutiveErrors ?? 5,
    consecutiveGatewayErrors: od.consecutiveGatewayErrors,
    consecutiveLocalOriginFailures: od.consecutiveLocalOriginFailures,
    intervalMs: ms(od.interval) ?? 10_000,
    baseEjectionTimeMs: ms(od.baseEjectionTime) ?? 30_000,
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
    minHealthPercent: od.minHealthPercent ?? 0,
  });
}

function trafficPolicy(tp: PolicyFields | undefined): TrafficPolicy {
  if (!tp) return {};
  return defined({
    loadBalancer: loadBalancer(tp.loadBalancer),
    connectionPool: connectionPool(tp.connectionPool),
    outlierDetection: outlierDetection(tp.outlierDetection),
    tls: tp.tls
      ? defined({
          mode: tp.tls.mode,
          sni: tp.tls.sni,
          subjectAltNames: tp.tls.subjectAltNames,
          credentialName: tp.tls.credentialName,
          insecureSkipVerify: tp.tls.insecureSkipVerify,
        })
      : undefined,
  });
}

/** Field groups of `over` replace those of `base`. */
function merge(base: TrafficPolicy, over: TrafficPolicy): TrafficPolicy {
  return { ...base, ...over };
}

export function compileBackendPolicies(
  ctx: CompileContext,
  rules: readonly DestinationRuleResource[],
  inventory: Inventory,
): Record<string, BackendPolicy> {
  const byHost = new Map<string, DestinationRuleResource[]>();
  for (const dr of rules) {
    if (dr.spec.host.startsWith('*')) {
      ctx.warn('ignored', dr, 'spec.host', 'wildcard hosts are not supported; the rule has no effect');
      continue;
    }
    const host = ctx.resolveHost(dr.spec.host, nsOf(dr));
    const list = byHost.get(host);
    if (list) list.push(dr);
    else byHost.set(host, [dr]);
  }
  const out: [string, BackendPolicy][] = [];
  for (const [host, candidates] of byHost) {
    const svc = inventory.servicesByHost.get(host);
    if (!svc) {
      for (const dr of candidates) ctx.warn('unresolved-reference', dr, 'spec.host', `no service ${host}`);
      continue;
    }
    const rank = (dr: DestinationRuleResource) =>
      nsOf(dr) === svc.namespace ? 0 : nsOf(dr) === ctx.rootNamespace ? 1 : 2;
    const sorted = [...candidates].sort((a, b) => rank(a) - rank(b) || olderFirst(a, b));
    const [winner, ...losers] = sorted as [DestinationRuleResource, ...DestinationRuleResource[]];
    for (const dr of losers) {
      ctx.warn(
        'conflict',
        dr,
        'spec.host',
        `${host} is already configured by DestinationRule ${nsOf(winner)}/${winner.metadata.name}`,
      );
    }
    const base = trafficPolicy(winner.spec.trafficPolicy);
    const ports = sortedRecord(
      (winner.spec.trafficPolicy?.portLevelSettings ?? []).map(
        (p) => [String(p.port.number), merge(base, trafficPolicy(p))] as const,
      ),
    );
    const workloads = [...new Set(svc.endpoints.map((e) => e.workloadUid))]
      .map((uid) => inventory.workloadsByUid.get(uid))
      .filter((w): w is WorkloadDraft => w !== undefined);
    const subsets: BackendSubset[] = (winner.spec.subsets ?? []).map((s) => ({
      name: s.name,
      labels: s.labels ?? {},
      trafficPolicy: merge(base, trafficPolicy(s.trafficPolicy)),
      workloads: workloads
        .filter((w) => selectorMatches(s.labels, w.labels))
        .map((w) => w.uid)
        .sort(),
    }));
    const policy: Omit<BackendPolicy, 'hash'> = {
      key: host,
      host,
      source: { namespace: nsOf(winner), name: winner.metadata.name },
      trafficPolicy: base,
      ports,
      subsets,
    };
    out.push([host, { ...policy, hash: contentHash(policy) }]);
  }
  return sortedRecord(out);
}
