// Per-proxy views of the one resource cache.
//
// ztunnel (contract): every Workload, Service and Waypoint (it needs every destination for
// outbound, and every waypoint a destination binds to: which pods run it, to send through it and
// to tell on inbound whether a caller came through it), and the Authorization resources that
// apply to workloads on its own node (the union of their `authorization_policies`). No HttpRoutes
// or BackendPolicy: L7 is the waypoint's job.
// waypoint: what its Gateway serves (waypoint-view.ts) and its own Waypoint, admitted only for
// the service account its pods run as. sidecar: every Workload, Service and Waypoint (as a
// ztunnel, for the same reasons), its own pod's policies, and the routes and DestinationRules of
// the services it reaches directly (sidecar-view.ts), admitted only for the service account its
// pod runs as. proxyless (`proxyless~<ns>/<pod>`, a gRPC app's own xDS client and its SDK):
// the Envoy v3 resources every proxyless client reads (proxyless-view.ts), plus the weft.v1
// resources of its pod's sidecar view for the SDK's authorization, each only when requested;
// admitted exactly as a sidecar of that pod.
//
// A view's filter is memoised per node (per waypoint) by the set of names it admits, so a new
// snapshot that leaves that set alone keeps the same filter object and `refreshViews` does
// nothing for those streams (a sidecar's memo is per stream, so churning pods leave nothing
// behind). A stream is admitted once, when it opens; later snapshots only reshape what it sees.
import type { MeshSnapshot, Workload } from '@weft/policy';
import type { AdsClientInfo, CachedResource, ClientView, ResourceCache } from '@weft/xds-protocol';
import { ENVOY_TYPE_URL, type ProxyId, parseProxyId, WEFT_TYPE_URL } from '@weft/xds-protocol';
import { admitSidecar, sidecarPod, sidecarView, sidecarViewSignature } from './sidecar-view.ts';
import { admitWaypoint, viewSignature, waypointView } from './waypoint-view.ts';

/** Who the stream authenticated as (set by the gRPC interceptor), when authentication is on. */
export interface StreamCaller {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly node?: string;
}

export interface ViewDeps {
  readonly cache: ResourceCache;
  /** The current snapshot (undefined before the first compile). */
  snapshot(): MeshSnapshot | undefined;
  /** The authenticated caller of a stream; undefined when anonymous xDS is allowed. */
  caller(client: AdsClientInfo): StreamCaller | undefined;
  /**
   * The cache a proxyless pod's streams read (its server Listeners over `cache`); default
   * `cache` itself.
   */
  proxylessCache?(snapshot: MeshSnapshot, pod: Workload): ResourceCache;
  /** Identities allowed to connect as ztunnel (default weft-system/ztunnel). */
  readonly nodeAgents: readonly { readonly namespace: string; readonly serviceAccount: string }[];
}

export class ViewRefused extends Error {}

const ZTUNNEL_TYPES = new Set<string>([
  WEFT_TYPE_URL.workload,
  WEFT_TYPE_URL.service,
  WEFT_TYPE_URL.waypoint,
  WEFT_TYPE_URL.authorization,
]);

/** What every ztunnel and sidecar gets whole: destinations and the waypoints they bind to. */
const DESTINATION_TYPES = new Set<string>([
  WEFT_TYPE_URL.workload,
  WEFT_TYPE_URL.service,
  WEFT_TYPE_URL.waypoint,
]);

/** What every proxyless client may read of the Envoy v3 types (client side: the same for all). */
const ENVOY_CLIENT_TYPES = new Set<string>([
  ENVOY_TYPE_URL.listener,
  ENVOY_TYPE_URL.routeConfiguration,
  ENVOY_TYPE_URL.cluster,
  ENVOY_TYPE_URL.clusterLoadAssignment,
]);

/** A sidecar's view while its pod is unknown: every destination, nothing of its own. */
const destinationsOnly = (r: CachedResource) => DESTINATION_TYPES.has(r.typeUrl);

