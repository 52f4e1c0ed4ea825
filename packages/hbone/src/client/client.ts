// The originating side of HBONE (ztunnel outbound, waypoint, sidecar): opens CONNECT streams over
// pooled mutual-TLS h2 connections, one pool entry per (source identity, destination identities,
// endpoint address), verifying the server's SPIFFE identity on every new connection.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants as h2,
  connect as h2connect,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { formatAuthority } from '../address.ts';
import { ALPN_H2, type CertMaterial, type CertSource, secureContextOf, TLS_MIN_VERSION } from '../certs.ts';
import { HBONE_ERROR_KINDS, HboneError, type HboneErrorKind, kindForStatus } from '../errors.ts';
import { type Logger, silentLogger } from '../runtime.ts';
import { canRaiseConnectionWindow } from '../runtime-quirks.ts';
import { checkExpectedIdentity, spiffeIdFromSubjectAltName } from '../spiffe.ts';
import { resetStream } from '../splice.ts';
import { type PlannedConnect, planConnect } from './request.ts';
import { tcpSocketConnector } from './socket.ts';
import {
  DEFAULT_POOL_OPTIONS,
  type HboneClientHooks,
  type HboneClientStats,
  type HboneConnectRequest,
  type HbonePoolOptions,
  type HboneSocketConnector,
} from './types.ts';

export interface HboneClientOptions {
  readonly certs: CertSource;
  /**
   * Opens the TCP leg of each pooled connection; TLS runs over the socket it returns. A
   * SocketFactory fits (ztunnel's, so sockets can live in a pod's network namespace or carry a
   * mark). Default: a plain TCP connect.
   */
  readonly sockets?: HboneSocketConnector;
  readonly pool?: Partial<HbonePoolOptions>;
  /** Deadline for a CONNECT response once the connection is up. Default 10 s. */
  readonly responseTimeoutMs?: number;
  readonly hooks?: HboneClientHooks;
  readonly logger?: Logger;
}

export interface HboneClient {
  /**
   * Opens a tunnel; resolves with the stream once the server answered 200. The stream is a Duplex
   * with TCP semantics: `end()` half-closes, `destroy()` resets. Rejects with an HboneError.
   */
  connect(req: HboneConnectRequest): Promise<Duplex>;
  stats(): HboneClientStats;
  /** Closes every pooled connection (GOAWAY, streams may finish for `graceMs`, default 5 s). */
  close(opts?: { readonly graceMs?: number }): Promise<void>;
}

type ConnState = 'connecting' | 'ready' | 'draining' | 'closed';

interface PooledConnection {
  readonly key: string;
  readonly material: CertMaterial;
  readonly plan: PlannedConnect;
  /** Set once the TCP leg is up and TLS + HTTP/2 run over it. */
  session: ClientHttp2Session | undefined;
  /** Abandons the TCP leg while it is being opened. */
  readonly opening: AbortController;
  readonly ready: Promise<void>;
  state: ConnState;
  /** Streams reserved or open on this connection. */
  streams: number;
  limit: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  peerIdentity: string | undefined;
  /** Streams that ended with RST_STREAM. */
  resets: number;
  /** From the server's GOAWAY: streams above it were not processed. */
  goawayLastStreamId: number | undefined;
  /**
   * The server's first SETTINGS arrived. Under TLS 1.3 the server verifies our certificate after
   * our side of the handshake is done, and refuses it by closing (or a TLS alert) before any
   * HTTP/2 frame: a connection that ends before SETTINGS was refused.
   */
  remoteSettingsSeen: boolean;
  /** Why the connection failed or was refused, when known. */
  failure: HboneError | undefined;
}

const EXPIRY_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** The connection ended before the server's SETTINGS: it refused our certificate in the handshake. */
function refusedBeforeSettings(via: string, e?: Error & { code?: string }): HboneError {
  const code = e?.code ?? 'CLOSED_BEFORE_SETTINGS';
  return new HboneError(
    'tls',
    `server ${via} refused our certificate in the TLS handshake (${e !== undefined ? e.message : 'closed before HTTP/2 SETTINGS'})`,
    { via, code, ...(e !== undefined ? { cause: e } : {}) },
  );
}
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'EADDRINUSE',
  'ETIMEDOUT',
]);

