// Builders for the Envoy v3 resources a proxyless gRPC client (@grpc/grpc-js-xds) accepts:
// an api_listener whose HttpConnectionManager ends with the Router filter and takes routes from
// RDS (or inline), EDS clusters fetched over ADS, and load assignments whose every locality has
// `locality` and `load_balancing_weight` set (grpc-js-xds drops localities without them).
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '../gen/envoy/config/cluster/v3/cluster.ts';
import { ApiVersion, type ConfigSource } from '../gen/envoy/config/core/v3/config_source.ts';
import { HealthStatus } from '../gen/envoy/config/core/v3/health_check.ts';
import { ClusterLoadAssignment } from '../gen/envoy/config/endpoint/v3/endpoint.ts';
import { Listener } from '../gen/envoy/config/listener/v3/listener.ts';
import { RouteConfiguration } from '../gen/envoy/config/route/v3/route.ts';
import { Route, type VirtualHost } from '../gen/envoy/config/route/v3/route_components.ts';
import { Router } from '../gen/envoy/extensions/filters/http/router/v3/router.ts';
import { HttpConnectionManager } from '../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.ts';
import { type CachedResource, encodeResource, type MessageEncoder } from '../resource.ts';
import { ENVOY_TYPE_URL } from '../type-urls.ts';

const adsSource = (): ConfigSource => ({
  authorities: [],
  ads: {},
  resourceApiVersion: ApiVersion.V3,
});

/** A client listener for `xds:///<name>`: HCM + Router, routes via RDS or inline. */
export function proxylessListener(
  name: string,
  routes: { routeConfigName: string } | { routeConfig: RouteConfiguration },
): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    httpFilters: [
      {
        name: 'envoy.filters.http.router',
        typedConfig: {
          typeUrl: ENVOY_TYPE_URL.router,
          value: Router.encode(Router.fromPartial({})).finish(),
        },
      },
    ],
    ...('routeConfigName' in routes
      ? { rds: { configSource: adsSource(), routeConfigName: routes.routeConfigName } }
      : { routeConfig: routes.routeConfig }),
  });
  return Listener.fromPartial({
    name,
    apiListener: {
      apiListener: {
        typeUrl: ENVOY_TYPE_URL.httpConnectionManager,
        value: HttpConnectionManager.encode(hcm).finish(),
      },
    },
  });
}

export interface WeightedClusterRef {
  name: string;
  weight: number;
}

/** One route: a path prefix to one cluster or a weighted split. */
export interface ProxylessRoute {
  /** Path prefix, default '' (everything). gRPC paths look like `/pkg.Service/Method`. */
  prefix?: string;
  clusters: readonly WeightedClusterRef[];
}

/** A route configuration with one virtual host for `domains`, routes in order. */
export function proxylessRouteConfiguration(
  name: string,
  domains: readonly string[],
  routes: readonly ProxylessRoute[],
): RouteConfiguration {
  const envoyRoutes: Route[] = routes.map((r) => {
    const only = r.clusters.length === 1 ? r.clusters[0] : undefined;
    return Route.fromPartial({
      match: { prefix: r.prefix ?? '' },
      route:
        only !== undefined
          ? { cluster: only.name }
          : { weightedClusters: { clusters: r.clusters.map((c) => ({ name: c.name, weight: c.weight })) } },
    });
  });
  const vhost: Partial<VirtualHost> = { name: `${name}-vhost`, domains: [...domains], routes: envoyRoutes };
  return RouteConfiguration.fromPartial({ name, virtualHosts: [vhost] });
}

/** An EDS cluster whose endpoints come over ADS under `serviceName` (default: the cluster name). */
export function proxylessCluster(name: string, options: { serviceName?: string } = {}): Cluster {
  return Cluster.fromPartial({
    name,
    type: Cluster_DiscoveryType.EDS,
    edsClusterConfig: { edsConfig: adsSource(), serviceName: options.serviceName ?? name },
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
  });
}

export interface ProxylessEndpoint {
  /** IP literal (grpc-js-xds rejects hostnames). */
  address: string;
  port: number;
  weight?: number;
}

export interface LocalityRef {
  region?: string;
  zone?: string;
  subZone?: string;
}

/** Endpoints of one cluster in one locality (weight 1, priority 0). */
export function proxylessLoadAssignment(
  clusterName: string,
  endpoints: readonly ProxylessEndpoint[],
  locality: LocalityRef = {},
): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: [
      {
        locality: {
          region: locality.region ?? '',
          zone: locality.zone ?? '',
          subZone: locality.subZone ?? '',
        },
        loadBalancingWeight: 1,
        priority: 0,
        lbEndpoints: endpoints.map((e) => ({
          endpoint: { address: { socketAddress: { address: e.address, portValue: e.port } } },
          loadBalancingWeight: e.weight ?? 1,
        })),
      },
    ],
  });
}

interface EnvoyMessages {
  listener: Listener;
  routeConfiguration: RouteConfiguration;
  cluster: Cluster;
  clusterLoadAssignment: ClusterLoadAssignment;
}

export type EnvoyKind = keyof EnvoyMessages;

const codecs: { [K in EnvoyKind]: MessageEncoder<EnvoyMessages[K]> } = {
  listener: Listener,
  routeConfiguration: RouteConfiguration,
  cluster: Cluster,
  clusterLoadAssignment: ClusterLoadAssignment,
};

const names: { [K in EnvoyKind]: (m: EnvoyMessages[K]) => string } = {
  listener: (m) => m.name,
  routeConfiguration: (m) => m.name,
  cluster: (m) => m.name,
  clusterLoadAssignment: (m) => m.clusterName,
};

/** Encodes an Envoy resource once for the cache, named as grpc-js-xds expects. */
export function envoyResource<K extends EnvoyKind>(
  kind: K,
  message: EnvoyMessages[K],
  version?: string,
): CachedResource {
  return encodeResource(ENVOY_TYPE_URL[kind], codecs[kind], names[kind](message), message, version);
}

export interface MeshLocalityEndpoints {
  locality: LocalityRef;
  endpoints: readonly (ProxylessEndpoint & { healthy?: boolean })[];
}

/**
 * A load assignment by locality, priority 0: every locality carries `locality` (empty strings
 * when unknown) and `load_balancing_weight` = its endpoint count (>= 1; grpc-js-xds drops a
 * locality without one). Duplicate addresses (NACKed by grpc-js-xds) are kept once; an unhealthy
 * endpoint is sent as UNHEALTHY (the client skips it); empty localities are left out.
 */
export function meshLoadAssignment(
  clusterName: string,
  localities: readonly MeshLocalityEndpoints[],
): ClusterLoadAssignment {
  const seen = new Set<string>();
  const endpoints = [];
  for (const l of localities) {
    const lbEndpoints = [];
    for (const e of l.endpoints) {
      const key = `${e.address}|${e.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      lbEndpoints.push({
        endpoint: { address: { socketAddress: { address: e.address, portValue: e.port } } },
        healthStatus: e.healthy === false ? HealthStatus.UNHEALTHY : HealthStatus.HEALTHY,
        loadBalancingWeight: e.weight ?? 1,
      });
    }
    if (lbEndpoints.length === 0) continue;
    endpoints.push({
      locality: {
        region: l.locality.region ?? '',
        zone: l.locality.zone ?? '',
        subZone: l.locality.subZone ?? '',
      },
      loadBalancingWeight: lbEndpoints.length,
      priority: 0,
      lbEndpoints,
    });
  }
  return ClusterLoadAssignment.fromPartial({ clusterName, endpoints });
}
