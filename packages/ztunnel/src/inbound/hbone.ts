// Inbound HBONE (port 15008 of each local workload): @weft/hbone terminates mutual TLS and
// verifies the peer's SPIFFE ID; here each CONNECT is decided (destination workload, L4
// authorization) and its upstream opened through the SocketFactory. One HboneServer per local
// workload, presenting that workload's certificate, fed by the listener on the workload's IP.
import type { Socket } from 'node:net';
import {
  type CertSource,
  type ConnectionRejectReason,
  createHboneServer,
  type HboneServer,
} from '@weft/hbone';
import type { Workload } from '@weft/policy/runtime';
import type { ProxyState, SocketFactory } from '@weft/proxy-core';
import {
  decideInboundHbone,
  type InboundDecision,
  type InboundRefusal,
  type InboundRequest,
} from '@weft/proxy-core';
import type { Logger, ResponseFlag } from '@weft/telemetry';
import { ZTUNNEL_MODE } from '../mode.ts';
import type { RejectReason, ZtunnelTelemetry } from '../telemetry.ts';

export interface InboundHboneOptions {
  readonly workload: Workload;
  readonly nodeName: string;
  readonly state: () => ProxyState;
  readonly certs: CertSource;
  readonly sockets: SocketFactory;
  readonly telemetry: ZtunnelTelemetry;
  readonly logger: Logger;
  readonly trustDomain: string;
  /** The proxy's own ports, never dialled for a tunnel; default the mesh's standard ports. */
  readonly proxyPorts?: ReadonlySet<number>;
  readonly limits?: {
    readonly maxConnections?: number;
    readonly maxPendingHandshakes?: number;
    readonly handshakeTimeoutMs?: number;
  };
}

export interface InboundHbone {
  readonly server: HboneServer;
  handleConnection(socket: Socket): void;
  /**
   * Decides every open tunnel again against the current state and resets the ones it now refuses
   * (a new DENY, a waypoint binding): a proxy that pools tunnels, as a waypoint does, must not
   * keep a connection the policy no longer allows. Returns how many were reset.
   */
  revalidate(): number;
  close(graceMs?: number): Promise<void>;
}

const REFUSAL_REASON: Readonly<Record<InboundRefusal, RejectReason>> = {
  'unknown-destination': 'unknown_destination',
  'destination-not-local': 'destination_not_local',
  'destination-not-ambient': 'destination_not_ambient',
  'authority-mismatch': 'authority_mismatch',
  'strict-mtls': 'strict_mtls',
  denied: 'denied',
  'waypoint-bypass': 'waypoint_bypass',
  'no-original-destination': 'no_original_destination',
  'proxy-port': 'proxy_port',
};

function connectionReason(r: ConnectionRejectReason): RejectReason {
  switch (r) {
    case 'connection_limit':
    case 'handshake_overflow':
    case 'rapid_reset':
    case 'shutting_down':
    case 'no_server_certificate':
      return 'hbone_limit';
    case 'handshake_timeout':
    case 'tls_handshake':
    case 'alpn':
      return 'hbone_handshake';
    case 'no_client_cert':
    case 'untrusted_cert':
    case 'expired_cert':
      return 'hbone_tls';
    case 'no_spiffe_id':
    case 'multiple_spiffe_ids':
    case 'invalid_spiffe_id':
    case 'foreign_trust_domain':
      return 'hbone_peer_identity';
    case 'protocol_error':
      return 'hbone_bad_request';
    default: {
      const never: never = r;
      return never;
    }
  }
}

