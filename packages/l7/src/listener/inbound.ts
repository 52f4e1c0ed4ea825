// Where every downstream connection starts: resolve the destination, decide the protocol
// (declared by the service port or sniffed from the first bytes), then hand the connection to
// the HTTP/1.1 server, the HTTP/2 server or the TCP proxy. HBONE tunnels and plain TCP
// listeners both come through here.
import type { Duplex } from 'node:stream';
import { createDuplexPair } from '@weft/hbone';
import type { Engine } from '../engine/engine.ts';
import type { Downstream } from '../http/message.ts';
import { createHttp1Listener, type Http1Listener } from './http1.ts';
import { createHttp2Listener, type Http2Listener } from './http2.ts';
import { decideInbound, type Sniffed, sniff } from './sniff.ts';
import { createTcpProxy, type TcpProxy } from './tcp.ts';

export interface Inbound {
  /** Serves one connection. */
  handle(socket: Duplex, downstream: Downstream): void;
  readonly http1: Http1Listener;
  readonly http2: Http2Listener;
  readonly tcp: TcpProxy;
  close(): void;
}

/** How long a finished connection's queued bytes may take to reach a slow reader. */
const REPLAY_CLOSE_GRACE_MS = 30_000;

/**
 * The connection with the sniffed bytes put back in front. In-memory streams (HBONE tunnels)
 * take them back with unshift; a kernel socket cannot, because node's HTTP/2 server reads its
 * handle directly and would skip them, so it is bridged through an in-memory pair. (The
 * HTTP/1.1 listener takes the sniffed bytes as an argument instead.)
 */
function replay(socket: Duplex, buf: Buffer): Duplex {
  if (buf.length === 0) return socket;
  const handle = (socket as Duplex & { _handle?: unknown })._handle;
  if (handle === undefined || handle === null) {
    socket.unshift(buf);
    return socket;
  }
  const [inner, outer] = createDuplexPair();
  outer.write(buf);
  socket.pipe(outer);
  outer.pipe(socket);
  outer.on('error', () => {});
  inner.on('error', () => {});
  socket.once('close', () => outer.destroy());
  outer.once('close', () => {
    if (socket.destroyed) return;
    if (!outer.readableEnded) {
      // the server side reset the connection: so does the socket
      socket.destroy();
      return;
    }
    // The server side finished: pipe() has ended the socket, whose writes may still be queued
    // (a slow reader). Close once they are flushed; a peer that never reads is reset after a grace.
    if (socket.writableFinished) socket.destroy();
    else {
      socket.once('finish', () => socket.destroy());
      setTimeout(() => socket.destroy(), REPLAY_CLOSE_GRACE_MS).unref();
    }
  });
  return inner;
}

export function createInbound(engine: Engine, random: () => number = Math.random): Inbound {
  const http1 = createHttp1Listener(engine);
  const http2 = createHttp2Listener(engine);
  const tcp = createTcpProxy(engine, random);

  const route = (
    socket: Duplex,
    down: Downstream,
    kind: Exclude<Sniffed, 'more'>,
    httpOnly: boolean,
    since: number | undefined,
  ) => {
    // the header timeout runs from the first byte, sniffing included
    if (kind === 'h2' || kind === 'http1' || httpOnly) {
      if (kind === 'h2') http2.handle(socket, down, since);
      else http1.handle(socket, down, since);
      // the sniffer paused the stream; the HTTP server has its listeners now
      if (socket.isPaused()) socket.resume();
      return;
    }
    // The TCP proxy reads only once its upstream is connected (pipe resumes the stream):
    // resuming here would drop the sniffed bytes put back in front before anyone listens.
    tcp.handle(socket, down, engine.state().target(down.destinationIp, down.destinationPort));
  };

  return {
    http1,
    http2,
    tcp,
    handle(socket, down) {
      socket.on('error', () => {});
      const target = engine.state().target(down.destinationIp, down.destinationPort);
      const mode = decideInbound(target);
      if (mode.kind === 'refuse') {
        engine.reject(mode.reason);
        socket.destroy();
        return;
      }
      if (mode.kind === 'tcp') {
        tcp.handle(socket, down, target);
        return;
      }
      // read the first bytes, put them back, hand over
      let buf: Buffer = Buffer.alloc(0);
      let since: number | undefined;
      const timer = setTimeout(() => {
        finish(mode.kind === 'http' ? 'http1' : 'tcp');
      }, engine.limits.sniffTimeoutMs);
      let done = false;
      const finish = (kind: Exclude<Sniffed, 'more'>) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.pause();
        if (kind === 'http1' || (kind === 'tcp' && mode.kind === 'http')) {
          // the HTTP/1.1 listener reads the socket itself: it takes the sniffed bytes as they are
          http1.handle(socket, down, since, buf);
          if (socket.isPaused()) socket.resume();
          return;
        }
        route(replay(socket, buf), down, kind, mode.kind === 'http', since);
      };
      const onData = (c: Buffer) => {
        since ??= engine.clock.now();
        buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
        const s = sniff(buf);
        if (s !== 'more') finish(s);
      };
      const onEnd = () => finish(mode.kind === 'http' ? 'http1' : 'tcp');
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', () => clearTimeout(timer));
    },
    close() {
      http1.close();
      http2.close();
    },
  };
}
