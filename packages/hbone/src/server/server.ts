// The terminating side of HBONE (ztunnel inbound on 15008, waypoint, sidecar): accepts mutual
// TLS 1.3 + h2 connections, verifies the client's SPIFFE identity, and turns each CONNECT stream
// into a tunnel to `:authority` after the authorizer allowed it and the upstream connected.
import {
  createSecureServer,
  constants as h2,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { clip, parseAuthority, parseForwardedFor, type SocketAddress } from '../address.ts';
import {
  ALPN_H2,
  type CertMaterial,
  type CertSource,
  certInfoOf,
  TLS_MIN_VERSION,
  tlsOptionsOf,
} from '../certs.ts';
import { type Clock, type Logger, monotonicClock, silentLogger } from '../runtime.ts';
import { canRaiseConnectionWindow } from '../runtime-quirks.ts';
import { spiffeIdFromSubjectAltName } from '../spiffe.ts';
import { type SpliceOutcome, splice } from '../splice.ts';
import {
  type AuthorizeRefusalStatus,
  type Authorizer,
  CONNECTION_REJECT_REASONS,
  type ConnectionRejectReason,
  DEFAULT_SERVER_LIMITS,
  type HbonePeer,
  type HboneServerHooks,
  type HboneServerLimits,
  type HboneServerStats,
  STREAM_OUTCOMES,
  type StreamOutcome,
} from './types.ts';
import { createTcpConnector, type UpstreamConnector } from './upstream.ts';

export interface HboneServerOptions {
  readonly certs: CertSource;
  /** Which local identity's certificate to present (`certs.current(identity)`); default the default one. */
  readonly identity?: string;
  /** Trust domains whose clients are accepted; default the trust domain of our own certificate. */
  readonly trustDomains?: readonly string[];
  readonly authorize: Authorizer;
  /** Opens the upstream of a tunnel; default a plain TCP connect. */
  readonly connectUpstream?: UpstreamConnector;
  readonly limits?: Partial<HboneServerLimits>;
  readonly hooks?: HboneServerHooks;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

export interface HboneServer {
  /** Starts listening; resolves with the bound address (port 0 picks one). */
  listen(addr: { readonly host?: string; readonly port: number }): Promise<SocketAddress>;
  /** Serves a TCP connection accepted elsewhere (a listener inside another network namespace). */
  handleConnection(socket: Socket): void;
  /** The bound address, once listening. */
  address(): SocketAddress | undefined;
  stats(): HboneServerStats;
  /** Stops accepting, sends GOAWAY, lets tunnels finish for `graceMs` (default 5 s), then resets the rest. */
  close(opts?: { readonly graceMs?: number }): Promise<void>;
}

interface ConnState {
  readonly session: ServerHttp2Session;
  readonly peer: { readonly identity: string; readonly ip: string; readonly port: number };
  streams: number;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  resetWindowStart: number;
  resets: number;
}

interface Pending {
  readonly raw: Socket;
  readonly timer: ReturnType<typeof setTimeout>;
}

const EXPIRY_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const NO_CERT_CODES = new Set(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE']);
// X.509 verification results (OpenSSL's names, as Node and Bun report them).
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'HOSTNAME_MISMATCH',
  // BoringSSL (Bun) refuses a certificate whose key usage forbids signing during the handshake.
  'ERR_SSL_KEY_USAGE_BIT_INCORRECT',
]);

/**
 * Why TLS refused a client. Node reports a chain that failed verification as a hang-up with the
 * verification result on the socket (`authorizationError`); Bun reports the result as the code.
 * A missing certificate is OpenSSL's own handshake failure. Anything else is a handshake that did
 * not complete (garbage, a peer that went away).
 */
export function handshakeRefusal(
  err: Error & { code?: string },
  sock: TLSSocket | undefined,
): { reason: ConnectionRejectReason; detail: string } {
  const verify = sock?.authorizationError;
  const code = verify !== undefined && verify !== null ? String(verify) : (err.code ?? 'ERR_TLS');
  if (NO_CERT_CODES.has(code)) return { reason: 'no_client_cert', detail: 'client sent no certificate' };
  if (EXPIRY_CODES.has(code)) return { reason: 'expired_cert', detail: `client certificate: ${code}` };
  if (UNTRUSTED_CODES.has(code)) return { reason: 'untrusted_cert', detail: `client certificate: ${code}` };
  return { reason: 'tls_handshake', detail: code };
}
const REJECTED_STREAM_LINGER_MS = 2_000;
const BENIGN_SESSION_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'ETIMEDOUT']);

