// The weft.v1 -> domain conversion the proxies' xDS clients decode with: @weft/xds-protocol's one
// converter module, shared by every proxy. Each resource is decoded, checked and converted on
// its own; a bad one is NACKed by name and never reaches the store.
import type { ProxyKind } from '@weft/xds-protocol';
import { domainResourceType } from '@weft/xds-protocol/convert';
import type { XdsResourceTypes } from './xds-source.ts';

/**
 * The kinds a proxy subscribes to: L4 (ztunnel) or, for L7 proxies, routes and backend policies
 * too. Every kind takes Waypoints: ztunnels and sidecars send through the waypoints destinations
 * bind to, and a waypoint reads its own (weftd sends it no other).
 */
export function defaultXdsTypes(kind: ProxyKind = 'ztunnel'): XdsResourceTypes {
  const l4 = {
    workload: domainResourceType('workload'),
    service: domainResourceType('service'),
    waypoint: domainResourceType('waypoint'),
    authorization: domainResourceType('authorization'),
  };
  if (kind === 'ztunnel') return l4;
  return {
    ...l4,
    httpRoutes: domainResourceType('httpRoutes'),
    backendPolicy: domainResourceType('backendPolicy'),
  };
}
