// What an L7 engine reads of the one store: a narrow, per-generation view of `ProxyState` that
// resolves a destination to a service port (with its route table and policies) or a workload,
// and answers the lookups routing and telemetry need. Policy selection is @weft/policy's
// `policiesFor` over the generation's snapshot; nothing here re-selects. A request keeps the view
// it started with, so it sees one generation from start to end.
import {
  type AuthzPolicy,
  type BackendPolicy,
  normalizeIp,
  policiesFor,
  type RouteTable,
  type Service,
  type ServicePort,
  type Workload,
} from '@weft/policy/runtime';
import type { ProxyState } from './store.ts';

/** Where a connection was sent, resolved against the config. */
export type Target =
  | {
      readonly kind: 'service';
      /** "hostname:port". */
      readonly key: string;
      readonly service: Service;
      readonly port: ServicePort;
      /** The route table of this service port, if any. */
      readonly routes: RouteTable | undefined;
      readonly policies: readonly AuthzPolicy[];
    }
  | {
      readonly kind: 'workload';
      readonly key: string;
      readonly workload: Workload;
      readonly port: number;
      readonly policies: readonly AuthzPolicy[];
    }
  | { readonly kind: 'unknown'; readonly key: string; readonly ip: string; readonly port: number };

/** The read interface an L7 engine gets: one generation of the store. */
export interface L7State {
  /** The store generation this view reads. */
  readonly generation: number;
  /** The config version label (xDS system version, snapshot version). */
  readonly version: string;
  /** The waypoint this view serves ("namespace/name"), if it is one. */
  readonly waypoint: string | undefined;
  /** Resolves a destination address (service VIP or workload IP) and port. */
  target(ip: string, port: number): Target;
  /** A service by hostname (route backends). */
  service(hostname: string): Service | undefined;
  workload(uid: string): Workload | undefined;
  /** The workload owning an address (source labels for metrics). */
  workloadByIp(ip: string): Workload | undefined;
  backendPolicy(hostname: string): BackendPolicy | undefined;
}

// One view per (generation, waypoint): the target cache lives as long as the generation.
const views = new WeakMap<ProxyState, Map<string, L7State>>();

/** The L7 view of `state` for the waypoint `waypoint` ("namespace/name"), or for no waypoint. */
export function l7State(state: ProxyState, waypoint?: string): L7State {
  let byWaypoint = views.get(state);
  if (byWaypoint === undefined) {
    byWaypoint = new Map();
    views.set(state, byWaypoint);
  }
  const memoKey = waypoint ?? '';
  let view = byWaypoint.get(memoKey);
  if (view === undefined) {
    view = buildView(state, waypoint);
    byWaypoint.set(memoKey, view);
  }
  return view;
}

function buildView(state: ProxyState, waypoint: string | undefined): L7State {
  const targets = new Map<string, Target>();

  // Policies whose targetRefs name this waypoint's Gateway come from its Waypoint resource
  // (weftd sends a waypoint its own): `policiesFor` alone decides, nothing is re-selected here.
  const policies = (target: { service: string } | { workload: string }): readonly AuthzPolicy[] =>
    policiesFor(state.snapshot(), { ...target, ...(waypoint !== undefined ? { waypoint } : {}) });

  const resolve = (ip: string, port: number, key: string): Target => {
    const canonical = normalizeIp(ip) ?? ip;
    const match = state.serviceByAddress(canonical, port);
    if (match !== undefined) {
      const hostname = match.service.hostname;
      return {
        kind: 'service',
        key: `${hostname}:${port}`,
        service: match.service,
        port: match.port,
        routes: state.routes.get(`${hostname}:${port}`),
        policies: policies({ service: hostname }),
      };
    }
    const w = state.workloadByIp(canonical);
    if (w !== undefined)
      return { kind: 'workload', key, workload: w, port, policies: policies({ workload: w.uid }) };
    return { kind: 'unknown', key, ip: canonical, port };
  };

  return {
    generation: state.generation,
    version: state.version,
    waypoint,
    target(ip, port) {
      const key = `${ip}:${port}`;
      let t = targets.get(key);
      if (t === undefined) {
        t = resolve(ip, port, key);
        if (targets.size > 65_536) targets.clear();
        targets.set(key, t);
      }
      return t;
    },
    service: (hostname) => state.services.get(hostname),
    workload: (uid) => state.workloadByUid(uid),
    workloadByIp: (ip) => state.workloadByIp(ip),
    backendPolicy: (hostname) => state.backendPolicies.get(hostname),
  };
}
