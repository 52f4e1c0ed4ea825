// @weft/proxy-core: what every Weft proxy shares. One state store and the config sources that
// write it, the pure inbound/outbound/waypoint decisions (the data-plane mode served is a
// parameter), identity certificates, the SocketFactory, listener reconciliation, ports and the
// admin HTTP endpoint.

export {
  createHttpEndpoint,
  type HttpEndpointOptions,
  type Route,
  sendJson,
  sendText,
} from './admin/http.ts';
export {
  FILE_SOURCE,
  type FileLoadResult,
  loadConfigFile,
  loadManifests,
} from './config/file-source.ts';
export {
  startXdsSource,
  XDS_SOURCE,
  type XdsResourceTypes,
  type XdsSource,
  type XdsSourceOptions,
  type XdsWorkload,
} from './config/xds-source.ts';
export { defaultXdsTypes } from './config/xds-types.ts';
export {
  decideInboundHbone,
  decideInboundMtls,
  decideInboundPlaintext,
  type InboundDecision,
  type InboundRefusal,
  type InboundRequest,
  type InboundSource,
  inboundSource,
} from './decide/inbound.ts';
export {
  type DenyPlan,
  type DenyReason,
  type EndpointPicker,
  HBONE_MODES,
  type HbonePlan,
  MTLS_MODES,
  type MtlsPlan,
  type OutboundConnection,
  type OutboundPlan,
  type OutboundTarget,
  type PassthroughPlan,
  type PlanOptions,
  planOutbound,
  randomPicker,
  roundRobinPicker,
} from './decide/outbound.ts';
export {
  readyWaypointPods,
  WAYPOINT_GUARDED_MODES,
  waypointPods,
  waypointsGuarding,
} from './decide/waypoint.ts';
export {
  createIdentityCerts,
  type IdentityCertInfo,
  type IdentityCerts,
  type IdentityCertsOptions,
} from './identity/certs.ts';
export {
  createListenerReconciler,
  type ListenerReconciler,
  type ListenerReconcilerOptions,
  type ReconciledListener,
} from './listeners/reconciler.ts';
export {
  type InterceptionNet,
  type InterceptionNetResult,
  loadInterceptionNet,
} from './net/interception.ts';
export { type ListenAddress, type ListenAddressResult, parseListenAddress } from './net/listen-address.ts';
export {
  type ConnectOptions,
  closeServer,
  createLocalSocketFactory,
  isLoopback,
  type ListenOptions,
  type LocalSocketFactoryOptions,
  type SocketAddress,
  type SocketFactory,
  SocketFactoryError,
} from './net/socket-factory.ts';
export {
  readSocks5Handshake,
  type Socks5HandshakeOptions,
  type Socks5HandshakeRefusal,
} from './net/socks5-handshake.ts';
export {
  ATYP_DOMAINNAME,
  ATYP_IPV4,
  ATYP_IPV6,
  CMD_BIND,
  CMD_CONNECT,
  CMD_UDP_ASSOCIATE,
  MAX_GREETING_BYTES,
  MAX_REQUEST_BYTES,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  methodSelection,
  type ParseResult as Socks5ParseResult,
  parseGreeting,
  parseRequest,
  REPLY,
  type ReplyCode,
  reply as socks5Reply,
  SOCKS_VERSION,
  type Socks5Error,
  type Socks5Request,
} from './net/socks5-protocol.ts';
export { DEFAULT_PORTS, DEFAULT_PROXY_PORTS, type ProxyPorts, proxyOwnedPorts } from './ports.ts';
export { type L7State, l7State, type Target } from './state/l7-view.ts';
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
  STATE_COLLECTIONS,
  type StateBatch,
  type StateCollection,
  type StateListener,
  type StateStore,
  type StateStoreOptions,
} from './state/store.ts';
export {
  AGGREGATED_PATHS,
  type Aggregation,
  availableCores,
  type ConcurrencyResult,
  combineAnswers,
  type GatherAnswer,
  isLocalRequestSocket,
  type LocalResponse,
  localGet,
  MAX_CONCURRENCY,
  type MergeResult,
  mergePrometheusTexts,
  parseConcurrency,
  parseResponse,
  type RunWorkersOptions,
  runWorkers,
  shareEndpointAcrossWorkers,
  splitSample,
  WORKER_SEMI_SPACE_MIB,
  type WorkerIdentity,
  workerExecArgv,
  workerIdentity,
} from './workers/index.ts';
