// The proxyless listener (15009): how a proxyless gRPC client, which has no proxy and cannot speak
// HBONE, reaches the waypoint of the service it calls. weftd sends such a client one route to one
// cluster whose endpoints are the waypoint pods at <podIP>:15009, with the waypoint's identity as
// the SAN to check (apps/control-plane proxyless-view.ts).
//
// Per connection: the first bytes must be a TLS ClientHello (sniffed, bounded); mesh mTLS is
// terminated with HBONE's TLS profile (our certificate, a client certificate from the mesh trust
// bundle required, ALPN h2 required). The decrypted HTTP/2 goes to the L7 engine's HTTP/2
// listener with the caller's SPIFFE identity as the peer, exactly as a request from inside an
// HBONE tunnel; each request's service comes from its :authority (proxyless-destination.ts),
// turned into the VIP:port an HBONE CONNECT would name. Everything refused is counted in
// weft_rejected_total{component="waypoint",reason="proxyless_*"}; nothing a peer sends can end
// the process.
import { createServer, type Server, type Socket } from 'node:net';
import { type CertSource, createMtlsAcceptor, type MtlsAcceptor, sniffTls } from '@weft/hbone';
import {
  createHttp2Listener,
  type Downstream,
  type Engine,
  GRPC,
  type Http2Listener,
  type RequestDestination,
} from '@weft/l7';
import { normalizeIp, parseSpiffeId } from '@weft/policy/runtime';
import type { Logger, RejectCounter } from '@weft/telemetry';
import { resolveProxylessDestination } from './proxyless-destination.ts';

export interface ProxylessListenerOptions {
  readonly engine: Engine;
  /** The waypoint Gateway, "namespace/name": only services bound to it are served. */
  readonly waypoint: string;
  readonly certs: CertSource;
  readonly identity?: string;
  readonly trustDomains?: readonly string[];
  readonly rejects: RejectCounter;
  readonly logger: Logger;
  /** How long a caller may take to send its ClientHello and finish the handshake. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Open connections at most (the rest are refused, counted). Default 10 000. */
  readonly maxConnections?: number;
}

export interface ProxylessListener {
  listen(address: { host: string; port: number }): Promise<{ ip: string; port: number }>;
  readonly http2: Http2Listener;
  stats(): { readonly connections: number; readonly accepted: number; readonly refused: number };
  close(): Promise<void>;
}

export function createProxylessListener(options: ProxylessListenerOptions): ProxylessListener {
  const { engine, rejects } = options;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const maxConnections = options.maxConnections ?? 10_000;
  const acceptor: MtlsAcceptor = createMtlsAcceptor({
    certs: options.certs,
    ...(options.identity !== undefined ? { identity: options.identity } : {}),
    ...(options.trustDomains !== undefined ? { trustDomains: options.trustDomains } : {}),
    handshakeTimeoutMs,
  });
  const log = options.logger.child({ listener: 'proxyless' });
  let accepted = 0;
  let refused = 0;
  const refuse = (socket: Socket, reason: string, detail: string) => {
    refused++;
    rejects.reject(`proxyless_${reason}`);
    log.debug('proxyless connection refused', { reason, detail, peer: socket.remoteAddress ?? '' });
    socket.destroy();
  };

  const destinationOf = (conn: Downstream, authority: string | undefined): RequestDestination => {
    const state = engine.store.state;
    const caller = conn.principal === undefined ? undefined : parseSpiffeId(conn.principal)?.namespace;
    const d = resolveProxylessDestination(state, authority, caller, options.waypoint);
    switch (d.kind) {
      case 'service':
        return { ok: true, downstream: { ...conn, destinationIp: d.ip, destinationPort: d.port.port } };
      case 'unknown':
        rejects.reject('proxyless_unknown_destination');
        return { ok: false, status: 503, grpcStatus: GRPC.UNAVAILABLE, message: d.reason };
      case 'not_bound':
        rejects.reject('proxyless_not_bound');
        return { ok: false, status: 403, grpcStatus: GRPC.PERMISSION_DENIED, message: d.reason };
      default: {
        const never: never = d;
        return never;
      }
    }
  };
  const http2 = createHttp2Listener(engine, { destinationOf });

  const sockets = new Set<Socket>();
  const server: Server = createServer({ pauseOnConnect: false }, (socket) => {
    socket.on('error', () => {});
    if (sockets.size >= maxConnections) {
      refuse(socket, 'connection_limit', `${sockets.size} connections open`);
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serve(socket).catch((e: unknown) => {
      // never reached by design; a bug here must not take the process down
      log.warn('proxyless connection failed', { error: e instanceof Error ? e : String(e) });
      socket.destroy();
    });
  });
  server.on('error', (e) => log.warn('proxyless listener error', { error: e }));

  async function serve(socket: Socket): Promise<void> {
    const remoteIp = normalizeIp(socket.remoteAddress ?? '') ?? socket.remoteAddress ?? '';
    const remotePort = socket.remotePort ?? 0;
    const sniffed = await sniffTls(socket, { timeoutMs: handshakeTimeoutMs });
    if (socket.destroyed) return;
    if (sniffed.kind !== 'tls') {
      if (sniffed.kind === 'closed') socket.destroy();
      else
        refuse(
          socket,
          sniffed.kind === 'silent' ? 'handshake_timeout' : 'not_tls',
          sniffed.kind === 'silent' ? 'no ClientHello in time' : 'first bytes are not a TLS ClientHello',
        );
      return;
    }
    const r = await acceptor.accept(socket);
    if (!r.ok) {
      refuse(socket, `mtls_${r.reason}`, r.detail);
      return;
    }
    const tls = r.socket;
    tls.on('error', () => {});
    // The acceptor lets a client without ALPN through (plain TLS for a workload port); here the
    // only protocol is HTTP/2.
    if (tls.alpnProtocol !== 'h2') {
      tls.destroy();
      refuse(socket, 'mtls_alpn', `ALPN ${String(tls.alpnProtocol)} is not h2`);
      return;
    }
    accepted++;
    http2.handle(tls, {
      remoteIp,
      remotePort,
      principal: r.peer.id,
      forwardedFor: undefined,
      // each request names its own destination (destinationOf)
      destinationIp: '',
      destinationPort: 0,
      security: 'mutual_tls',
    });
  }

  return {
    http2,
    listen(address) {
      return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once('error', onError);
        server.listen(address.port, address.host, () => {
          server.off('error', onError);
          const a = server.address();
          if (a === null || typeof a === 'string') {
            reject(new Error('proxyless listener has no address'));
            return;
          }
          resolve({ ip: a.address, port: a.port });
        });
      });
    },
    stats: () => ({ connections: sockets.size, accepted, refused }),
    async close() {
      await new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        acceptor.close();
        http2.close();
        for (const s of sockets) s.destroy();
      });
      acceptor.close();
      http2.close();
    },
  };
}
