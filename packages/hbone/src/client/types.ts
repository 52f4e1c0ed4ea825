// Types of the originating side of HBONE.
import type { Duplex } from 'node:stream';
import type { SocketAddress } from '../address.ts';
import type { HboneError, HboneErrorKind } from '../errors.ts';

export interface HboneConnectRequest {
  /** The HBONE endpoint: the destination's node (ztunnel), waypoint or sidecar, usually port 15008. */
  readonly via: SocketAddress;
  /** Where the tunnel goes, sent as `:authority`. */
  readonly dest: SocketAddress;
  /** The server must present this SPIFFE ID (or one of these). */
  readonly expectedIdentity: string | readonly string[];
  /** Which local identity's certificate to present (`certs.current(sourceIdentity)`); default the default one. */
  readonly sourceIdentity?: string;
  /** Original client IP, sent as `Forwarded: for=`. */
  readonly forwardedFor?: string;
  /** Extra request headers passed through (`traceparent`, `baggage`, ...). Lowercase names. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Cancels the connect (not the tunnel once it is up). */
  readonly signal?: AbortSignal;
  /** Deadline for the CONNECT response once the connection is up; default `responseTimeoutMs`. */
  readonly timeoutMs?: number;
}

export interface HbonePoolOptions {
  /** Streams per connection before another is opened; the server's SETTINGS may lower it. Default 100. */
  readonly maxStreamsPerConnection: number;
  /** Close a connection after this long without streams. Default 60 s. */
  readonly idleTimeoutMs: number;
  /** TCP + TLS + HTTP/2 setup deadline. Default 10 s. */
  readonly connectTimeoutMs: number;
  /**
   * Streams ended by RST_STREAM after which a connection takes no new streams. nghttp2-based
   * servers (Node's) close a connection after about 1000 received resets. Default 500.
   */
  readonly maxResetsPerConnection: number;
  /** Initial stream flow-control window we advertise. Default 1 MiB. */
  readonly streamWindowSize: number;
  /** Connection flow-control window. Default 16 MiB. */
  readonly connectionWindowSize: number;
}

export const DEFAULT_POOL_OPTIONS: HbonePoolOptions = {
  maxStreamsPerConnection: 100,
  idleTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  maxResetsPerConnection: 500,
  streamWindowSize: 1024 * 1024,
  connectionWindowSize: 16 * 1024 * 1024,
};

export interface PoolConnectionEvent {
  /** The pool key (see `hbonePoolKey`). */
  readonly key: string;
  readonly via: SocketAddress;
  /** The server's verified SPIFFE ID (undefined if the connection never got that far). */
  readonly peerIdentity: string | undefined;
}

export interface HboneClientHooks {
  readonly onConnectionOpened?: (event: PoolConnectionEvent) => void;
  readonly onConnectionClosed?: (event: PoolConnectionEvent & { readonly streams: number }) => void;
  /** Every failed `connect()`, with its typed error. */
  readonly onConnectFailed?: (error: HboneError) => void;
}

export interface HboneClientStats {
  readonly connections: { readonly opened: number; readonly active: number };
  readonly streams: { readonly opened: number; readonly active: number };
  readonly errors: Readonly<Record<HboneErrorKind, number>>;
  /** Live pooled connections: key, streams in use, and the per-connection limit. */
  readonly pool: readonly { readonly key: string; readonly streams: number; readonly limit: number }[];
}

export interface HboneSocketConnectOptions {
  /** Fires when the pool gives up on the connection (connect timeout, drain, client closed). */
  readonly signal: AbortSignal;
  /** The pool's `connectTimeoutMs`, for connectors that keep their own deadline. */
  readonly timeoutMs: number;
}

/**
 * The socket capability of the client: opens the TCP leg of an HBONE connection (to `via`) and
 * resolves once it is connected. Shaped like a SocketFactory's `connect`.
 */
export interface HboneSocketConnector {
  connect(addr: SocketAddress, options: HboneSocketConnectOptions): Promise<Duplex>;
}