export function createHboneClient(options: HboneClientOptions): HboneClient {
  const poolOpts: HbonePoolOptions = { ...DEFAULT_POOL_OPTIONS, ...options.pool };
  const responseTimeoutMs = options.responseTimeoutMs ?? 10_000;
  const hooks = options.hooks ?? {};
  const log = options.logger ?? silentLogger;
  const certs = options.certs;
  const sockets = options.sockets ?? tcpSocketConnector;

  const pool = new Map<string, PooledConnection[]>();
  const live = new Set<PooledConnection>();
  const errors = Object.fromEntries(HBONE_ERROR_KINDS.map((k) => [k, 0])) as Record<HboneErrorKind, number>;
  let connectionsOpened = 0;
  let streamsOpened = 0;
  let streamsActive = 0;
  let closed = false;

  // Rotated certificates: connections made with the old one take no new streams.
  const unsubscribe = certs.onChange((identity) => {
    for (const c of live) {
      if (c.plan.sourceIdentity === identity && certs.current(identity) !== c.material) drain(c);
    }
  });

  function safeHook<E>(hook: ((e: E) => void) | undefined, event: E): void {
    if (hook === undefined) return;
    try {
      hook(event);
    } catch {
      // Telemetry must not break the data path.
    }
  }

  function fail(err: HboneError): never {
    errors[err.kind]++;
    safeHook(hooks.onConnectFailed, err);
    throw err;
  }

  function removeFromPool(c: PooledConnection): void {
    const list = pool.get(c.key);
    if (list === undefined) return;
    const i = list.indexOf(c);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) pool.delete(c.key);
  }

  function drain(c: PooledConnection): void {
    if (c.state === 'closed' || c.state === 'draining') return;
    c.state = 'draining';
    removeFromPool(c);
    if (c.streams === 0) endConnection(c, 'close');
  }

  function acquire(plan: PlannedConnect, material: CertMaterial): PooledConnection {
    const list = pool.get(plan.poolKey);
    if (list !== undefined) {
      for (const c of [...list]) {
        if (c.material !== material) {
          drain(c);
          continue;
        }
        if ((c.state === 'connecting' || c.state === 'ready') && c.streams < c.limit) {
          c.streams++;
          if (c.idleTimer !== undefined) {
            clearTimeout(c.idleTimer);
            c.idleTimer = undefined;
          }
          return c;
        }
      }
    }
    const c = open(plan, material);
    c.streams = 1;
    const l = pool.get(plan.poolKey);
    if (l === undefined) pool.set(plan.poolKey, [c]);
    else l.push(c);
    return c;
  }

  function release(c: PooledConnection): void {
    c.streams--;
    if (c.streams > 0) return;
    if (c.state === 'draining') {
      endConnection(c, 'close');
      return;
    }
    if (c.state !== 'ready' && c.state !== 'connecting') return;
    if (c.idleTimer !== undefined) clearTimeout(c.idleTimer);
    c.idleTimer = setTimeout(() => {
      c.idleTimer = undefined;
      if (c.streams === 0) drain(c);
    }, poolOpts.idleTimeoutMs);
    c.idleTimer.unref?.();
  }

  /** Ends a connection: its session if it has one, else the TCP leg still being opened. */
  function endConnection(c: PooledConnection, how: 'close' | 'destroy'): void {
    if (c.session === undefined) c.opening.abort();
    else if (how === 'close') c.session.close();
    else c.session.destroy();
  }

  function open(plan: PlannedConnect, material: CertMaterial): PooledConnection {
    const via = formatAuthority(plan.via);
    let identityError: HboneError | undefined;
    let peerIdentity: string | undefined;
    connectionsOpened++;

    let resolveReady!: () => void;
    let rejectReady!: (e: HboneError) => void;
    const ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    ready.catch(() => {});

    const c: PooledConnection = {
      key: plan.poolKey,
      material,
      plan,
      session: undefined,
      opening: new AbortController(),
      ready,
      state: 'connecting',
      streams: 0,
      limit: poolOpts.maxStreamsPerConnection,
      idleTimer: undefined,
      peerIdentity: undefined,
      resets: 0,
      goawayLastStreamId: undefined,
      remoteSettingsSeen: false,
      failure: undefined,
    };
    live.add(c);

    const connectTimer = setTimeout(() => {
      if (c.state !== 'connecting') return;
      c.failure = new HboneError(
        'timeout',
        `no HBONE connection to ${via} within ${poolOpts.connectTimeoutMs} ms`,
        {
          via,
        },
      );
      endConnection(c, 'destroy');
    }, poolOpts.connectTimeoutMs);
    connectTimer.unref?.();

    let finished = false;
    let up = false;
    const onClosed = () => {
      if (finished) return;
      finished = true;
      clearTimeout(connectTimer);
      if (c.idleTimer !== undefined) clearTimeout(c.idleTimer);
      c.state = 'closed';
      removeFromPool(c);
      live.delete(c);
      // Never up (failed, timed out, or drained / closed while connecting): its waiters fail.
      if (!up) {
        rejectReady(
          c.failure ?? new HboneError('connection_closed', `HBONE connection to ${via} closed`, { via }),
        );
      } else {
        safeHook(hooks.onConnectionClosed, { key: c.key, via: plan.via, peerIdentity, streams: c.streams });
      }
      maybeClosed();
    };
    // Given up before the TCP leg was up (connect timeout, drained, client closed): nothing else
    // will report the end, and a socket that still arrives is dropped.
    c.opening.signal.addEventListener('abort', () => {
      if (c.session === undefined) onClosed();
    });

    // 1. The TCP leg, through the socket capability.
    let socketPromise: Promise<Duplex>;
    try {
      socketPromise = sockets.connect(plan.via, {
        signal: c.opening.signal,
        timeoutMs: poolOpts.connectTimeoutMs,
      });
    } catch (e) {
      socketPromise = Promise.reject(e);
    }
    socketPromise.then(
      (socket) => {
        if (finished) {
          socket.on('error', () => {});
          socket.destroy();
          return;
        }
        startSession(socket);
      },
      (e: Error & { code?: string }) => {
        if (finished) return;
        c.failure ??= new HboneError('connect', `cannot reach HBONE endpoint ${via}: ${e.message}`, {
          via,
          code: e.code,
          cause: e,
        });
        onClosed();
      },
    );

    // 2. TLS and HTTP/2 over it.
    function startSession(socket: Duplex): void {
      // The TLS socket owns the transport from here; errors surface on the session.
      socket.on('error', () => {});
      const session = h2connect(`https://${via}`, {
        createConnection: () => {
          const tls = tlsConnect({
            socket,
            host: plan.via.ip,
            secureContext: secureContextOf(material),
            minVersion: TLS_MIN_VERSION,
            ALPNProtocols: ALPN_H2,
            // The SPIFFE check replaces host name checks.
            checkServerIdentity: (_host, cert) => {
              const id = spiffeIdFromSubjectAltName(cert.subjectaltname);
              const problem = id.ok ? checkExpectedIdentity(id.value, plan.expected) : id.error;
              if (problem !== undefined) {
                identityError = new HboneError('identity_mismatch', `server ${via}: ${problem.message}`, {
                  via,
                  code: problem.reason,
                  ...(id.ok ? { peerIdentity: id.value.id } : {}),
                });
                return identityError;
              }
              if (id.ok) peerIdentity = id.value.id;
              return undefined;
            },
          });
          // Errors surface on the session (HTTP/2 listens too); never unhandled here.
          tls.on('error', () => {});
          // HTTP/2 has no half-closed connection: the peer's FIN without GOAWAY means it is gone
          // (a killed process's kernel sends FIN). Over a half-open socket nothing else would
          // close the session, and the pool would keep handing it out.
          tls.on('end', () => tls.destroy());
          return tls;
        },
        settings: {
          enablePush: false,
          initialWindowSize: poolOpts.streamWindowSize,
        },
        maxSessionMemory: 64,
        maxOutstandingPings: 10,
      });
      c.session = session;
      session.on('error', (e: Error & { code?: string }) => {
        c.failure ??= classify(e);
        log.info('hbone connection error', { via, kind: c.failure.kind, error: e.message });
      });

      function classify(e: Error & { code?: string }): HboneError {
        if (identityError !== undefined) return identityError;
        if (c.failure !== undefined) return c.failure;
        const code = e.code;
        if (code !== undefined && CONNECT_CODES.has(code)) {
          return new HboneError('connect', `cannot reach HBONE endpoint ${via}: ${e.message}`, {
            via,
            code,
            cause: e,
          });
        }
        if (c.state === 'connecting') {
          const what =
            code !== undefined && EXPIRY_CODES.has(code) ? 'server certificate expired' : 'TLS failed';
          return new HboneError('tls', `${what} with ${via}: ${e.message}`, { via, code, cause: e });
        }
        if (!c.remoteSettingsSeen) return refusedBeforeSettings(via, e);
        return new HboneError('connection_closed', `HBONE connection to ${via} failed: ${e.message}`, {
          via,
          code,
          cause: e,
        });
      }

      session.on('connect', () => {
        clearTimeout(connectTimer);
        const alpn = (session.socket as TLSSocket | undefined)?.alpnProtocol;
        if (alpn !== undefined && alpn !== 'h2') {
          c.failure = new HboneError('tls', `server ${via} did not negotiate h2 (ALPN ${String(alpn)})`, {
            via,
          });
          session.destroy();
          return;
        }
        if (c.state === 'connecting') c.state = 'ready';
        c.peerIdentity = peerIdentity;
        if (canRaiseConnectionWindow && typeof session.setLocalWindowSize === 'function') {
          try {
            session.setLocalWindowSize(poolOpts.connectionWindowSize);
          } catch {
            // Best effort.
          }
        }
        up = true;
        safeHook(hooks.onConnectionOpened, { key: c.key, via: plan.via, peerIdentity });
        resolveReady();
      });
      session.on('remoteSettings', (s) => {
        c.remoteSettingsSeen = true;
        const max = s.maxConcurrentStreams;
        if (max !== undefined && max >= 0)
          c.limit = Math.max(1, Math.min(poolOpts.maxStreamsPerConnection, max));
      });
      session.on('goaway', (code: number, lastStreamId: number, data?: Buffer) => {
        c.goawayLastStreamId = lastStreamId;
        const text =
          data !== undefined && data.length > 0 ? data.toString('utf8', 0, Math.min(data.length, 256)) : '';
        if (code === h2.NGHTTP2_INADEQUATE_SECURITY) {
          c.failure ??= new HboneError('tls', `server ${via} refused our certificate or identity: ${text}`, {
            via,
            code: 'NGHTTP2_INADEQUATE_SECURITY',
          });
        } else if (code !== h2.NGHTTP2_NO_ERROR) {
          c.failure ??= new HboneError('connection_closed', `server ${via} sent GOAWAY ${code} ${text}`, {
            via,
            code: String(code),
          });
        }
        drain(c);
      });
      session.once('close', onClosed);
    }
    return c;
  }

  function openStream(c: PooledConnection, plan: PlannedConnect, req: HboneConnectRequest): Promise<Duplex> {
    const via = formatAuthority(plan.via);
    const dest = plan.headers[':authority'];
    const details = {
      via,
      ...(dest !== undefined ? { dest } : {}),
      ...(c.peerIdentity ? { peerIdentity: c.peerIdentity } : {}),
    };
    const session = c.session;
    if (session === undefined) {
      release(c);
      return Promise.reject(
        c.failure ?? new HboneError('connection_closed', `HBONE connection to ${via} is not up`, details),
      );
    }
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(plan.headers, { endStream: false });
      stream.on('error', () => {});
    } catch (e) {
      release(c);
      if (c.failure !== undefined) return Promise.reject(c.failure);
      const code = (e as { code?: string }).code;
      return Promise.reject(
        new HboneError('refused', `cannot open a stream to ${via}: ${(e as Error).message}`, {
          ...details,
          code,
        }),
      );
    }
    streamsActive++;
    stream.once('close', () => {
      streamsActive--;
      // Servers on nghttp2 (Node's among them) end a connection that received too many
      // RST_STREAMs (about 1000, then 33/s): rotate to a fresh connection well before that.
      const rst = stream.rstCode;
      if (rst !== undefined && rst !== h2.NGHTTP2_NO_ERROR && ++c.resets >= poolOpts.maxResetsPerConnection)
        drain(c);
      release(c);
    });
    return new Promise<Duplex>((resolve, reject) => {
      let settled = false;
      const timeoutMs = req.timeoutMs ?? responseTimeoutMs;
      const settle = (err: HboneError | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        if (err === undefined) {
          streamsOpened++;
          resolve(stream);
        } else {
          if (err.status !== undefined) {
            // The server answered and ended its side: end ours too, no RST_STREAM needed.
            stream.resume();
            stream.end();
          } else if (!stream.destroyed) {
            resetStream(stream, h2.NGHTTP2_CANCEL);
          }
          reject(err);
        }
      };
      const timer = setTimeout(
        () =>
          settle(
            new HboneError('timeout', `no CONNECT response from ${via} within ${timeoutMs} ms`, details),
          ),
        timeoutMs,
      );
      timer.unref?.();
      const onAbort = () => settle(new HboneError('aborted', 'connect aborted by the caller', details));
      req.signal?.addEventListener('abort', onAbort, { once: true });
      stream.once('response', (headers) => {
        const status = Number(headers[':status']);
        if (status === 200) {
          settle(undefined);
          return;
        }
        const reason = headers['weft-error'];
        settle(
          new HboneError(
            kindForStatus(status),
            `HBONE ${via} answered ${status} for ${dest}${typeof reason === 'string' ? `: ${reason}` : ''}`,
            { ...details, status },
          ),
        );
      });
      stream.once('close', () => {
        if (settled) return;
        const code = stream.rstCode;
        const last = c.goawayLastStreamId;
        const refusedUs = c.failure?.kind === 'tls' || c.failure?.kind === 'identity_mismatch';
        if (!refusedUs && last !== undefined && stream.id !== undefined && stream.id > last) {
          settle(new HboneError('refused', `${via} went away before processing the stream`, details));
        } else if (c.failure !== undefined) settle(c.failure);
        else if (!c.remoteSettingsSeen && (session.destroyed || session.closed)) {
          c.failure = refusedBeforeSettings(via);
          settle(c.failure);
        } else if (code === h2.NGHTTP2_REFUSED_STREAM) {
          settle(
            new HboneError('refused', `${via} refused the stream`, {
              ...details,
              code: 'NGHTTP2_REFUSED_STREAM',
            }),
          );
        } else if (session.destroyed || session.closed) {
          settle(
            new HboneError(
              'connection_closed',
              `HBONE connection to ${via} closed before the response`,
              details,
            ),
          );
        } else {
          settle(
            new HboneError('stream_reset', `${via} reset the stream (code ${String(code)})`, {
              ...details,
              code: String(code),
            }),
          );
        }
      });
    });
  }

  let closeWaiters: (() => void)[] = [];
  function maybeClosed(): void {
    if (!closed || live.size > 0) return;
    const w = closeWaiters;
    closeWaiters = [];
    for (const f of w) f();
  }

  async function connectOnce(req: HboneConnectRequest, plan: PlannedConnect): Promise<Duplex> {
    const material = certs.current(plan.sourceIdentity);
    if (material === undefined) {
      throw new HboneError(
        'no_certificate',
        `no certificate for ${plan.sourceIdentity ?? 'the default identity'}`,
        {
          via: formatAuthority(plan.via),
        },
      );
    }
    const c = acquire(plan, material);
    try {
      await raceSignal(c.ready, req.signal);
    } catch (e) {
      release(c);
      throw e;
    }
    if (c.state !== 'ready' && c.state !== 'draining') {
      release(c);
      throw (
        c.failure ??
        new HboneError('connection_closed', 'HBONE connection closed', { via: formatAuthority(plan.via) })
      );
    }
    return openStream(c, plan, req);
  }

  return {
    async connect(req) {
      if (closed) fail(new HboneError('client_closed', 'the HBONE client is closed'));
      const planned = planConnect(req);
      if (!planned.ok) fail(new HboneError('invalid_argument', `${planned.field}: ${planned.message}`));
      const plan = planned.value;
      for (let attempt = 1; ; attempt++) {
        try {
          return await connectOnce(req, plan);
        } catch (e) {
          const err =
            e instanceof HboneError ? e : new HboneError('connection_closed', String(e), { cause: e });
          if (err.retryable && attempt < 2 && !closed) continue;
          fail(err);
        }
      }
    },
    stats() {
      const entries: { key: string; streams: number; limit: number }[] = [];
      for (const [key, list] of pool)
        for (const c of list) entries.push({ key, streams: c.streams, limit: c.limit });
      return {
        connections: { opened: connectionsOpened, active: live.size },
        streams: { opened: streamsOpened, active: streamsActive },
        errors: { ...errors },
        pool: entries,
      };
    },
    close(opts = {}) {
      if (!closed) {
        closed = true;
        unsubscribe();
        for (const c of [...live]) {
          c.state = c.state === 'closed' ? 'closed' : 'draining';
          removeFromPool(c);
          endConnection(c, 'close');
        }
        const hard = setTimeout(() => {
          for (const c of [...live]) endConnection(c, 'destroy');
        }, opts.graceMs ?? 5_000);
        hard.unref?.();
        closeWaiters.push(() => clearTimeout(hard));
      }
      return new Promise<void>((resolve) => {
        closeWaiters.push(resolve);
        maybeClosed();
      });
    },
  };
}

function raceSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.reject(new HboneError('aborted', 'connect aborted by the caller'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new HboneError('aborted', 'connect aborted by the caller'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
