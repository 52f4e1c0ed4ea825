// Which service a proxyless caller's request is for. A proxyless gRPC client (grpc-js-xds in the
// app, no proxy) cannot speak HBONE, so it reaches the waypoint with mesh mTLS on 15009 and names
// the service only in each request's :authority, the channel target's `<fqdn>:<port>` (or
// `<svc>.<ns>:<port>`, `<svc>.<ns>.svc:<port>`, `<svc>:<port>`, a VIP:port). The answer is the
// service VIP:port an HBONE CONNECT to the waypoint would carry, so that from there on the request
// is served exactly as one from an HBONE tunnel. Pure: decided here, executed by the listener.

import type { Service, ServicePort } from '@weft/policy';
import { normalizeHost, normalizeIp } from '@weft/policy/runtime';

/** The part of the store this decision reads. */
export interface ServiceLookup {
  readonly services: ReadonlyMap<string, Service>;
  serviceByAddress(ip: string, port: number): { readonly service: Service } | undefined;
}

export type ProxylessDestination =
  | {
      readonly kind: 'service';
      readonly service: Service;
      readonly port: ServicePort;
      /** The service VIP the request is sent to (what an HBONE :authority names). */
      readonly ip: string;
    }
  /** No service of the mesh answers to the authority (or it has no such port, or no VIP). */
  | { readonly kind: 'unknown'; readonly reason: string }
  /** A service, but not bound to this waypoint: another waypoint (or none) applies its policies. */
  | { readonly kind: 'not_bound'; readonly service: Service; readonly reason: string };

// name.namespace -> service, per store generation (the map object changes with each batch)
const byName = new WeakMap<ReadonlyMap<string, Service>, Map<string, Service>>();

function nameIndex(services: ReadonlyMap<string, Service>): Map<string, Service> {
  let index = byName.get(services);
  if (index === undefined) {
    index = new Map();
    for (const s of services.values()) index.set(`${s.name}.${s.namespace}`, s);
    byName.set(services, index);
  }
  return index;
}

/**
 * Resolves `authority` for the waypoint `waypoint` ("namespace/name"). A one-label name (`<svc>`)
 * is looked up in the caller's namespace (`callerNamespace`, from its SPIFFE identity), as the
 * caller's DNS search path would; `<svc>.<ns>` and `<svc>.<ns>.svc` name the namespace; anything
 * longer must be a service hostname exactly. The port is required: it picks the service port.
 */
export function resolveProxylessDestination(
  lookup: ServiceLookup,
  authority: string | undefined,
  callerNamespace: string | undefined,
  waypoint: string,
): ProxylessDestination {
  if (authority === undefined || authority === '') return { kind: 'unknown', reason: 'no :authority' };
  const h = normalizeHost(authority);
  if (!h.ok) return { kind: 'unknown', reason: h.reason };
  if (h.port === undefined) return { kind: 'unknown', reason: `${h.host} names no port` };
  const port = h.port;
  let service: Service | undefined;
  const literal = h.host.startsWith('[') ? h.host.slice(1, -1) : h.host;
  const ip = normalizeIp(literal);
  if (ip !== undefined) service = lookup.serviceByAddress(ip, port)?.service;
  else {
    const labels = h.host.split('.');
    const index = nameIndex(lookup.services);
    if (labels.length === 1)
      service = callerNamespace === undefined ? undefined : index.get(`${h.host}.${callerNamespace}`);
    else if (labels.length === 2) service = index.get(h.host);
    else if (labels.length === 3 && labels[2] === 'svc') service = index.get(`${labels[0]}.${labels[1]}`);
    else service = lookup.services.get(h.host);
  }
  if (service === undefined) return { kind: 'unknown', reason: `no service ${h.host}:${port}` };
  const servicePort = service.ports.find((p) => p.port === port && p.protocol === 'TCP');
  if (servicePort === undefined)
    return { kind: 'unknown', reason: `service ${service.hostname} has no TCP port ${port}` };
  if (service.waypoint?.key !== waypoint) {
    return {
      kind: 'not_bound',
      service,
      reason: `${service.hostname}:${port} is not served by waypoint ${waypoint}`,
    };
  }
  const vip = ip !== undefined ? ip : service.vips[0];
  if (vip === undefined)
    return { kind: 'unknown', reason: `service ${service.hostname} is headless (no VIP to send to)` };
  return { kind: 'service', service, port: servicePort, ip: vip };
}
