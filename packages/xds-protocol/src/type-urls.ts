// Type URLs of every resource this package serves, and the order pushes follow.

const PREFIX = 'type.googleapis.com/';

/** Weft's own resources (delta ADS to ztunnel / waypoint / sidecar). */
export const WEFT_TYPE_URL = {
  workload: `${PREFIX}weft.v1.Workload`,
  service: `${PREFIX}weft.v1.Service`,
  authorization: `${PREFIX}weft.v1.Authorization`,
  httpRoutes: `${PREFIX}weft.v1.HttpRoutes`,
  backendPolicy: `${PREFIX}weft.v1.BackendPolicy`,
  waypoint: `${PREFIX}weft.v1.Waypoint`,
} as const;

/** The Envoy v3 resources a proxyless gRPC client reads (state-of-the-world ADS). */
export const ENVOY_TYPE_URL = {
  listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  routeConfiguration: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
  cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  clusterLoadAssignment: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  httpConnectionManager: `${PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  router: `${PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  httpFault: `${PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault`,
  upstreamTlsContext: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
  downstreamTlsContext: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
} as const;

/**
 * Make-before-break push order: a resource is sent before the resources that refer to it
 * (clusters before their endpoints are used by routes, workloads before the services that list
 * them, a waypoint after the workloads running it and before the services bound to it, services
 * before routes and policies that name them). Removals go after every upsert.
 * Types not listed are pushed after these, in the order they were first requested.
 */
export const PUSH_ORDER: readonly string[] = [
  ENVOY_TYPE_URL.cluster,
  ENVOY_TYPE_URL.clusterLoadAssignment,
  ENVOY_TYPE_URL.listener,
  ENVOY_TYPE_URL.routeConfiguration,
  WEFT_TYPE_URL.workload,
  WEFT_TYPE_URL.waypoint,
  WEFT_TYPE_URL.service,
  WEFT_TYPE_URL.backendPolicy,
  WEFT_TYPE_URL.httpRoutes,
  WEFT_TYPE_URL.authorization,
];

/** `type.googleapis.com/weft.v1.Workload` -> `weft.v1.Workload`. */
export function typeNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash === -1 ? typeUrl : typeUrl.slice(slash + 1);
}