export function createHboneServer(options: HboneServerOptions): HboneServer {
  const limits: HboneServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const log = options.logger ?? silentLogger;
  const clock = options.clock ?? monotonicClock;
  const hooks = options.hooks ?? {};
  const connectUpstream = options.connectUpstream ?? createTcpConnector();
  const certs = options.certs;

  const rejected = Object.fromEntries(CONNECTION_REJECT_REASONS.map((r) => [r, 0])) as Record<
    ConnectionRejectReason,
    number
  >;
  const outcomes = Object.fromEntries(STREAM_OUTCOMES.map((o) => [o, 0])) as Record<StreamOutcome, number>;
  let accepted = 0;
  let activeConnections = 0;
  let activeStreams = 0;
  let bytesIn = 0;
  let bytesOut = 0;
  let streamSeq = 0;
  let closing = false;
  let bound: SocketAddress | undefined;

  const pending = new Map<string, Pending>();
  const conns = new Map<ServerHttp2Session, ConnState>();

  let material: CertMaterial | undefined = certs.current(options.identity);
  let trustDomains = resolveTrustDomains(material);

  const server = createSecureServer({
    ...(material !== undefined ? tlsOptionsOf(material) : { minVersion: TLS_MIN_VERSION }),
    // A client without a certificate from the trust bundle is refused by TLS itself: no
    // certificate fails the handshake (alert certificate_required); an untrusted or expired chain
    // is dropped as soon as the handshake ends (TLS 1.3 verifies the client last), before an
    // HTTP/2 session exists. Either way the peer never gets SETTINGS, a GOAWAY or a reason;
    // `tlsClientError` counts it. The SPIFFE identity is checked in the session handler.
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ALPN_H2,
    allowHTTP1: false,
    // Backstop only: our own timer (per raw socket) fires first and counts.
    handshakeTimeout: limits.handshakeTimeoutMs + 1_000,
    unknownProtocolTimeout: 1_000,
    maxSessionMemory: 64,
    maxHeaderListPairs: 64,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    maxOutstandingPings: 10,
    settings: {
      maxConcurrentStreams: limits.maxConcurrentStreams,
      initialWindowSize: limits.streamWindowSize,
      maxHeaderListSize: limits.maxHeaderListSize,
      enableConnectProtocol: false,
    },
  });

  // Accept failures (EMFILE) and the like must not crash the process; sessions, streams and
  // sockets get their own listeners below, where they are created.
  server.on('error', (e: Error & { code?: string }) => {
    log.warn('hbone server error', { error: e.code ?? e.message });
  });
  server.on('sessionError', () => {});

  const unsubscribe = certs.onChange((identity) => {
    if (identity !== options.identity) return;
    const next = certs.current(options.identity);
    material = next;
    trustDomains = resolveTrustDomains(next);
    if (next !== undefined) {
      try {
        server.setSecureContext(tlsOptionsOf(next));
        log.info('hbone server certificate rotated', { identity: options.identity ?? 'default' });
      } catch (e) {
        log.warn('hbone server rejected a rotated certificate', { error: String(e) });
      }
    }
  });

  function resolveTrustDomains(m: CertMaterial | undefined): ReadonlySet<string> {
    if (options.trustDomains !== undefined) return new Set(options.trustDomains);
    const own = m === undefined ? undefined : certInfoOf(m).trustDomain;
    return new Set(own === undefined ? [] : [own]);
  }

  function safeHook<E>(hook: ((e: E) => void) | undefined, event: E): void {
    if (hook === undefined) return;
    try {
      hook(event);
    } catch {
      // Telemetry must not break the data path.
    }
  }

  function rejectConnection(
    reason: ConnectionRejectReason,
    remote: { ip: string; port: number } | undefined,
    detail: string,
  ): void {
    rejected[reason]++;
    safeHook(hooks.onConnectionRejected, { reason, remote, detail });
    log.info('hbone connection rejected', { reason, remote: remote?.ip, detail });
  }

  function keyOf(s: {
    remoteAddress?: string | undefined;
    remotePort?: number | undefined;
    localAddress?: string | undefined;
    localPort?: number | undefined;
  }) {
    return `${s.localAddress}|${s.localPort}|${s.remoteAddress}|${s.remotePort}`;
  }

  function remoteOf(s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) {
    return s.remoteAddress === undefined ? undefined : { ip: s.remoteAddress, port: s.remotePort ?? 0 };
  }

  // --- connection admission (raw TCP, before TLS) ---

  server.on('connection', (raw: Socket) => {
    raw.on('error', () => {});
    // HTTP/2 over TLS writes small frames back to back (response HEADERS, then DATA); with Nagle
    // on, the second waits for the peer's delayed ACK (~40 ms on Linux). Sockets handed in by
    // handleConnection may be any Duplex.
    if (typeof raw.setNoDelay === 'function') raw.setNoDelay(true);
    const remote = remoteOf(raw);
    if (closing) {
      rejectConnection('shutting_down', remote, 'server is closing');
      raw.destroy();
      return;
    }
    if (material === undefined) {
      rejectConnection('no_server_certificate', remote, 'no certificate to present yet');
      raw.destroy();
      return;
    }
    if (activeConnections >= limits.maxConnections) {
      rejectConnection('connection_limit', remote, `${activeConnections} connections open`);
      raw.destroy();
      return;
    }
    if (pending.size >= limits.maxPendingHandshakes) {
      rejectConnection('handshake_overflow', remote, `${pending.size} handshakes in progress`);
      raw.destroy();
      return;
    }
    accepted++;
    activeConnections++;
    const key = keyOf(raw);
    const timer = setTimeout(() => {
      if (pending.get(key)?.raw !== raw || raw.destroyed) return;
      pending.delete(key);
      rejectConnection(
        'handshake_timeout',
        remote,
        `no TLS handshake within ${limits.handshakeTimeoutMs} ms`,
      );
      raw.destroy();
    }, limits.handshakeTimeoutMs);
    timer.unref?.();
    pending.set(key, { raw, timer });
    raw.once('close', () => {
      activeConnections--;
      const p = pending.get(key);
      if (p?.raw === raw) {
        clearTimeout(p.timer);
        pending.delete(key);
      }
    });
  });

  server.on('tlsClientError', (err: Error & { code?: string }, tlsSocket: TLSSocket) => {
    const refusal = handshakeRefusal(err, tlsSocket);
    rejectConnection(refusal.reason, remoteOf(tlsSocket), refusal.detail);
    tlsSocket.destroy();
  });

  server.on('unknownProtocol', (tlsSocket: TLSSocket) => {
    rejectConnection('alpn', remoteOf(tlsSocket), `ALPN ${String(tlsSocket.alpnProtocol)} is not h2`);
    tlsSocket.destroy();
  });

  // --- peer verification (TLS done, before any stream is read) ---

  server.on('session', (session: ServerHttp2Session) => {
    const sock = session.socket as TLSSocket;
    const key = keyOf(sock);
    const p = pending.get(key);
    if (p !== undefined) {
      clearTimeout(p.timer);
      pending.delete(key);
    }
    session.on('error', () => {});
    const remote = remoteOf(sock) ?? { ip: '', port: 0 };
    const verdict = verifyClient(sock);
    if (!verdict.ok) {
      rejectConnection(verdict.reason, remote, verdict.detail);
      try {
        session.goaway(
          h2.NGHTTP2_INADEQUATE_SECURITY,
          0,
          Buffer.from(`weft: ${verdict.detail}`.slice(0, 256)),
        );
      } catch {
        // Session already gone.
      }
      session.destroy();
      return;
    }
    if (closing) {
      rejectConnection('shutting_down', remote, 'server is closing');
      session.destroy();
      return;
    }
    const conn: ConnState = {
      session,
      peer: { identity: verdict.identity, ip: remote.ip, port: remote.port },
      streams: 0,
      idleTimer: undefined,
      resetWindowStart: clock.now(),
      resets: 0,
    };
    conns.set(session, conn);
    armIdle(conn);
    if (canRaiseConnectionWindow && typeof session.setLocalWindowSize === 'function') {
      try {
        session.setLocalWindowSize(limits.connectionWindowSize);
      } catch {
        // Best effort: a smaller window only costs throughput.
      }
    }
    let faulted = false;
    session.on('error', (e: Error & { code?: string }) => {
      log.info('hbone session error', { peer: conn.peer.identity, error: e.code ?? e.message });
      // A peer that merely vanished is not at fault; protocol violations and floods are.
      if (faulted || (e.code !== undefined && BENIGN_SESSION_ERRORS.has(e.code))) return;
      faulted = true;
      rejectConnection('protocol_error', { ip: conn.peer.ip, port: conn.peer.port }, e.code ?? e.message);
    });
    session.on('frameError', () => {});
    session.once('close', () => {
      if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
      conns.delete(session);
      maybeFinishClose();
    });
    // nghttp2 ends a session it finds hostile (floods, invalid frames) with a GOAWAY of its own.
    session.on('goaway', () => {});
  });

  function verifyClient(
    sock: TLSSocket,
  ): { ok: true; identity: string } | { ok: false; reason: ConnectionRejectReason; detail: string } {
    if (sock.alpnProtocol !== 'h2') {
      return { ok: false, reason: 'alpn', detail: `ALPN ${String(sock.alpnProtocol)} is not h2` };
    }
    let peerCert: { subjectaltname?: string } | undefined;
    try {
      peerCert = sock.getPeerCertificate();
    } catch {
      peerCert = undefined;
    }
    const hasCert = peerCert !== undefined && peerCert !== null && Object.keys(peerCert).length > 0;
    if (!hasCert) return { ok: false, reason: 'no_client_cert', detail: 'client sent no certificate' };
    if (!sock.authorized) {
      const code = String(sock.authorizationError ?? 'UNVERIFIED');
      return EXPIRY_CODES.has(code)
        ? { ok: false, reason: 'expired_cert', detail: `client certificate: ${code}` }
        : { ok: false, reason: 'untrusted_cert', detail: `client certificate: ${code}` };
    }
    const id = spiffeIdFromSubjectAltName(peerCert?.subjectaltname, trustDomains);
    if (!id.ok) {
      const reason = id.error.reason === 'unexpected_identity' ? 'foreign_trust_domain' : id.error.reason;
      return { ok: false, reason, detail: id.error.message };
    }
    return { ok: true, identity: id.value.id };
  }

  function armIdle(conn: ConnState): void {
    if (limits.connectionIdleTimeoutMs <= 0 || conn.streams > 0) return;
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      conn.idleTimer = undefined;
      if (conn.streams === 0 && !conn.session.closed) conn.session.close();
    }, limits.connectionIdleTimeoutMs);
    conn.idleTimer.unref?.();
  }

  // A client that cancels many streams before their reply makes us start work for nothing.
  function notePrematureReset(conn: ConnState): void {
    const now = clock.now();
    if (now - conn.resetWindowStart > limits.prematureResetWindowMs) {
      conn.resetWindowStart = now;
      conn.resets = 0;
    }
    conn.resets++;
    if (conn.resets > limits.maxPrematureResets && !conn.session.destroyed) {
      rejectConnection(
        'rapid_reset',
        { ip: conn.peer.ip, port: conn.peer.port },
        `${conn.resets} streams cancelled before reply`,
      );
      try {
        conn.session.goaway(h2.NGHTTP2_ENHANCE_YOUR_CALM, 0);
      } catch {
        // Already closing.
      }
      conn.session.destroy();
    }
  }

  // --- streams ---

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => {});
    const id = ++streamSeq;
    const conn = conns.get(stream.session as ServerHttp2Session);
    if (conn === undefined) {
      outcomes.unauthenticated++;
      safeHook(hooks.onStreamClosed, {
        id,
        peer: undefined,
        dest: undefined,
        outcome: 'unauthenticated',
        status: undefined,
        reason: 'connection peer not verified',
        bytesIn: 0,
        bytesOut: 0,
        durationMs: 0,
      });
      stream.close(h2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    void handleStream(conn, stream, headers, id);
  });

  async function handleStream(
    conn: ConnState,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    id: number,
  ): Promise<void> {
    const started = clock.now();
    conn.streams++;
    activeStreams++;
    if (conn.idleTimer !== undefined) {
      clearTimeout(conn.idleTimer);
      conn.idleTimer = undefined;
    }
    let peer: HbonePeer | undefined;
    let dest: SocketAddress | undefined;
    let replied = false;
    let done = false;
    const abort = new AbortController();

    const finish = (
      outcome: StreamOutcome,
      status: number | undefined,
      reason: string | undefined,
      bytes = { in: 0, out: 0 },
    ) => {
      if (done) return;
      done = true;
      conn.streams--;
      activeStreams--;
      outcomes[outcome]++;
      bytesIn += bytes.in;
      bytesOut += bytes.out;
      armIdle(conn);
      safeHook(hooks.onStreamClosed, {
        id,
        peer,
        dest,
        outcome,
        status,
        reason,
        bytesIn: bytes.in,
        bytesOut: bytes.out,
        durationMs: clock.now() - started,
      });
      maybeFinishClose();
    };

    const refuse = (status: 400 | 401 | 503, outcome: StreamOutcome, reason: string) => {
      if (stream.destroyed || stream.closed) {
        finish('cancelled', undefined, reason);
        return;
      }
      replied = true;
      const responseHeaders: Record<string, string | number> = { ':status': status };
      if (status === 400) responseHeaders['weft-error'] = clip(reason, 200);
      try {
        stream.respond(responseHeaders, { endStream: true });
      } catch {
        // The stream closed under us.
      }
      // Discard whatever the client still sends, and do not keep the stream forever.
      stream.resume();
      const linger = setTimeout(() => stream.close(h2.NGHTTP2_NO_ERROR), REJECTED_STREAM_LINGER_MS);
      linger.unref?.();
      stream.once('close', () => clearTimeout(linger));
      finish(outcome, status, reason);
    };

    const onEarlyClose = () => {
      if (replied) return;
      abort.abort();
      notePrematureReset(conn);
      finish('cancelled', undefined, 'client cancelled before reply');
    };
    stream.once('close', onEarlyClose);

    // 1. Parse the request.
    const method = headers[':method'];
    if (method !== 'CONNECT') {
      refuse(400, 'bad_request', `method ${clip(String(method))} is not CONNECT`);
      return;
    }
    if (
      headers[':protocol'] !== undefined ||
      headers[':path'] !== undefined ||
      headers[':scheme'] !== undefined
    ) {
      refuse(400, 'bad_request', 'only plain CONNECT (no :protocol, :path, :scheme)');
      return;
    }
    const authority = parseAuthority(single(headers[':authority']));
    if (!authority.ok) {
      refuse(400, 'bad_request', authority.message);
      return;
    }
    dest = authority.value;
    const forwarded = parseForwardedFor(single(headers.forwarded));
    if (!forwarded.ok) {
      refuse(400, 'bad_request', forwarded.message);
      return;
    }
    peer = { ...conn.peer, forwardedFor: forwarded.value };

    // On a connection that has cancelled streams lately, let the rest of this read be parsed
    // first: a stream reset in the same packet (HTTP/2 rapid reset) then costs no authorization
    // and no upstream connect. Well-behaved connections skip this turn of the event loop.
    if (conn.resets > 0 && clock.now() - conn.resetWindowStart <= limits.prematureResetWindowMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (done) return;
    }

    // 2. Authorize and connect, within one deadline.
    const deadline = setTimeout(() => abort.abort(), limits.upstreamConnectTimeoutMs);
    deadline.unref?.();
    let upstream: Duplex;
    try {
      let decision: Awaited<ReturnType<Authorizer>>;
      try {
        decision = await raceAbort(
          Promise.resolve(options.authorize(peer, dest, headers, { id })),
          abort.signal,
        );
      } catch (e) {
        if (abort.signal.aborted) throw e;
        decision = { allow: false, reason: `authorizer failed: ${String(e)}` };
      }
      if (!decision.allow) {
        clearTimeout(deadline);
        const status = refusalStatus(decision.status);
        refuse(status, REFUSAL_OUTCOME[status], decision.reason);
        return;
      }
      upstream = await raceAbort(
        connectUpstream(dest, { id, peer, headers, signal: abort.signal }),
        abort.signal,
        (s) => s.destroy(),
      );
    } catch (e) {
      clearTimeout(deadline);
      if (done) return; // cancelled by the client meanwhile
      refuse(503, 'upstream_unavailable', abort.signal.aborted ? 'upstream connect timed out' : errorText(e));
      return;
    }
    clearTimeout(deadline);
    if (done || stream.destroyed || stream.closed) {
      upstream.destroy();
      return;
    }

    // 3. Tunnel.
    replied = true;
    stream.removeListener('close', onEarlyClose);
    try {
      stream.respond({ ':status': 200 });
    } catch {
      upstream.destroy();
      finish('cancelled', undefined, 'stream closed before reply');
      return;
    }
    safeHook(hooks.onStreamOpened, { id, peer, dest });
    let localOutcome: StreamOutcome | undefined;
    const onShutdown = () => {
      localOutcome ??= 'shutdown';
      tunnel.reset();
    };
    const tunnel = splice(stream, upstream, (r) => {
      shutdownHooks.delete(onShutdown);
      finish(
        localOutcome ?? outcomeOf(r.outcome),
        200,
        r.error === undefined ? undefined : errorText(r.error),
        {
          in: r.bytesAToB,
          out: r.bytesBToA,
        },
      );
    });
    if (limits.streamIdleTimeoutMs > 0) {
      stream.setTimeout(limits.streamIdleTimeoutMs, () => {
        localOutcome ??= 'idle_timeout';
        tunnel.reset();
      });
    }
    shutdownHooks.add(onShutdown);
  }

  const shutdownHooks = new Set<() => void>();
  let closeWaiters: (() => void)[] = [];
  let serverClosed = false;

  function maybeFinishClose(): void {
    if (!closing || !serverClosed || conns.size > 0) return;
    const waiters = closeWaiters;
    closeWaiters = [];
    for (const w of waiters) w();
  }

  return {
    listen(addr) {
      return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once('error', onError);
        server.listen(addr.port, addr.host ?? '127.0.0.1', () => {
          server.removeListener('error', onError);
          const a = server.address() as AddressInfo;
          bound = { ip: a.address, port: a.port };
          resolve(bound);
        });
      });
    },
    handleConnection(socket) {
      server.emit('connection', socket);
    },
    address: () => bound,
    stats() {
      return {
        connections: {
          accepted,
          active: activeConnections,
          pendingHandshakes: pending.size,
          rejected: { ...rejected },
        },
        streams: { active: activeStreams, outcomes: { ...outcomes } },
        bytesIn,
        bytesOut,
      };
    },
    close(opts = {}) {
      const graceMs = opts.graceMs ?? 5_000;
      if (!closing) {
        closing = true;
        unsubscribe();
        server.close(() => {
          serverClosed = true;
          maybeFinishClose();
        });
        if (!server.listening) serverClosed = true;
        for (const p of pending.values()) {
          clearTimeout(p.timer);
          p.raw.destroy();
        }
        pending.clear();
        for (const c of conns.values()) {
          if (c.idleTimer !== undefined) clearTimeout(c.idleTimer);
          c.session.close();
        }
        const hard = setTimeout(() => {
          for (const h of shutdownHooks) h();
          for (const c of conns.values()) c.session.destroy();
        }, graceMs);
        hard.unref?.();
        closeWaiters.push(() => clearTimeout(hard));
      }
      return new Promise<void>((resolve) => {
        closeWaiters.push(resolve);
        maybeFinishClose();
      });
    },
  };
}

const REFUSAL_OUTCOME: Readonly<Record<AuthorizeRefusalStatus, StreamOutcome>> = {
  400: 'bad_request',
  401: 'denied',
  503: 'upstream_unavailable',
};

/** The status of a refusal from `authorize`: 401 unless it named one we answer with. */
function refusalStatus(status: unknown): AuthorizeRefusalStatus {
  return status === 400 || status === 503 ? status : 401;
}

function outcomeOf(o: SpliceOutcome): StreamOutcome {
  switch (o) {
    case 'closed':
      return 'closed';
    case 'reset_a':
      return 'reset_by_peer';
    case 'reset_b':
      return 'reset_by_upstream';
    case 'reset_local':
      return 'shutdown';
  }
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function errorText(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
  }
  return String(e);
}

/** Rejects when `signal` aborts; a value that arrives later is handed to `discard`. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal, discard?: (v: T) => void): Promise<T> {
  if (signal.aborted) {
    if (discard !== undefined) p.then(discard, () => {});
    return Promise.reject(new Error('aborted'));
  }
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) discard?.(v);
        else {
          settled = true;
          resolve(v);
        }
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) {
          settled = true;
          reject(e);
        }
      },
    );
  });
}
