// Captured outbound (port 15001): connections redirected by the interception rules. The
// original destination comes from an injected function (SO_ORIGINAL_DST through @weft/linux-net
// in-pod; tests inject their own); without one, nothing can be proxied and the connection is
// refused and counted. The decision is SOCKS5's own (route.ts).
import type { Socket } from 'node:net';
import { normalizeIp } from '@weft/policy/runtime';
import type { EndpointPicker, OutboundTarget, ProxyState, SocketAddress } from '@weft/proxy-core';
import type { Logger } from '@weft/telemetry';
import type { ZtunnelTelemetry } from '../telemetry.ts';
import type { AppPeer, OutboundExecutor } from './execute.ts';
import { createOutboundRoute, type OutboundRoute } from './route.ts';

/** Where a captured connection was going before the redirect; undefined when unknown. */
export type OriginalDestination = (socket: Socket) => SocketAddress | undefined;

export interface CaptureOptions {
  readonly nodeName: string;
  readonly state: () => ProxyState;
  readonly executor: OutboundExecutor;
  readonly telemetry: ZtunnelTelemetry;
  readonly logger: Logger;
  readonly pick: EndpointPicker;
  readonly originalDestination?: OriginalDestination;
  readonly hbonePort?: number;
  /** The outbound decision (shared with SOCKS5); default one built from the options above. */
  readonly route?: OutboundRoute;
  /**
   * In-pod mode: every connection comes from the workload with these addresses (the pod whose
   * network namespace the listener lives in): the app's own address when it is one of them (the
   * family it dialled with), else the first.
   */
  readonly sourceIps?: readonly string[];
  /** Default 4096. */
  readonly maxConnections?: number;
  /**
   * A fixed forward (local mode): every connection is treated as coming from this workload
   * address and going to `target`, whatever the peer's own address. Used for listeners that
   * stand in for interception where there is none, e.g. a load generator that cannot bind a
   * source address.
   */
  readonly forward?: { readonly sourceIp: string; readonly target: OutboundTarget };
}

export interface CaptureServer {
  handleConnection(socket: Socket): void;
  close(): void;
}

export function createCaptureServer(options: CaptureOptions): CaptureServer {
  const max = options.maxConnections ?? 4096;
  const route = options.route ?? createOutboundRoute(options);
  const open = new Set<Socket>();

  async function handleConnection(socket: Socket): Promise<void> {
    socket.on('error', () => {});
    if (open.size >= max) {
      options.telemetry.rejects.reject('connection_limit');
      socket.destroy();
      return;
    }
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    socket.pause();
    const remoteIp = normalizeIp(socket.remoteAddress ?? '') ?? '';
    const pod = options.sourceIps;
    const podIp = pod === undefined ? undefined : pod.includes(remoteIp) ? remoteIp : pod[0];
    const peer: AppPeer = {
      ip: options.forward?.sourceIp ?? podIp ?? remoteIp,
      port: socket.remotePort ?? 0,
    };
    let target: OutboundTarget | undefined = options.forward?.target;
    if (target === undefined) {
      let dest: SocketAddress | undefined;
      try {
        dest = options.originalDestination?.(socket);
      } catch {
        dest = undefined;
      }
      if (dest !== undefined) target = { kind: 'address', ip: dest.ip, port: dest.port };
    }
    if (target === undefined) {
      options.telemetry.rejects.reject('no_original_destination');
      socket.destroy();
      return;
    }
    const result = await route(peer, target);
    if (!result.ok || socket.destroyed) {
      if (result.ok) result.upstream.destroy();
      socket.destroy();
      return;
    }
    options.executor.run(socket, result.upstream, result.plan, peer);
    socket.resume();
  }

  return {
    handleConnection: (socket) => void handleConnection(socket),
    close() {
      for (const s of open) s.destroy();
      open.clear();
    },
  };
}
