// Outbound decision: who is calling, where the call goes, and how. Pure: the state, the
// connection and an endpoint picker in, a plain plan out (STYLE.md point 4). Sockets only
// execute plans (outbound/execute.ts).
//
// logical (service VIP or hostname) -> concrete (service port) -> endpoint (one backend)
//
// Waypoints: traffic to a service bound to a waypoint goes to one of the waypoint's ready pods
// (HBONE to podIP:15008, :authority = the service VIP:port, expecting the waypoint's identity),
// which then picks the endpoint. Traffic that reaches a workload port some waypoint guards (the
// workload's own binding, or a bound service selecting it on that port) goes to that waypoint
// with :authority = podIP:port, whatever address the app used: the destination ztunnel only
// accepts such a port from its waypoint, so going around it could only fail.
//
// The data-plane mode the calling proxy serves is a parameter (`PlanOptions.mode`): a source is
// planned for only when it is in that mode. Which destinations speak HBONE is a fact about the
// destination's mode, not the caller's.
//
// Proxyless destinations: a proxyless gRPC workload has no proxy to terminate HBONE; its own gRPC
// library serves mesh mTLS (SPIFFE certificates from the mesh CA, ALPN h2) on its workload port.
// The caller's proxy therefore originates that TLS itself (`mtls`), with the source's certificate,
// checking the destination's identity, straight to endpointIP:targetPort.
import {
  type DataplaneMode,
  type Endpoint,
  normalizeIp,
  type Service,
  type ServicePort,
  type WaypointBinding,
  type Workload,
} from '@weft/policy/runtime';
import type { ProxyState } from '../state/store.ts';
import { readyWaypointPods, waypointsGuarding } from './waypoint.ts';

export interface SocketAddress {
  readonly ip: string;
  readonly port: number;
}

/** What the app asked for: an address, or a mesh hostname (SOCKS5 DOMAINNAME). */
export type OutboundTarget =
  | { readonly kind: 'address'; readonly ip: string; readonly port: number }
  | { readonly kind: 'hostname'; readonly hostname: string; readonly port: number };

export interface OutboundConnection {
  /** The calling app's address (SOCKS5 peer, or the captured socket's source). */
  readonly sourceIp: string;
  readonly target: OutboundTarget;
}

/** Chooses one of `count` (>= 1) endpoints of `key` ("hostname:port"). */
export type EndpointPicker = (key: string, count: number) => number;

export interface PlanOptions {
  /** This proxy's node: sources must run here. */
  readonly nodeName: string;
  /** The data-plane mode this proxy serves (ztunnel: `ambient`): sources must be in it. */
  readonly mode: DataplaneMode;
  readonly pick: EndpointPicker;
  /** Port peers accept HBONE on. Default 15008. */
  readonly hbonePort?: number;
}

export type DenyReason =
  /** No workload has the source address. */
  | 'unknown-source'
  /** The source workload runs on another node (this ztunnel holds no certificate for it). */
  | 'source-not-local'
  /**
   * The source workload is not in the mode this proxy serves (`PlanOptions.mode`). The name is
   * the ambient one because the metrics reason `source_not_ambient` is public.
   */
  | 'source-not-ambient'
  /** A hostname that is no mesh service (SOCKS5 resolves only mesh names). */
  | 'unknown-hostname'
  /** A service VIP or hostname without that port. */
  | 'unknown-service-port'
  /** The service has no endpoint for the port. */
  | 'no-endpoints'
  /** The destination is behind a waypoint that has no ready pod (fail closed, never around it). */
  | 'waypoint-unavailable'
  /** The destination address is not a usable unicast address. */
  | 'invalid-destination';

export interface DenyPlan {
  readonly kind: 'deny';
  readonly reason: DenyReason;
  readonly message: string;
  /** The source, when it was found. */
  readonly source?: Workload;
}

/** Mutual TLS tunnel to the destination's node proxy, or to the waypoint in front of it. */
export interface HbonePlan {
  readonly kind: 'hbone';
  readonly source: Workload;
  /** The certificate to present. */
  readonly sourceIdentity: string;
  /** The workload the tunnel reaches: the chosen endpoint, or the waypoint's pod. */
  readonly destination: Workload;
  /** The identity the peer must prove. */
  readonly expectedIdentity: string;
  /** Where the tunnel connects: endpointIP:15008 (waypointPodIP:15008 through a waypoint). */
  readonly via: SocketAddress;
  /** The CONNECT :authority: endpointIP:targetPort (service VIP:port to a service's waypoint). */
  readonly authority: SocketAddress;
  /** Set when the call was addressed to a service. */
  readonly service?: Service;
  readonly servicePort?: ServicePort;
  /** Set when the tunnel goes to this waypoint instead of the destination's node. */
  readonly waypoint?: WaypointBinding;
}

