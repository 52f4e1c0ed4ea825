// SOCKS5 outbound (nodeIP:15080): how local mode's apps (and tools) enter the mesh without
// interception. The handshake is bounded in size and time; the source workload is the TCP peer's
// address, so an app binds its pod IP before dialling.
import type { Socket } from 'node:net';
import { normalizeIp } from '@weft/policy/runtime';
import type { ProxyState } from '@weft/proxy-core';
import {
  type EndpointPicker,
  type OutboundTarget,
  REPLY,
  readSocks5Handshake,
  socks5Reply as reply,
} from '@weft/proxy-core';
import type { Logger } from '@weft/telemetry';
import type { ZtunnelTelemetry } from '../telemetry.ts';
import type { AppPeer, OutboundExecutor } from './execute.ts';
import { createOutboundRoute, type OutboundRoute } from './route.ts';

export interface Socks5Options {
  readonly nodeName: string;
  readonly state: () => ProxyState;
  readonly executor: OutboundExecutor;
  readonly telemetry: ZtunnelTelemetry;
  readonly logger: Logger;
  readonly pick: EndpointPicker;
  readonly hbonePort?: number;
  /** The outbound decision; default one built from the options above. */
  readonly route?: OutboundRoute;
  /** Greeting + request must arrive within this. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Connections (handshaking or proxying) before new ones are refused. Default 4096. */
  readonly maxConnections?: number;
  /** Connections still in the handshake before new ones are refused. Default 256. */
  readonly maxHandshakes?: number;
}

export interface Socks5Server {
  handleConnection(socket: Socket): void;
  close(): void;
  stats(): { readonly open: number; readonly handshaking: number };
}

export function createSocks5Server(options: Socks5Options): Socks5Server {
  const { telemetry } = options;
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const maxConnections = options.maxConnections ?? 4096;
  const maxHandshakes = options.maxHandshakes ?? 256;
  const route = options.route ?? createOutboundRoute(options);
  const open = new Set<Socket>();
  let handshaking = 0;

  function handleConnection(socket: Socket): void {
    socket.on('error', () => {});
    if (open.size >= maxConnections || handshaking >= maxHandshakes) {
      telemetry.rejects.reject('connection_limit');
      socket.destroy();
      return;
    }
    open.add(socket);
    handshaking++;
    socket.once('close', () => open.delete(socket));
    const peer: AppPeer = { ip: normalizeIp(socket.remoteAddress ?? '') ?? '', port: socket.remotePort ?? 0 };
    readSocks5Handshake(socket, {
      timeoutMs,
      refused: (reason) => telemetry.rejects.reject(reason),
      ended: () => {
        handshaking--;
      },
      request: ({ target }) => void connect(socket, peer, target),
    });
  }

  async function connect(socket: Socket, peer: AppPeer, target: OutboundTarget): Promise<void> {
    const result = await route(peer, target);
    if (!result.ok) {
      if (!socket.destroyed) socket.end(reply(result.reply));
      return;
    }
    if (socket.destroyed) {
      result.upstream.destroy();
      return;
    }
    const local = { ip: socket.localAddress ?? '0.0.0.0', port: socket.localPort ?? 0 };
    socket.write(reply(REPLY.succeeded, local));
    options.executor.run(socket, result.upstream, result.plan, peer);
    socket.resume();
  }

  return {
    handleConnection,
    close() {
      for (const s of open) s.destroy();
      open.clear();
    },
    stats: () => ({ open: open.size, handshaking }),
  };
}
