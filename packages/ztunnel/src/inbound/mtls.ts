// Inbound mesh mTLS on the captured port (15006): a proxyless gRPC client dials the workload's own
// IP:port with mesh mTLS (it cannot speak HBONE), the pod's rules redirect it here, and the
// plaintext listener hands over connections whose first bytes are a TLS ClientHello. The TLS is
// terminated with the destination workload's certificate (the identity the client checks), a
// client certificate from the mesh trust bundle is required, and the peer's SPIFFE identity is
// decided exactly as an HBONE peer's (proxy-core's `decideInboundMtls`); the decrypted bytes then
// go to the workload's original destination port, as for HBONE.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { type CertSource, createMtlsAcceptor, type MtlsRejectReason, splice } from '@weft/hbone';
import { normalizeIp, type Workload } from '@weft/policy/runtime';
import type { ProxyState, SocketFactory } from '@weft/proxy-core';
import { decideInboundMtls, type InboundRefusal, type InboundRequest } from '@weft/proxy-core';
import type { Logger, ResponseFlag } from '@weft/telemetry';
import { ZTUNNEL_MODE } from '../mode.ts';
import type { RejectReason, ZtunnelTelemetry } from '../telemetry.ts';

export interface InboundMtlsOptions {
  readonly workload: Workload;
  readonly nodeName: string;
  readonly state: () => ProxyState;
  readonly certs: CertSource;
  readonly sockets: SocketFactory;
  readonly telemetry: ZtunnelTelemetry;
  readonly logger: Logger;
  readonly trustDomain: string;
  readonly handshakeTimeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly proxyPorts?: ReadonlySet<number>;
}

export interface InboundMtls {
  /** A connection to `port` of the workload whose first bytes were a ClientHello (put back). */
  handle(socket: Socket, port: number): void;
  /** Decides every open connection again and resets the ones now refused; returns how many. */
  revalidate(): number;
  /** Resets every open connection. */
  close(): void;
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

function rejectReason(r: MtlsRejectReason): RejectReason {
  switch (r) {
    case 'no_client_cert':
    case 'untrusted_cert':
    case 'expired_cert':
      return 'mtls_tls';
    case 'no_spiffe_id':
    case 'multiple_spiffe_ids':
    case 'invalid_spiffe_id':
    case 'foreign_trust_domain':
      return 'mtls_peer_identity';
    case 'handshake_timeout':
    case 'tls_handshake':
    case 'alpn':
    case 'no_server_certificate':
      return 'mtls_handshake';
    default: {
      const never: never = r;
      return never;
    }
  }
}

export function createInboundMtls(options: InboundMtlsOptions): InboundMtls {
  const { workload, telemetry } = options;
  const workloadIp = normalizeIp(workload.ips[0] ?? '') ?? '';
  const acceptor = createMtlsAcceptor({
    certs: options.certs,
    identity: workload.identity,
    trustDomains: [options.trustDomain],
    ...(options.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: options.handshakeTimeoutMs } : {}),
  });
  // Open connections: what was decided (to decide again) and both ends (to reset).
  const live = new Map<Duplex, { readonly request: InboundRequest; readonly upstream: Duplex }>();
  const pending = new Set<Duplex>();

