// Inbound decisions, pure: which local workload a connection is for, who really sent it, whether
// its peer authentication lets it in, and what @weft/policy's L4 authorization says. The HBONE
// and plaintext listeners execute these decisions.
//
// Proxy-owned ports: a destination port this proxy owns (15001, 15006, 15008, 15080, 15000, 15020,
// 15021) is never dialled for a caller (400): the connection would come back into the proxy from
// the proxy itself, past the waypoint binding and with the caller's address and identity lost.
//
// Waypoints: a workload port that a waypoint guards (the workload's own binding, or a bound
// service that selects it on that port) takes traffic only from that waypoint's identity, so no
// caller can skip the waypoint's L7 policy by dialling the pod. Istio's ztunnel leaves this to
// policies that allow only the waypoint; enforcing the binding itself is stricter and needs no
// policy. Plaintext (15006) to a guarded port is refused too: it carries no identity, so it cannot
// be the waypoint.
//
// The true source: `Forwarded: for=` is a claim, honoured only from a peer entitled to make it (a
// waypoint guarding the destination speaks for its clients; a peer may name an address of a
// workload with its own identity, which is how a node's ztunnel names the pod it tunnels for).
// Anyone else's Forwarded is ignored and the source is the TCP peer.
//
// The data-plane mode this proxy serves is a parameter (`InboundRequest.mode`): a destination in
// another mode is not this proxy's to serve (400).
import {
  type AuthzDecision,
  authorize,
  type DataplaneMode,
  type MtlsMode,
  normalizeIp,
  type Service,
  type WaypointBinding,
  type Workload,
} from '@weft/policy/runtime';
import { DEFAULT_PROXY_PORTS } from '../ports.ts';
import type { ProxyState } from '../state/store.ts';
import { waypointPods, waypointsGuarding } from './waypoint.ts';

export type InboundRefusal =
  /** HBONE :authority names an address that is no workload of this node's listener. */
  | 'unknown-destination'
  /** The destination workload is not on this node. */
  | 'destination-not-local'
  /**
   * The destination workload is not in the mode this proxy serves (`InboundRequest.mode`). The
   * name is the ambient one because the metrics reason `destination_not_ambient` is public.
   */
  | 'destination-not-ambient'
  /** HBONE :authority names another workload than the one whose listener took the connection. */
  | 'authority-mismatch'
  /** Plaintext to a port whose PeerAuthentication is STRICT. */
  | 'strict-mtls'
  /** Denied by authorization policy. */
  | 'denied'
  /** HBONE to a waypoint-guarded port from someone else than that waypoint. */
  | 'waypoint-bypass'
  /** Plaintext without a known original destination port. */
  | 'no-original-destination'
  /** The destination port is one of the proxy's own (HBONE, plaintext, capture, SOCKS5, admin...). */
  | 'proxy-port';

export type InboundDecision =
  | {
      readonly allow: true;
      readonly workload: Workload;
      /** The service the workload serves this port for (telemetry's destination_service). */
      readonly service?: Service;
      readonly target: { readonly ip: string; readonly port: number };
      readonly authz: AuthzDecision;
      readonly mtlsMode: MtlsMode;
      /** Who sent it: what policy and telemetry see (see `inboundSource`). */
      readonly source: InboundSource;
    }
  | {
      readonly allow: false;
      readonly reason: InboundRefusal;
      /**
       * HTTP status for HBONE: 400 for a destination this node does not serve (not a local
       * ambient workload of this listener), 401 for a policy or peer-authentication refusal.
       */
      readonly status: 400 | 401;
      readonly message: string;
      readonly workload?: Workload;
      readonly service?: Service;
      readonly authz?: AuthzDecision;
      readonly source: InboundSource;
    };

/** The source of an inbound connection as decided, and whether a Forwarded claim was taken. */
export interface InboundSource {
  /** The address policy and telemetry see ('' when the connection had none). */
  readonly ip: string;
  /**
   * `absent`: no Forwarded; `honoured`: taken from Forwarded; `ignored`: the peer may not speak
   * for another address, so the TCP peer address was used instead.
   */
  readonly forwarded: 'absent' | 'honoured' | 'ignored';
}

