// Listeners for proxyless gRPC. A client Listener is an api_listener whose HttpConnectionManager
// takes routes over RDS and ends with the Router (grpc-js-xds requires Router last, and only last);
// the fault filter sits before it when a route injects faults. A server Listener (gRFC A36) is
// what an xDS-enabled server reads for its bind address: one filter chain, with no
// filter_chain_match (grpc-js-xds drops connections on a match without transport_protocol), mTLS
// from the certificate provider, and an inline route config whose routes are non_forwarding_action
// (the only action a server accepts). It never carries a default_filter_chain: grpc-js-xds throws
// when an update adds or removes one, so keeping it absent in every version is the safe shape.
import { ApiVersion, type ConfigSource } from '../gen/envoy/config/core/v3/config_source.ts';
import { Listener } from '../gen/envoy/config/listener/v3/listener.ts';
import { RouteConfiguration } from '../gen/envoy/config/route/v3/route.ts';
import { HTTPFault } from '../gen/envoy/extensions/filters/http/fault/v3/fault.ts';
import { Router } from '../gen/envoy/extensions/filters/http/router/v3/router.ts';
import {
  HttpConnectionManager,
  type HttpFilter,
} from '../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.ts';
import { ENVOY_TYPE_URL } from '../type-urls.ts';
import { FAULT_FILTER_NAME } from './route.ts';
import { type DownstreamTlsOptions, downstreamTlsSocket } from './tls.ts';

const adsSource = (): ConfigSource => ({ authorities: [], ads: {}, resourceApiVersion: ApiVersion.V3 });

const routerFilter = (): HttpFilter =>
  ({
    name: 'envoy.filters.http.router',
    typedConfig: { typeUrl: ENVOY_TYPE_URL.router, value: Router.encode(Router.fromPartial({})).finish() },
  }) as HttpFilter;

const faultFilter = (): HttpFilter =>
  ({
    name: FAULT_FILTER_NAME,
    typedConfig: {
      typeUrl: ENVOY_TYPE_URL.httpFault,
      value: HTTPFault.encode(HTTPFault.fromPartial({})).finish(),
    },
  }) as HttpFilter;

function hcmAny(hcm: HttpConnectionManager) {
  return { typeUrl: ENVOY_TYPE_URL.httpConnectionManager, value: HttpConnectionManager.encode(hcm).finish() };
}

/** The client Listener for `xds:///<name>`: routes from RDS `routeConfigName`. */
export function meshClientListener(
  name: string,
  options: { routeConfigName: string; fault?: boolean },
): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: name,
    rds: { configSource: adsSource(), routeConfigName: options.routeConfigName },
    httpFilters: [...(options.fault === true ? [faultFilter()] : []), routerFilter()],
  });
  return Listener.fromPartial({ name, apiListener: { apiListener: hcmAny(hcm) } });
}

export interface MeshServerListenerOptions {
  /** The resource name (the server's template with its bind address). */
  name: string;
  /** The bind address exactly as the server binds (`0.0.0.0`), and its port. */
  address: string;
  port: number;
  /** Mesh mTLS; absent: plaintext (the server's fallback credentials). */
  tls?: DownstreamTlsOptions;
}

export function meshServerListener(options: MeshServerListenerOptions): Listener {
  const routeConfig = RouteConfiguration.fromPartial({
    name: `${options.name}/routes`,
    virtualHosts: [
      { name: 'inbound', domains: ['*'], routes: [{ match: { prefix: '' }, nonForwardingAction: {} }] },
    ],
  });
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: 'inbound',
    routeConfig,
    httpFilters: [routerFilter()],
  });
  return Listener.fromPartial({
    name: options.name,
    address: { socketAddress: { address: options.address, portValue: options.port } },
    filterChains: [
      {
        name: 'inbound',
        filters: [{ name: 'envoy.filters.network.http_connection_manager', typedConfig: hcmAny(hcm) }],
        ...(options.tls === undefined ? {} : { transportSocket: downstreamTlsSocket(options.tls) }),
      },
    ],
  });
}
