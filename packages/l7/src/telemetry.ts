// Telemetry glue: Istio request metrics (reporter="waypoint" by default), one access-log line per
// request, Weft's own counters, and the reject counter every refused input goes through.
import type { Workload } from '@weft/policy';
import type { L7State } from '@weft/proxy-core';
import {
  type AccessLogger,
  type CounterChild,
  createMeshMetrics,
  createRegistry,
  type HttpPeerMetrics,
  type MeshMetrics,
  type MetricsRegistry,
  type PeerLabels,
  peerLabels,
  type RejectCounter,
  type Reporter,
  rejectCounter,
  type WorkloadRef,
  weftCounter,
} from '@weft/telemetry';
import type { L7Request } from './http/message.ts';

/**
 * Every way the engine refuses input; each is counted in weft_rejected_total{component}, where
 * component is "waypoint" or "sidecar" (see `componentFor`).
 */
export const REJECT_REASONS = [
  /** Content-Length with Transfer-Encoding, repeated Content-Length, bad Transfer-Encoding. */
  'request_smuggling',
  /** Request head larger than the limit (431). */
  'header_too_large',
  /** Request body larger than the limit (413). */
  'body_too_large',
  /** Missing, repeated or malformed Host / :authority (400). */
  'invalid_host',
  /** Request target that does not normalize (encoded slash, NUL, not origin-form...) (400). */
  'invalid_path',
  /** Any other malformed HTTP/1 request the parser refused (400). */
  'bad_request',
  /** A request head (HTTP/1.1) or the first HEADERS (HTTP/2) not complete within headersTimeoutMs (408 or close). */
  'headers_timeout',
  /** HTTP/2 client cancelling streams too fast (CVE-2023-44487). */
  'rapid_reset',
  /** HTTP/2 SETTINGS or PING frames too fast. */
  'control_frame_flood',
  /** HTTP/2 protocol error or flood detected by the HTTP/2 stack. */
  'h2_protocol_error',
  /** Destination is neither a known service port nor a workload. */
  'unknown_destination',
  /** Invalid trace header (dropped, not forwarded). */
  'bad_trace_header',
  /** Malformed grpc-timeout (ignored). */
  'invalid_grpc_timeout',
  /** Downstream connections over the limit. */
  'connection_limit',
  /** An upstream answered malformed HTTP/1.1 (502, flag UPE). */
  'upstream_protocol_error',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface RequestSample {
  readonly status: number;
  readonly grpcStatus: number | undefined;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly durationMs: number;
}

export interface EngineTelemetry {
  readonly registry: MetricsRegistry;
  readonly metrics: MeshMetrics;
  readonly rejects: RejectCounter<RejectReason>;
  readonly reporter: Reporter;
  /** Called once per finished request (metrics + access log). */
  requestDone(req: L7Request, sample: RequestSample): void;
  readonly counters: {
    readonly retries: CounterChild;
    readonly ejections: CounterChild;
    readonly mirrored: CounterChild;
    readonly mirrorSkipped: CounterChild;
    readonly mirrorFailed: CounterChild;
  };
}

export interface TelemetryOptions {
  readonly registry?: MetricsRegistry;
  readonly reporter?: Reporter;
  /** `component` of Weft's own metrics (weft_<component>_*, weft_rejected_total). Default waypoint. */
  readonly component?: 'waypoint' | 'sidecar';
  readonly accessLog?: AccessLogger | undefined;
}

function workloadRef(w: Workload | undefined, principal: string | undefined): WorkloadRef | undefined {
  if (w === undefined) return principal === undefined ? undefined : { principal };
  return {
    name: w.name,
    namespace: w.namespace,
    principal: w.identity,
    app: w.labels.app ?? w.labels['app.kubernetes.io/name'],
    version: w.labels.version ?? w.labels['app.kubernetes.io/version'],
  };
}

function workloadName(state: L7State, uid: string | undefined): string | undefined {
  return uid === undefined ? undefined : (state.workload(uid)?.name ?? uid);
}

function workloadIdentity(state: L7State, uid: string | undefined): string | undefined {
  return uid === undefined ? undefined : state.workload(uid)?.identity;
}

export function createEngineTelemetry(options: TelemetryOptions = {}): EngineTelemetry {
  const registry = options.registry ?? createRegistry();
  const metrics = createMeshMetrics(registry);
  const component = options.component ?? 'waypoint';
  const rejects = rejectCounter<RejectReason>(component, registry);
  const reporter = options.reporter ?? 'waypoint';
  const accessLog = options.accessLog;
  const retries = weftCounter(registry, {
    component,
    name: 'upstream_retries',
    help: 'Upstream retries.',
  });
  const ejections = weftCounter(registry, {
    component,
    name: 'outlier_ejections',
    help: 'Endpoints ejected by outlier detection.',
  });
  const mirror = weftCounter(registry, {
    component,
    name: 'mirrored_requests',
    help: 'Mirrored request copies, by outcome.',
    labelNames: ['outcome'] as const,
  });
  // Peer label objects memoized per (state, source, destination, service): binding the same
  // object is one WeakMap lookup in the metrics layer.
  let memoGeneration = -1;
  let memo = new Map<string, HttpPeerMetrics>();

  const peerFor = (req: L7Request, state: L7State): HttpPeerMetrics => {
    const ctx = req.ctx;
    const d = ctx.downstream;
    const srcIp = d.forwardedFor ?? d.remoteIp;
    const service =
      ctx.upstream?.service ?? (ctx.target.kind === 'service' ? ctx.target.service.hostname : undefined);
    const protocol = ctx.grpc ? 'grpc' : 'http';
    const key = `${d.principal ?? ''}|${srcIp}|${ctx.upstream?.workloadUid ?? ''}|${service ?? ''}|${protocol}|${d.security}`;
    if (memoGeneration !== state.generation) {
      memoGeneration = state.generation;
      memo = new Map();
    }
    let bound = memo.get(key);
    if (bound === undefined) {
      let src = state.workloadByIp(srcIp);
      if (src !== undefined && d.principal !== undefined && src.identity !== d.principal) src = undefined;
      const dstUid = ctx.upstream?.workloadUid;
      const dst = dstUid === undefined ? undefined : state.workload(dstUid);
      const svc = service === undefined ? undefined : state.service(service);
      const labels: PeerLabels = peerLabels({
        reporter,
        source: workloadRef(src, d.principal),
        destination: workloadRef(dst, undefined),
        service:
          svc !== undefined
            ? { hostname: svc.hostname, name: svc.name, namespace: svc.namespace }
            : service !== undefined
              ? { hostname: service }
              : undefined,
        protocol,
        security: d.security,
      });
      bound = metrics.http.bind(labels);
      if (memo.size > 10_000) memo.clear();
      memo.set(key, bound);
    }
    return bound;
  };

  return {
    registry,
    metrics,
    rejects,
    reporter,
    counters: {
      retries: retries.bind({}),
      ejections: ejections.bind({}),
      mirrored: mirror.bind({ outcome: 'sent' }),
      mirrorSkipped: mirror.bind({ outcome: 'skipped' }),
      mirrorFailed: mirror.bind({ outcome: 'failed' }),
    },
    requestDone(req, sample) {
      const ctx = req.ctx;
      const flags = ctx.flags.length === 0 ? '-' : ctx.flags.join(',');
      peerFor(req, ctx.state).record(
        { responseCode: sample.status, grpcStatus: sample.grpcStatus, responseFlags: flags },
        {
          durationMs: sample.durationMs,
          requestBytes: sample.requestBytes,
          responseBytes: sample.responseBytes,
        },
      );
      if (accessLog !== undefined) {
        const d = ctx.downstream;
        const ua = req.headers['user-agent'];
        accessLog.http({
          startTime: ctx.startTime,
          durationMs: sample.durationMs,
          protocol: ctx.protocol,
          method: req.method,
          path: req.rawPath,
          authority: req.authority,
          status: sample.status,
          grpcStatus: sample.grpcStatus,
          userAgent: typeof ua === 'string' ? ua : undefined,
          reporter,
          sourceAddress: `${d.remoteIp}:${d.remotePort}`,
          sourcePrincipal: d.principal,
          destinationService:
            ctx.upstream?.service ??
            (ctx.target.kind === 'service' ? ctx.target.service.hostname : undefined),
          destinationWorkload: workloadName(ctx.state, ctx.upstream?.workloadUid),
          destinationPrincipal: workloadIdentity(ctx.state, ctx.upstream?.workloadUid),
          upstreamHost: ctx.upstream?.address,
          routeName: ctx.route?.name,
          responseFlags: ctx.flags,
          bytesReceived: sample.requestBytes,
          bytesSent: sample.responseBytes,
          rbac: ctx.rbac,
          connectionSecurity: d.security,
          traceId: ctx.traceId,
          requestId: ctx.requestId,
        });
      }
    },
  };
}