export interface InboundRequest {
  readonly nodeName: string;
  /** The data-plane mode this proxy serves (ztunnel: `ambient`): the destination must be in it. */
  readonly mode: DataplaneMode;
  /** The workload whose listener took the connection (per-workload listeners), if any. */
  readonly listenerWorkloadUid?: string;
  /** Where the connection is going: HBONE :authority, or the plaintext original destination. */
  readonly destination: { readonly ip: string; readonly port: number };
  /** Verified SPIFFE ID of the HBONE peer; absent for plaintext. */
  readonly peerIdentity?: string;
  /** The TCP peer's address. */
  readonly sourceIp?: string;
  /** HBONE `Forwarded: for=` as sent: a claim, honoured only from an entitled peer. */
  readonly forwardedFor?: string;
  /** Ports the proxy owns, never dialled for a caller; default the mesh's standard ports. */
  readonly proxyPorts?: ReadonlySet<number>;
}

function refuse(
  reason: InboundRefusal,
  status: 400 | 401,
  message: string,
  source: InboundSource,
  extra: { workload?: Workload; service?: Service | undefined; authz?: AuthzDecision } = {},
): InboundDecision {
  const { service, ...rest } = extra;
  return {
    allow: false,
    reason,
    status,
    message,
    source,
    ...rest,
    ...(service !== undefined ? { service } : {}),
  };
}

/**
 * Who sent a connection. The TCP peer, unless the HBONE peer is entitled to name another address
 * in `Forwarded: for=`: the identity of a waypoint guarding the destination (`waypointIdentities`)
 * speaks for its clients; any peer may name an address of a workload whose identity is its own
 * (a node's ztunnel tunnels with the source pod's certificate and names that pod). A claim from
 * anyone else is ignored: no caller chooses the address policy and telemetry see.
 */
export function inboundSource(
  state: ProxyState,
  req: Pick<InboundRequest, 'peerIdentity' | 'sourceIp' | 'forwardedFor'>,
  waypointIdentities: ReadonlySet<string> = new Set(),
): InboundSource {
  const peerIp = normalizeIp(req.sourceIp ?? '') ?? req.sourceIp ?? '';
  if (req.forwardedFor === undefined) return { ip: peerIp, forwarded: 'absent' };
  const claimed = normalizeIp(req.forwardedFor);
  const peer = req.peerIdentity;
  if (claimed === undefined || peer === undefined) return { ip: peerIp, forwarded: 'ignored' };
  if (waypointIdentities.has(peer)) return { ip: claimed, forwarded: 'honoured' };
  if (state.workloadByIp(claimed)?.identity === peer) return { ip: claimed, forwarded: 'honoured' };
  return { ip: peerIp, forwarded: 'ignored' };
}

function proxyPortRefusal(req: InboundRequest, source: InboundSource): InboundDecision | undefined {
  const ports = req.proxyPorts ?? DEFAULT_PROXY_PORTS;
  if (!ports.has(req.destination.port)) return undefined;
  return refuse(
    'proxy-port',
    400,
    `port ${req.destination.port} belongs to the proxy, not to a workload`,
    source,
  );
}

function waypointIdentitiesOf(state: ProxyState, guards: readonly WaypointBinding[]): Set<string> {
  const allowed = new Set<string>();
  for (const g of guards) for (const pod of waypointPods(state, g.key)) allowed.add(pod.identity);
  return allowed;
}

function findWorkload(
  state: ProxyState,
  req: InboundRequest,
  source: InboundSource,
): Workload | InboundDecision {
  const ip = normalizeIp(req.destination.ip);
  const workload = ip === undefined ? undefined : state.workloadByIp(ip);
  if (workload === undefined) {
    return refuse('unknown-destination', 400, `${req.destination.ip} is no workload of this mesh`, source);
  }
  const service = state.serviceForEndpoint(workload.uid, req.destination.port);
  if (req.listenerWorkloadUid !== undefined && workload.uid !== req.listenerWorkloadUid) {
    return refuse(
      'authority-mismatch',
      400,
      `destination ${req.destination.ip} is not the workload this listener serves`,
      source,
      { workload, service },
    );
  }
  if (workload.node !== req.nodeName) {
    return refuse(
      'destination-not-local',
      400,
      `workload ${workload.namespace}/${workload.name} is on node ${workload.node ?? '(none)'}, not ${req.nodeName}`,
      source,
      { workload, service },
    );
  }
  if (workload.mode !== req.mode) {
    return refuse(
      'destination-not-ambient',
      400,
      `workload ${workload.namespace}/${workload.name} is in ${workload.mode} mode`,
      source,
      { workload, service },
    );
  }
  return workload;
}

