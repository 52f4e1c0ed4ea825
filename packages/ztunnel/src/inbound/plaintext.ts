// Inbound plaintext (port 15006 of each local workload): a caller without mesh mTLS. Its
// PeerAuthentication decides first (STRICT refuses), then the waypoint binding (a guarded port
// takes only its waypoint, which speaks HBONE: plaintext is refused), then L4 authorization with no
// principal, then the bytes go to the workload's original destination port (never a port of the
// proxy's own).
//
// A proxyless gRPC client reaches this port too (its mesh mTLS to the pod's IP:port is redirected
// here), so unless the port's PeerAuthentication is DISABLE the first bytes are sniffed: a TLS
// ClientHello goes to inbound/mtls.ts, anything else is plaintext. Sniffing is bounded: a few
// bytes, and a deadline (STRICT: the handshake timeout, as only TLS can pass; otherwise
// `sniffTimeoutMs`, after which a silent caller, say of a server-first protocol, is plaintext).
import type { Socket } from 'node:net';
import { sniffTls, splice } from '@weft/hbone';
import { normalizeIp, type Workload } from '@weft/policy/runtime';
import type { ProxyState, SocketFactory } from '@weft/proxy-core';
import { decideInboundPlaintext, type InboundRefusal } from '@weft/proxy-core';
import type { Logger, ResponseFlag } from '@weft/telemetry';
import { ZTUNNEL_MODE } from '../mode.ts';
import type { ConnectionReport, RejectReason, ZtunnelTelemetry } from '../telemetry.ts';
import type { InboundMtls } from './mtls.ts';

/**
 * The port the caller meant. Netns mode reads SO_ORIGINAL_DST; local mode has no interception and
 * uses the workload's first container port (a documented limit).
 */
export type InboundOriginalDestination = (socket: Socket, workload: Workload) => number | undefined;

export const firstContainerPort: InboundOriginalDestination = (_socket, workload) => workload.ports[0]?.port;

export interface InboundPlaintextOptions {
  readonly workload: Workload;
  readonly nodeName: string;
  readonly state: () => ProxyState;
  readonly sockets: SocketFactory;
  readonly telemetry: ZtunnelTelemetry;
  readonly logger: Logger;
  readonly originalDestination?: InboundOriginalDestination;
  /** Open connections on this listener before new ones are refused. Default 1024. */
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  /** The proxy's own ports, never forwarded to; default the mesh's standard ports. */
  readonly proxyPorts?: ReadonlySet<number>;
  /** Terminates mesh mTLS from proxyless peers; without it every connection is plaintext. */
  readonly mtls?: InboundMtls;
  /** How long a caller may stay silent before it is taken for plaintext (not STRICT). Default 1 s. */
  readonly sniffTimeoutMs?: number;
  /** How long a caller may stay silent under STRICT (only TLS can pass). Default 10 s. */
  readonly strictSniffTimeoutMs?: number;
}

export interface InboundPlaintext {
  handleConnection(socket: Socket): void;
  /** Resets every open connection. */
  close(): void;
}

export const DEFAULT_SNIFF_TIMEOUT_MS = 1000;

