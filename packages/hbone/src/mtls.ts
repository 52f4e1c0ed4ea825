// Mesh mTLS without HBONE: what a proxyless gRPC workload speaks on its own port (TLS with SPIFFE
// certificates from the mesh CA, ALPN h2, the gRPC bytes inside). A proxy originates it towards a
// proxyless server (`mtlsConnect`) and terminates it for a proxyless client that reached a
// captured inbound port (`sniffTls`, then `createMtlsAcceptor`). The TLS profile is HBONE's: TLS
// 1.3, ALPN h2, the peer is its one SPIFFE URI SAN (host names are never checked).
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  ALPN_H2,
  type CertMaterial,
  type CertSource,
  certInfoOf,
  secureContextOf,
  TLS_MIN_VERSION,
  tlsOptionsOf,
} from './certs.ts';
import { HboneError } from './errors.ts';
import { handshakeRefusal } from './server/server.ts';
import type { ConnectionRejectReason } from './server/types.ts';
import { checkExpectedIdentity, type SpiffeId, spiffeIdFromSubjectAltName } from './spiffe.ts';

export interface MtlsConnectOptions {
  /** Our certificate (the source workload's) and the trust bundle the server's chain must lead to. */
  readonly material: CertMaterial;
  /** The SPIFFE identity (or identities) the server must prove. */
  readonly expected: string | ReadonlySet<string>;
  /** SNI to send; none by default (a proxyless server does not look at it). */
  readonly servername?: string;
  /** Handshake deadline. Default 10 s. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * TLS client over a connected `socket`: presents `material`, verifies the server's chain against
 * the trust bundle and its SPIFFE identity against `expected`, offers ALPN h2 only and requires it.
 * Resolves with the TLS socket once the handshake is done; rejects with an HboneError of kind
 * `tls`, `identity_mismatch`, `timeout` or `aborted` (the socket is destroyed then).
 */
export function mtlsConnect(socket: Duplex, options: MtlsConnectOptions): Promise<TLSSocket> {
  const expected = typeof options.expected === 'string' ? new Set([options.expected]) : options.expected;
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise<TLSSocket>((resolve, reject) => {
    let settled = false;
    let identityError: HboneError | undefined;
    socket.on('error', () => {});
    const tls = tlsConnect({
      socket,
      secureContext: secureContextOf(options.material),
      minVersion: TLS_MIN_VERSION,
      ALPNProtocols: ALPN_H2,
      ...(options.servername !== undefined ? { servername: options.servername } : {}),
      // The SPIFFE check replaces host name checks.
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdFromSubjectAltName(cert.subjectaltname);
        const problem = id.ok ? checkExpectedIdentity(id.value, expected) : id.error;
        if (problem !== undefined) {
          identityError = new HboneError('identity_mismatch', `server: ${problem.message}`, {
            code: problem.reason,
            ...(id.ok ? { peerIdentity: id.value.id } : {}),
          });
          return identityError;
        }
        return undefined;
      },
    });
    // Stays attached: a reset after the handshake must not be unhandled; the caller's splice sees it.
    tls.on('error', () => {});
    const fail = (e: HboneError) => {
      if (settled) return;
      settled = true;
      cleanup();
      tls.destroy();
      socket.destroy();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new HboneError('timeout', `no TLS handshake within ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref?.();
    const onAbort = () => fail(new HboneError('aborted', 'aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const onError = (e: Error & { code?: string }) =>
      fail(
        identityError ??
          new HboneError('tls', `TLS failed: ${e.message}`, {
            ...(e.code !== undefined ? { code: e.code } : {}),
            cause: e,
          }),
      );
    const onClose = () => fail(new HboneError('tls', 'connection closed during the TLS handshake'));
    const onSecure = () => {
      if (tls.alpnProtocol !== 'h2') {
        fail(new HboneError('tls', `server did not negotiate h2 (ALPN ${String(tls.alpnProtocol)})`));
        return;
      }
      if (settled) return;
      settled = true;
      cleanup();
      resolve(tls);
    };
    function cleanup() {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      tls.off('error', onError);
      tls.off('close', onClose);
      tls.off('secureConnect', onSecure);
    }
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    tls.once('error', onError);
    tls.once('close', onClose);
    tls.once('secureConnect', onSecure);
  });
}

/** What the first bytes of a connection are. */
export type TlsSniff = 'tls' | 'other' | 'more';

/** How many bytes `sniffTls` needs: a TLS record header and the handshake type. */
export const TLS_SNIFF_BYTES = 6;

/**
 * Classifies the first bytes of a connection: a TLS ClientHello record (content type 22, version
 * 3.x, then handshake type 1), anything else, or `more` when the bytes so far could still be one.
 */
export function classifyTlsHead(head: Uint8Array): TlsSniff {
  const want = [0x16, 0x03, undefined, undefined, undefined, 0x01];
  for (let i = 0; i < want.length; i++) {
    if (i >= head.length) return 'more';
    const b = head[i] as number;
    const w = want[i];
    if (i === 2 && b > 0x04) return 'other';
    if (w !== undefined && b !== w) return 'other';
  }
  return 'tls';
}

export interface SniffResult {
  /** `silent`: nothing conclusive within the time allowed; `closed`: the peer ended first. */
  readonly kind: 'tls' | 'other' | 'silent' | 'closed';
  /** The bytes read; put back in front of the stream already (`unshift`). */
  readonly head: Buffer;
}

/**
 * Reads at most a few bytes (bounded by `TLS_SNIFF_BYTES` plus one read) to tell a TLS ClientHello
 * from anything else, then puts them back and leaves the stream as a fresh one (not flowing until
 * someone reads). Never throws; a peer that sends nothing gets `silent` after `timeoutMs`.
 */
export function sniffTls(socket: Duplex, options: { readonly timeoutMs: number }): Promise<SniffResult> {
  return new Promise<SniffResult>((resolve) => {
    socket.on('error', () => {});
    let head: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (kind: SniffResult['kind']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.pause();
      if (head.length > 0 && !socket.destroyed) socket.unshift(head);
      // Back to how a fresh stream starts (neither flowing nor paused): whoever reads next, with a
      // 'data' listener, pipe() or a TLS wrap, gets the bytes put back first.
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      resolve({ kind, head });
    };
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const s = classifyTlsHead(head);
      if (s !== 'more') finish(s);
    };
    const onEnd = () => finish(head.length > 0 ? 'other' : 'closed');
    const onClose = () => finish('closed');
    const timer = setTimeout(() => finish(head.length > 0 ? 'other' : 'silent'), options.timeoutMs);
    timer.unref?.();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.resume();
  });
}

/** Why a mesh mTLS connection was refused before any byte reached the workload. */
export type MtlsRejectReason = Extract<
  ConnectionRejectReason,
  | 'handshake_timeout'
  | 'tls_handshake'
  | 'alpn'
  | 'no_client_cert'
  | 'untrusted_cert'
  | 'expired_cert'
  | 'no_spiffe_id'
  | 'multiple_spiffe_ids'
  | 'invalid_spiffe_id'
  | 'foreign_trust_domain'
  | 'no_server_certificate'
>;

export type MtlsAcceptResult =
  | { readonly ok: true; readonly socket: TLSSocket; readonly peer: SpiffeId }
  | { readonly ok: false; readonly reason: MtlsRejectReason; readonly detail: string };

export interface MtlsAcceptorOptions {
  readonly certs: CertSource;
  /** Which local identity's certificate to present; default the default one. */
  readonly identity?: string;
  /** Trust domains whose clients are accepted; default the trust domain of our own certificate. */
  readonly trustDomains?: readonly string[];
  /** Handshake deadline. Default 10 s. */
  readonly handshakeTimeoutMs?: number;
}

export interface MtlsAcceptor {
  /**
   * Terminates mesh mTLS on a connection whose first bytes were a ClientHello (put back in front
   * of it, e.g. by `sniffTls`): presents the identity's certificate, requires a client certificate
   * leading to the trust bundle with exactly one SPIFFE ID of an accepted trust domain, offers
   * ALPN h2. Never rejects; a refused connection is destroyed and its reason returned.
   */
  accept(socket: Duplex): Promise<MtlsAcceptResult>;
  close(): void;
}

type Waiter = (r: MtlsAcceptResult) => void;

export function createMtlsAcceptor(options: MtlsAcceptorOptions): MtlsAcceptor {
  const configured = options.trustDomains === undefined ? undefined : new Set(options.trustDomains);
  let trustDomains: ReadonlySet<string> = configured ?? new Set();
  const timeoutMs = options.handshakeTimeoutMs ?? 10_000;
  let material: CertMaterial | undefined;
  const server = createServer({
    minVersion: TLS_MIN_VERSION,
    // The client's chain is verified by TLS and judged below, once the handshake is done, so
    // that every refusal has its own reason (a missing, untrusted or expired certificate) on
    // both runtimes. Nothing reaches the workload before that.
    requestCert: true,
    rejectUnauthorized: false,
    ALPNProtocols: ALPN_H2,
    // Backstop only: our own timer (per accept) fires first.
    handshakeTimeout: timeoutMs + 1_000,
  });
  server.on('error', () => {});
  // TLS sockets are matched to their accept by the connection's addresses (as the HBONE server
  // does): both runtimes copy them onto the TLS socket.
  const waiting = new Map<string, Waiter>();
  const keyOf = (s: Partial<Pick<AddressInfo, 'address' | 'port'>> & Record<string, unknown>) =>
    `${String(s.localAddress)}|${String(s.localPort)}|${String(s.remoteAddress)}|${String(s.remotePort)}`;

  server.on('secureConnection', (tls: TLSSocket) => {
    tls.on('error', () => {});
    const waiter = waiting.get(keyOf(tls as unknown as Record<string, unknown>));
    if (waiter === undefined) {
      tls.destroy();
      return;
    }
    waiter(verifyClient(tls));
  });
  server.on('tlsClientError', (err: Error & { code?: string }, tls: TLSSocket) => {
    // Bun does not name the addresses here; the raw socket's close settles its accept then.
    const waiter = waiting.get(keyOf(tls as unknown as Record<string, unknown>));
    tls.destroy();
    const refusal = handshakeRefusal(err, tls);
    waiter?.({ ok: false, reason: refusal.reason as MtlsRejectReason, detail: refusal.detail });
  });

  function verifyClient(sock: TLSSocket): MtlsAcceptResult {
    // No ALPN at all is a plain TLS client: its bytes go to the workload as they come. A client
    // that offers ALPN without h2 never gets here (the handshake fails: no_application_protocol).
    if (sock.alpnProtocol !== 'h2' && sock.alpnProtocol !== false) {
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
      const expired = code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID';
      return {
        ok: false,
        reason: expired ? 'expired_cert' : 'untrusted_cert',
        detail: `client certificate: ${code}`,
      };
    }
    const id = spiffeIdFromSubjectAltName(peerCert?.subjectaltname, trustDomains);
    if (!id.ok) {
      const reason = id.error.reason === 'unexpected_identity' ? 'foreign_trust_domain' : id.error.reason;
      return { ok: false, reason, detail: id.error.message };
    }
    return { ok: true, socket: sock, peer: id.value };
  }

  return {
    accept(socket) {
      return new Promise<MtlsAcceptResult>((resolve) => {
        socket.on('error', () => {});
        const current = options.certs.current(options.identity);
        if (current === undefined) {
          socket.destroy();
          resolve({ ok: false, reason: 'no_server_certificate', detail: 'no certificate to present yet' });
          return;
        }
        if (current !== material) {
          try {
            server.setSecureContext(tlsOptionsOf(current));
            material = current;
            const own = certInfoOf(current).trustDomain;
            trustDomains = configured ?? new Set(own === undefined ? [] : [own]);
          } catch (e) {
            socket.destroy();
            resolve({
              ok: false,
              reason: 'no_server_certificate',
              detail: `certificate refused: ${String(e)}`,
            });
            return;
          }
        }
        const key = keyOf(socket as unknown as Record<string, unknown>);
        let settled = false;
        const settle: Waiter = (r) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          socket.off('close', onClose);
          if (waiting.get(key) === settle) waiting.delete(key);
          if (!r.ok) socket.destroy();
          resolve(r);
        };
        const timer = setTimeout(
          () =>
            settle({
              ok: false,
              reason: 'handshake_timeout',
              detail: `no TLS handshake within ${timeoutMs} ms`,
            }),
          timeoutMs,
        );
        timer.unref?.();
        const onClose = () =>
          settle({ ok: false, reason: 'tls_handshake', detail: 'connection closed during the handshake' });
        socket.once('close', onClose);
        waiting.set(key, settle);
        // TLS takes the bytes the sniffer put back first, then reads on.
        server.emit('connection', socket);
      });
    },
    close() {
      for (const w of [...waiting.values()])
        w({ ok: false, reason: 'tls_handshake', detail: 'acceptor closed' });
      waiting.clear();
    },
  };
}
