// weftd: the control plane's composition root and the pieces tests and tools reuse.

export { formatProxyId, PROXY_KINDS, type ProxyId, type ProxyKind, parseProxyId } from '@weft/xds-protocol';
export type { AdminRejectReason } from './admin.ts';
export { loadOrCreateRoot, ROOT_CERT_FILE, ROOT_KEY_FILE, type RootOrigin, WEFTD_IDENTITY } from './ca.ts';
export {
  type CompiledSnapshot,
  CompileLoop,
  type CompileLoopOptions,
  type ConfigStatus,
  type RejectedObject,
} from './compile-loop.ts';
export {
  type ControlPlane,
  type ControlPlaneAddresses,
  type ControlPlaneConfig,
  type ControlPlaneDeps,
  createControlPlane,
  type ProxySyncStatus,
  type WeftdConfigStatus,
} from './control-plane.ts';
export { type FlagsResult, type ParsedFlags, parseFlags, USAGE } from './flags.ts';
export { CALLER_METADATA_KEY } from './grpc-server.ts';
export {
  DEFAULT_IMAGE,
  DEFAULT_SIDECAR_PORTS,
  INJECT_LABEL,
  INJECTABLE_KINDS,
  type InjectOptions,
  type InjectResult,
  inject,
  type JsonPatchOperation,
  PROXY_UID,
  SIDECAR_CONTAINER,
  type SidecarPorts,
  sidecarContainer,
} from './injection/inject.ts';
export { WeftdMetrics, type WeftdRejectReason } from './metrics.ts';
export {
  CERTIFICATE_PROVIDER,
  clusterName,
  listenerName,
  type ProxylessRefusal,
  SERVER_LISTENER_PREFIX,
} from './xds/proxyless-view.ts';
export { nodePolicyKeys } from './xds/views.ts';
