// Istio's standard metrics, with Istio's names, labels and buckets, so existing dashboards,
// Kiali and PromQL keep working against Weft proxies.
//
// Hot path: a proxy binds the peer labels once (per connection, or cached per workload pair)
// and records through the handle. `http.bind(peer).record(outcome, sample)` resolves the
// outcome labels (response code, gRPC status, flags) with a few Map lookups on numbers and short
// strings; the first request of a new outcome creates its series, later ones only add numbers.

import type { ConnectionSecurityPolicy, Reporter } from '../mesh.ts';
import type { CounterChild, HistogramChild, LabelValues } from './family.ts';
import { counterFamily, histogramFamily } from './family.ts';
import { createRegistry, type MetricsRegistry } from './registry.ts';

/** Envoy's default histogram bounds, which Istio uses for duration (ms) and sizes (bytes). */
export const ISTIO_DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
]);

/** Label names shared by TCP and HTTP metrics, in export order (before the outcome labels). */
export const PEER_LABEL_NAMES = [
  'reporter',
  'source_workload',
  'source_workload_namespace',
  'source_principal',
  'source_app',
  'source_version',
  'source_cluster',
  'destination_workload',
  'destination_workload_namespace',
  'destination_principal',
  'destination_app',
  'destination_version',
  'destination_service',
  'destination_service_name',
  'destination_service_namespace',
  'destination_cluster',
  'request_protocol',
] as const;

export const TCP_LABEL_NAMES = [...PEER_LABEL_NAMES, 'response_flags', 'connection_security_policy'] as const;

export const HTTP_LABEL_NAMES = [
  ...PEER_LABEL_NAMES,
  'response_code',
  'grpc_response_status',
  'response_flags',
  'connection_security_policy',
] as const;

type PeerLabelName = (typeof PEER_LABEL_NAMES)[number];
type TcpLabelName = (typeof TCP_LABEL_NAMES)[number];
type HttpLabelName = (typeof HTTP_LABEL_NAMES)[number];

/**
 * Who talks to whom, as Istio labels. Anything left out (or empty) is exported as "unknown",
 * as Istio does; request_protocol defaults to "tcp" / "http", connection_security_policy to
 * "unknown" (Istio: "mutual_tls" when the destination reports an mTLS connection).
 */
export interface PeerLabels {
  readonly reporter: Reporter;
  readonly source_workload?: string | undefined;
  readonly source_workload_namespace?: string | undefined;
  /** SPIFFE id, e.g. spiffe://cluster.local/ns/default/sa/sleep. */
  readonly source_principal?: string | undefined;
  readonly source_app?: string | undefined;
  readonly source_version?: string | undefined;
  readonly source_cluster?: string | undefined;
  readonly destination_workload?: string | undefined;
  readonly destination_workload_namespace?: string | undefined;
  readonly destination_principal?: string | undefined;
  readonly destination_app?: string | undefined;
  readonly destination_version?: string | undefined;
  /** Service hostname, e.g. details.default.svc.cluster.local. */
  readonly destination_service?: string | undefined;
  readonly destination_service_name?: string | undefined;
  readonly destination_service_namespace?: string | undefined;
  readonly destination_cluster?: string | undefined;
  /** "tcp" | "http" | "grpc" (lowercase, as Istio). */
  readonly request_protocol?: string | undefined;
  readonly connection_security_policy?: ConnectionSecurityPolicy | undefined;
}

/** Full TCP label set (the unbound API). */
export interface TcpLabels extends PeerLabels {
  /** Envoy-style flags, "-" when none (see formatResponseFlags). */
  readonly response_flags?: string | undefined;
}

/** Full HTTP label set (the unbound API). */
export interface HttpLabels extends PeerLabels {
  readonly response_code: number;
  readonly grpc_response_status?: number | undefined;
  readonly response_flags?: string | undefined;
}

/** How one request ended. */
export interface HttpOutcome {
  /** HTTP status sent downstream; 0 when none was sent. */
  readonly responseCode: number;
  /** gRPC status for gRPC requests; absent otherwise (label ""). */
  readonly grpcStatus?: number | undefined;
  /** Envoy-style flags, default "-". */
  readonly responseFlags?: string | undefined;
}

export interface HttpSample {
  readonly durationMs: number;
  /** Request body bytes. */
  readonly requestBytes: number;
  /** Response body bytes. */
  readonly responseBytes: number;
}

/** Metrics for one bound TCP peer pair (keep it for the connection's life). */
export interface TcpConnectionMetrics {
  opened(responseFlags?: string): void;
  closed(responseFlags?: string): void;
  /** Adds bytes sent to / received from the downstream side since the last call. */
  bytes(sent: number, received: number, responseFlags?: string): void;
}

