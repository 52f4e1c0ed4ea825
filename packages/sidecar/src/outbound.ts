// Outbound for the one pod this sidecar serves, executing @weft/proxy-core's outbound plan
// (mode 'sidecar'): a denied plan is refused; a destination outside the mesh (or without a
// proxy) is plain TCP; a destination behind a waypoint is an HBONE tunnel to that waypoint
// (Istio's sidecars skip waypoints; ours do not, so the waypoint's policies and the
// destination's waypoint-only guard hold for sidecar callers too); any other mesh destination
// goes to the L7 engine in the 'sidecar-outbound' role (the service's routes, retries and
// timeouts for HTTP, TCPRoutes and endpoints for the rest), whose upstreams are HBONE to the
// endpoint (its node's ztunnel or its sidecar on endpointIP:15008). A proxyless destination (its
// own gRPC library serves mesh mTLS on its port, no HBONE) gets that mTLS straight from here: the
// pod's certificate, ALPN h2, the server's SPIFFE identity checked, the app's h2c inside (the
// engine's routes do not apply to it: their upstreams are HBONE). Entry points: SOCKS5 (15080)
// and the outbound listener (15001, an original destination per connection).
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type CertSource, type HboneClient, isHboneError, mtlsConnect, splice } from '@weft/hbone';
import type { Inbound } from '@weft/l7';
import { normalizeIp } from '@weft/policy/runtime';
import {
  type DenyReason,
  type EndpointPicker,
  type OutboundPlan,
  type OutboundTarget,
  type ProxyState,
  planOutbound,
  REPLY,
  type ReplyCode,
  readSocks5Handshake,
  type SocketFactory,
  socks5Reply,
} from '@weft/proxy-core';
import type { RejectCounter } from '@weft/telemetry';
import { SIDECAR_MODE } from './mode.ts';

/** Where a connection accepted on the outbound listener was going (SO_ORIGINAL_DST, or fixed). */
export type OutboundOriginalDestination = (socket: Socket) => OutboundTarget | undefined;

export interface SidecarOutboundOptions {
  readonly podIp: string;
  readonly state: () => ProxyState;
  /** The L7 engine's listeners in the 'sidecar-outbound' role. */
  readonly l7: Inbound;
  readonly hbone: HboneClient;
  /** The pod's certificate (mesh mTLS to proxyless workloads). */
  readonly certs: CertSource;
  /** Which identity of `certs` is the pod's; default the default one. */
  readonly identity?: string;
  readonly sockets: SocketFactory;
  readonly rejects: RejectCounter;
  readonly pick: EndpointPicker;
  readonly hbonePort?: number;
  readonly connectTimeoutMs?: number;
  /** Greeting + request must arrive within this. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /**
   * Capture mode: every connection on the outbound listener is the pod's own (only the pod's
   * processes can reach it inside the pod netns), whatever its source address.
   */
  readonly capturedFromPod?: boolean;
}

/** What opening a planned connection gave: a runner for the app's socket, or a refusal. */
export type Opened =
  | { readonly ok: true; readonly kind: OutboundRoute; run(socket: Duplex, peerPort: number): void }
  | { readonly ok: false; readonly reply: ReplyCode; readonly reason: string };

/**
 * How a connection leaves: through the engine, tunnelled to a waypoint or peer, mesh mTLS to a
 * proxyless workload, or plain TCP.
 */
export type OutboundRoute = 'l7' | 'waypoint' | 'hbone' | 'mtls' | 'passthrough';

/** The pure part: how a plan is carried out. */
export function routeOf(plan: Exclude<OutboundPlan, { kind: 'deny' }>): OutboundRoute {
  if (plan.kind === 'passthrough') return 'passthrough';
  if (plan.kind === 'mtls') return 'mtls';
  if (plan.waypoint !== undefined) return 'waypoint';
  // a headless service has no VIP the engine could resolve: its endpoint is tunnelled to as is
  if (plan.service !== undefined && plan.service.vips.length === 0) return 'hbone';
  return 'l7';
}

/** SOCKS5 reply for a refused plan. */
export function denyReply(reason: DenyReason): ReplyCode {
  switch (reason) {
    case 'unknown-source':
    case 'source-not-local':
    case 'source-not-ambient':
      return REPLY.notAllowed;
    case 'unknown-hostname':
    case 'unknown-service-port':
    case 'no-endpoints':
    case 'waypoint-unavailable':
    case 'invalid-destination':
      return REPLY.hostUnreachable;
    default: {
      const never: never = reason;
      return never;
    }
  }
}

export interface SidecarOutbound {
  /** Plans and opens a connection from the pod to `target`. */
  open(target: OutboundTarget): Promise<Opened>;
  /** A connection to the outbound listener (15001). */
  handleCaptured(socket: Socket, destination: OutboundTarget | undefined): void;
  /** A connection to the SOCKS5 port (15080). */
  handleSocks5(socket: Socket): void;
  close(): void;
}

