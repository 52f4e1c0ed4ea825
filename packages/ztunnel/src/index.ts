// @weft/ztunnel: Weft's per-node L4 proxy for ambient mode.

export type { IdentityCertInfo } from './identity/certs.ts';
export {
  decideInboundHbone,
  decideInboundPlaintext,
  type InboundDecision,
  type InboundRefusal,
  type InboundRequest,
  type InboundSource,
  inboundSource,
} from './inbound/decide.ts';
export { firstContainerPort, type InboundOriginalDestination } from './inbound/plaintext.ts';
export {
  type ConnectOptions,
  closeServer,
  createLocalSocketFactory,
  isLoopback,
  type ListenOptions,
  type LocalSocketFactoryOptions,
  type SocketFactory,
  SocketFactoryError,
} from './net/socket-factory.ts';
export type { OriginalDestination } from './outbound/capture.ts';
export type { AppPeer, HboneConnector } from './outbound/execute.ts';
export {
  type DenyPlan,
  type DenyReason,
  type EndpointPicker,
  type HbonePlan,
  type OutboundConnection,
  type OutboundPlan,
  type OutboundTarget,
  type PassthroughPlan,
  type PlanOptions,
  planOutbound,
  randomPicker,
  roundRobinPicker,
  type SocketAddress,
} from './outbound/plan.ts';
export {
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  parseGreeting,
  parseRequest,
  REPLY,
  type ReplyCode,
  reply as socks5Reply,
  type Socks5Error,
  type Socks5Request,
} from './outbound/socks5-protocol.ts';
export { DEFAULT_PROXY_PORTS, proxyOwnedPorts } from './ports.ts';
export {
  FILE_SOURCE,
  type FileLoadResult,
  loadConfigFile,
  loadManifests,
  parseManifests,
} from './state/file-source.ts';
export {
  type ApplyResult,
  applyUpdate,
  batchFromSnapshot,
  type CollectionChange,
  createStateStore,
  dumpState,
  type ProxyState,
  type RejectedObject,
  type ServiceAddressMatch,
  type StateBatch,
  type StateCollection,
  type StateListener,
  type StateStore,
  type StateStoreOptions,
} from './state/store.ts';
export {
  startXdsSource,
  XDS_SOURCE,
  type XdsResourceTypes,
  type XdsSource,
  type XdsSourceOptions,
  type XdsWorkload,
} from './state/xds-source.ts';
export { defaultXdsTypes } from './state/xds-types.ts';
export type { ConnectionRecord, RejectReason, ZtunnelTelemetry } from './telemetry.ts';
export {
  createZtunnel,
  DEFAULT_PORTS,
  type Ztunnel,
  type ZtunnelAddresses,
  type ZtunnelConfig,
  type ZtunnelDeps,
  type ZtunnelPorts,
} from './ztunnel.ts';
