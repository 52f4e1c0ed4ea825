// Address bytes <-> text for the wire; the grammar is @weft/policy's, re-exported for callers here.
export { bytesToIp, ipToBytes } from '@weft/policy/runtime';
export { ADS_SERVICE_NAME, DELTA_METHOD_PATH, SOTW_METHOD_PATH } from './ads-service.ts';
export { type CacheListener, ResourceCache, type ResourceCacheOptions, type ResourceKey } from './cache.ts';
export {
  type ClientTypeStatus,
  type ConnectionState,
  createDeltaAdsClient,
  type DecodeResult,
  type DeltaAdsClient,
  type DeltaAdsClientOptions,
  type DeltaAdsClientStats,
  type DeltaAdsHandler,
  type ResourceTypeConfig,
  type ResourceUpdate,
  readDeltaResponse,
  type UpdateBatch,
} from './client/delta-client.ts';
export { type Logger, silentLogger } from './logger.ts';
export { OverlayCache } from './overlay-cache.ts';
export {
  formatProxyId,
  PROXY_KINDS,
  type ProxyId,
  type ProxyIdResult,
  type ProxyKind,
  parseProxyId,
} from './proxy-id.ts';
export {
  CachedResource,
  contentVersion,
  createResource,
  encodeResource,
  type MessageEncoder,
} from './resource.ts';
export {
  type AdsServer,
  type AdsServerOptions,
  createAdsServer,
  type ListeningAdsServer,
  listenAds,
} from './server/ads-server.ts';
export type {
  AdsClientInfo,
  AdsProtocol,
  AdsServerStats,
  ClientView,
  NackInfo,
  StreamSyncStatus,
  TypeSyncStatus,
  ViewSelector,
} from './server/types.ts';
export { ENVOY_TYPE_URL, PUSH_ORDER, typeNameOf, WEFT_TYPE_URL } from './type-urls.ts';
export * from './weft.ts';
export {
  decodeWeft,
  decodeWeftAt,
  validateWeft,
  type WeftKind,
  type WeftMessages,
  weftResource,
  weftResourceName,
  weftResourceType,
} from './weft-resources.ts';
export { decodeDeltaResponse, type WireDeltaResponse, type WireResource } from './wire.ts';
export { StringTable } from './wire-reader.ts';
