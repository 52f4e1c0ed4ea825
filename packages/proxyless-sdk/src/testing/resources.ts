// Hand-built Envoy resources for a proxyless mesh (what weftd is to serve, per the contract):
// a server Listener with mesh mTLS and non-forwarding routes, and EDS clusters with mesh mTLS.
import {
  Cluster,
  HttpConnectionManager,
  Listener,
  proxylessCluster,
  RouteConfiguration,
  Router,
} from '@weft/xds-protocol/envoy';
import { SERVER_LISTENER_TEMPLATE } from '../bootstrap/bootstrap.ts';
import {
  DOWNSTREAM_TLS_CONTEXT_TYPE,
  downstreamTlsContext,
  UPSTREAM_TLS_CONTEXT_TYPE,
  upstreamTlsContext,
} from './tls-context.ts';

const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** The Listener name grpc-js-xds asks for when the SDK binds `0.0.0.0:<port>`. */
export function serverListenerName(port: number): string {
  return SERVER_LISTENER_TEMPLATE.replace('%s', `0.0.0.0:${port}`);
}

export interface ServerListenerOptions {
  /** STRICT: true (default). PERMISSIVE: false (TLS without a client certificate is accepted). */
  readonly requireClientCertificate?: boolean;
  /** No transport socket at all (plaintext through the fallback credentials). */
  readonly plaintext?: boolean;
}

/** An xDS server Listener for `0.0.0.0:<port>`: one chain, mTLS from provider `weft`, HCM + Router. */
export function proxylessServerListener(port: number, opts: ServerListenerOptions = {}): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: 'inbound',
    routeConfig: RouteConfiguration.fromPartial({
      name: `inbound|${port}`,
      virtualHosts: [
        { name: 'inbound', domains: ['*'], routes: [{ match: { prefix: '' }, nonForwardingAction: {} }] },
      ],
    }),
    httpFilters: [
      {
        name: 'envoy.filters.http.router',
        typedConfig: { typeUrl: ROUTER_TYPE, value: Router.encode(Router.fromPartial({})).finish() },
      },
    ],
  });
  return Listener.fromPartial({
    name: serverListenerName(port),
    address: { socketAddress: { address: '0.0.0.0', portValue: port } },
    filterChains: [
      {
        name: 'inbound-mtls',
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: { typeUrl: HCM_TYPE, value: HttpConnectionManager.encode(hcm).finish() },
          },
        ],
        ...(opts.plaintext
          ? {}
          : {
              transportSocket: {
                name: 'envoy.transport_sockets.tls',
                typedConfig: {
                  typeUrl: DOWNSTREAM_TLS_CONTEXT_TYPE,
                  value: downstreamTlsContext(opts.requireClientCertificate ?? true),
                },
              },
            }),
      },
    ],
  });
}

/** An EDS cluster whose endpoints are reached with mesh mTLS and must present one of `spiffeIds`. */
export function proxylessMtlsCluster(name: string, spiffeIds: readonly string[]): Cluster {
  return Cluster.fromPartial({
    ...proxylessCluster(name),
    transportSocket: {
      name: 'envoy.transport_sockets.tls',
      typedConfig: { typeUrl: UPSTREAM_TLS_CONTEXT_TYPE, value: upstreamTlsContext(spiffeIds) },
    },
  });
}
