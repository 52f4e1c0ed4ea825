// What one waypoint proxy is told about, and who may run it.
//
// A waypoint (`waypoint~<namespace>/<gateway>`) serves the services and workloads bound to its
// Gateway. Its view is exactly what it needs to route, authorize and reach endpoints:
//   Service        the bound services, and every service their routes send to or mirror to
//                  (route backends such as echo-v1 / echo-v2 need not be bound themselves)
//   Workload       the bound workloads, the endpoints of every service above, and the
//                  waypoint's own pods (its identity); the stream filter (views.ts) then sends
//                  every Workload, so that callers are named in telemetry
//   HttpRoutes     the route tables of the bound services (every port)
//   BackendPolicy  the DestinationRules of every service above (load balancing, subsets, pools)
//   Authorization  the policies whose targetRefs name the Gateway or a bound service; selector,
//                  namespace and mesh policies stay with the ztunnels (Istio's split)
// Nothing else: a waypoint never hears of other namespaces' services or policies.
import type { MeshSnapshot } from '@weft/policy';

export interface WaypointView {
  /** Resource names per kind, as the cache names them. */
  readonly workloads: ReadonlySet<string>;
  readonly services: ReadonlySet<string>;
  readonly httpRoutes: ReadonlySet<string>;
  readonly backendPolicies: ReadonlySet<string>;
  readonly authorizations: ReadonlySet<string>;
}

/** The resource names waypoint `key` ("namespace/name" of its Gateway) may see. */
export function waypointView(snapshot: MeshSnapshot | undefined, key: string): WaypointView {
  const workloads = new Set<string>();
  const hosts = new Set<string>();
  const httpRoutes = new Set<string>();
  const authorizations = new Set<string>();
  if (snapshot === undefined) {
    return { workloads, services: new Set(), httpRoutes, backendPolicies: new Set(), authorizations };
  }
  const waypoint = snapshot.waypoints[key];
  for (const uid of waypoint?.workloads ?? []) workloads.add(uid);
  for (const p of waypoint?.authorizationPolicies ?? []) authorizations.add(p);

  const bound: string[] = [];
  for (const s of Object.values(snapshot.services)) {
    if (s.waypoint?.key !== key) continue;
    bound.push(s.hostname);
    hosts.add(s.hostname);
    for (const p of s.authorizationPolicies) authorizations.add(p);
  }
  for (const w of Object.values(snapshot.workloads)) if (w.waypoint?.key === key) workloads.add(w.uid);

  const boundHosts = new Set(bound);
  for (const table of Object.values(snapshot.routes)) {
    if (!boundHosts.has(table.host)) continue;
    httpRoutes.add(table.key);
    for (const rule of table.rules) {
      for (const b of rule.backends) if (b.unresolved === undefined) hosts.add(b.host);
      for (const m of rule.filters.mirrors ?? []) hosts.add(m.backend.host);
    }
  }

  const services = new Set<string>();
  const backendPolicies = new Set<string>();
  for (const host of hosts) {
    const s = snapshot.services[host];
    if (s === undefined) continue;
    services.add(`${s.namespace}/${s.hostname}`);
    for (const e of s.endpoints) workloads.add(e.workloadUid);
    const b = snapshot.backendPolicies[host];
    if (b !== undefined) backendPolicies.add(`${b.source.namespace}/${b.host}`);
  }
  return { workloads, services, httpRoutes, backendPolicies, authorizations };
}

/** A stable text of a view, to tell whether it changed between snapshots. */
export function viewSignature(view: WaypointView): string {
  const part = (s: ReadonlySet<string>) => [...s].sort().join(',');
  return [view.workloads, view.services, view.httpRoutes, view.backendPolicies, view.authorizations]
    .map(part)
    .join('|');
}

export type WaypointAdmission = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Whether `namespace/serviceAccount` may connect as waypoint `key`: the Gateway must be a
 * weft-waypoint Gateway of the snapshot, in the caller's namespace, and the caller must be the
 * service account its pods run as (the Gateway's name when it has no pods yet: the account a
 * waypoint deployment gets by convention).
 */
export function admitWaypoint(
  snapshot: MeshSnapshot | undefined,
  key: string,
  caller: { readonly namespace: string; readonly serviceAccount: string },
): WaypointAdmission {
  const waypoint = snapshot?.waypoints[key];
  if (waypoint === undefined) return { ok: false, error: `no waypoint Gateway ${key}` };
  if (caller.namespace !== waypoint.namespace) {
    return { ok: false, error: `${caller.namespace}/${caller.serviceAccount} may not serve waypoint ${key}` };
  }
  const accounts = new Set<string>();
  for (const uid of waypoint.workloads) {
    const w = snapshot?.workloads[uid];
    if (w !== undefined) accounts.add(w.serviceAccount);
  }
  if (accounts.size === 0) accounts.add(waypoint.name);
  if (!accounts.has(caller.serviceAccount)) {
    return {
      ok: false,
      error: `${caller.namespace}/${caller.serviceAccount} is not the service account of waypoint ${key} (${[...accounts].sort().join(', ')})`,
    };
  }
  return { ok: true };
}
