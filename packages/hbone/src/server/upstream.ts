// The default way the inbound side reaches a tunnel's destination: a plain TCP connect. Interception
// modes (netns, source-IP spoofing) supply their own UpstreamConnector with the same shape.
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SocketAddress } from '../address.ts';
import type { HbonePeer } from './types.ts';

export interface UpstreamContext {
  /** The stream's id, as in `authorize` and the hooks. */
  readonly id: number;
  readonly peer: HbonePeer;
  /** The CONNECT request's headers (traceparent, baggage, ...). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Fires when the stream went away (or the server gave up) before the upstream was connected. */
  readonly signal: AbortSignal;
}

/** Socket factory capability: opens the upstream connection for one tunnel. */
export type UpstreamConnector = (dest: SocketAddress, ctx: UpstreamContext) => Promise<Duplex>;

export interface TcpConnectorOptions {
  /** Bind the upstream socket to this local address. */
  readonly localAddress?: string;
  /** Disable Nagle (default true: tunnels carry latency-sensitive traffic). */
  readonly noDelay?: boolean;
}

/** Connects with TCP, half-open allowed (HBONE carries half-closes through). */
export function createTcpConnector(opts: TcpConnectorOptions = {}): UpstreamConnector {
  const noDelay = opts.noDelay ?? true;
  return (dest, ctx) =>
    new Promise<Duplex>((resolve, reject) => {
      if (ctx.signal.aborted) {
        reject(new Error('aborted'));
        return;
      }
      const socket = connect({
        host: dest.ip,
        port: dest.port,
        allowHalfOpen: true,
        noDelay,
        ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      });
      const onAbort = () => {
        socket.destroy();
        reject(new Error('aborted'));
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve(socket);
      });
      // Stays attached: a late error after resolve is a no-op here and seen by the splice.
      socket.on('error', reject);
    });
}
