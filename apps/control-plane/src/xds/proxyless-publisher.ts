// MeshSnapshot -> the Envoy v3 client resources of proxyless gRPC clients, in the shared ADS
// cache next to the weft.v1 resources (only proxyless streams may read these types). Nothing is
// generated while no workload runs proxyless and no proxyless client has connected. Each resource's version is its content hash, so a
// snapshot that leaves a resource's bytes alone does not push it again; the resources of a service
// port whose inputs kept their hashes are neither rebuilt nor re-encoded.
import type { MeshSnapshot } from '@weft/policy';
import {
  type CachedResource,
  ENVOY_TYPE_URL,
  type ResourceCache,
  type ResourceKey,
} from '@weft/xds-protocol';
import { envoyResource } from '@weft/xds-protocol/envoy';
import {
  hasProxyless,
  ProxylessMemo,
  type ProxylessRefusal,
  proxylessClientConfig,
} from './proxyless-view.ts';

const CLIENT_TYPES = [
  ENVOY_TYPE_URL.cluster,
  ENVOY_TYPE_URL.clusterLoadAssignment,
  ENVOY_TYPE_URL.listener,
  ENVOY_TYPE_URL.routeConfiguration,
] as const;

export interface ProxylessPublishResult {
  readonly resources: number;
  readonly changed: number;
  /** Refusals not seen in the previous snapshot (each is counted once). */
  readonly newRefusals: readonly ProxylessRefusal[];
}

export class ProxylessPublisher {
  private readonly cache: ResourceCache;
  private refusalKeys = new Set<string>();
  private readonly memo = new ProxylessMemo();
  /** Set once a proxyless client connected: from then on resources are made whatever the modes. */
  private demanded = false;
  /** Encodings of the messages of reused units (the same objects from one snapshot to the next). */
  private encoded = new WeakMap<object, CachedResource>();
  private current: readonly ProxylessRefusal[] = [];

  constructor(cache: ResourceCache) {
    this.cache = cache;
  }

  /**
   * A proxyless client connected: make the resources from now on even if no workload is labelled
   * proxyless (an app may run the SDK without the label), starting with `snapshot`.
   */
  demand(snapshot: MeshSnapshot | undefined): ProxylessPublishResult | undefined {
    if (this.demanded) return undefined;
    this.demanded = true;
    return snapshot === undefined || hasProxyless(snapshot) ? undefined : this.publish(snapshot);
  }

  /** What proxyless clients are refused in the current snapshot. */
  refusals(): readonly ProxylessRefusal[] {
    return this.current;
  }

  publish(snapshot: MeshSnapshot): ProxylessPublishResult {
    const upserts: CachedResource[] = [];
    let refusals: readonly ProxylessRefusal[] = [];
    if (this.demanded || hasProxyless(snapshot)) {
      const config = proxylessClientConfig(snapshot, this.memo);
      const once = <T extends object>(message: T, encode: (m: T) => CachedResource) => {
        let r = this.encoded.get(message);
        if (r === undefined) {
          r = encode(message);
          this.encoded.set(message, r);
        }
        upserts.push(r);
      };
      for (const c of config.clusters) once(c, (m) => envoyResource('cluster', m));
      for (const l of config.loadAssignments) once(l, (m) => envoyResource('clusterLoadAssignment', m));
      for (const l of config.listeners) once(l, (m) => envoyResource('listener', m));
      for (const r of config.routeConfigurations) once(r, (m) => envoyResource('routeConfiguration', m));
      refusals = config.refusals;
    }
    const keep = new Set(upserts.map((r) => `${r.typeUrl} ${r.name}`));
    const removals: ResourceKey[] = [];
    for (const typeUrl of CLIENT_TYPES) {
      for (const name of this.cache.entries(typeUrl).keys()) {
        if (!keep.has(`${typeUrl} ${name}`)) removals.push({ typeUrl, name });
      }
    }
    const changed = this.cache.apply(upserts, removals);
    const keys = new Set(refusals.map((r) => `${r.object}\n${r.field}\n${r.reason}`));
    const newRefusals = refusals.filter((r) => !this.refusalKeys.has(`${r.object}\n${r.field}\n${r.reason}`));
    this.refusalKeys = keys;
    this.current = refusals;
    return { resources: upserts.length, changed, newRefusals };
  }
}
