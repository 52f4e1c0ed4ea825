// What ztunnel reports about connections: Istio's TCP metrics (reporter "source" for outbound,
// "destination" for inbound), one key=value access-log line per connection, refusals by reason
// on weft_rejected_total{component="ztunnel"}, and the table of open connections /connections
// serves. Inbound and outbound both record through here; neither imports the other.
import type { Workload } from '@weft/policy/runtime';
import {
  type AccessLogFormat,
  type ConnectionSecurityPolicy,
  createAccessLogger,
  createMeshMetrics,
  type LineSink,
  type MeshMetrics,
  type MetricsRegistry,
  peerLabels,
  type RbacOutcome,
  type RejectCounter,
  type ResponseFlag,
  rejectCounter,
  type TcpAccessLogEntry,
  type WorkloadRef,
  weftGauge,
} from '@weft/telemetry';

/** Every reason ztunnel refuses something, as counted on weft_rejected_total. */
export type RejectReason =
  // outbound
  | 'unknown_source'
  | 'source_not_local'
  | 'source_not_ambient'
  | 'unknown_hostname'
  | 'unknown_service_port'
  | 'no_endpoints'
  | 'waypoint_unavailable'
  | 'invalid_destination'
  | 'no_original_destination'
  | 'hbone_connect_failed'
  | 'passthrough_connect_failed'
  | 'mtls_connect_failed'
  | 'socks5_bad_handshake'
  | 'socks5_command_not_supported'
  | 'socks5_no_acceptable_method'
  | 'socks5_handshake_timeout'
  | 'socks5_handshake_too_large'
  // inbound
  | 'unknown_destination'
  | 'destination_not_local'
  | 'destination_not_ambient'
  | 'authority_mismatch'
  | 'waypoint_bypass'
  | 'proxy_port'
  | 'strict_mtls'
  | 'denied'
  | 'upstream_connect_failed'
  | 'hbone_bad_request'
  | 'hbone_tls'
  | 'hbone_handshake'
  | 'hbone_peer_identity'
  | 'hbone_limit'
  | 'mtls_tls'
  | 'mtls_handshake'
  | 'mtls_peer_identity'
  // any listener
  | 'connection_limit'
  // admin / metrics / readiness ports
  | 'http_bad_request';

export interface ConnectionRecord {
  readonly id: number;
  readonly direction: 'inbound' | 'outbound';
  /** `hbone`, `mtls`, `plaintext`, `passthrough`, `socks5`. */
  readonly kind: string;
  readonly source: string;
  readonly destination: string;
  readonly sourceIdentity?: string;
  readonly destinationIdentity?: string;
  readonly service?: string;
  readonly startedAt: number;
}

export interface ConnectionEnd {
  readonly bytesReceived: number;
  readonly bytesSent: number;
  readonly responseFlags?: readonly ResponseFlag[];
  /**
   * How it ended when not cleanly: an hbone stream outcome (`reset_by_peer`, `idle_timeout`...)
   * or a splice outcome (`reset_a` / `reset_b` / `reset_local`, logged as `reset_by_peer` /
   * `reset_by_upstream` / `shutdown`: side a is always the downstream).
   */
  readonly reason?: string;
}

export interface ConnectionReport {
  readonly reporter: 'source' | 'destination';
  readonly security: ConnectionSecurityPolicy;
  readonly sourceAddress: string;
  readonly source?: Workload | { readonly identity: string };
  readonly destination?: Workload;
  readonly service?: { readonly hostname: string; readonly name: string; readonly namespace: string };
  readonly upstreamHost?: string;
  readonly rbac?: RbacOutcome;
}

export interface ZtunnelTelemetryOptions {
  readonly registry: MetricsRegistry;
  /** Access-log lines (stdout in the binary). */
  readonly accessLog: LineSink;
  readonly accessLogFormat?: AccessLogFormat;
  readonly now?: () => number;
}

export interface ActiveConnection extends ConnectionRecord {
  /** Live byte counts, when the connection is spliced. */
  bytes(): { readonly received: number; readonly sent: number };
}

export interface ZtunnelTelemetry {
  readonly metrics: MeshMetrics;
  readonly rejects: RejectCounter<RejectReason>;
  /** A connection is established: counts it opened and tracks it until `end`. */
  open(
    report: ConnectionReport,
    record: Omit<ConnectionRecord, 'id' | 'startedAt'>,
  ): {
    readonly id: number;
    setBytes(fn: () => { received: number; sent: number }): void;
    end(e: ConnectionEnd): void;
  };
  /** A connection refused before it was established: counted, access-logged with the reason. */
  refused(report: ConnectionReport, reason: RejectReason, flags?: readonly ResponseFlag[]): void;
  connections(): ActiveConnection[];
}

