// @weft/l7: Weft's L7 engine (filter chain, routing, retries, load balancing, authorization,
// telemetry) and the listeners and upstreams around it. The waypoint composes it with HBONE;
// the sidecar will compose the same engine.

// The engine reads @weft/proxy-core's one store; its writer is re-exported for callers that
// depend on this package only (bench/waypoint.ts).
export { applyUpdate, batchFromSnapshot, createStateStore } from '@weft/proxy-core';
// The clock types are @weft/telemetry's; re-exported for the proxies that compose the engine.
export { type Clock, monotonicClock } from '@weft/telemetry';
export {
  createEngine,
  DEFAULT_ENGINE_LIMITS,
  type Engine,
  type EngineConfig,
  EngineConfigError,
  type EngineDeps,
  type EngineLimits,
  parseGrpcTimeout,
  type RequestInit,
} from './engine/engine.ts';
export {
  BUILTIN_FILTERS,
  buildChain,
  createFilterRegistry,
  DEFAULT_FILTER_CHAIN,
  type FilterRegistry,
} from './filters/registry.ts';
export { decideRoute, type RouteOutcome, type RouteRequest } from './filters/route/decide.ts';
export { planUpstream, type UpstreamPlan, type UpstreamPlanInput } from './filters/router/plan.ts';
export type {
  ConfigResult,
  Filter,
  FilterConfigError,
  FilterContext,
  FilterDefinition,
  FilterFactory,
  FilterSpec,
  Handler,
} from './filters/types.ts';
export { bufferBody, bytesBody, readBodyText, streamBody } from './http/body.ts';
export { applyHeaderModifier, forwardable, HOP_BY_HOP } from './http/headers.ts';
export { GRPC, grpcStatusForHttp, localReply } from './http/local-reply.ts';
export type {
  Body,
  BytesBody,
  Downstream,
  EmptyBody,
  Headers,
  HttpProtocol,
  L7Request,
  L7Response,
  RequestContext,
  RouteDecision,
  StreamBody,
  UpstreamInfo,
} from './http/message.ts';
export { createHttp1Listener, downstreamFromSocket, type Http1Listener } from './listener/http1.ts';
export {
  createHttp2Listener,
  type Http2Listener,
  type Http2ListenerOptions,
  type RequestDestination,
} from './listener/http2.ts';
export { createInbound, type Inbound } from './listener/inbound.ts';
export {
  listenPlaintext,
  type PlaintextListener,
  type PlaintextListenerOptions,
} from './listener/plaintext.ts';
export { decideInbound, type InboundMode, type Sniffed, sniff } from './listener/sniff.ts';
export { planTcp, type TcpPlan } from './listener/tcp-plan.ts';
export {
  type Applied,
  applyRole,
  componentFor,
  decideRole,
  ENGINE_ROLES,
  type EngineRole,
  type RoleDecision,
  reporterFor,
} from './role.ts';
export { type Delay, realDelay } from './runtime.ts';
export { type EngineTelemetry, REJECT_REASONS, type RejectReason } from './telemetry.ts';
export {
  type ConnectContext,
  createHboneUpstreamConnector,
  createTcpUpstreamConnector,
  UpstreamConnectError,
  type UpstreamConnector,
  type UpstreamEndpoint,
} from './upstream/connector.ts';
export { type ClusterRef, clusterFor } from './upstream/upstreams.ts';
