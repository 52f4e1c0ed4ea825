// Types of the inbound (terminating) side of HBONE.
import type { SocketAddress } from '../address.ts';

/** The authenticated client of a tunnel. */
export interface HbonePeer {
  /** SPIFFE ID from the client certificate (verified chain, one URI SAN, accepted trust domain). */
  readonly identity: string;
  /** TCP source of the HBONE connection (the peer proxy). */
  readonly ip: string;
  readonly port: number;
  /** Original client address from `Forwarded: for=`, when the peer sent one. */
  readonly forwardedFor: string | undefined;
}

/** The statuses a refusal from `authorize` may answer with. */
export const AUTHORIZE_REFUSAL_STATUSES = [400, 401, 503] as const;
export type AuthorizeRefusalStatus = (typeof AUTHORIZE_REFUSAL_STATUSES)[number];

/**
 * `status` says what the client is told (default 401): 400 for a destination this server does
 * not serve or a request it finds malformed, 401 for a policy denial, 503 when the destination
 * is unavailable. Any other value is answered as 401 (fail closed).
 */
export type AuthorizeDecision =
  | { readonly allow: true }
  | { readonly allow: false; readonly reason: string; readonly status?: AuthorizeRefusalStatus };

/**
 * Decides one CONNECT. `stream.id` is the id the hooks and `connectUpstream` see for the same
 * stream, so a decision can be carried to them without keying by addresses.
 */
export type Authorizer = (
  peer: HbonePeer,
  dest: SocketAddress,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  stream: { readonly id: number },
) => Promise<AuthorizeDecision> | AuthorizeDecision;

export const CONNECTION_REJECT_REASONS = [
  /** Too many connections open. */
  'connection_limit',
  /** Too many connections still in the TLS handshake (half-open flood). */
  'handshake_overflow',
  /** The TLS handshake did not finish in time. */
  'handshake_timeout',
  /** TLS handshake error: garbage, wrong version, no shared cipher, ... */
  'tls_handshake',
  /** TLS done but ALPN is not h2. */
  'alpn',
  /** The client sent no certificate. */
  'no_client_cert',
  /** The client chain does not lead to the trust bundle. */
  'untrusted_cert',
  /** The client chain is expired or not yet valid. */
  'expired_cert',
  /** Client certificate without a spiffe:// URI SAN. */
  'no_spiffe_id',
  /** Client certificate with several spiffe:// URI SANs. */
  'multiple_spiffe_ids',
  /** Client certificate whose spiffe:// URI SAN is not a valid SPIFFE ID. */
  'invalid_spiffe_id',
  /** Client identity from a trust domain this server does not accept. */
  'foreign_trust_domain',
  /** This server has no certificate to present (CertSource empty). */
  'no_server_certificate',
  /** HTTP/2 protocol error, flood or bad preface after TLS. */
  'protocol_error',
  /** Too many streams cancelled by the client before their reply (HTTP/2 rapid reset). */
  'rapid_reset',
  /** The server is shutting down. */
  'shutting_down',
] as const;

export type ConnectionRejectReason = (typeof CONNECTION_REJECT_REASONS)[number];

export const STREAM_OUTCOMES = [
  /** Tunnel ran and both directions closed with a half-close. */
  'closed',
  /** Tunnel ran; the client reset the stream (or its connection died). */
  'reset_by_peer',
  /** Tunnel ran; the upstream reset or failed. */
  'reset_by_upstream',
  /** Tunnel ran; no bytes either way for `streamIdleTimeoutMs`. */
  'idle_timeout',
  /** Tunnel ran; the server shut down. */
  'shutdown',
  /** 400: not CONNECT, bad :authority or Forwarded, or `authorize` answered 400. */
  'bad_request',
  /** 401: the authorizer said no (or failed). */
  'denied',
  /** 503: the upstream could not be reached in time, or `authorize` answered 503. */
  'upstream_unavailable',
  /** The client cancelled before the reply. */
  'cancelled',
  /** A stream on a connection whose peer was not verified (refused). */
  'unauthenticated',
] as const;