export function createInboundHbone(options: InboundHboneOptions): InboundHbone {
  const { workload, telemetry } = options;
  // Decisions made in `authorize`, by hbone stream id (the same id reaches connectUpstream and
  // the hooks; addresses do not tell apart two streams of one connection to one destination).
  // An entry lives from authorize to onStreamClosed, which every stream that was authorized gets,
  // so the map holds at most the streams in flight.
  const decisions = new Map<number, InboundDecision>();
  const opened = new Map<number, ReturnType<ZtunnelTelemetry['open']>>();
  // Open tunnels: what was asked (to decide again) and the app connection (to reset).
  const live = new Map<number, { readonly request: InboundRequest; readonly upstream: Socket }>();
  const requests = new Map<number, InboundRequest>();

  const server = createHboneServer({
    certs: options.certs,
    identity: workload.identity,
    trustDomains: [options.trustDomain],
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    logger: options.logger,
    authorize(peer, dest, _headers, stream) {
      const request: InboundRequest = {
        nodeName: options.nodeName,
        mode: ZTUNNEL_MODE,
        listenerWorkloadUid: workload.uid,
        destination: dest,
        peerIdentity: peer.identity,
        sourceIp: peer.ip,
        ...(peer.forwardedFor !== undefined ? { forwardedFor: peer.forwardedFor } : {}),
        ...(options.proxyPorts !== undefined ? { proxyPorts: options.proxyPorts } : {}),
      };
      const decision = decideInboundHbone(options.state(), request);
      if (decision.source.forwarded === 'ignored') {
        options.logger.debug('Forwarded ignored: the peer may not speak for another address', {
          peer: peer.identity,
          forwarded: peer.forwardedFor ?? '',
          source: decision.source.ip,
        });
      }
      decisions.set(stream.id, decision);
      requests.set(stream.id, request);
      // Policy says no: 401. A destination this node does not serve (not a local ambient
      // workload, or not the one this listener is for) is a bad request: 400.
      if (!decision.allow) return { allow: false, status: decision.status, reason: decision.message };
      return { allow: true };
    },
    connectUpstream(_dest, ctx) {
      const decision = decisions.get(ctx.id);
      // Only streams `authorize` allowed get here; anything else fails closed.
      if (decision === undefined || !decision.allow) {
        return Promise.reject(new Error(decision?.message ?? `no decision for stream ${ctx.id}`));
      }
      return options.sockets.connect(decision.target, { signal: ctx.signal }).then((upstream) => {
        const request = requests.get(ctx.id);
        if (request !== undefined && decisions.has(ctx.id)) live.set(ctx.id, { request, upstream });
        return upstream;
      });
    },
    hooks: {
      onConnectionRejected(e) {
        telemetry.rejects.reject(connectionReason(e.reason));
      },
      onStreamOpened(e) {
        const decision = decisions.get(e.id);
        const state = options.state();
        // The source as decided: Forwarded only when the peer may speak for another address.
        const sourceIp = decision?.source.ip ?? e.peer.ip;
        const source = state.workloadByIp(sourceIp);
        const dst = decision?.workload ?? workload;
        // :authority is the pod IP; the service comes from the store (endpoint on this port).
        const service = decision?.service;
        const handle = telemetry.open(
          {
            reporter: 'destination',
            security: 'mutual_tls',
            sourceAddress: sourceIp,
            source:
              source !== undefined && source.identity === e.peer.identity
                ? source
                : { identity: e.peer.identity },
            destination: dst,
            ...(service !== undefined ? { service } : {}),
            upstreamHost: `${e.dest.ip}:${e.dest.port}`,
            ...(decision?.allow ? { rbac: { decision: 'allow', policy: decision.authz.policy } } : {}),
          },
          {
            direction: 'inbound',
            kind: 'hbone',
            source: sourceIp,
            destination: `${e.dest.ip}:${e.dest.port}`,
            sourceIdentity: e.peer.identity,
            destinationIdentity: dst.identity,
            ...(service !== undefined ? { service: service.hostname } : {}),
          },
        );
        opened.set(e.id, handle);
      },
      onStreamClosed(e) {
        const decision = decisions.get(e.id);
        decisions.delete(e.id);
        requests.delete(e.id);
        live.delete(e.id);
        const handle = opened.get(e.id);
        if (handle !== undefined) {
          opened.delete(e.id);
          const flags: ResponseFlag[] =
            e.outcome === 'reset_by_upstream' ? ['UC'] : e.outcome === 'idle_timeout' ? ['SI'] : [];
          handle.end({
            bytesReceived: e.bytesIn,
            bytesSent: e.bytesOut,
            ...(flags.length > 0 ? { responseFlags: flags } : {}),
            ...(e.outcome !== 'closed' ? { reason: e.outcome } : {}),
          });
          return;
        }
        if (e.outcome === 'cancelled' || e.outcome === 'unauthenticated') return;
        let reason: RejectReason;
        let flags: ResponseFlag[];
        if (decision !== undefined && !decision.allow) {
          reason = REFUSAL_REASON[decision.reason];
          flags = reason === 'denied' || reason === 'waypoint_bypass' ? ['RBAC'] : ['NR'];
        } else if (e.outcome === 'denied') {
          reason = 'denied';
          flags = ['RBAC'];
        } else if (e.outcome === 'upstream_unavailable') {
          reason = 'upstream_connect_failed';
          flags = ['UF'];
        } else {
          reason = 'hbone_bad_request';
          flags = [];
        }
        const refusedWorkload = decision !== undefined && !decision.allow ? decision.workload : undefined;
        const refusedService = decision !== undefined && !decision.allow ? decision.service : undefined;
        telemetry.refused(
          {
            reporter: 'destination',
            security: 'mutual_tls',
            sourceAddress: decision?.source.ip ?? e.peer?.ip ?? '',
            ...(e.peer !== undefined ? { source: { identity: e.peer.identity } } : {}),
            destination: refusedWorkload ?? workload,
            ...(refusedService !== undefined ? { service: refusedService } : {}),
            ...(e.dest !== undefined ? { upstreamHost: `${e.dest.ip}:${e.dest.port}` } : {}),
            ...(e.outcome === 'denied' &&
            decision !== undefined &&
            !decision.allow &&
            decision.authz !== undefined
              ? { rbac: { decision: 'deny', policy: decision.authz.policy } }
              : {}),
          },
          reason,
          flags,
        );
      },
    },
  });

  return {
    server,
    handleConnection: (socket) => server.handleConnection(socket),
    revalidate() {
      if (live.size === 0) return 0;
      const state = options.state();
      let reset = 0;
      for (const [id, { request, upstream }] of [...live]) {
        const decision = decideInboundHbone(state, request);
        if (decision.allow) continue;
        live.delete(id);
        reset++;
        telemetry.rejects.reject(REFUSAL_REASON[decision.reason]);
        options.logger.info('open tunnel no longer allowed; reset', {
          workload: `${workload.namespace}/${workload.name}`,
          peer: request.peerIdentity ?? '',
          reason: decision.reason,
          detail: decision.message,
        });
        upstream.destroy();
      }
      return reset;
    },
    close: (graceMs = 1000) => server.close({ graceMs }),
  };
}
