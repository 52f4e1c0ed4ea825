// The shape shared by the HTTP/1.1 and HTTP/2 upstream transports.
import type { Body, Headers, L7Response } from '../http/message.ts';
import type { Cancellation } from '../runtime.ts';
import type { UpstreamEndpoint } from './connector.ts';

export interface UpstreamRequest {
  readonly method: string;
  /** Origin-form target. */
  readonly path: string;
  readonly authority: string;
  /** Forwardable headers (no hop-by-hop, no host). */
  readonly headers: Headers;
  readonly body: Body;
  /** HTTP/1.1 Upgrade protocol (WebSocket). */
  readonly upgrade?: string | undefined;
}

/** Why an attempt produced no response headers. */
export type SendFailure =
  /** Could not connect (refused, unreachable, TLS/identity, connect timeout). */
  | 'connect-failure'
  /** The connection or stream closed before the response headers. */
  | 'reset'
  /** HTTP/2 REFUSED_STREAM or GOAWAY before processing: safe to retry. */
  | 'refused-stream'
  /** The signal fired (timeout or downstream gone); the caller knows which. */
  | 'aborted'
  /** The upstream answered something unparsable. */
  | 'protocol-error';

export type SendResult =
  | { readonly ok: true; readonly response: L7Response }
  | { readonly ok: false; readonly failure: SendFailure; readonly detail: string };

export interface SendOptions {
  readonly cancel: Cancellation;
  readonly connectTimeoutMs: number;
  readonly forwardedFor?: string | undefined;
  /** Close a connection after this many requests (DestinationRule maxRequestsPerConnection); 0 = no limit. */
  readonly maxRequestsPerConnection?: number | undefined;
}

export interface TransportStats {
  readonly connections: number;
  readonly idle: number;
}

export interface Transport {
  send(endpoint: UpstreamEndpoint, req: UpstreamRequest, opts: SendOptions): Promise<SendResult>;
  stats(): TransportStats;
  close(): void;
}