function authorizeFor(
  state: ProxyState,
  workload: Workload,
  req: InboundRequest,
  mtlsMode: MtlsMode,
  source: InboundSource,
): InboundDecision {
  const ip = normalizeIp(req.destination.ip) ?? req.destination.ip;
  const authz = authorize(
    state.policiesForWorkload(workload.uid),
    {
      ...(req.peerIdentity !== undefined ? { sourcePrincipal: req.peerIdentity } : {}),
      ...(source.ip !== '' ? { sourceIp: source.ip } : {}),
      destinationIp: ip,
      destinationPort: req.destination.port,
    },
    { mode: 'L4' },
  );
  const service = state.serviceForEndpoint(workload.uid, req.destination.port);
  if (authz.action === 'DENY')
    return refuse('denied', 401, authz.reason, source, { workload, service, authz });
  return {
    allow: true,
    workload,
    ...(service !== undefined ? { service } : {}),
    target: { ip, port: req.destination.port },
    authz,
    mtlsMode,
    source,
  };
}

function waypointBypass(
  state: ProxyState,
  workload: Workload,
  req: InboundRequest,
  guards: readonly WaypointBinding[],
  allowed: ReadonlySet<string>,
  source: InboundSource,
): InboundDecision {
  const who =
    req.peerIdentity ?? (req.sourceIp !== undefined ? `plaintext from ${req.sourceIp}` : 'an unknown peer');
  return refuse(
    'waypoint-bypass',
    401,
    `${workload.namespace}/${workload.name} port ${req.destination.port} is served by waypoint ${guards.map((g) => g.key).join(', ')}: only ${allowed.size > 0 ? [...allowed].sort().join(', ') : 'its pods (none deployed)'} may connect, not ${who}`,
    source,
    { workload, service: state.serviceForEndpoint(workload.uid, req.destination.port) },
  );
}

/** A tunnel arrived over HBONE (mutual TLS, peer identity verified by the HBONE server). */
export function decideInboundHbone(state: ProxyState, req: InboundRequest): InboundDecision {
  const unguarded = inboundSource(state, req);
  const toProxy = proxyPortRefusal(req, unguarded);
  if (toProxy !== undefined) return toProxy;
  const found = findWorkload(state, req, unguarded);
  if (!('uid' in found)) return found;
  const guards = waypointsGuarding(state, found, req.destination.port);
  const allowed = waypointIdentitiesOf(state, guards);
  const source = guards.length > 0 ? inboundSource(state, req, allowed) : unguarded;
  if (guards.length > 0 && (req.peerIdentity === undefined || !allowed.has(req.peerIdentity))) {
    return waypointBypass(state, found, req, guards, allowed, source);
  }
  return authorizeFor(state, found, req, 'STRICT', source);
}

/**
 * Mesh mTLS arrived on the captured inbound port (15006), from a peer that speaks it directly (a
 * proxyless gRPC client): the TLS was terminated with the destination's certificate and the peer's
 * SPIFFE identity verified. It is decided exactly as an HBONE tunnel from that identity, without a
 * Forwarded claim (there is no tunnel to carry one): the source is the TCP peer.
 */
export function decideInboundMtls(state: ProxyState, req: InboundRequest): InboundDecision {
  const { forwardedFor: _forwarded, ...direct } = req;
  return decideInboundHbone(state, direct);
}

/** A plaintext connection was captured for a local workload (port 15006). */
export function decideInboundPlaintext(state: ProxyState, req: InboundRequest): InboundDecision {
  // Plaintext carries no identity and no Forwarded: the source is the TCP peer, and a rule that
  // needs principals or namespaces cannot match.
  const { peerIdentity: _identity, forwardedFor: _forwarded, ...plain } = req;
  const source = inboundSource(state, plain);
  const toProxy = proxyPortRefusal(plain, source);
  if (toProxy !== undefined) return toProxy;
  const found = findWorkload(state, plain, source);
  if (!('uid' in found)) return found;
  const mode = state.peerAuthenticationMode(found, plain.destination.port);
  if (mode === 'STRICT') {
    return refuse(
      'strict-mtls',
      401,
      `PeerAuthentication is STRICT for ${found.namespace}/${found.name} port ${plain.destination.port}: plaintext refused`,
      source,
      { workload: found, service: state.serviceForEndpoint(found.uid, plain.destination.port) },
    );
  }
  // A guarded port takes traffic only from its waypoint, which always speaks HBONE.
  const guards = waypointsGuarding(state, found, plain.destination.port);
  if (guards.length > 0) {
    return waypointBypass(state, found, plain, guards, waypointIdentitiesOf(state, guards), source);
  }
  return authorizeFor(state, found, plain, mode, source);
}