/** Policy keys that apply to workloads on `node`, sorted. */
export function nodePolicyKeys(snapshot: MeshSnapshot | undefined, node: string): string[] {
  const keys = new Set<string>();
  for (const w of Object.values(snapshot?.workloads ?? {})) {
    if (w.node !== node) continue;
    for (const k of w.authorizationPolicies) keys.add(k);
  }
  return [...keys].sort();
}

export class ProxyViews {
  private readonly deps: ViewDeps;
  private readonly nodeFilters = new Map<
    string,
    { signature: string; filter: (r: CachedResource) => boolean }
  >();
  private readonly waypointFilters = new Map<
    string,
    { signature: string; filter: (r: CachedResource) => boolean }
  >();
  private readonly sidecarFilters = new WeakMap<
    AdsClientInfo,
    { signature: string; filter: (r: CachedResource) => boolean }
  >();
  private readonly proxylessFilters = new WeakMap<
    (r: CachedResource) => boolean,
    (r: CachedResource) => boolean
  >();
  /** Streams already admitted (the ADS server keeps one info object per stream). */
  private readonly admitted = new WeakMap<AdsClientInfo, ProxyId>();

  constructor(deps: ViewDeps) {
    this.deps = deps;
  }

  /** The proxy a stream belongs to, checked against its authenticated caller. Throws ViewRefused. */
  identify(client: AdsClientInfo): ProxyId {
    const known = this.admitted.get(client);
    if (known !== undefined) return known;
    const parsed = parseProxyId(client.nodeId, client.node?.metadata as Record<string, unknown> | undefined);
    if (!parsed.ok) throw new ViewRefused(parsed.error);
    const proxy = parsed.value;
    const caller = this.deps.caller(client);
    if (caller !== undefined && proxy.kind === 'ztunnel') {
      const agent = this.deps.nodeAgents.some(
        (a) => a.namespace === caller.namespace && a.serviceAccount === caller.serviceAccount,
      );
      if (!agent) {
        throw new ViewRefused(`${caller.namespace}/${caller.serviceAccount} may not connect as a ztunnel`);
      }
      if (caller.node !== proxy.node) {
        throw new ViewRefused(`token is bound to node ${caller.node ?? '<none>'}, not ${proxy.node}`);
      }
    }
    if (caller !== undefined && proxy.kind !== 'ztunnel' && caller.namespace !== proxy.namespace) {
      throw new ViewRefused(
        `${caller.namespace}/${caller.serviceAccount} may not connect as ${client.nodeId}`,
      );
    }
    if (caller !== undefined && proxy.kind === 'waypoint') {
      const admission = admitWaypoint(this.deps.snapshot(), `${proxy.namespace}/${proxy.name}`, caller);
      if (!admission.ok) throw new ViewRefused(admission.error);
    }
    if (caller !== undefined && (proxy.kind === 'sidecar' || proxy.kind === 'proxyless')) {
      const admission = admitSidecar(this.deps.snapshot(), `${proxy.namespace}/${proxy.name}`, caller);
      if (!admission.ok) throw new ViewRefused(admission.error);
    }
    this.admitted.set(client, proxy);
    return proxy;
  }

  /** ViewSelector for createAdsServer. */
  select(client: AdsClientInfo): ClientView {
    const proxy = this.identify(client);
    switch (proxy.kind) {
      case 'ztunnel':
        return { cache: this.deps.cache, filter: this.ztunnelFilter(proxy.node) };
      case 'waypoint':
        return { cache: this.deps.cache, filter: this.waypointFilter(`${proxy.namespace}/${proxy.name}`) };
      case 'sidecar':
        return {
          cache: this.deps.cache,
          filter: this.sidecarFilter(client, `${proxy.namespace}/${proxy.name}`),
        };
      case 'proxyless': {
        const key = `${proxy.namespace}/${proxy.name}`;
        const weft = this.sidecarFilter(client, key);
        const snapshot = this.deps.snapshot();
        const pod = sidecarPod(snapshot, key);
        const cache =
          snapshot === undefined || pod === undefined || this.deps.proxylessCache === undefined
            ? this.deps.cache
            : this.deps.proxylessCache(snapshot, pod);
        return { cache, filter: this.proxylessFilter(weft) };
      }
      default: {
        const never: never = proxy;
        return never;
      }
    }
  }

