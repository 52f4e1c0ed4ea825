// Waypoints as a proxy sees them: who runs a waypoint (the pods its Waypoint resource lists, as
// @weft/policy's compile found them; never re-derived from pod labels here) and which waypoints
// guard a workload port. Outbound uses both to route through the waypoint; inbound uses both to
// refuse callers that skipped it. Shared here so neither imports the other.
import type { DataplaneMode, WaypointBinding, Workload } from '@weft/policy/runtime';
import type { ProxyState } from '../state/store.ts';

/**
 * The modes whose workloads a waypoint binding guards: the destination's own proxy enforces it,
 * and today only the node's ztunnel does (ambient). A fact about the destination, not about the
 * proxy asking.
 */
export const WAYPOINT_GUARDED_MODES: ReadonlySet<DataplaneMode> = new Set<DataplaneMode>(['ambient']);

/**
 * Pods running waypoint `key` ("namespace/name"), sorted by uid: the workloads its Waypoint
 * resource lists (compiled once by @weft/policy, sent by weftd), none without one.
 */
export function waypointPods(state: ProxyState, key: string): readonly Workload[] {
  const out: Workload[] = [];
  for (const uid of state.waypoints.get(key)?.workloads ?? []) {
    const w = state.workloadByUid(uid);
    if (w !== undefined) out.push(w);
  }
  return out;
}

/** Pods of the waypoint that can take traffic: ready, with an address. */
export function readyWaypointPods(state: ProxyState, binding: WaypointBinding): readonly Workload[] {
  return waypointPods(state, binding.key).filter((w) => w.healthy && w.ips.length > 0);
}

/**
 * The waypoints that must see traffic to `port` (a target port) of `workload`: its own binding
 * (waypoints serving workload traffic), and the binding of every service that selects it on that
 * port (whatever address the caller used, a connection to that port is that service's traffic).
 * Only workloads of `WAYPOINT_GUARDED_MODES` are guarded: their proxy is who enforces it.
 */
export function waypointsGuarding(state: ProxyState, workload: Workload, port: number): WaypointBinding[] {
  if (!WAYPOINT_GUARDED_MODES.has(workload.mode)) return [];
  const out = new Map<string, WaypointBinding>();
  if (workload.waypoint !== undefined) out.set(workload.waypoint.key, workload.waypoint);
  for (const hostname of workload.services) {
    const s = state.serviceByHostname(hostname);
    if (s?.waypoint === undefined || out.has(s.waypoint.key)) continue;
    if (s.endpoints.some((e) => e.workloadUid === workload.uid && e.targetPort === port)) {
      out.set(s.waypoint.key, s.waypoint);
    }
  }
  return [...out.values()];
}
