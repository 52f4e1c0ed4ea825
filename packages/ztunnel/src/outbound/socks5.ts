// SOCKS5 outbound (nodeIP:15080): how local mode's apps (and tools) enter the mesh without
// interception. The handshake is bounded in size and time; the source workload is the TCP peer's
// address, so an app binds its pod IP before dialling.
import type { Socket } from 'node:net';
import { normalizeIp } from '@weft/policy';
import type { ProxyState } from '@weft/proxy-core';
import {
  type EndpointPicker,
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  methodSelection,
  type OutboundTarget,
  parseGreeting,
  parseRequest,
  REPLY,
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
    let inHandshake = true;
    const endHandshake = () => {
      if (!inHandshake) return;
      inHandshake = false;
      handshaking--;
      clearTimeout(timer);
      socket.off('data', onData);
    };
    socket.once('close', () => {
      endHandshake();
      open.delete(socket);
    });
    const peer: AppPeer = { ip: normalizeIp(socket.remoteAddress ?? '') ?? '', port: socket.remotePort ?? 0 };
    const timer = setTimeout(() => {
      telemetry.rejects.reject('socks5_handshake_timeout');
      socket.destroy();
    }, timeoutMs);
    timer.unref?.();

    let phase: 'greeting' | 'request' = 'greeting';
    let buf: Buffer = Buffer.alloc(0);
    const fail = (reason: Parameters<ZtunnelTelemetry['rejects']['reject']>[0], answer?: Buffer) => {
      telemetry.rejects.reject(reason);
      endHandshake();
      if (answer !== undefined && !socket.destroyed) socket.end(answer);
      else socket.destroy();
      // Do not wait forever for the peer to read the reply and close.
      setTimeout(() => socket.destroy(), 1000).unref?.();
    };

    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (phase === 'greeting') {
        const g = parseGreeting(buf);
        if (g.status === 'more') {
          if (buf.length > MAX_GREETING_BYTES) fail('socks5_handshake_too_large');
          return;
        }
        if (g.status === 'error') {
          fail(
            g.error === 'no-acceptable-method' ? 'socks5_no_acceptable_method' : 'socks5_bad_handshake',
            g.reply,
          );
          return;
        }
        socket.write(methodSelection());
        buf = buf.subarray(g.consumed);
        phase = 'request';
        if (buf.length === 0) return;
      }
      const r = parseRequest(buf);
      if (r.status === 'more') {
        if (buf.length > MAX_REQUEST_BYTES) fail('socks5_handshake_too_large');
        return;
      }
      if (r.status === 'error') {
        fail(
          r.error === 'command-not-supported' ? 'socks5_command_not_supported' : 'socks5_bad_handshake',
          r.reply,
        );
        return;
      }
      endHandshake();
      socket.pause();
      const rest = buf.subarray(r.consumed);
      if (rest.length > 0) socket.unshift(rest);
      void connect(socket, peer, r.value.target);
    };
    socket.on('data', onData);
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