  private waypointFilter(key: string): (r: CachedResource) => boolean {
    const view = waypointView(this.deps.snapshot(), key);
    const signature = viewSignature(view);
    const memo = this.waypointFilters.get(key);
    if (memo !== undefined && memo.signature === signature) return memo.filter;
    const byType = new Map<string, ReadonlySet<string>>([
      [WEFT_TYPE_URL.workload, view.workloads],
      [WEFT_TYPE_URL.service, view.services],
      [WEFT_TYPE_URL.httpRoutes, view.httpRoutes],
      [WEFT_TYPE_URL.backendPolicy, view.backendPolicies],
      [WEFT_TYPE_URL.authorization, view.authorizations],
    ]);
    // Every Workload, as ztunnels get: the waypoint names its callers (source_workload, app,
    // version) from them in telemetry, whichever namespace they call from. Its own Waypoint
    // (named by the key it connected as) lists the policies that name its Gateway.
    const filter = (r: CachedResource) =>
      r.typeUrl === WEFT_TYPE_URL.workload ||
      (r.typeUrl === WEFT_TYPE_URL.waypoint && r.name === key) ||
      (byType.get(r.typeUrl)?.has(r.name) ?? false);
    this.waypointFilters.set(key, { signature, filter });
    return filter;
  }

  private sidecarFilter(client: AdsClientInfo, key: string): (r: CachedResource) => boolean {
    const memo = this.sidecarFilters.get(client);
    const snapshot = this.deps.snapshot();
    const view = sidecarView(snapshot, key);
    if (snapshot === undefined || view === undefined) {
      // The pod left the snapshot (deleted, or not yet seen by an anonymous stream): keep what the
      // sidecar had, so a vanishing pod never loses the policies that guard it; before it had
      // anything, Workloads and Services only.
      return memo?.filter ?? destinationsOnly;
    }
    const signature = sidecarViewSignature(snapshot, view);
    if (memo !== undefined && memo.signature === signature) return memo.filter;
    const byType = new Map<string, ReadonlySet<string>>([
      [WEFT_TYPE_URL.httpRoutes, view.httpRoutes],
      [WEFT_TYPE_URL.backendPolicy, view.backendPolicies],
      [WEFT_TYPE_URL.authorization, view.authorizations],
    ]);
    const filter = (r: CachedResource) =>
      DESTINATION_TYPES.has(r.typeUrl) || (byType.get(r.typeUrl)?.has(r.name) ?? false);
    this.sidecarFilters.set(client, { signature, filter });
    return filter;
  }

  /** The Envoy client types, and the weft.v1 types of the pod's sidecar view (memoised by it). */
  private proxylessFilter(weft: (r: CachedResource) => boolean): (r: CachedResource) => boolean {
    const memo = this.proxylessFilters.get(weft);
    if (memo !== undefined) return memo;
    const filter = (r: CachedResource) => ENVOY_CLIENT_TYPES.has(r.typeUrl) || weft(r);
    this.proxylessFilters.set(weft, filter);
    return filter;
  }

  private ztunnelFilter(node: string): (r: CachedResource) => boolean {
    const keys = nodePolicyKeys(this.deps.snapshot(), node);
    const signature = keys.join('\n');
    const memo = this.nodeFilters.get(node);
    if (memo !== undefined && memo.signature === signature) return memo.filter;
    const allowed = new Set(keys);
    const filter = (r: CachedResource) =>
      ZTUNNEL_TYPES.has(r.typeUrl) && (r.typeUrl !== WEFT_TYPE_URL.authorization || allowed.has(r.name));
    this.nodeFilters.set(node, { signature, filter });
    return filter;
  }
}
