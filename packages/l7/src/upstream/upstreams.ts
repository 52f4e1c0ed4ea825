// Clusters: a backend (service host, port, optional subset) resolved against the config to its
// endpoints, with the DestinationRule's load balancer, pool limits and outlier detection, and
// the transport that reaches it. Per-endpoint state (in-flight counts, ejections, cursors)
// survives config updates; endpoint lists are rebuilt when the config generation changes.
import type { Duplex } from 'node:stream';
import type { Service, TrafficPolicy, Workload } from '@weft/policy';
import type { L7State } from '@weft/proxy-core';
import type { Clock } from '@weft/telemetry';
import type { ConnectContext, UpstreamConnector, UpstreamEndpoint } from './connector.ts';
import { createHttp1Client } from './h1-client.ts';
import { createHttp2Transport } from './http2.ts';
import { type LbState, newLbState, type PickInput, pickEndpoint } from './lb.ts';
import { createPoolLimits, type PoolLimits } from './limits.ts';
import { createOutlierDetector, type OutlierDetector, type OutlierOutcome } from './outlier.ts';
import type { SendOptions, SendResult, Transport, TransportStats, UpstreamRequest } from './transport.ts';

export type UpstreamProtocol = 'http1' | 'h2';

export interface ClusterEndpoint extends UpstreamEndpoint {
  /** Requests in flight (least-request). */
  active: number;
}

export interface Cluster {
  /** "host:port" or "host:port:subset"; "workload/<uid>:port" for workload-addressed traffic. */
  readonly key: string;
  /** Service hostname (undefined for a workload). */
  readonly host: string | undefined;
  readonly service: Service | undefined;
  readonly port: number;
  readonly protocol: UpstreamProtocol;
  readonly policy: TrafficPolicy;
  /** Healthy endpoints (ejected ones included; `pick` skips them). */
  readonly endpoints: readonly ClusterEndpoint[];
  readonly limits: PoolLimits;
  readonly outlier: OutlierDetector | undefined;
  readonly connectTimeoutMs: number;
  /** Picks an endpoint, skipping ejected ones and, when possible, those in `exclude`. */
  pick(input: PickInput, exclude?: ReadonlySet<string>): ClusterEndpoint | undefined;
  /** Reports an attempt's outcome; true when it ejected the endpoint. */
  report(endpoint: ClusterEndpoint, outcome: OutlierOutcome): boolean;
}

/** Which cluster carries a request: a service backend, or a workload addressed directly. */
export type ClusterRef =
  | {
      readonly kind: 'service';
      readonly host: string;
      readonly port: number;
      readonly subset?: string | undefined;
    }
  | { readonly kind: 'workload'; readonly workload: Workload; readonly port: number };

/** The cluster a plan names (a workload's always exists; a service backend's may be gone). */
export function clusterFor(upstreams: Upstreams, state: L7State, ref: ClusterRef): ClusterResult {
  if (ref.kind === 'workload')
    return { ok: true, cluster: upstreams.workloadCluster(state, ref.workload, ref.port) };
  return upstreams.cluster(state, ref.host, ref.port, ref.subset);
}

export type ClusterResult =
  | { readonly ok: true; readonly cluster: Cluster }
  | { readonly ok: false; readonly reason: 'unknown-service' | 'unknown-port'; readonly detail: string };

export interface UpstreamsOptions {
  readonly connector: UpstreamConnector;
  readonly clock: Clock;
  readonly random: () => number;
  /** Default connect timeout when the DestinationRule sets none. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Called when an upstream answers malformed HTTP/1.1. */
  readonly onProtocolError?: (reason: string) => void;
  /** Called when outlier detection ejects an endpoint. */
  readonly onEjection?: (cluster: string, endpoint: string) => void;
}

export interface ClusterStats {
  readonly key: string;
  readonly protocol: UpstreamProtocol;
  readonly endpoints: readonly {
    readonly address: string;
    readonly active: number;
    readonly ejected: boolean;
    readonly ejections: number;
  }[];
  readonly active: number;
  readonly pending: number;
  readonly overflows: number;
}

export interface Upstreams {
  /** The cluster for a service backend. */
  cluster(state: L7State, host: string, port: number, subset?: string): ClusterResult;
  /** A one-endpoint cluster for traffic addressed to a workload directly. */
  workloadCluster(state: L7State, workload: Workload, port: number): Cluster;
  /** One HTTP attempt to an endpoint of the cluster. */
  send(
    cluster: Cluster,
    endpoint: ClusterEndpoint,
    req: UpstreamRequest,
    opts: Omit<SendOptions, 'connectTimeoutMs'>,
  ): Promise<SendResult>;
  /** A raw connection (TCP passthrough, upgrades). */
  connect(endpoint: UpstreamEndpoint, ctx: ConnectContext): Promise<Duplex>;
  stats(): {
    readonly clusters: readonly ClusterStats[];
    readonly http1: TransportStats;
    readonly http2: TransportStats;
  };
  close(): void;
}

