// Typed failures of an HBONE connect: one kind per way it can go wrong, so callers (ztunnel's
// outbound, the waypoint) map them to their own answers and metrics without parsing messages.

export const HBONE_ERROR_KINDS = [
  /** The request itself is malformed (address, identity list, headers). */
  'invalid_argument',
  /** The CertSource has no certificate for the source identity. */
  'no_certificate',
  /** TCP connect to the HBONE endpoint failed (refused, unreachable). */
  'connect',
  /** TLS failed: handshake error, untrusted or expired server chain, or the server refused our certificate. */
  'tls',
  /** The server's chain is trusted but its SPIFFE identity is not the expected one (or none / many / foreign). */
  'identity_mismatch',
  /** No connection or no response within the time allowed. */
  'timeout',
  /** 400 from the server: it found the CONNECT request malformed. */
  'bad_request',
  /** 401 from the server: its policy denied us. */
  'denied',
  /** 503 from the server: it could not reach the destination. */
  'upstream_unavailable',
  /** Any other non-200 status. */
  'unexpected_status',
  /** The server did not process the stream (REFUSED_STREAM, or GOAWAY before it): safe to retry. */
  'refused',
  /** The stream was reset before the response. */
  'stream_reset',
  /** The connection closed before the response. */
  'connection_closed',
  /** The caller's AbortSignal fired. */
  'aborted',
  /** The client was closed. */
  'client_closed',
] as const;

export type HboneErrorKind = (typeof HBONE_ERROR_KINDS)[number];

export interface HboneErrorDetails {
  /** HTTP status for status kinds. */
  readonly status?: number | undefined;
  /** `ip:port` of the HBONE endpoint. */
  readonly via?: string | undefined;
  /** `ip:port` of the tunnel destination. */
  readonly dest?: string | undefined;
  /** The server's SPIFFE ID when known. */
  readonly peerIdentity?: string | undefined;
  /** Runtime / TLS / HTTP/2 error code (`CERT_HAS_EXPIRED`, `ECONNREFUSED`, `NGHTTP2_REFUSED_STREAM`...). */
  readonly code?: string | undefined;
  readonly cause?: unknown;
}

export class HboneError extends Error {
  readonly kind: HboneErrorKind;
  readonly status: number | undefined;
  readonly via: string | undefined;
  readonly dest: string | undefined;
  readonly peerIdentity: string | undefined;
  readonly code: string | undefined;

  constructor(kind: HboneErrorKind, message: string, details: HboneErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'HboneError';
    this.kind = kind;
    this.status = details.status;
    this.via = details.via;
    this.dest = details.dest;
    this.peerIdentity = details.peerIdentity;
    this.code = details.code;
  }

  /** Whether trying again (on a new connection) can succeed without anything changing. */
  get retryable(): boolean {
    return this.kind === 'refused';
  }
}

export function isHboneError(e: unknown): e is HboneError {
  return e instanceof HboneError;
}

/** The error kind a non-200 CONNECT status maps to. */
export function kindForStatus(status: number): HboneErrorKind {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'denied';
    case 503:
      return 'upstream_unavailable';
    default:
      return 'unexpected_status';
  }
}
