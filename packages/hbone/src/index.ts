// @weft/hbone: HBONE tunnels (HTTP/2 CONNECT over mutual TLS 1.3) with SPIFFE peer verification.
// The server terminates tunnels (ztunnel inbound, waypoint, sidecar); the client opens them over a
// connection pool (ztunnel outbound, waypoint, sidecar). `mtls.ts` is the same TLS profile without
// the tunnel: what proxyless gRPC workloads speak on their own port.

export {
  formatAuthority,
  formatForwardedFor,
  type ParseResult,
  parseAuthority,
  parseForwardedFor,
  type SocketAddress,
} from './address.ts';
export { type CertMaterial, type CertSource, type CertStore, createCertStore } from './certs.ts';
export { createHboneClient, type HboneClient, type HboneClientOptions } from './client/client.ts';
export { hbonePoolKey } from './client/request.ts';
export { tcpSocketConnector } from './client/socket.ts';
export {
  DEFAULT_POOL_OPTIONS,
  type HboneClientHooks,
  type HboneClientStats,
  type HboneConnectRequest,
  type HbonePoolOptions,
  type HboneSocketConnectOptions,
  type HboneSocketConnector,
  type PoolConnectionEvent,
} from './client/types.ts';
export {
  HBONE_ERROR_KINDS,
  HboneError,
  type HboneErrorDetails,
  type HboneErrorKind,
  isHboneError,
  kindForStatus,
} from './errors.ts';
export {
  classifyTlsHead,
  createMtlsAcceptor,
  type MtlsAcceptor,
  type MtlsAcceptorOptions,
  type MtlsAcceptResult,
  type MtlsConnectOptions,
  type MtlsRejectReason,
  mtlsConnect,
  type SniffResult,
  sniffTls,
  TLS_SNIFF_BYTES,
  type TlsSniff,
} from './mtls.ts';
export { createDuplexPair } from './pair.ts';
export { type Clock, type Logger, monotonicClock, silentLogger } from './runtime.ts';
export { createHboneServer, type HboneServer, type HboneServerOptions } from './server/server.ts';
export {
  AUTHORIZE_REFUSAL_STATUSES,
  type AuthorizeDecision,
  type AuthorizeRefusalStatus,
  type Authorizer,
  CONNECTION_REJECT_REASONS,
  type ConnectionRejectedEvent,
  type ConnectionRejectReason,
  DEFAULT_SERVER_LIMITS,
  type HbonePeer,
  type HboneServerHooks,
  type HboneServerLimits,
  type HboneServerStats,
  STREAM_OUTCOMES,
  type StreamClosedEvent,
  type StreamOpenedEvent,
  type StreamOutcome,
} from './server/types.ts';
export {
  createTcpConnector,
  type TcpConnectorOptions,
  type UpstreamConnector,
  type UpstreamContext,
} from './server/upstream.ts';
export {
  checkExpectedIdentity,
  type IdentityResult,
  type PeerIdentityError,
  type PeerIdentityErrorReason,
  parseSpiffeId,
  parseSubjectAltNames,
  type SpiffeId,
  spiffeIdFromSubjectAltName,
} from './spiffe.ts';
export { resetStream, type Splice, type SpliceOutcome, type SpliceResult, splice } from './splice.ts';
