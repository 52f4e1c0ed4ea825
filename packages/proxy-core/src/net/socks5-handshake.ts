// The SOCKS5 handshake on an accepted socket, bounded in size and time: greeting, method
// selection, CONNECT request. Shared by every proxy with a SOCKS5 port (ztunnel's node port, a
// sidecar's pod port); what happens after the request (the outbound decision, the reply, the
// relay) is the caller's. Parsing itself is the pure socks5-protocol module.
import type { Socket } from 'node:net';
import {
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  methodSelection,
  parseGreeting,
  parseRequest,
  type Socks5Request,
} from './socks5-protocol.ts';

export type Socks5HandshakeRefusal =
  | 'socks5_handshake_timeout'
  | 'socks5_handshake_too_large'
  | 'socks5_bad_handshake'
  | 'socks5_no_acceptable_method'
  | 'socks5_command_not_supported';

export interface Socks5HandshakeOptions {
  /** Greeting + request must arrive within this. */
  readonly timeoutMs: number;
  /** Called once for a refused handshake (the socket is then answered or destroyed). */
  refused(reason: Socks5HandshakeRefusal): void;
  /** The handshake is over, either way (also when the socket closes first). */
  ended?(): void;
  /**
   * The CONNECT request arrived: the socket is paused with any early payload put back, and the
   * caller answers it with a reply, then relays.
   */
  request(request: Socks5Request): void;
}

export function readSocks5Handshake(socket: Socket, options: Socks5HandshakeOptions): void {
  let inHandshake = true;
  const end = () => {
    if (!inHandshake) return;
    inHandshake = false;
    clearTimeout(timer);
    socket.off('data', onData);
    options.ended?.();
  };
  socket.once('close', end);
  const timer = setTimeout(() => {
    options.refused('socks5_handshake_timeout');
    end();
    socket.destroy();
  }, options.timeoutMs);
  timer.unref?.();

  let phase: 'greeting' | 'request' = 'greeting';
  let buf: Buffer = Buffer.alloc(0);
  const fail = (reason: Socks5HandshakeRefusal, answer?: Buffer) => {
    options.refused(reason);
    end();
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
    end();
    socket.pause();
    const rest = buf.subarray(r.consumed);
    if (rest.length > 0) socket.unshift(rest);
    options.request(r.value);
  };
  socket.on('data', onData);
}
