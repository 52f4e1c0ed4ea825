// Waypoints as a proxy sees them: who runs a waypoint (its pods, found by the Gateway API label
// `gateway.networking.k8s.io/gateway-name` in the Gateway's namespace, as @weft/policy's compile
// finds them) and which waypoints guard a workload port. Outbound uses both to route through the
// waypoint; inbound uses the second to refuse callers that skipped it. Shared here so neither
// imports the other.
import { type DataplaneMode, LABEL_GATEWAY_NAME, type WaypointBinding, type Workload } from '@weft/policy';
import type { ProxyState } from '../state/store.ts';

/**
 * The modes whose workloads a waypoint binding guards: the destination's own proxy enforces it,
 * and today only the node's ztunnel does (ambient). A fact about the destination, not about the
 * proxy asking.
 */
export const WAYPOINT_GUARDED_MODES: ReadonlySet<DataplaneMode> = new Set<DataplaneMode>(['ambient']);

const podsByState = new WeakMap<ProxyState, ReadonlyMap<string, readonly Workload[]>>();

/** Pods running waypoint `key` ("namespace/name"), sorted by uid; computed once per state. */
export function waypointPods(state: ProxyState, key: string): readonly Workload[] {
  let index = podsByState.get(state);
  if (index === undefined) {
    const m = new Map<string, Workload[]>();
    for (const w of state.workloads.values()) {
      const gateway = w.labels[LABEL_GATEWAY_NAME];
      if (gateway === undefined || gateway === '') continue;
      const k = `${w.namespace}/${gateway}`;
      const list = m.get(k) ?? [];
      list.push(w);
      m.set(k, list);
    }
    for (const list of m.values()) list.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
    index = m;
    podsByState.set(state, index);
  }
  return index.get(key) ?? [];
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
