// Inbound decisions, pure: which local workload a connection is for, whether its peer
// authentication lets it in, and what @weft/policy's L4 authorization says. The HBONE and
// plaintext listeners execute these decisions.
//
// Waypoints: a workload port that a waypoint guards (the workload's own binding, or a bound
// service that selects it on that port) takes HBONE only from that waypoint's identity, so no
// caller can skip the waypoint's L7 policy by dialling the pod. Istio's ztunnel leaves this to
// policies that allow only the waypoint; enforcing the binding itself is stricter and needs no
// policy. Plaintext (15006) is not checked: under PERMISSIVE a legacy caller still passes, as it
// carries no identity to compare (STRICT refuses it anyway).
import {
  type AuthzDecision,
  authorize,
  type MtlsMode,
  normalizeIp,
  type Service,
  type Workload,
} from '@weft/policy';
import type { ProxyState } from '../state/store.ts';
import { waypointPods, waypointsGuarding } from '../state/waypoints.ts';

export type InboundRefusal =
  /** HBONE :authority names an address that is no workload of this node's listener. */
  | 'unknown-destination'
  /** The destination workload is not on this node. */
  | 'destination-not-local'
  /** The destination workload is not captured by this ztunnel (not ambient). */
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
  | 'no-original-destination';

export type InboundDecision =
  | {
      readonly allow: true;
      readonly workload: Workload;
      /** The service the workload serves this port for (telemetry's destination_service). */
      readonly service?: Service;
      readonly target: { readonly ip: string; readonly port: number };
      readonly authz: AuthzDecision;
      readonly mtlsMode: MtlsMode;
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
    };

export interface InboundRequest {
  readonly nodeName: string;
  /** The workload whose listener took the connection (per-workload listeners), if any. */
  readonly listenerWorkloadUid?: string;
  /** Where the connection is going: HBONE :authority, or the plaintext original destination. */
  readonly destination: { readonly ip: string; readonly port: number };
  /** Verified SPIFFE ID of the HBONE peer; absent for plaintext. */
  readonly peerIdentity?: string;
  /** The original client address (Forwarded: for=, else the TCP peer). */
  readonly sourceIp?: string;
}

function refuse(
  reason: InboundRefusal,
  status: 400 | 401,
  message: string,
  extra: { workload?: Workload; service?: Service | undefined; authz?: AuthzDecision } = {},
): InboundDecision {
  const { service, ...rest } = extra;
  return { allow: false, reason, status, message, ...rest, ...(service !== undefined ? { service } : {}) };
}

function findWorkload(state: ProxyState, req: InboundRequest): Workload | InboundDecision {
  const ip = normalizeIp(req.destination.ip);
  const workload = ip === undefined ? undefined : state.workloadByIp(ip);
  if (workload === undefined) {
    return refuse('unknown-destination', 400, `${req.destination.ip} is no workload of this mesh`);
  }
  if (req.listenerWorkloadUid !== undefined && workload.uid !== req.listenerWorkloadUid) {
    return refuse(
      'authority-mismatch',
      400,
      `destination ${req.destination.ip} is not the workload this listener serves`,
      { workload, service: state.serviceForEndpoint(workload.uid, req.destination.port) },
    );
  }
  if (workload.node !== req.nodeName) {
    return refuse(
      'destination-not-local',
      400,
      `workload ${workload.namespace}/${workload.name} is on node ${workload.node ?? '(none)'}, not ${req.nodeName}`,
      { workload, service: state.serviceForEndpoint(workload.uid, req.destination.port) },
    );
  }
  if (workload.mode !== 'ambient') {
    return refuse(
      'destination-not-ambient',
      400,
      `workload ${workload.namespace}/${workload.name} is in ${workload.mode} mode`,
      { workload, service: state.serviceForEndpoint(workload.uid, req.destination.port) },
    );
  }
  return workload;
}

function authorizeFor(
  state: ProxyState,
  workload: Workload,
  req: InboundRequest,
  mtlsMode: MtlsMode,
): InboundDecision {
  const ip = normalizeIp(req.destination.ip) ?? req.destination.ip;
  const authz = authorize(
    state.policiesForWorkload(workload.uid),
    {
      ...(req.peerIdentity !== undefined ? { sourcePrincipal: req.peerIdentity } : {}),
      ...(req.sourceIp !== undefined ? { sourceIp: req.sourceIp } : {}),
      destinationIp: ip,
      destinationPort: req.destination.port,
    },
    { mode: 'L4' },
  );
  const service = state.serviceForEndpoint(workload.uid, req.destination.port);
  if (authz.action === 'DENY') return refuse('denied', 401, authz.reason, { workload, service, authz });
  return {
    allow: true,
    workload,
    ...(service !== undefined ? { service } : {}),
    target: { ip, port: req.destination.port },
    authz,
    mtlsMode,
  };
}

/** A tunnel arrived over HBONE (mutual TLS, peer identity verified by the HBONE server). */
export function decideInboundHbone(state: ProxyState, req: InboundRequest): InboundDecision {
  const found = findWorkload(state, req);
  if (!('uid' in found)) return found;
  const guards = waypointsGuarding(state, found, req.destination.port);
  if (guards.length > 0) {
    const allowed = new Set<string>();
    for (const g of guards) for (const pod of waypointPods(state, g.key)) allowed.add(pod.identity);
    if (req.peerIdentity === undefined || !allowed.has(req.peerIdentity)) {
      return refuse(
        'waypoint-bypass',
        401,
        `${found.namespace}/${found.name} port ${req.destination.port} is served by waypoint ${guards.map((g) => g.key).join(', ')}: only ${allowed.size > 0 ? [...allowed].sort().join(', ') : 'its pods (none deployed)'} may connect, not ${req.peerIdentity ?? 'an unknown peer'}`,
        { workload: found, service: state.serviceForEndpoint(found.uid, req.destination.port) },
      );
    }
  }
  return authorizeFor(state, found, req, 'STRICT');
}

/** A plaintext connection was captured for a local workload (port 15006). */
export function decideInboundPlaintext(state: ProxyState, req: InboundRequest): InboundDecision {
  const found = findWorkload(state, req);
  if (!('uid' in found)) return found;
  const mode = state.peerAuthenticationMode(found, req.destination.port);
  if (mode === 'STRICT') {
    return refuse(
      'strict-mtls',
      401,
      `PeerAuthentication is STRICT for ${found.namespace}/${found.name} port ${req.destination.port}: plaintext refused`,
      { workload: found, service: state.serviceForEndpoint(found.uid, req.destination.port) },
    );
  }
  // Plaintext carries no identity: a rule that needs principals or namespaces cannot match.
  const { peerIdentity: _ignored, ...plain } = req;
  return authorizeFor(state, found, plain, mode);
}
