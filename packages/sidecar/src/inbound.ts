// Inbound, executing @weft/proxy-core's inbound decisions (mode 'sidecar') for the one pod this
// sidecar serves: HBONE (15008) and plaintext (15006). The decision checks the destination (this
// pod, a port that is not the proxy's), the peer authentication (plaintext under STRICT is
// refused) and the waypoint binding; authorization is left to the L7 engine in the
// 'sidecar-inbound' role, which applies the same policies in L7 mode to HTTP and in L4 mode to
// anything else, so a DENY rule with HTTP fields is judged on the request, not on the connection.
//
// Proxyless peers: a proxyless gRPC client dials the pod's IP:port with mesh mTLS (it cannot speak
// HBONE); capture sends it to 15006. Unless the port's PeerAuthentication is DISABLE, the first
// bytes there are sniffed (bounded: a few bytes, a deadline): a TLS ClientHello is terminated as
// the pod (its certificate; a client certificate from the mesh trust bundle required; ALPN h2),
// decided like an HBONE peer of that identity, and the decrypted stream goes to the engine with
// the peer's principal, so L7 policies (methods = gRPC paths) apply to it as to any mesh caller.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type AuthorizeDecision,
  createDuplexPair,
  type HbonePeer,
  type MtlsAcceptor,
  sniffTls,
} from '@weft/hbone';
import type { Downstream, Inbound } from '@weft/l7';
import type { Workload } from '@weft/policy';
import { normalizeIp } from '@weft/policy/runtime';
import type { Target } from '@weft/proxy-core';
import {
  decideInboundHbone,
  decideInboundMtls,
  decideInboundPlaintext,
  type InboundDecision,
  type InboundRefusal,
  inboundSource,
  type ProxyState,
} from '@weft/proxy-core';
import type { RejectCounter } from '@weft/telemetry';
import { SIDECAR_MODE } from './mode.ts';

/** The port a plaintext connection was sent to (SO_ORIGINAL_DST once interception exists). */
export type InboundOriginalPort = (socket: Socket, pod: Workload) => number | undefined;

/** Local mode has no original destination: the pod's first container port. */
export const firstContainerPort: InboundOriginalPort = (_socket, pod) => pod.ports[0]?.port;

export interface SidecarInboundOptions {
  readonly podIp: string;
  readonly state: () => ProxyState;
  /** The L7 engine's listeners in the 'sidecar-inbound' role. */
  readonly l7: Inbound;
  /** The engine's view of a destination (what its TCP proxy is handed). */
  readonly target: (ip: string, port: number) => Target;
  readonly rejects: RejectCounter;
  readonly originalPort: InboundOriginalPort;
  readonly proxyPorts?: ReadonlySet<number>;
  /** Terminates mesh mTLS from proxyless peers on 15006; without it everything there is plaintext. */
  readonly mtls?: MtlsAcceptor;
  /** How long a caller may stay silent before it is taken for plaintext (not STRICT). Default 1 s. */
  readonly sniffTimeoutMs?: number;
  /** How long a caller may stay silent under STRICT (only TLS can pass). Default 10 s. */
  readonly strictSniffTimeoutMs?: number;
}

export interface SidecarInbound {
  /** The HBONE server's authorizer: refusals other than policy are answered here (400/401). */
  authorizeHbone(peer: HbonePeer, dest: { readonly ip: string; readonly port: number }): AuthorizeDecision;
  /** The HBONE server's upstream: the tunnel's bytes go to the engine. */
  connectHbone(dest: { readonly ip: string; readonly port: number }, peer: HbonePeer): Duplex;
  /** A connection to the plaintext port (15006): plaintext, or mesh mTLS from a proxyless peer. */
  handlePlaintext(socket: Socket): void;
}

export const DEFAULT_SNIFF_TIMEOUT_MS = 1000;

/** The metrics reason of a refusal (weft_rejected_total{component="sidecar"}). */
export function refusalReason(reason: InboundRefusal): string {
  return reason.replaceAll('-', '_').replace('destination_not_ambient', 'destination_not_sidecar');
}

/**
 * Whether the pod's `port` is declared TCP (a service port selecting it says `appProtocol: tcp`):
 * then the bytes go to the engine's TCP proxy as they come, unsniffed, so a server-first protocol
 * is not kept waiting for client bytes.
 */
export function declaredTcp(state: ProxyState, pod: Workload, port: number): boolean {
  const service = state.serviceForEndpoint(pod.uid, port);
  if (service === undefined) return false;
  const ep = service.endpoints.find((e) => e.workloadUid === pod.uid && e.targetPort === port);
  return ep !== undefined && service.ports.find((p) => p.port === ep.port)?.appProtocol === 'tcp';
}

/** Whether the sidecar refuses before the engine: everything but a policy decision. */
function refusedBeforeEngine(d: InboundDecision): d is Extract<InboundDecision, { allow: false }> {
  return !d.allow && d.reason !== 'denied';
}