export function createSidecarOutbound(options: SidecarOutboundOptions): SidecarOutbound {
  const podIp = normalizeIp(options.podIp) ?? options.podIp;
  const open = new Set<Socket>();
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;

  /** Only the pod's own app may use its identity (local mode: it binds the pod IP). */
  const fromPod = (socket: Socket): boolean => {
    if (normalizeIp(socket.remoteAddress ?? '') === podIp) return true;
    options.rejects.reject('foreign_source');
    return false;
  };

  async function openPlan(target: OutboundTarget): Promise<Opened> {
    const state = options.state();
    const pod = state.workloadByIp(podIp);
    const plan = planOutbound(
      state,
      { sourceIp: podIp, target },
      {
        nodeName: pod?.node ?? '',
        mode: SIDECAR_MODE,
        pick: options.pick,
        ...(options.hbonePort !== undefined ? { hbonePort: options.hbonePort } : {}),
      },
    );
    if (plan.kind === 'deny') {
      options.rejects.reject(`outbound_${plan.reason.replaceAll('-', '_')}`);
      return { ok: false, reply: denyReply(plan.reason), reason: plan.message };
    }
    const kind = routeOf(plan);
    switch (kind) {
      case 'l7': {
        if (plan.kind !== 'hbone') throw new Error('unreachable');
        const service = plan.service;
        const destination =
          service !== undefined && plan.servicePort !== undefined
            ? {
                ip:
                  target.kind === 'address' && service.vips.includes(normalizeIp(target.ip) ?? '')
                    ? (normalizeIp(target.ip) as string)
                    : (service.vips[0] as string),
                port: plan.servicePort.port,
              }
            : plan.authority;
        return {
          ok: true,
          kind,
          run: (socket, peerPort) =>
            options.l7.handle(socket, {
              remoteIp: podIp,
              remotePort: peerPort,
              principal: plan.sourceIdentity,
              forwardedFor: undefined,
              destinationIp: destination.ip,
              destinationPort: destination.port,
              security: 'none',
            }),
        };
      }
      case 'waypoint':
      case 'hbone': {
        if (plan.kind !== 'hbone') throw new Error('unreachable');
        try {
          const tunnel = await options.hbone.connect({
            via: plan.via,
            dest: plan.authority,
            expectedIdentity: plan.expectedIdentity,
            sourceIdentity: plan.sourceIdentity,
            forwardedFor: podIp,
            timeoutMs: connectTimeoutMs,
          });
          return { ok: true, kind, run: (socket) => void splice(socket, tunnel) };
        } catch (e) {
          options.rejects.reject('outbound_hbone_failed');
          const status = isHboneError(e) ? e.kind : 'other';
          return {
            ok: false,
            reply: status === 'denied' ? REPLY.notAllowed : REPLY.connectionRefused,
            reason: e instanceof Error ? e.message : String(e),
          };
        }
      }
      case 'mtls': {
        if (plan.kind !== 'mtls') throw new Error('unreachable');
        const material = options.certs.current(options.identity);
        if (material === undefined) {
          options.rejects.reject('outbound_mtls_failed');
          return { ok: false, reply: REPLY.generalFailure, reason: 'no certificate for the pod yet' };
        }
        let socket: Duplex | undefined;
        try {
          socket = await options.sockets.connect(plan.target, { timeoutMs: connectTimeoutMs });
          const upstream = await mtlsConnect(socket, {
            material,
            expected: plan.expectedIdentity,
            timeoutMs: connectTimeoutMs,
          });
          return { ok: true, kind, run: (app) => void splice(app, upstream) };
        } catch (e) {
          socket?.destroy();
          options.rejects.reject('outbound_mtls_failed');
          return {
            ok: false,
            reply: socket === undefined ? REPLY.connectionRefused : REPLY.generalFailure,
            reason: e instanceof Error ? e.message : String(e),
          };
        }
      }
      case 'passthrough': {
        if (plan.kind !== 'passthrough') throw new Error('unreachable');
        try {
          const upstream = await options.sockets.connect(plan.target, { timeoutMs: connectTimeoutMs });
          upstream.on('error', () => {});
          return { ok: true, kind, run: (socket) => void splice(socket, upstream) };
        } catch (e) {
          options.rejects.reject('outbound_passthrough_failed');
          return {
            ok: false,
            reply: REPLY.connectionRefused,
            reason: e instanceof Error ? e.message : String(e),
          };
        }
      }
      default: {
        const never: never = kind;
        return never;
      }
    }
  }

  const track = (socket: Socket) => {
    socket.on('error', () => {});
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };

  return {
    open: openPlan,
    handleCaptured(socket, destination) {
      track(socket);
      if (options.capturedFromPod !== true && !fromPod(socket)) {
        socket.destroy();
        return;
      }
      if (destination === undefined) {
        options.rejects.reject('no_original_destination');
        socket.destroy();
        return;
      }
      socket.pause();
      void openPlan(destination).then((o) => {
        if (!o.ok || socket.destroyed) {
          socket.destroy();
          return;
        }
        o.run(socket, socket.remotePort ?? 0);
        socket.resume();
      });
    },
    handleSocks5(socket) {
      track(socket);
      if (!fromPod(socket)) {
        socket.destroy();
        return;
      }
      readSocks5Handshake(socket, {
        timeoutMs: options.handshakeTimeoutMs ?? 10_000,
        refused: (reason) => options.rejects.reject(reason),
        request: ({ target }) => {
          void openPlan(target).then((o) => {
            if (socket.destroyed) return;
            if (!o.ok) {
              socket.end(socks5Reply(o.reply));
              return;
            }
            socket.write(
              socks5Reply(REPLY.succeeded, {
                ip: socket.localAddress ?? '0.0.0.0',
                port: socket.localPort ?? 0,
              }),
            );
            o.run(socket, socket.remotePort ?? 0);
            socket.resume();
          });
        },
      });
    },
    close() {
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}
