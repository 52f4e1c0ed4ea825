import type * as grpc from '@grpc/grpc-js';

/** TLS details of the peer (grpc-js `call.getAuthContext()`). */
export type AuthContext = ReturnType<grpc.ServerDuplexStream<unknown, unknown>['getAuthContext']>;

import type { ResourceCache } from '../cache.ts';
import type { Node } from '../gen/envoy/config/core/v3/base.ts';
import type { CachedResource } from '../resource.ts';

export type AdsProtocol = 'sotw' | 'delta';

/** Who is on the other end of an ADS stream, as known when its first request arrives. */
export interface AdsClientInfo {
  streamId: number;
  protocol: AdsProtocol;
  /** Node from the first request (empty id when the client sent none). */
  node: Node | undefined;
  nodeId: string;
  /** grpc-js peer string, `ip:port`. */
  peer: string;
  metadata: grpc.Metadata;
  /** TLS peer certificate details when the server listens with TLS. */
  authContext: AuthContext | undefined;
}

/**
 * What one client sees: resources come from `cache` (several streams may share a cache, and
 * caches may share CachedResource objects), optionally narrowed by `filter`.
 */
export interface ClientView {
  cache: ResourceCache;
  filter?: (resource: CachedResource) => boolean;
}

export type ViewSelector = (client: AdsClientInfo) => ClientView;

export interface NackInfo {
  nonce: string;
  /** Version of the response that was rejected. */
  version: string;
  message: string;
  /** Clock time (ms) when the NACK arrived. */
  at: number;
}

/** One (stream, type) row of /debug/syncz. */
export interface TypeSyncStatus {
  typeUrl: string;
  /** `true` when subscribed with the wildcard. */
  wildcard: boolean;
  /** Explicitly subscribed names (first 100). */
  names: string[];
  nameCount: number;
  /** Resources the client holds, as far as the server knows. */
  resourceCount: number;
  versionSent: string;
  versionAcked: string;
  /** Nonce of the push waiting for its ACK/NACK, if any. */
  pendingNonce: string | undefined;
  /** Changes waiting to be pushed (after the pending push is acknowledged). */
  queued: number;
  lastNack: NackInfo | undefined;
  acks: number;
  nacks: number;
  responses: number;
}

export interface StreamSyncStatus {
  streamId: number;
  protocol: AdsProtocol;
  nodeId: string;
  peer: string;
  cache: string;
  connectedAt: number;
  types: TypeSyncStatus[];
}

export interface AdsServerStats {
  streamsOpened: number;
  streamsActive: number;
  requests: number;
  acks: number;
  nacks: number;
  staleNonces: number;
  responses: number;
  resourcesSent: number;
  bytesSent: number;
  /** Requests naming a type this server does not serve. */
  unknownTypeRequests: number;
  /** Requests that could not be decoded; their streams are closed with INVALID_ARGUMENT. */
  malformedRequests: number;
}