function ref(w: Workload | { readonly identity: string } | undefined): WorkloadRef | undefined {
  if (w === undefined) return undefined;
  if (!('uid' in w)) return { principal: w.identity };
  return {
    name: w.name,
    namespace: w.namespace,
    principal: w.identity,
    app: w.labels.app ?? w.labels['app.kubernetes.io/name'],
    version: w.labels.version ?? w.labels['app.kubernetes.io/version'],
  };
}

const SPLICE_END_REASONS: Readonly<Record<string, string>> = {
  reset_a: 'reset_by_peer',
  reset_b: 'reset_by_upstream',
  reset_local: 'shutdown',
};

/** The access log's words for how a connection ended (one vocabulary for every path). */
function endReason(reason: string): string {
  return SPLICE_END_REASONS[reason] ?? reason;
}

export function createZtunnelTelemetry(options: ZtunnelTelemetryOptions): ZtunnelTelemetry {
  const now = options.now ?? Date.now;
  const metrics = createMeshMetrics(options.registry);
  const rejects = rejectCounter<RejectReason>('ztunnel', options.registry);
  const active = weftGauge(options.registry, {
    component: 'ztunnel',
    name: 'connections_active',
    help: 'Connections ztunnel is proxying now, by direction.',
    labelNames: ['direction'] as const,
  });
  const table = new Map<number, ActiveConnection>();
  let seq = 0;

  // One line per connection; the access logger escapes every value (the reason included) and
  // swallows sink failures, so logging never reaches the data path.
  const accessLog = createAccessLogger({
    sink: options.accessLog,
    ...(options.accessLogFormat !== undefined ? { format: options.accessLogFormat } : {}),
  });
  const write = (entry: TcpAccessLogEntry, reason: string | undefined) =>
    accessLog.tcp(reason === undefined || reason === '' ? entry : { ...entry, reason });

  const labelsOf = (r: ConnectionReport) =>
    peerLabels({
      reporter: r.reporter,
      source: ref(r.source),
      destination: ref(r.destination),
      service: r.service,
      protocol: 'tcp',
      security: r.security,
    });

  const entryOf = (r: ConnectionReport, start: number, end: ConnectionEnd): TcpAccessLogEntry => ({
    startTime: start,
    durationMs: Math.max(0, now() - start),
    reporter: r.reporter,
    sourceAddress: r.sourceAddress,
    sourcePrincipal: r.source?.identity,
    sourceWorkload: r.source !== undefined && 'uid' in r.source ? r.source.name : undefined,
    destinationPrincipal: r.destination?.identity,
    destinationWorkload: r.destination?.name,
    destinationService: r.service?.hostname,
    upstreamHost: r.upstreamHost,
    responseFlags: end.responseFlags,
    bytesReceived: end.bytesReceived,
    bytesSent: end.bytesSent,
    rbac: r.rbac,
    connectionSecurity: r.security,
  });

  return {
    metrics,
    rejects,
    open(report, record) {
      const id = ++seq;
      const startedAt = now();
      const bound = metrics.tcp.bind(labelsOf(report));
      bound.opened();
      active.bind({ direction: record.direction }).inc();
      let bytes = () => ({ received: 0, sent: 0 });
      table.set(id, { ...record, id, startedAt, bytes: () => bytes() });
      let ended = false;
      return {
        id,
        setBytes(fn) {
          bytes = fn;
        },
        end(e) {
          if (ended) return;
          ended = true;
          table.delete(id);
          active.bind({ direction: record.direction }).dec();
          const flags = e.responseFlags?.join(',');
          bound.bytes(e.bytesSent, e.bytesReceived, flags);
          bound.closed(flags);
          write(entryOf(report, startedAt, e), e.reason === undefined ? undefined : endReason(e.reason));
        },
      };
    },
    refused(report, reason, flags) {
      rejects.reject(reason);
      write(
        entryOf(report, now(), {
          bytesReceived: 0,
          bytesSent: 0,
          ...(flags ? { responseFlags: flags } : {}),
        }),
        reason,
      );
    },
    connections: () => [...table.values()],
  };
}