/** Metrics for one bound HTTP peer pair. */
export interface HttpPeerMetrics {
  record(outcome: HttpOutcome, sample: HttpSample): void;
}

export interface TcpMetrics {
  /**
   * Resolves the peer labels once; the handle is memoized per label set, and per labels
   * object (treat it as immutable): binding the same object again is one WeakMap lookup.
   */
  bind(labels: PeerLabels): TcpConnectionMetrics;
  opened(labels: TcpLabels): void;
  closed(labels: TcpLabels): void;
  bytes(labels: TcpLabels, sent: number, received: number): void;
}

export interface HttpMetrics {
  /** As TcpMetrics.bind: memoized per label set and per labels object. */
  bind(labels: PeerLabels): HttpPeerMetrics;
  /** Unbound (slower) form, for low-rate callers. */
  record(labels: HttpLabels, sample: HttpSample): void;
}

export interface MeshMetrics {
  readonly registry: MetricsRegistry;
  readonly tcp: TcpMetrics;
  readonly http: HttpMetrics;
}

export interface MeshMetricsOptions {
  /** Bounds for istio_request_duration_milliseconds (default ISTIO_DEFAULT_BUCKETS). */
  readonly durationBuckets?: readonly number[];
  /** Bounds for istio_request_bytes / istio_response_bytes (default ISTIO_DEFAULT_BUCKETS). */
  readonly sizeBuckets?: readonly number[];
}

export const ISTIO_METRIC_NAMES = {
  tcpOpened: 'istio_tcp_connections_opened_total',
  tcpClosed: 'istio_tcp_connections_closed_total',
  tcpSent: 'istio_tcp_sent_bytes_total',
  tcpReceived: 'istio_tcp_received_bytes_total',
  requests: 'istio_requests_total',
  duration: 'istio_request_duration_milliseconds',
  requestBytes: 'istio_request_bytes',
  responseBytes: 'istio_response_bytes',
} as const;

export type { ConnectionSecurityPolicy, Reporter } from '../mesh.ts';

const UNKNOWN = 'unknown';
const NO_FLAGS = '-';

/**
 * Registers Istio's TCP and HTTP metrics in `registry` (a new registry when absent). Calling it
 * again on the same registry returns handles over the same series.
 */