const REASON: Readonly<Record<InboundRefusal, RejectReason>> = {
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

export function createInboundPlaintext(options: InboundPlaintextOptions): InboundPlaintext {
  const { workload, telemetry } = options;
  const originalDestination = options.originalDestination ?? firstContainerPort;
  const max = options.maxConnections ?? 1024;
  const open = new Set<Socket>();
  const workloadIp = normalizeIp(workload.ips[0] ?? '') ?? '';

  function handleConnection(socket: Socket): void {
    socket.on('error', () => {});
    const sourceIp = normalizeIp(socket.remoteAddress ?? '') ?? '';
    const state = options.state();
    const source = state.workloadByIp(sourceIp);
    const base = {
      reporter: 'destination' as const,
      security: 'none' as const,
      sourceAddress: `${sourceIp}:${socket.remotePort ?? 0}`,
      ...(source !== undefined ? { source } : {}),
      destination: workload,
    };
    if (open.size >= max) {
      telemetry.refused(base, 'connection_limit', ['UO']);
      socket.destroy();
      return;
    }
    const port = originalDestination(socket, workload);
    if (port === undefined) {
      telemetry.refused(base, 'no_original_destination', ['NR']);
      socket.destroy();
      return;
    }
    const mtls = options.mtls;
    const current = state.workloads.get(workload.uid) ?? workload;
    const peerAuthn = state.peerAuthenticationMode(current, port);
    if (mtls === undefined || peerAuthn === 'DISABLE') {
      plaintext(socket, port, sourceIp, base);
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    void sniffTls(socket, {
      timeoutMs:
        peerAuthn === 'STRICT'
          ? (options.strictSniffTimeoutMs ?? 10_000)
          : (options.sniffTimeoutMs ?? DEFAULT_SNIFF_TIMEOUT_MS),
    }).then((sniffed) => {
      if (socket.destroyed) return;
      if (sniffed.kind === 'tls') {
        // still counted against maxConnections until it closes: handshakes in flight included
        mtls.handle(socket, port);
        return;
      }
      if (sniffed.kind === 'closed') {
        socket.destroy();
        return;
      }
      plaintext(socket, port, sourceIp, base);
    });
  }

  function plaintext(
    socket: Socket,
    port: number,
    sourceIp: string,
    base: ConnectionReport & { readonly source?: Workload },
  ): void {
    const state = options.state();
    const source = base.source;
    const decision = decideInboundPlaintext(state, {
      nodeName: options.nodeName,
      mode: ZTUNNEL_MODE,
      listenerWorkloadUid: workload.uid,
      destination: { ip: workloadIp, port },
      sourceIp,
      ...(options.proxyPorts !== undefined ? { proxyPorts: options.proxyPorts } : {}),
    });
    if (!decision.allow) {
      const reason = REASON[decision.reason];
      const flags: ResponseFlag[] =
        reason === 'denied' || reason === 'strict_mtls' || reason === 'waypoint_bypass' ? ['RBAC'] : ['NR'];
      telemetry.refused(
        {
          ...base,
          ...(decision.service !== undefined ? { service: decision.service } : {}),
          upstreamHost: `${workloadIp}:${port}`,
          rbac: { decision: 'deny', policy: decision.authz?.policy },
        },
        reason,
        flags,
      );
      options.logger.debug('inbound plaintext refused', {
        reason,
        source: sourceIp,
        port,
        detail: decision.message,
      });
      socket.destroy();
      return;
    }
    if (!open.has(socket)) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    }
    // Hold the caller's bytes until the upstream is there.
    socket.pause();
    const report = {
      ...base,
      ...(decision.service !== undefined ? { service: decision.service } : {}),
      upstreamHost: `${decision.target.ip}:${decision.target.port}`,
      rbac: { decision: 'allow' as const, policy: decision.authz.policy },
    };
    options.sockets.connect(decision.target, { timeoutMs: options.connectTimeoutMs ?? 10_000 }).then(
      (upstream) => {
        if (socket.destroyed) {
          upstream.destroy();
          return;
        }
        const handle = telemetry.open(report, {
          direction: 'inbound',
          kind: 'plaintext',
          source: report.sourceAddress,
          destination: report.upstreamHost,
          ...(source !== undefined ? { sourceIdentity: source.identity } : {}),
          destinationIdentity: workload.identity,
          ...(decision.service !== undefined ? { service: decision.service.hostname } : {}),
        });
        const tunnel = splice(socket, upstream, (r) =>
          handle.end({
            bytesReceived: r.bytesAToB,
            bytesSent: r.bytesBToA,
            ...(r.outcome === 'reset_b' ? { responseFlags: ['UC'] as ResponseFlag[] } : {}),
            ...(r.outcome !== 'closed' ? { reason: r.outcome } : {}),
          }),
        );
        handle.setBytes(() => ({ received: tunnel.bytesAToB, sent: tunnel.bytesBToA }));
        socket.resume();
      },
      (err: Error) => {
        telemetry.refused(report, 'upstream_connect_failed', ['UF']);
        options.logger.debug('inbound plaintext upstream failed', { error: err.message });
        socket.destroy();
      },
    );
  }

  return {
    handleConnection,
    close() {
      for (const s of open) s.destroy();
      open.clear();
      options.mtls?.close();
    },
  };
}
