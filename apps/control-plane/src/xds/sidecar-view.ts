// What one sidecar proxy is told about, and who may run it.
//
// A sidecar (`sidecar~<namespace>/<pod>`) is the data plane of one pod, in both directions:
//   Workload       every workload (outbound: any endpoint it may call, the waypoints it must
//                  send through; inbound: its callers' names for telemetry); its own pod's
//                  Workload also carries the pod's resolved mTLS mode (peer authentication)
//   Service        every service (any of them may be called; a service's waypoint binding
//                  tells the sidecar to send through that waypoint)
//   Authorization  the policies that apply to its own pod (mesh, namespace, selector scope) and
//                  those whose targetRefs name a Service selecting it that no waypoint serves:
//                  the server-side sidecar enforces them (@weft/l7's sidecar-inbound role)
//   HttpRoutes     the route tables of every service not bound to a waypoint: the sidecar applies
//                  them itself; a bound service's routes are applied by its waypoint, so the
//                  sidecar sends such traffic there unrouted (as a ztunnel would)
//   BackendPolicy  the DestinationRules of the same services (the ones it reaches directly)
// The parts shared by every sidecar are computed once per snapshot.
import type { MeshSnapshot, Workload } from '@weft/policy';

export interface SidecarView {
  /** Uid of the sidecar's own pod. */
  readonly workload: string;
  readonly authorizations: ReadonlySet<string>;
  readonly httpRoutes: ReadonlySet<string>;
  readonly backendPolicies: ReadonlySet<string>;
}

interface SharedSidecarView {
  readonly pods: ReadonlyMap<string, Workload>;
  readonly httpRoutes: ReadonlySet<string>;
  readonly backendPolicies: ReadonlySet<string>;
  readonly signature: string;
}

const shared = new WeakMap<MeshSnapshot, SharedSidecarView>();

function sharedView(snapshot: MeshSnapshot): SharedSidecarView {
  const memo = shared.get(snapshot);
  if (memo !== undefined) return memo;
  const pods = new Map<string, Workload>();
  for (const w of Object.values(snapshot.workloads)) pods.set(`${w.namespace}/${w.name}`, w);
  const direct = new Set<string>();
  for (const s of Object.values(snapshot.services)) if (s.waypoint === undefined) direct.add(s.hostname);
  const httpRoutes = new Set<string>();
  for (const table of Object.values(snapshot.routes)) if (direct.has(table.host)) httpRoutes.add(table.key);
  const backendPolicies = new Set<string>();
  for (const b of Object.values(snapshot.backendPolicies)) {
    if (direct.has(b.host)) backendPolicies.add(`${b.source.namespace}/${b.host}`);
  }
  const part = (s: ReadonlySet<string>) => [...s].sort().join(',');
  const view = {
    pods,
    httpRoutes,
    backendPolicies,
    signature: `${part(httpRoutes)}|${part(backendPolicies)}`,
  };
  shared.set(snapshot, view);
  return view;
}

/** The pod `key` ("namespace/name") in the snapshot, if it is there. */
export function sidecarPod(snapshot: MeshSnapshot | undefined, key: string): Workload | undefined {
  return snapshot === undefined ? undefined : sharedView(snapshot).pods.get(key);
}

/** The resource names the sidecar of pod `key` may see (beyond every Workload and Service). */
export function sidecarView(snapshot: MeshSnapshot | undefined, key: string): SidecarView | undefined {
  if (snapshot === undefined) return undefined;
  const view = sharedView(snapshot);
  const pod = view.pods.get(key);
  if (pod === undefined) return undefined;
  const authorizations = new Set(pod.authorizationPolicies);
  for (const host of pod.services) {
    const service = snapshot.services[host];
    // a waypoint-bound service's policies are its waypoint's: behind it, the caller a sidecar
    // sees is the waypoint, not the client the policy names
    if (service === undefined || service.waypoint !== undefined) continue;
    for (const k of service.authorizationPolicies) authorizations.add(k);
  }
  return {
    workload: pod.uid,
    authorizations,
    httpRoutes: view.httpRoutes,
    backendPolicies: view.backendPolicies,
  };
}

/** A stable text of a view, to tell whether it changed between snapshots. */
export function sidecarViewSignature(snapshot: MeshSnapshot, view: SidecarView): string {
  return `${view.workload}|${[...view.authorizations].sort().join(',')}|${sharedView(snapshot).signature}`;
}

export type SidecarAdmission = { readonly ok: true } | { readonly ok: false; readonly error: string };

/**
 * Whether a caller may connect as the sidecar of pod `key`: the pod must be in the snapshot, in
 * the caller's namespace, and run as the caller's service account; a token bound to a node (a
 * Kubernetes bound token) must name the pod's node.
 */
export function admitSidecar(
  snapshot: MeshSnapshot | undefined,
  key: string,
  caller: { readonly namespace: string; readonly serviceAccount: string; readonly node?: string },
): SidecarAdmission {
  const who = `${caller.namespace}/${caller.serviceAccount}`;
  const pod = sidecarPod(snapshot, key);
  if (pod === undefined) return { ok: false, error: `no pod ${key}` };
  if (caller.namespace !== pod.namespace) {
    return { ok: false, error: `${who} may not serve pod ${key}` };
  }
  if (caller.serviceAccount !== pod.serviceAccount) {
    return {
      ok: false,
      error: `${who} is not the service account of pod ${key} (${pod.serviceAccount})`,
    };
  }
  if (caller.node !== undefined && pod.node !== undefined && caller.node !== pod.node) {
    return { ok: false, error: `token is bound to node ${caller.node}, pod ${key} runs on ${pod.node}` };
  }
  return { ok: true };
}