export function createMeshMetrics(
  registry: MetricsRegistry = createRegistry(),
  options: MeshMetricsOptions = {},
): MeshMetrics {
  const durationBuckets = options.durationBuckets ?? ISTIO_DEFAULT_BUCKETS;
  const sizeBuckets = options.sizeBuckets ?? ISTIO_DEFAULT_BUCKETS;
  const tcpLabelNames = TCP_LABEL_NAMES as readonly TcpLabelName[];
  const httpLabelNames = HTTP_LABEL_NAMES as readonly HttpLabelName[];

  const opened = counterFamily(registry, {
    name: ISTIO_METRIC_NAMES.tcpOpened,
    help: 'TCP connections opened.',
    labelNames: tcpLabelNames,
  });
  const closed = counterFamily(registry, {
    name: ISTIO_METRIC_NAMES.tcpClosed,
    help: 'TCP connections closed.',
    labelNames: tcpLabelNames,
  });
  const sent = counterFamily(registry, {
    name: ISTIO_METRIC_NAMES.tcpSent,
    help: 'Bytes sent during response in case of a TCP connection.',
    labelNames: tcpLabelNames,
  });
  const received = counterFamily(registry, {
    name: ISTIO_METRIC_NAMES.tcpReceived,
    help: 'Bytes received during request in case of a TCP connection.',
    labelNames: tcpLabelNames,
  });
  const requests = counterFamily(registry, {
    name: ISTIO_METRIC_NAMES.requests,
    help: 'Requests handled by a proxy.',
    labelNames: httpLabelNames,
  });
  const duration = histogramFamily(registry, {
    name: ISTIO_METRIC_NAMES.duration,
    help: 'Request duration in milliseconds.',
    labelNames: httpLabelNames,
    buckets: durationBuckets,
  });
  const requestBytes = histogramFamily(registry, {
    name: ISTIO_METRIC_NAMES.requestBytes,
    help: 'HTTP request body sizes.',
    labelNames: httpLabelNames,
    buckets: sizeBuckets,
  });
  const responseBytes = histogramFamily(registry, {
    name: ISTIO_METRIC_NAMES.responseBytes,
    help: 'HTTP response body sizes.',
    labelNames: httpLabelNames,
    buckets: sizeBuckets,
  });

  // ---- TCP ----
  // Children are bound on first use, so a flags variant only exports the counters it touched.
  class TcpSeries {
    private readonly labels: LabelValues<TcpLabelName>;
    private openedChild: CounterChild | undefined;
    private closedChild: CounterChild | undefined;
    private sentChild: CounterChild | undefined;
    private receivedChild: CounterChild | undefined;
    constructor(peer: Record<PeerLabelName, string>, security: string, flags: string) {
      this.labels = { ...peer, response_flags: flags, connection_security_policy: security };
    }
    opened(): void {
      this.openedChild ??= opened.bind(this.labels);
      this.openedChild.inc();
    }
    closed(): void {
      this.closedChild ??= closed.bind(this.labels);
      this.closedChild.inc();
    }
    bytes(sentBytes: number, receivedBytes: number): void {
      if (sentBytes > 0 && sentBytes < Number.POSITIVE_INFINITY) {
        this.sentChild ??= sent.bind(this.labels);
        this.sentChild.inc(sentBytes);
      }
      if (receivedBytes > 0 && receivedBytes < Number.POSITIVE_INFINITY) {
        this.receivedChild ??= received.bind(this.labels);
        this.receivedChild.inc(receivedBytes);
      }
    }
  }
  const tcpSeries = (peer: Record<PeerLabelName, string>, security: string, flags: string): TcpSeries =>
    new TcpSeries(peer, security, flags);

  class TcpHandle implements TcpConnectionMetrics {
    private readonly peer: Record<PeerLabelName, string>;
    private readonly security: string;
    private readonly plain: TcpSeries;
    private readonly byFlags = new Map<string, TcpSeries>();
    constructor(peer: Record<PeerLabelName, string>, security: string) {
      this.peer = peer;
      this.security = security;
      this.plain = tcpSeries(peer, security, NO_FLAGS);
    }
    private series(flags: string | undefined): TcpSeries {
      if (flags === undefined || flags === NO_FLAGS || flags === '') return this.plain;
      let s = this.byFlags.get(flags);
      if (s === undefined) {
        s = tcpSeries(this.peer, this.security, flags);
        this.byFlags.set(flags, s);
      }
      return s;
    }
    opened(responseFlags?: string): void {
      this.series(responseFlags).opened();
    }
    closed(responseFlags?: string): void {
      this.series(responseFlags).closed();
    }
    bytes(sentBytes: number, receivedBytes: number, responseFlags?: string): void {
      this.series(responseFlags).bytes(sentBytes, receivedBytes);
    }
  }

  const tcpHandles = new Map<string, TcpHandle>();
  const tcpByObject = new WeakMap<PeerLabels, TcpHandle>();
  const bindTcp = (labels: PeerLabels): TcpHandle => {
    const known = tcpByObject.get(labels);
    if (known !== undefined) return known;
    const peer = resolvePeer(labels, 'tcp');
    const security = labels.connection_security_policy ?? UNKNOWN;
    const key = handleKey(peer, security);
    let h = tcpHandles.get(key);
    if (h === undefined) {
      h = new TcpHandle(peer, security);
      tcpHandles.set(key, h);
    }
    tcpByObject.set(labels, h);
    return h;
  };

  const tcp: TcpMetrics = {
    bind: bindTcp,
    opened: (labels) => bindTcp(labels).opened(labels.response_flags),
    closed: (labels) => bindTcp(labels).closed(labels.response_flags),
    bytes: (labels, s, r) => bindTcp(labels).bytes(s, r, labels.response_flags),
  };

  // ---- HTTP ----
  interface HttpSeries {
    readonly requests: CounterChild;
    readonly duration: HistogramChild;
    readonly requestBytes: HistogramChild;
    readonly responseBytes: HistogramChild;
  }
  // outcome lookup: code -> gRPC status ('' for none) -> flags -> series
  type FlagMap = Map<string, HttpSeries>;

  class HttpHandle implements HttpPeerMetrics {
    private readonly peer: Record<PeerLabelName, string>;
    private readonly security: string;
    private readonly byCode = new Map<number, Map<number | undefined, FlagMap>>();
    constructor(peer: Record<PeerLabelName, string>, security: string) {
      this.peer = peer;
      this.security = security;
    }
    record(outcome: HttpOutcome, sample: HttpSample): void {
      const code = outcome.responseCode;
      let byGrpc = this.byCode.get(code);
      if (byGrpc === undefined) {
        byGrpc = new Map();
        this.byCode.set(code, byGrpc);
      }
      const grpc = outcome.grpcStatus;
      let byFlags = byGrpc.get(grpc);
      if (byFlags === undefined) {
        byFlags = new Map();
        byGrpc.set(grpc, byFlags);
      }
      const flags =
        outcome.responseFlags === undefined || outcome.responseFlags === ''
          ? NO_FLAGS
          : outcome.responseFlags;
      let s = byFlags.get(flags);
      if (s === undefined) {
        s = this.create(code, grpc, flags);
        byFlags.set(flags, s);
      }
      s.requests.inc();
      s.duration.observe(sample.durationMs);
      s.requestBytes.observe(sample.requestBytes);
      s.responseBytes.observe(sample.responseBytes);
    }
    private create(code: number, grpc: number | undefined, flags: string): HttpSeries {
      const labels: LabelValues<HttpLabelName> = {
        ...this.peer,
        response_code: String(code),
        grpc_response_status: grpc === undefined ? '' : String(grpc),
        response_flags: flags,
        connection_security_policy: this.security,
      };
      return {
        requests: requests.bind(labels),
        duration: duration.bind(labels),
        requestBytes: requestBytes.bind(labels),
        responseBytes: responseBytes.bind(labels),
      };
    }
  }

  const httpHandles = new Map<string, HttpHandle>();
  const httpByObject = new WeakMap<PeerLabels, HttpHandle>();
  const bindHttp = (labels: PeerLabels): HttpHandle => {
    const known = httpByObject.get(labels);
    if (known !== undefined) return known;
    const peer = resolvePeer(labels, 'http');
    const security = labels.connection_security_policy ?? UNKNOWN;
    const key = handleKey(peer, security);
    let h = httpHandles.get(key);
    if (h === undefined) {
      h = new HttpHandle(peer, security);
      httpHandles.set(key, h);
    }
    httpByObject.set(labels, h);
    return h;
  };

  const http: HttpMetrics = {
    bind: bindHttp,
    record: (labels, sample) =>
      bindHttp(labels).record(
        {
          responseCode: labels.response_code,
          grpcStatus: labels.grpc_response_status,
          responseFlags: labels.response_flags,
        },
        sample,
      ),
  };

  return { registry, tcp, http };
}