interface Persistent {
  readonly lb: LbState;
  readonly active: Map<string, number>;
  policyJson: string;
  limits: PoolLimits;
  outlier: OutlierDetector | undefined;
}

interface Cached {
  readonly generation: number;
  readonly cluster: Cluster;
}

export function protocolFor(appProtocol: string, policy: TrafficPolicy): UpstreamProtocol {
  if (appProtocol === 'http2' || appProtocol === 'grpc' || appProtocol === 'grpc-web') return 'h2';
  if (policy.connectionPool?.http?.h2UpgradePolicy === 'UPGRADE') return 'h2';
  return 'http1';
}

/**
 * The protocol of a workload addressed directly (a sidecar's own pod, a pod IP at a waypoint):
 * h2 when a Service selecting it declares that target port http2/grpc/grpc-web, as the service's
 * cluster would speak (an h2c-only gRPC app refuses HTTP/1.1); else HTTP/1.1.
 */
export function workloadProtocol(
  state: Pick<L7State, 'service'>,
  workload: Workload,
  port: number,
): UpstreamProtocol {
  for (const host of workload.services) {
    const service = state.service(host);
    if (service === undefined) continue;
    for (const ep of service.endpoints) {
      if (ep.workloadUid !== workload.uid || ep.targetPort !== port) continue;
      const sp = service.ports.find((p) => p.port === ep.port);
      if (sp !== undefined && protocolFor(sp.appProtocol, {}) === 'h2') return 'h2';
    }
  }
  return 'http1';
}

