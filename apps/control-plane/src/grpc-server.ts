// The one gRPC server carrying ADS and CertificateService, reachable on the plaintext port (15010,
// local mode) and the TLS port (15012). weftd owns the listening sockets: each new connection's
// first bytes are checked (the HTTP/2 preface in plaintext, a TLS handshake record on TLS) before
// the connection is handed to grpc-js, so garbage is refused and counted instead of reaching it.
//
// ADS streams are authenticated by the same bearer-token authenticators as the CA: an interceptor
// checks the token before the stream starts and passes the caller on to the view selector in
// call metadata under a key it always removes from what the client sent first.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { type Authenticator, bearerToken, chainAuthenticators, grpcStatus } from '@weft/ca/server';
import type { Logger } from '@weft/telemetry';
import { ADS_SERVICE_NAME } from '@weft/xds-protocol';
import type { StreamCaller } from './xds/views.ts';

/** Metadata key carrying the authenticated caller from the interceptor to the view selector. */
export const CALLER_METADATA_KEY = 'x-weftd-authenticated-caller';

export type ConnectionRejectReason = 'xds_not_http2' | 'xds_not_tls' | 'xds_handshake_timeout';

export interface GrpcServerOptions {
  /** Authenticate ADS streams (default true). When false, any client may stream and claim any node. */
  readonly authenticateXds: boolean;
  readonly authenticators: readonly Authenticator[];
  readonly logger: Logger;
  /** Refused connections and calls, counted by the caller's metrics. */
  onRejected(reason: ConnectionRejectReason | 'xds_unauthenticated'): void;
  /** ADS streams are refused with UNAVAILABLE until this holds (the first snapshot is compiled). */
  xdsReady(): boolean;
  /** How long a new connection may take to send its first bytes (default 10 s). */
  readonly firstBytesTimeoutMs?: number;
  /**
   * A connection with no call in flight for this long is closed (default 2 s). This is also what
   * ends a connection whose session the HTTP/2 layer has already terminated (an oversized or
   * malformed frame): the runtime sends GOAWAY and stops reading but leaves the socket open.
   */
  readonly idleTimeoutMs?: number;
}

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const TLS_HANDSHAKE_RECORD = 0x16;

/** Reads the caller the interceptor stored (undefined when ADS authentication is off). */
export function streamCaller(metadata: grpc.Metadata): StreamCaller | undefined {
  const raw = metadata.get(CALLER_METADATA_KEY)[0];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(String(raw)) as StreamCaller;
  } catch {
    return undefined;
  }
}

function adsAuthInterceptor(options: GrpcServerOptions): grpc.ServerInterceptor {
  const authenticator = chainAuthenticators(options.authenticators);
  const adsPrefix = `/${ADS_SERVICE_NAME}/`;
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            // Never trust a caller the client claims itself.
            metadata.remove(CALLER_METADATA_KEY);
            if (!method.path.startsWith(adsPrefix)) {
              mdNext(metadata);
              return;
            }
            // Serving an empty cache would tell reconnecting proxies to delete everything.
            if (!options.xdsReady()) {
              call.sendStatus({
                code: grpc.status.UNAVAILABLE,
                details: 'weftd is compiling its first snapshot',
              });
              return;
            }
            if (!options.authenticateXds) {
              mdNext(metadata);
              return;
            }
            const token = bearerToken(metadata.get('authorization'));
            const result = token.ok ? authenticator.authenticate(token.value) : Promise.resolve(token);
            result.then(
              (r) => {
                if (!r.ok) {
                  options.onRejected('xds_unauthenticated');
                  options.logger.info('xds stream refused', {
                    peer: call.getPeer(),
                    reason: r.error.message,
                  });
                  call.sendStatus({ code: grpcStatus(r.error.code), details: r.error.message });
                  return;
                }
                const caller: StreamCaller = {
                  namespace: r.value.namespace,
                  serviceAccount: r.value.serviceAccount,
                  ...(r.value.node === undefined ? {} : { node: r.value.node }),
                };
                metadata.set(CALLER_METADATA_KEY, JSON.stringify(caller));
                mdNext(metadata);
              },
              () => call.sendStatus({ code: grpc.status.INTERNAL, details: 'authentication failed' }),
            );
          },
        });
      },
    });
}