export type StreamOutcome = (typeof STREAM_OUTCOMES)[number];

export interface StreamOpenedEvent {
  /** Server-local sequence number (not the HTTP/2 stream id). */
  readonly id: number;
  readonly peer: HbonePeer;
  readonly dest: SocketAddress;
}

export interface StreamClosedEvent {
  readonly id: number;
  /** Undefined only for `unauthenticated`. */
  readonly peer: HbonePeer | undefined;
  /** Undefined when the request had no valid :authority. */
  readonly dest: SocketAddress | undefined;
  readonly outcome: StreamOutcome;
  /** The status replied, if any (200, 400, 401, 503). */
  readonly status: number | undefined;
  /** Why it was refused (400/401/503) or how it failed. */
  readonly reason: string | undefined;
  /** Bytes from the client to the upstream. */
  readonly bytesIn: number;
  /** Bytes from the upstream to the client. */
  readonly bytesOut: number;
  readonly durationMs: number;
}

export interface ConnectionRejectedEvent {
  readonly reason: ConnectionRejectReason;
  readonly remote: { readonly ip: string; readonly port: number } | undefined;
  readonly detail: string;
}

/** Telemetry hooks; they run synchronously, so keep them cheap. A throwing hook is ignored. */
export interface HboneServerHooks {
  readonly onConnectionRejected?: (event: ConnectionRejectedEvent) => void;
  readonly onStreamOpened?: (event: StreamOpenedEvent) => void;
  readonly onStreamClosed?: (event: StreamClosedEvent) => void;
}

export interface HboneServerLimits {
  /** Open connections (handshaking or established). Default 4096. */
  readonly maxConnections: number;
  /** Connections still in the TLS handshake. Default 128. */
  readonly maxPendingHandshakes: number;
  /** Default 10 s. */
  readonly handshakeTimeoutMs: number;
  /** Advertised SETTINGS_MAX_CONCURRENT_STREAMS. Default 100. */
  readonly maxConcurrentStreams: number;
  /** Close a connection (GOAWAY) after this long without streams; 0 never. Default 10 min. */
  readonly connectionIdleTimeoutMs: number;
  /** Reset a tunnel with no bytes either way for this long; 0 never (default: TCP has no idle limit). */
  readonly streamIdleTimeoutMs: number;
  /** Authorization plus upstream connect must finish within this; else 503. Default 10 s. */
  readonly upstreamConnectTimeoutMs: number;
  /** More client cancellations before reply than this per window close the connection. Default 200. */
  readonly maxPrematureResets: number;
  /** Default 10 s. */
  readonly prematureResetWindowMs: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE. Default 16 KiB. */
  readonly maxHeaderListSize: number;
  /** Initial stream flow-control window. Default 1 MiB. */
  readonly streamWindowSize: number;
  /** Connection flow-control window. Default 16 MiB. */
  readonly connectionWindowSize: number;
}

export const DEFAULT_SERVER_LIMITS: HboneServerLimits = {
  maxConnections: 4096,
  maxPendingHandshakes: 128,
  handshakeTimeoutMs: 10_000,
  maxConcurrentStreams: 100,
  connectionIdleTimeoutMs: 600_000,
  streamIdleTimeoutMs: 0,
  upstreamConnectTimeoutMs: 10_000,
  maxPrematureResets: 200,
  prematureResetWindowMs: 10_000,
  maxHeaderListSize: 16 * 1024,
  streamWindowSize: 1024 * 1024,
  connectionWindowSize: 16 * 1024 * 1024,
};

export interface HboneServerStats {
  readonly connections: {
    readonly accepted: number;
    readonly active: number;
    readonly pendingHandshakes: number;
    readonly rejected: Readonly<Record<ConnectionRejectReason, number>>;
  };
  readonly streams: {
    readonly active: number;
    readonly outcomes: Readonly<Record<StreamOutcome, number>>;
  };
  /** Client -> upstream bytes of finished tunnels. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}
