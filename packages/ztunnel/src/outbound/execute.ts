// Executes an OutboundPlan: opens the upstream (an HBONE tunnel through @weft/hbone's pooled
// client, mesh mTLS straight to a proxyless workload's port, or plain TCP, the last two through
// the SocketFactory), then joins it to the app's connection and reports it. SOCKS5 and the capture
// listener share this; only their handshakes differ.
import type { Duplex } from 'node:stream';
import { type CertSource, type HboneConnectRequest, isHboneError, mtlsConnect, splice } from '@weft/hbone';
import type { DenyReason, OutboundPlan, SocketFactory } from '@weft/proxy-core';
import { REPLY, type ReplyCode } from '@weft/proxy-core';
import type { Logger, ResponseFlag } from '@weft/telemetry';
import type { ConnectionReport, RejectReason, ZtunnelTelemetry } from '../telemetry.ts';

/** Opens an HBONE tunnel (the @weft/hbone client's `connect`). */
export type HboneConnector = (req: HboneConnectRequest) => Promise<Duplex>;

export interface OutboundExecutorOptions {
  readonly hbone: HboneConnector;
  readonly sockets: SocketFactory;
  /** Source workloads' certificates, for mesh mTLS to proxyless workloads (the ones HBONE uses). */
  readonly certs: CertSource;
  readonly telemetry: ZtunnelTelemetry;
  readonly logger: Logger;
  /** Deadline for the upstream (TCP connect, or HBONE connect + CONNECT response). Default 10 s. */
  readonly connectTimeoutMs?: number;
}

export type UpstreamResult =
  | { readonly ok: true; readonly upstream: Duplex }
  | {
      readonly ok: false;
      readonly reason: RejectReason;
      readonly reply: ReplyCode;
      readonly flags: readonly ResponseFlag[];
      readonly message: string;
    };

const DENY: Readonly<Record<DenyReason, { reason: RejectReason; reply: ReplyCode; flags: ResponseFlag[] }>> =
  {
    'unknown-source': { reason: 'unknown_source', reply: REPLY.notAllowed, flags: ['RBAC'] },
    'source-not-local': { reason: 'source_not_local', reply: REPLY.notAllowed, flags: ['RBAC'] },
    'source-not-ambient': { reason: 'source_not_ambient', reply: REPLY.notAllowed, flags: ['RBAC'] },
    'unknown-hostname': { reason: 'unknown_hostname', reply: REPLY.hostUnreachable, flags: ['NR'] },
    'unknown-service-port': { reason: 'unknown_service_port', reply: REPLY.hostUnreachable, flags: ['NR'] },
    'no-endpoints': { reason: 'no_endpoints', reply: REPLY.hostUnreachable, flags: ['UH'] },
    'waypoint-unavailable': { reason: 'waypoint_unavailable', reply: REPLY.hostUnreachable, flags: ['UH'] },
    'invalid-destination': { reason: 'invalid_destination', reply: REPLY.hostUnreachable, flags: ['NR'] },
  };

/** The app's end of the connection. */
export interface AppPeer {
  readonly ip: string;
  readonly port: number;
}

function format(peer: AppPeer): string {
  return peer.ip.includes(':') ? `[${peer.ip}]:${peer.port}` : `${peer.ip}:${peer.port}`;
}

export interface OutboundExecutor {
  /** Connection report fields for a plan (labels, identities). */
  reportOf(plan: OutboundPlan, peer: AppPeer): ConnectionReport;
  /** A deny plan as a refusal (counted, access-logged) with its SOCKS5 reply code. */
  refuse(plan: OutboundPlan & { kind: 'deny' }, peer: AppPeer): ReplyCode;
  openUpstream(plan: Exclude<OutboundPlan, { kind: 'deny' }>, peer: AppPeer): Promise<UpstreamResult>;
  /** Joins app <-> upstream until both sides close; reports the connection. */
  run(
    downstream: Duplex,
    upstream: Duplex,
    plan: Exclude<OutboundPlan, { kind: 'deny' }>,
    peer: AppPeer,
  ): void;
}

function hboneFailure(err: unknown): Omit<Extract<UpstreamResult, { ok: false }>, 'ok'> {
  if (!isHboneError(err)) {
    return {
      reason: 'hbone_connect_failed',
      reply: REPLY.generalFailure,
      flags: ['UF'],
      message: String(err),
    };
  }
  const base = { reason: 'hbone_connect_failed' as const, message: `${err.kind}: ${err.message}` };
  switch (err.kind) {
    case 'denied':
      return { ...base, reply: REPLY.notAllowed, flags: ['RBAC'] };
    case 'upstream_unavailable':
      return { ...base, reply: REPLY.connectionRefused, flags: ['UF'] };
    case 'connect':
      return {
        ...base,
        reply:
          err.code === 'ECONNREFUSED'
            ? REPLY.connectionRefused
            : err.code === 'ENETUNREACH'
              ? REPLY.networkUnreachable
              : REPLY.hostUnreachable,
        flags: ['UF'],
      };
    case 'timeout':
      return { ...base, reply: REPLY.hostUnreachable, flags: ['UF'] };
    default:
      return { ...base, reply: REPLY.generalFailure, flags: ['UF'] };
  }
}

/** How a failed connect answers: SOCKS5 reply from the socket error code. */
function connectReply(code: string | undefined): ReplyCode {
  return code === 'ECONNREFUSED'
    ? REPLY.connectionRefused
    : code === 'ENETUNREACH'
      ? REPLY.networkUnreachable
      : REPLY.hostUnreachable;
}

