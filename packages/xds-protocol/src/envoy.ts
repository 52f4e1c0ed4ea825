// The Envoy v3 subset (generated) and the proxyless builders: `@weft/xds-protocol/envoy`.

export {
  type ClusterLb,
  type MeshClusterOptions,
  meshCluster,
  type OutlierDetectionOptions,
} from './envoy/cluster.ts';
export { msDuration } from './envoy/duration.ts';
export { type MeshServerListenerOptions, meshClientListener, meshServerListener } from './envoy/listener.ts';
export {
  type EnvoyKind,
  envoyResource,
  type LocalityRef,
  type MeshLocalityEndpoints,
  meshLoadAssignment,
  type ProxylessEndpoint,
  type ProxylessRoute,
  proxylessCluster,
  proxylessListener,
  proxylessLoadAssignment,
  proxylessRouteConfiguration,
  type WeightedClusterRef,
} from './envoy/proxyless.ts';
export {
  FAULT_FILTER_NAME,
  httpFault,
  type MeshFault,
  type MeshHeaderMatch,
  type MeshPathMatch,
  type MeshRetry,
  type MeshRoute,
  type MeshRouteMatch,
  meshRoute,
  meshRouteConfiguration,
} from './envoy/route.ts';
export {
  type DownstreamTlsOptions,
  downstreamTlsContext,
  downstreamTlsSocket,
  type UpstreamTlsOptions,
  upstreamTlsContext,
  upstreamTlsSocket,
} from './envoy/tls.ts';
export { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from './gen/envoy/config/cluster/v3/cluster.ts';
export { Node } from './gen/envoy/config/core/v3/base.ts';
export { ClusterLoadAssignment } from './gen/envoy/config/endpoint/v3/endpoint.ts';
export { Listener } from './gen/envoy/config/listener/v3/listener.ts';
export { RouteConfiguration } from './gen/envoy/config/route/v3/route.ts';
export {
  Route,
  RouteAction,
  RouteMatch,
  VirtualHost,
  WeightedCluster,
} from './gen/envoy/config/route/v3/route_components.ts';
export { HTTPFault } from './gen/envoy/extensions/filters/http/fault/v3/fault.ts';
export { Router } from './gen/envoy/extensions/filters/http/router/v3/router.ts';
export { HttpConnectionManager } from './gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.ts';
export {
  DownstreamTlsContext,
  UpstreamTlsContext,
} from './gen/envoy/extensions/transport_sockets/tls/v3/tls.ts';
export {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  Resource,
} from './gen/envoy/service/discovery/v3/discovery.ts';
export { Any } from './gen/google/protobuf/any.ts';
