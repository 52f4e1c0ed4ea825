// What an engine applies, by the role it plays, decided in one place. The waypoint authorizes
// with the destination service's (or workload's) policies and its own Gateway's, and routes with
// the service's table; the server side of a sidecar authorizes with its pod's policies and those
// of the services selecting it, and passes requests to the local app; the client side of a
// sidecar authorizes nothing (the server side does) and routes with the service's table.

import type { AuthzPolicy, PolicyTarget, RouteTable } from '@weft/policy';
import { policiesFor } from '@weft/policy/runtime';
import type { ProxyState, Target } from '@weft/proxy-core';
import type { Reporter } from '@weft/telemetry';

export type EngineRole = 'waypoint' | 'sidecar-inbound' | 'sidecar-outbound';

export const ENGINE_ROLES: readonly EngineRole[] = ['waypoint', 'sidecar-inbound', 'sidecar-outbound'];

/** What a role applies to one destination, before any policy is looked up. */
export interface RoleDecision {
  readonly role: EngineRole;
  /**
   * Whose authorization policies apply: the union of `policiesFor` over these targets.
   * `undefined`: the role authorizes nothing (not even an empty set: no RBAC decision is logged).
   */
  readonly policyTargets: readonly PolicyTarget[] | undefined;
  /** `service`: the destination service port's route table; `none`: straight to the destination. */
  readonly routes: 'service' | 'none';
}

/** The `reporter` label of Istio's metrics for a role. */
export function reporterFor(role: EngineRole): Reporter {
  switch (role) {
    case 'waypoint':
      return 'waypoint';
    case 'sidecar-inbound':
      return 'destination';
    case 'sidecar-outbound':
      return 'source';
    default: {
      const never: never = role;
      return never;
    }
  }
}

/**
 * The `component` of Weft's own metrics for a role: `weft_waypoint_*` for a waypoint,
 * `weft_sidecar_*` for both engines of a sidecar (they share the sidecar's registry).
 */
export function componentFor(role: EngineRole): 'waypoint' | 'sidecar' {
  return role === 'waypoint' ? 'waypoint' : 'sidecar';
}

/**
 * What `role` applies to a request for `target`. `waypoint` is the waypoint's own key
 * ("namespace/name"), when the engine is one.
 *
 * A policy whose targetRefs name a Service applies where that Service's traffic is served: at
 * its waypoint, and at the server-side sidecar of its endpoints (Istio documents Service
 * targetRefs for waypoints only; Weft applies them at sidecars too so that moving a workload
 * from ambient to sidecar mode does not drop its service's policies, and a sidecar workload is
 * never behind a waypoint, so no policy is evaluated twice).
 */
export function decideRole(role: EngineRole, target: Target, waypoint?: string): RoleDecision {
  if (target.kind === 'unknown') return { role, policyTargets: undefined, routes: 'none' };
  switch (role) {
    case 'waypoint': {
      const own = waypoint !== undefined ? { waypoint } : {};
      return {
        role,
        policyTargets: [
          target.kind === 'service'
            ? { service: target.service.hostname, ...own }
            : { workload: target.workload.uid, ...own },
        ],
        routes: target.kind === 'service' ? 'service' : 'none',
      };
    }
    case 'sidecar-inbound':
      return {
        role,
        policyTargets:
          target.kind === 'service'
            ? [{ service: target.service.hostname }]
            : [
                { workload: target.workload.uid },
                ...target.workload.services.map((service) => ({ service })),
              ],
        routes: 'none',
      };
    case 'sidecar-outbound':
      return { role, policyTargets: undefined, routes: target.kind === 'service' ? 'service' : 'none' };
    default: {
      const never: never = role;
      return never;
    }
  }
}

/** A role decision made concrete for one generation of the config. */
export interface Applied {
  readonly role: EngineRole;
  /** The policies `authorize` evaluates; undefined: this role does not authorize. */
  readonly policies: readonly AuthzPolicy[] | undefined;
  /** The route table in force; undefined: the request goes to its destination unrouted. */
  readonly routes: RouteTable | undefined;
}

/**
 * Looks up what `decision` names. The L7 view already selected the waypoint's policies for the
 * target (`policiesFor({ service | workload, waypoint })`, its own from its Waypoint resource),
 * so the waypoint reads them from there; the sidecar roles select from the generation's snapshot.
 */
export function applyRole(decision: RoleDecision, target: Target, state: ProxyState): Applied {
  const routes = decision.routes === 'service' && target.kind === 'service' ? target.routes : undefined;
  const targets = decision.policyTargets;
  if (targets === undefined || target.kind === 'unknown')
    return { role: decision.role, policies: undefined, routes };
  if (decision.role === 'waypoint') return { role: decision.role, policies: target.policies, routes };
  const snapshot = state.snapshot();
  const byKey = new Map<string, AuthzPolicy>();
  for (const t of targets) for (const p of policiesFor(snapshot, t)) byKey.set(p.key, p);
  const policies = [...byKey.values()].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  return { role: decision.role, policies, routes };
}