export function createOutboundExecutor(options: OutboundExecutorOptions): OutboundExecutor {
  const timeoutMs = options.connectTimeoutMs ?? 10_000;
  const { telemetry } = options;

  const reportOf = (plan: OutboundPlan, peer: AppPeer): ConnectionReport => {
    const sourceAddress = format(peer);
    switch (plan.kind) {
      case 'deny':
        return {
          reporter: 'source',
          security: 'unknown',
          sourceAddress,
          ...(plan.source !== undefined ? { source: plan.source } : {}),
        };
      case 'hbone':
        return {
          reporter: 'source',
          security: 'mutual_tls',
          sourceAddress,
          source: plan.source,
          destination: plan.destination,
          ...(plan.service !== undefined ? { service: plan.service } : {}),
          upstreamHost: `${plan.authority.ip}:${plan.authority.port}`,
        };
      case 'mtls':
        return {
          reporter: 'source',
          security: 'mutual_tls',
          sourceAddress,
          source: plan.source,
          destination: plan.destination,
          ...(plan.service !== undefined ? { service: plan.service } : {}),
          upstreamHost: `${plan.target.ip}:${plan.target.port}`,
        };
      case 'passthrough':
        return {
          reporter: 'source',
          security: 'none',
          sourceAddress,
          source: plan.source,
          ...(plan.destination !== undefined ? { destination: plan.destination } : {}),
          ...(plan.service !== undefined ? { service: plan.service } : {}),
          upstreamHost: `${plan.target.ip}:${plan.target.port}`,
        };
      default: {
        const never: never = plan;
        return never;
      }
    }
  };

  /**
   * Mesh mTLS to a proxyless workload: TCP to its port through the SocketFactory (in-pod mode: from
   * the pod's netns, marked), then TLS with the source's certificate, ALPN h2, the server's SPIFFE
   * identity checked. The app's plaintext (h2c gRPC) travels inside.
   */
  async function openMtls(
    plan: Extract<OutboundPlan, { kind: 'mtls' }>,
    peer: AppPeer,
    signal: AbortSignal,
  ): Promise<UpstreamResult> {
    const fail = (reply: ReplyCode, message: string): UpstreamResult => {
      telemetry.refused(reportOf(plan, peer), 'mtls_connect_failed', ['UF']);
      options.logger.debug('outbound mtls failed', {
        source: format(peer),
        target: `${plan.target.ip}:${plan.target.port}`,
        error: message,
      });
      return { ok: false, reason: 'mtls_connect_failed', reply, flags: ['UF'], message };
    };
    const material = options.certs.current(plan.sourceIdentity);
    if (material === undefined) {
      return fail(REPLY.generalFailure, `no_certificate: no certificate for ${plan.sourceIdentity}`);
    }
    let socket: Duplex;
    try {
      socket = await options.sockets.connect(plan.target, { signal, timeoutMs });
    } catch (err) {
      return fail(
        connectReply((err as { code?: string }).code),
        `connect: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    try {
      const upstream = await mtlsConnect(socket, {
        material,
        expected: plan.expectedIdentity,
        signal,
        timeoutMs,
      });
      return { ok: true, upstream };
    } catch (err) {
      return fail(REPLY.generalFailure, isHboneError(err) ? `${err.kind}: ${err.message}` : String(err));
    }
  }

  return {
    reportOf,
    refuse(plan, peer) {
      const d = DENY[plan.reason];
      telemetry.refused(reportOf(plan, peer), d.reason, d.flags);
      options.logger.debug('outbound refused', {
        reason: plan.reason,
        source: format(peer),
        detail: plan.message,
      });
      return d.reply;
    },
    async openUpstream(plan, peer) {
      const signal = AbortSignal.timeout(timeoutMs);
      if (plan.kind === 'hbone') {
        try {
          const upstream = await options.hbone({
            via: plan.via,
            dest: plan.authority,
            expectedIdentity: plan.expectedIdentity,
            sourceIdentity: plan.sourceIdentity,
            forwardedFor: peer.ip,
            signal,
            timeoutMs,
          });
          return { ok: true, upstream };
        } catch (err) {
          const f = hboneFailure(err);
          telemetry.refused(reportOf(plan, peer), f.reason, f.flags);
          options.logger.debug('outbound hbone failed', { source: format(peer), error: f.message });
          return { ok: false, ...f };
        }
      }
      if (plan.kind === 'mtls') return openMtls(plan, peer, signal);
      try {
        const upstream = await options.sockets.connect(plan.target, { signal, timeoutMs });
        return { ok: true, upstream };
      } catch (err) {
        const reply = connectReply((err as { code?: string }).code);
        telemetry.refused(reportOf(plan, peer), 'passthrough_connect_failed', ['UF']);
        return {
          ok: false,
          reason: 'passthrough_connect_failed',
          reply,
          flags: ['UF'],
          message: err instanceof Error ? err.message : String(err),
        };
      }
    },
    run(downstream, upstream, plan, peer) {
      const report = reportOf(plan, peer);
      const handle = telemetry.open(report, {
        direction: 'outbound',
        kind: plan.kind,
        source: report.sourceAddress,
        destination: report.upstreamHost ?? '',
        sourceIdentity: plan.source.identity,
        ...(plan.kind === 'hbone' || plan.kind === 'mtls'
          ? { destinationIdentity: plan.expectedIdentity }
          : {}),
        ...(plan.service !== undefined ? { service: plan.service.hostname } : {}),
      });
      const tunnel = splice(downstream, upstream, (r) =>
        handle.end({
          bytesReceived: r.bytesAToB,
          bytesSent: r.bytesBToA,
          ...(r.outcome === 'reset_b' ? { responseFlags: ['UC'] as ResponseFlag[] } : {}),
          ...(r.outcome !== 'closed' ? { reason: r.outcome } : {}),
        }),
      );
      handle.setBytes(() => ({ received: tunnel.bytesAToB, sent: tunnel.bytesBToA }));
    },
  };
}