/**
 * Mesh mutual TLS straight to a workload that terminates it itself (a proxyless gRPC server on its
 * own port): TLS with the source's certificate, ALPN h2, the server's SPIFFE identity checked; the
 * app's bytes (h2c gRPC) travel inside.
 */
export interface MtlsPlan {
  readonly kind: 'mtls';
  readonly source: Workload;
  /** The certificate to present. */
  readonly sourceIdentity: string;
  /** The chosen endpoint's workload. */
  readonly destination: Workload;
  /** The identity the server must prove. */
  readonly expectedIdentity: string;
  /** Where TLS connects: endpointIP:targetPort (the workload port, never 15008). */
  readonly target: SocketAddress;
  /** Set when the call was addressed to a service. */
  readonly service?: Service;
  readonly servicePort?: ServicePort;
}

/** Plain TCP to the original destination (not in the mesh, or a workload without a proxy). */
export interface PassthroughPlan {
  readonly kind: 'passthrough';
  readonly source: Workload;
  readonly target: SocketAddress;
  readonly reason: 'not-in-mesh' | 'destination-not-captured';
  /** The destination workload, when it is known to the mesh (mode none). */
  readonly destination?: Workload;
  readonly service?: Service;
}

export type OutboundPlan = DenyPlan | HbonePlan | MtlsPlan | PassthroughPlan;

/** The modes whose proxy (the node's ztunnel, or the sidecar) terminates HBONE for the workload. */
export const HBONE_MODES: ReadonlySet<DataplaneMode> = new Set<DataplaneMode>(['ambient', 'sidecar']);

/** The modes whose workload terminates mesh mTLS itself, on its own port (no HBONE). */
export const MTLS_MODES: ReadonlySet<DataplaneMode> = new Set<DataplaneMode>(['proxyless']);

function speaksHbone(w: Workload): boolean {
  return HBONE_MODES.has(w.mode);
}

function deny(reason: DenyReason, message: string, source?: Workload): DenyPlan {
  return { kind: 'deny', reason, message, ...(source !== undefined ? { source } : {}) };
}

/** Healthy endpoints of the port if any, else all of them (a degraded service still gets tried). */
function candidates(service: Service, port: number): Endpoint[] {
  const all = service.endpoints.filter((e) => e.port === port);
  const healthy = all.filter((e) => e.healthy);
  return healthy.length > 0 ? healthy : all;
}

/** HBONE to one ready pod of the waypoint, carrying `authority`; deny when none is ready. */
function toWaypoint(
  state: ProxyState,
  source: Workload,
  binding: WaypointBinding,
  authority: SocketAddress,
  options: PlanOptions,
  service?: { service: Service; port: ServicePort },
): OutboundPlan {
  const pods = readyWaypointPods(state, binding);
  if (pods.length === 0) {
    return deny('waypoint-unavailable', `waypoint ${binding.key} has no ready pod`, source);
  }
  const at = options.pick(`waypoint:${binding.key}`, pods.length);
  const pod = pods[Math.min(Math.max(0, Math.floor(at)), pods.length - 1)] as Workload;
  const ip = normalizeIp(pod.ips[0] as string) ?? (pod.ips[0] as string);
  return {
    kind: 'hbone',
    source,
    sourceIdentity: source.identity,
    destination: pod,
    expectedIdentity: pod.identity,
    via: { ip, port: options.hbonePort ?? 15008 },
    authority,
    ...(service !== undefined ? { service: service.service, servicePort: service.port } : {}),
    waypoint: binding,
  };
}

function toWorkload(
  state: ProxyState,
  source: Workload,
  destination: Workload,
  targetIp: string,
  targetPort: number,
  options: PlanOptions,
  service?: { service: Service; port: ServicePort },
): OutboundPlan {
  const hbonePort = options.hbonePort ?? 15008;
  const guard = waypointsGuarding(state, destination, targetPort)[0];
  if (guard !== undefined) {
    return toWaypoint(state, source, guard, { ip: targetIp, port: targetPort }, options, service);
  }
  if (MTLS_MODES.has(destination.mode)) {
    return {
      kind: 'mtls',
      source,
      sourceIdentity: source.identity,
      destination,
      expectedIdentity: destination.identity,
      target: { ip: targetIp, port: targetPort },
      ...(service !== undefined ? { service: service.service, servicePort: service.port } : {}),
    };
  }
  if (!speaksHbone(destination)) {
    return {
      kind: 'passthrough',
      source,
      target: { ip: targetIp, port: targetPort },
      reason: 'destination-not-captured',
      destination,
      ...(service !== undefined ? { service: service.service } : {}),
    };
  }
  return {
    kind: 'hbone',
    source,
    sourceIdentity: source.identity,
    destination,
    expectedIdentity: destination.identity,
    via: { ip: targetIp, port: hbonePort },
    authority: { ip: targetIp, port: targetPort },
    ...(service !== undefined ? { service: service.service, servicePort: service.port } : {}),
  };
}

