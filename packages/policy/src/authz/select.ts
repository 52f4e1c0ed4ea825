// Which compiled policies a proxy must evaluate for a destination.
import type { MeshSnapshot } from '../snapshot.ts';
import type { AuthzPolicy } from './types.ts';

export interface PolicyTarget {
  /** Destination workload uid: its mesh-, namespace- and selector-scoped policies. */
  readonly workload?: string;
  /** Destination service hostname: policies whose targetRefs name the Service. */
  readonly service?: string;
  /** Waypoint key "ns/name": policies whose targetRefs name the waypoint Gateway. */
  readonly waypoint?: string;
}

/**
 * The union of the policies that apply to the given destination, sorted by key.
 * ztunnel asks with `{ workload }` (and enforces in L4 mode); a sidecar with `{ workload, service }`;
 * a waypoint with `{ service, waypoint: itself }` and, for workload-addressed traffic, `{ workload }`.
 */
export function policiesFor(snapshot: MeshSnapshot, target: PolicyTarget): AuthzPolicy[] {
  const keys = new Set<string>();
  if (target.workload !== undefined)
    for (const k of snapshot.workloads[target.workload]?.authorizationPolicies ?? []) keys.add(k);
  if (target.service !== undefined)
    for (const k of snapshot.services[target.service]?.authorizationPolicies ?? []) keys.add(k);
  if (target.waypoint !== undefined)
    for (const k of snapshot.waypoints[target.waypoint]?.authorizationPolicies ?? []) keys.add(k);
  return [...keys]
    .sort()
    .map((k) => snapshot.authorizationPolicies[k])
    .filter((p): p is AuthzPolicy => p !== undefined);
}