export function createSidecarInbound(options: SidecarInboundOptions): SidecarInbound {
  const podIp = normalizeIp(options.podIp) ?? options.podIp;
  const own = (state: ProxyState) => state.workloadByIp(podIp);
  const base = (state: ProxyState) => {
    const pod = own(state);
    return {
      nodeName: pod?.node ?? '',
      mode: SIDECAR_MODE,
      ...(pod !== undefined ? { listenerWorkloadUid: pod.uid } : {}),
      ...(options.proxyPorts !== undefined ? { proxyPorts: options.proxyPorts } : {}),
    };
  };
  const dispatch = (stream: Duplex, down: Downstream) => {
    const pod = own(options.state());
    if (pod !== undefined && declaredTcp(options.state(), pod, down.destinationPort)) {
      stream.on('error', () => {});
      options.l7.tcp.handle(stream, down, options.target(down.destinationIp, down.destinationPort));
    } else options.l7.handle(stream, down);
  };
  function plaintext(socket: Socket, port: number): void {
    const state = options.state();
    const remoteIp = normalizeIp(socket.remoteAddress ?? '') ?? '';
    const d = decideInboundPlaintext(state, {
      ...base(state),
      destination: { ip: podIp, port },
      sourceIp: remoteIp,
    });
    if (refusedBeforeEngine(d)) {
      options.rejects.reject(refusalReason(d.reason));
      socket.destroy();
      return;
    }
    dispatch(socket, {
      remoteIp,
      remotePort: socket.remotePort ?? 0,
      principal: undefined,
      forwardedFor: undefined,
      destinationIp: podIp,
      destinationPort: port,
      security: 'none',
    });
  }

  async function mtls(acceptor: MtlsAcceptor, socket: Socket, port: number): Promise<void> {
    const remoteIp = normalizeIp(socket.remoteAddress ?? '') ?? '';
    const remotePort = socket.remotePort ?? 0;
    const accepted = await acceptor.accept(socket);
    if (!accepted.ok) {
      options.rejects.reject(`mtls_${accepted.reason}`);
      return;
    }
    const tls = accepted.socket;
    tls.on('error', () => {});
    const state = options.state();
    const d = decideInboundMtls(state, {
      ...base(state),
      destination: { ip: podIp, port },
      peerIdentity: accepted.peer.id,
      sourceIp: remoteIp,
    });
    if (refusedBeforeEngine(d)) {
      options.rejects.reject(refusalReason(d.reason));
      tls.destroy();
      return;
    }
    // Policy is the engine's to apply, in L7 mode on the decrypted requests, as for HBONE.
    dispatch(tls, {
      remoteIp,
      remotePort,
      principal: accepted.peer.id,
      forwardedFor: undefined,
      destinationIp: podIp,
      destinationPort: port,
      security: 'mutual_tls',
    });
  }

  return {
    authorizeHbone(peer, dest) {
      const state = options.state();
      const d = decideInboundHbone(state, {
        ...base(state),
        destination: dest,
        peerIdentity: peer.identity,
        sourceIp: peer.ip,
        ...(peer.forwardedFor !== undefined ? { forwardedFor: peer.forwardedFor } : {}),
      });
      if (refusedBeforeEngine(d)) {
        options.rejects.reject(refusalReason(d.reason));
        return { allow: false, reason: d.message, status: d.status };
      }
      return { allow: true };
    },
    connectHbone(dest, peer) {
      const [outer, inner] = createDuplexPair();
      const source = inboundSource(options.state(), {
        peerIdentity: peer.identity,
        sourceIp: peer.ip,
        ...(peer.forwardedFor !== undefined ? { forwardedFor: peer.forwardedFor } : {}),
      });
      const down: Downstream = {
        remoteIp: peer.ip,
        remotePort: peer.port,
        principal: peer.identity,
        // only a claim the decision honoured reaches policy and telemetry
        forwardedFor: source.forwarded === 'honoured' ? source.ip : undefined,
        destinationIp: normalizeIp(dest.ip) ?? dest.ip,
        destinationPort: dest.port,
        security: 'mutual_tls',
      };
      dispatch(inner, down);
      return outer;
    },
    handlePlaintext(socket) {
      socket.on('error', () => {});
      const state = options.state();
      const pod = own(state);
      const port = pod === undefined ? undefined : options.originalPort(socket, pod);
      if (pod === undefined || port === undefined) {
        options.rejects.reject(pod === undefined ? 'unknown_destination' : 'no_original_destination');
        socket.destroy();
        return;
      }
      const acceptor = options.mtls;
      const peerAuthn = state.peerAuthenticationMode(pod, port);
      if (acceptor === undefined || peerAuthn === 'DISABLE') {
        plaintext(socket, port);
        return;
      }
      void sniffTls(socket, {
        timeoutMs:
          peerAuthn === 'STRICT'
            ? (options.strictSniffTimeoutMs ?? 10_000)
            : (options.sniffTimeoutMs ?? DEFAULT_SNIFF_TIMEOUT_MS),
      }).then((sniffed) => {
        if (socket.destroyed) return;
        if (sniffed.kind === 'tls')
          mtls(acceptor, socket, port).catch(() => {
            // never reached by design; a bug here must not take the process down
            socket.destroy();
          });
        else if (sniffed.kind === 'closed') socket.destroy();
        else plaintext(socket, port);
      });
    },
  };
}