function toService(
  state: ProxyState,
  source: Workload,
  service: Service,
  port: ServicePort,
  options: PlanOptions,
  vip?: string,
): OutboundPlan {
  // A bound service goes to its waypoint, which picks the endpoint (L7 routing). A headless one
  // has no VIP to name in :authority: its endpoints are reached as workloads below.
  const address = vip ?? service.vips[0];
  if (service.waypoint !== undefined && address !== undefined) {
    return toWaypoint(state, source, service.waypoint, { ip: address, port: port.port }, options, {
      service,
      port,
    });
  }
  const list = candidates(service, port.port);
  if (list.length === 0) {
    return deny('no-endpoints', `service ${service.hostname} has no endpoint for port ${port.port}`, source);
  }
  const at = options.pick(`${service.hostname}:${port.port}`, list.length);
  const endpoint = list[Math.min(Math.max(0, Math.floor(at)), list.length - 1)] as Endpoint;
  const ip = normalizeIp(endpoint.ip) ?? endpoint.ip;
  const destination = state.workloadByUid(endpoint.workloadUid) ?? state.workloadByIp(ip);
  if (destination === undefined) {
    // An endpoint without a known workload: plain TCP, as for any address outside the mesh.
    return {
      kind: 'passthrough',
      source,
      target: { ip, port: endpoint.targetPort },
      reason: 'not-in-mesh',
      service,
    };
  }
  return toWorkload(state, source, destination, ip, endpoint.targetPort, options, { service, port });
}

export function planOutbound(
  state: ProxyState,
  conn: OutboundConnection,
  options: PlanOptions,
): OutboundPlan {
  const source = state.workloadByIp(conn.sourceIp);
  if (source === undefined) return deny('unknown-source', `no workload has source address ${conn.sourceIp}`);
  if (source.node !== options.nodeName) {
    return deny(
      'source-not-local',
      `source ${source.namespace}/${source.name} runs on node ${source.node ?? '(none)'}, not ${options.nodeName}`,
      source,
    );
  }
  if (source.mode !== options.mode) {
    return deny(
      'source-not-ambient',
      `source ${source.namespace}/${source.name} is in ${source.mode} mode`,
      source,
    );
  }

  const target = conn.target;
  if (target.kind === 'hostname') {
    const literal = normalizeIp(target.hostname);
    if (literal !== undefined) {
      return planOutbound(
        state,
        { ...conn, target: { kind: 'address', ip: literal, port: target.port } },
        options,
      );
    }
    const service = state.serviceByHostname(target.hostname);
    if (service === undefined) {
      return deny('unknown-hostname', `${target.hostname} is not a mesh service`, source);
    }
    const port = service.ports.find((p) => p.port === target.port);
    if (port === undefined) {
      return deny('unknown-service-port', `service ${service.hostname} has no port ${target.port}`, source);
    }
    return toService(state, source, service, port, options);
  }

  const ip = normalizeIp(target.ip);
  if (ip === undefined || ip === '0.0.0.0' || ip === '::' || target.port < 1 || target.port > 65535) {
    return deny('invalid-destination', `${target.ip}:${target.port} is not a destination`, source);
  }
  const byVip = state.serviceByAddress(ip, target.port);
  if (byVip !== undefined) return toService(state, source, byVip.service, byVip.port, options, ip);
  if (state.isServiceVip(ip)) {
    return deny('unknown-service-port', `service VIP ${ip} has no port ${target.port}`, source);
  }
  const destination = state.workloadByIp(ip);
  if (destination !== undefined) {
    return toWorkload(state, source, destination, ip, target.port, options);
  }
  return { kind: 'passthrough', source, target: { ip, port: target.port }, reason: 'not-in-mesh' };
}

/** Round robin per key, the default picker. Holds one counter per service port. */
export function roundRobinPicker(): EndpointPicker {
  const next = new Map<string, number>();
  return (key, count) => {
    const n = next.get(key) ?? 0;
    next.set(key, n + 1 >= Number.MAX_SAFE_INTEGER ? 0 : n + 1);
    return n % count;
  };
}

/** Uniform random choice with injected randomness ([0, 1)). */
export function randomPicker(random: () => number = Math.random): EndpointPicker {
  return (_key, count) => Math.floor(random() * count);
}
