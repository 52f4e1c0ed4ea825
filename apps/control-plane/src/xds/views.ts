// Per-proxy views of the one resource cache.
//
// ztunnel (contract): every Workload and Service (it needs every destination for outbound), and
// the Authorization resources that apply to workloads on its own node (the union of their
// `authorization_policies`). No HttpRoutes or BackendPolicy: L7 is the waypoint's job.
// waypoint and sidecar: everything, for now (their scoping comes with those proxies).
//
// A view's filter is memoised per node by the set of policy keys it admits, so a new snapshot
// that leaves a node's set alone keeps the same filter object and `refreshViews` does nothing
// for that node's streams.
import type { MeshSnapshot } from '@weft/policy';
import type { AdsClientInfo, CachedResource, ClientView, ResourceCache } from '@weft/xds-protocol';
import { WEFT_TYPE_URL } from '@weft/xds-protocol';
import { type ProxyId, parseProxyId } from './proxy-id.ts';

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
  /** Identities allowed to connect as ztunnel (default weft-system/ztunnel). */
  readonly nodeAgents: readonly { readonly namespace: string; readonly serviceAccount: string }[];
}

export class ViewRefused extends Error {}

const ZTUNNEL_TYPES = new Set<string>([
  WEFT_TYPE_URL.workload,
  WEFT_TYPE_URL.service,
  WEFT_TYPE_URL.authorization,
]);

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

  constructor(deps: ViewDeps) {
    this.deps = deps;
  }

  /** The proxy a stream belongs to, checked against its authenticated caller. Throws ViewRefused. */
  identify(client: AdsClientInfo): ProxyId {
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
    return proxy;
  }

  /** ViewSelector for createAdsServer. */
  select(client: AdsClientInfo): ClientView {
    const proxy = this.identify(client);
    if (proxy.kind !== 'ztunnel') return { cache: this.deps.cache };
    return { cache: this.deps.cache, filter: this.ztunnelFilter(proxy.node) };
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