export function createUpstreams(options: UpstreamsOptions): Upstreams {
  const http1 = createHttp1Client({
    connector: options.connector,
    ...(options.onProtocolError !== undefined ? { onProtocolError: options.onProtocolError } : {}),
  });
  const http2 = createHttp2Transport({ connector: options.connector });
  const persistent = new Map<string, Persistent>();
  const cache = new Map<string, Cached>();
  const defaultConnectTimeout = options.connectTimeoutMs ?? 10_000;

  const persistentFor = (key: string, policy: TrafficPolicy, multiplexed: boolean): Persistent => {
    const json = JSON.stringify([
      policy.connectionPool ?? null,
      policy.outlierDetection ?? null,
      multiplexed,
    ]);
    let p = persistent.get(key);
    if (p === undefined) {
      p = {
        lb: newLbState(),
        active: new Map(),
        policyJson: json,
        limits: createPoolLimits(policy.connectionPool, multiplexed),
        outlier: policy.outlierDetection
          ? createOutlierDetector(policy.outlierDetection, options.clock)
          : undefined,
      };
      persistent.set(key, p);
    } else if (p.policyJson !== json) {
      p.policyJson = json;
      p.limits = createPoolLimits(policy.connectionPool, multiplexed);
      p.outlier = policy.outlierDetection
        ? createOutlierDetector(policy.outlierDetection, options.clock)
        : undefined;
    }
    return p;
  };

  const makeCluster = (
    key: string,
    host: string | undefined,
    service: Service | undefined,
    port: number,
    protocol: UpstreamProtocol,
    policy: TrafficPolicy,
    eps: UpstreamEndpoint[],
  ): Cluster => {
    const p = persistentFor(key, policy, protocol === 'h2');
    const endpoints: ClusterEndpoint[] = eps.map((e) => {
      const ep = {
        ...e,
        get active() {
          return p.active.get(e.address) ?? 0;
        },
        set active(v: number) {
          if (v <= 0) p.active.delete(e.address);
          else p.active.set(e.address, v);
        },
      };
      return ep;
    });
    const minHealth = policy.outlierDetection?.minHealthPercent ?? 0;
    const cluster: Cluster = {
      key,
      host,
      service,
      port,
      protocol,
      policy,
      endpoints,
      get limits() {
        return p.limits;
      },
      get outlier() {
        return p.outlier;
      },
      connectTimeoutMs: policy.connectionPool?.tcp?.connectTimeoutMs ?? defaultConnectTimeout,
      pick(input, exclude) {
        let candidates: readonly ClusterEndpoint[] = endpoints;
        const od = p.outlier;
        if (od !== undefined) {
          const healthy = endpoints.filter((e) => !od.isEjected(e.address));
          // Below minHealthPercent, outlier detection stands aside (panic): use every endpoint.
          if (healthy.length > 0 && healthy.length * 100 >= minHealth * endpoints.length)
            candidates = healthy;
          else if (minHealth === 0) candidates = healthy;
        }
        if (exclude !== undefined && exclude.size > 0 && candidates.length > 1) {
          const fresh = candidates.filter((e) => !exclude.has(e.address));
          if (fresh.length > 0) candidates = fresh;
        }
        return pickEndpoint(policy.loadBalancer, candidates, p.lb, options.random, input);
      },
      report(endpoint, outcome) {
        const od = p.outlier;
        if (od === undefined) return false;
        const ejected = od.report(endpoint.address, outcome, endpoints.length);
        if (ejected) options.onEjection?.(key, endpoint.address);
        return ejected;
      },
    };
    return cluster;
  };

  const endpointOf = (
    state: L7State,
    ip: string,
    port: number,
    uid: string | undefined,
  ): UpstreamEndpoint => {
    const w = uid === undefined ? undefined : state.workload(uid);
    return {
      ip,
      port,
      address: ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`,
      workloadUid: uid,
      identity: w?.identity,
    };
  };

  return {
    cluster(state, host, port, subset) {
      const key = subset === undefined ? `${host}:${port}` : `${host}:${port}:${subset}`;
      const hit = cache.get(key);
      if (hit !== undefined && hit.generation === state.generation) return { ok: true, cluster: hit.cluster };
      const service = state.service(host);
      if (service === undefined)
        return { ok: false, reason: 'unknown-service', detail: `no service ${host}` };
      const sp = service.ports.find((p) => p.port === port);
      if (sp === undefined)
        return { ok: false, reason: 'unknown-port', detail: `service ${host} has no port ${port}` };
      const bp = state.backendPolicy(host);
      const subsetDef = subset === undefined ? undefined : bp?.subsets.find((s) => s.name === subset);
      const policy: TrafficPolicy =
        subsetDef?.trafficPolicy ?? bp?.ports[String(port)] ?? bp?.trafficPolicy ?? {};
      const members = subsetDef === undefined ? undefined : new Set(subsetDef.workloads);
      // An unknown subset has no endpoints (Envoy: no healthy upstream).
      const eps = service.endpoints
        .filter(
          (e) =>
            e.port === port && e.healthy && (subset === undefined || members?.has(e.workloadUid) === true),
        )
        .map((e) => endpointOf(state, e.ip, e.targetPort, e.workloadUid));
      const cluster = makeCluster(key, host, service, port, protocolFor(sp.appProtocol, policy), policy, eps);
      cache.set(key, { generation: state.generation, cluster });
      return { ok: true, cluster };
    },
    workloadCluster(state, workload, port) {
      const key = `workload/${workload.uid}:${port}`;
      const hit = cache.get(key);
      if (hit !== undefined && hit.generation === state.generation) return hit.cluster;
      const ip = workload.ips[0] ?? '';
      const cluster = makeCluster(
        key,
        undefined,
        undefined,
        port,
        workloadProtocol(state, workload, port),
        {},
        ip === '' ? [] : [endpointOf(state, ip, port, workload.uid)],
      );
      cache.set(key, { generation: state.generation, cluster });
      return cluster;
    },
    send(cluster, endpoint, req, opts) {
      const transport: Transport = cluster.protocol === 'h2' && req.upgrade === undefined ? http2 : http1;
      return transport.send(endpoint, req, {
        cancel: opts.cancel,
        forwardedFor: opts.forwardedFor,
        connectTimeoutMs: cluster.connectTimeoutMs,
        maxRequestsPerConnection: cluster.policy.connectionPool?.http?.maxRequestsPerConnection,
      });
    },
    connect: (endpoint, ctx) => options.connector(endpoint, ctx),
    stats() {
      const clusters: ClusterStats[] = [];
      for (const [key, c] of cache) {
        const p = persistent.get(key);
        clusters.push({
          key,
          protocol: c.cluster.protocol,
          endpoints: c.cluster.endpoints.map((e) => ({
            address: e.address,
            active: e.active,
            ejected: p?.outlier?.isEjected(e.address) ?? false,
            ejections: p?.outlier?.ejectionCount(e.address) ?? 0,
          })),
          active: p?.limits.active ?? 0,
          pending: p?.limits.pending ?? 0,
          overflows: p?.limits.overflows ?? 0,
        });
      }
      return { clusters, http1: http1.stats(), http2: http2.stats() };
    },
    close() {
      http1.close();
      http2.close();
    },
  };
}