export function createGrpcServer(options: GrpcServerOptions): grpc.Server {
  return new grpc.Server({
    interceptors: [adsAuthInterceptor(options)],
    // Discovery requests and CSRs are small; nothing legitimate comes near this.
    'grpc.max_receive_message_length': 1024 * 1024,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.max_connection_idle_ms': options.idleTimeoutMs ?? 2000,
  });
}

export interface GrpcListener {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens on `host:port` and hands connections whose first bytes look right to `server`.
 * `tls`: expect a TLS record (the injector's credentials terminate TLS).
 */
export function listenGrpc(
  server: grpc.Server,
  credentials: grpc.ServerCredentials,
  address: string,
  tls: boolean,
  options: GrpcServerOptions,
): Promise<GrpcListener> {
  // Bun's http2 does not run a TLS handshake on an injected socket: there, the TLS port is bound
  // by grpc-js itself (no first-bytes check; grpc-js still drops what is not TLS).
  if (tls && process.versions.bun !== undefined) return bindDirect(server, credentials, address);
  const injector = server.createConnectionInjector(credentials);
  const sockets = new Set<Socket>();
  const timeoutMs = options.firstBytesTimeoutMs ?? 10_000;
  const net: NetServer = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    const refuse = (reason: ConnectionRejectReason) => {
      options.onRejected(reason);
      options.logger.info('connection refused', { port: address, peer: socket.remoteAddress, reason });
      socket.destroy();
    };
    const timer = setTimeout(() => refuse('xds_handshake_timeout'), timeoutMs);
    timer.unref();
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      let verdict: 'ok' | 'bad' | 'more';
      if (tls) verdict = buffered[0] === TLS_HANDSHAKE_RECORD ? 'ok' : 'bad';
      else {
        const n = Math.min(buffered.length, HTTP2_PREFACE.length);
        if (!buffered.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) verdict = 'bad';
        else verdict = n === HTTP2_PREFACE.length ? 'ok' : 'more';
      }
      if (verdict === 'more') return;
      clearTimeout(timer);
      socket.off('data', onData);
      if (verdict === 'bad') return refuse(tls ? 'xds_not_tls' : 'xds_not_http2');
      // Node's http2 takes a paused socket and reads what was unshifted first; Bun's http2 does
      // not resume a paused socket, and reads the unshifted bytes as it is.
      if (process.versions.bun === undefined) socket.pause();
      socket.unshift(buffered);
      injector.injectConnection(socket);
    };
    socket.on('data', onData);
  });
  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(sep + 1));
  return new Promise((resolve, reject) => {
    net.once('error', reject);
    net.listen({ host, port }, () => {
      net.off('error', reject);
      // After listening, an accept failure (EMFILE, say) is logged, never an unhandled 'error'.
      net.on('error', (err) =>
        options.logger.warn('xDS listener error', { port: address, error: err.message }),
      );
      const bound = net.address();
      const actual = typeof bound === 'object' && bound !== null ? bound.port : port;
      resolve({
        address: `${host.includes(':') ? `[${host}]` : host}:${actual}`,
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            net.close(() => done());
            injector.drain(0);
            for (const s of sockets) s.destroy();
            injector.destroy();
          }),
      });
    });
  });
}

function bindDirect(
  server: grpc.Server,
  credentials: grpc.ServerCredentials,
  address: string,
): Promise<GrpcListener> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => {
      if (err !== null) return reject(err);
      const bound = `${address.slice(0, address.lastIndexOf(':'))}:${port}`;
      resolve({
        address: bound,
        port,
        close: async () => {
          server.unbind(bound);
        },
      });
    });
  });
}