  async function handle(socket: Socket, port: number): Promise<void> {
    const sourceIp = normalizeIp(socket.remoteAddress ?? '') ?? '';
    const sourceAddress = `${sourceIp}:${socket.remotePort ?? 0}`;
    pending.add(socket);
    const accepted = await acceptor.accept(socket);
    pending.delete(socket);
    const state = options.state();
    const base = {
      reporter: 'destination' as const,
      security: 'mutual_tls' as const,
      sourceAddress,
      destination: workload,
      upstreamHost: `${workloadIp}:${port}`,
    };
    if (!accepted.ok) {
      const reason = rejectReason(accepted.reason);
      telemetry.refused(base, reason, []);
      options.logger.debug('inbound mtls refused', {
        reason: accepted.reason,
        source: sourceIp,
        detail: accepted.detail,
      });
      return;
    }
    const tls: TLSSocket = accepted.socket;
    tls.on('error', () => {});
    const peer = accepted.peer.id;
    const request: InboundRequest = {
      nodeName: options.nodeName,
      mode: ZTUNNEL_MODE,
      listenerWorkloadUid: workload.uid,
      destination: { ip: workloadIp, port },
      peerIdentity: peer,
      sourceIp,
      ...(options.proxyPorts !== undefined ? { proxyPorts: options.proxyPorts } : {}),
    };
    const decision = decideInboundMtls(state, request);
    const known = state.workloadByIp(sourceIp);
    const source = known !== undefined && known.identity === peer ? known : { identity: peer };
    if (!decision.allow) {
      const reason = REFUSAL_REASON[decision.reason];
      const flags: ResponseFlag[] = reason === 'denied' || reason === 'waypoint_bypass' ? ['RBAC'] : ['NR'];
      telemetry.refused(
        {
          ...base,
          source,
          ...(decision.service !== undefined ? { service: decision.service } : {}),
          rbac: { decision: 'deny', policy: decision.authz?.policy },
        },
        reason,
        flags,
      );
      options.logger.debug('inbound mtls refused', { reason, peer, port, detail: decision.message });
      tls.destroy();
      return;
    }
    const report = {
      ...base,
      source,
      ...(decision.service !== undefined ? { service: decision.service } : {}),
      upstreamHost: `${decision.target.ip}:${decision.target.port}`,
      rbac: { decision: 'allow' as const, policy: decision.authz.policy },
    };
    let upstream: Duplex;
    tls.pause();
    pending.add(tls);
    try {
      upstream = await options.sockets.connect(decision.target, {
        timeoutMs: options.connectTimeoutMs ?? 10_000,
      });
    } catch (err) {
      pending.delete(tls);
      telemetry.refused(report, 'upstream_connect_failed', ['UF']);
      options.logger.debug('inbound mtls upstream failed', {
        error: err instanceof Error ? err.message : String(err),
      });
      tls.destroy();
      return;
    }
    pending.delete(tls);
    if (tls.destroyed) {
      upstream.destroy();
      return;
    }
    const handle = telemetry.open(report, {
      direction: 'inbound',
      kind: 'mtls',
      source: sourceAddress,
      destination: report.upstreamHost,
      sourceIdentity: peer,
      destinationIdentity: workload.identity,
      ...(decision.service !== undefined ? { service: decision.service.hostname } : {}),
    });
    live.set(tls, { request, upstream });
    const tunnel = splice(tls, upstream, (r) => {
      live.delete(tls);
      handle.end({
        bytesReceived: r.bytesAToB,
        bytesSent: r.bytesBToA,
        ...(r.outcome === 'reset_b' ? { responseFlags: ['UC'] as ResponseFlag[] } : {}),
        ...(r.outcome !== 'closed' ? { reason: r.outcome } : {}),
      });
    });
    handle.setBytes(() => ({ received: tunnel.bytesAToB, sent: tunnel.bytesBToA }));
    tls.resume();
  }

  return {
    handle(socket, port) {
      handle(socket, port).catch((err: unknown) => {
        // Never reached by design; a bug here must not take the process down.
        options.logger.warn('inbound mtls failed', {
          error: err instanceof Error ? err.message : String(err),
        });
        socket.destroy();
      });
    },
    revalidate() {
      if (live.size === 0) return 0;
      const state = options.state();
      let reset = 0;
      for (const [tls, { request, upstream }] of [...live]) {
        const decision = decideInboundMtls(state, request);
        if (decision.allow) continue;
        live.delete(tls);
        reset++;
        telemetry.rejects.reject(REFUSAL_REASON[decision.reason]);
        options.logger.info('open mtls connection no longer allowed; reset', {
          workload: `${workload.namespace}/${workload.name}`,
          peer: request.peerIdentity ?? '',
          reason: decision.reason,
        });
        upstream.destroy();
        tls.destroy();
      }
      return reset;
    },
    close() {
      acceptor.close();
      for (const s of pending) s.destroy();
      pending.clear();
      for (const [tls, { upstream }] of live) {
        upstream.destroy();
        tls.destroy();
      }
      live.clear();
    },
  };
}
