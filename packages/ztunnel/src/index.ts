// @weft/ztunnel: Weft's per-node L4 proxy for ambient mode.

export {
  decideInboundHbone,
  decideInboundPlaintext,
  type InboundDecision,
  type InboundRefusal,
  type InboundRequest,
} from './inbound/decide.ts';
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
