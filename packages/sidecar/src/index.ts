// @weft/sidecar: the per-pod proxy, a composition root over @weft/proxy-core and @weft/l7.
export {
  CAPTURE_WILDCARDS,
  type CaptureNet,
  type CaptureNetResult,
  captureSocketFactory,
  loadCaptureNet,
} from './capture.ts';
export { declaredTcp, firstContainerPort, type InboundOriginalPort, refusalReason } from './inbound.ts';
export { SIDECAR_MODE } from './mode.ts';
export { denyReply, type OutboundOriginalDestination, type OutboundRoute, routeOf } from './outbound.ts';
export {
  createSidecar,
  type ListenAddress,
  type Sidecar,
  type SidecarAddresses,
  type SidecarConfig,
  type SidecarDeps,
} from './sidecar.ts';