function resolvePeer(labels: PeerLabels, defaultProtocol: string): Record<PeerLabelName, string> {
  const out = {} as Record<PeerLabelName, string>;
  for (const name of PEER_LABEL_NAMES) {
    const v = labels[name];
    out[name] = v === undefined || v === '' ? (name === 'request_protocol' ? defaultProtocol : UNKNOWN) : v;
  }
  return out;
}

function handleKey(peer: Record<PeerLabelName, string>, security: string): string {
  let key = `${security.length}:${security}`;
  for (const name of PEER_LABEL_NAMES) {
    const v = peer[name];
    key += `${v.length}:${v}`;
  }
  return key;
}

/** A workload as seen by telemetry (fields from the policy snapshot's workload). */
export interface WorkloadRef {
  readonly name?: string | undefined;
  readonly namespace?: string | undefined;
  readonly principal?: string | undefined;
  readonly app?: string | undefined;
  readonly version?: string | undefined;
  readonly cluster?: string | undefined;
}

export interface ServiceRef {
  /** e.g. reviews.default.svc.cluster.local */
  readonly hostname?: string | undefined;
  readonly name?: string | undefined;
  readonly namespace?: string | undefined;
}

/** Builds PeerLabels from workload/service records, once per peer pair. */
export function peerLabels(input: {
  readonly reporter: Reporter;
  readonly source?: WorkloadRef | undefined;
  readonly destination?: WorkloadRef | undefined;
  readonly service?: ServiceRef | undefined;
  readonly protocol?: string | undefined;
  readonly security?: ConnectionSecurityPolicy | undefined;
}): PeerLabels {
  const s = input.source;
  const d = input.destination;
  const svc = input.service;
  return {
    reporter: input.reporter,
    source_workload: s?.name,
    source_workload_namespace: s?.namespace,
    source_principal: s?.principal,
    source_app: s?.app,
    source_version: s?.version,
    source_cluster: s?.cluster,
    destination_workload: d?.name,
    destination_workload_namespace: d?.namespace,
    destination_principal: d?.principal,
    destination_app: d?.app,
    destination_version: d?.version,
    destination_service: svc?.hostname,
    destination_service_name: svc?.name,
    destination_service_namespace: svc?.namespace,
    destination_cluster: d?.cluster,
    request_protocol: input.protocol,
    connection_security_policy: input.security,
  };
}
