// MeshSnapshot -> weft.v1 resources in the ADS cache. Each resource is keyed by what its wire form
// depends on (the domain hash, plus the resolved peer authentication and waypoint identity for
// workloads); only resources whose key changed are converted and encoded again, and one cache
// batch carries every change of a snapshot so each proxy hears about it once.
import { fnv1a64, type MeshSnapshot } from '@weft/policy';
import {
  type CachedResource,
  type ResourceCache,
  type ResourceKey,
  WEFT_TYPE_URL,
  type WeftKind,
  weftResource,
} from '@weft/xds-protocol';
import {
  toProtoAuthorization,
  toProtoBackendPolicy,
  toProtoHttpRoutes,
  toProtoService,
  toProtoWaypoint,
  toProtoWorkload,
} from '@weft/xds-protocol/convert';

interface Entry {
  readonly inputKey: string;
  readonly resource: CachedResource;
}

export interface PublishResult {
  /** Resources converted and encoded for this snapshot. */
  readonly encoded: number;
  readonly upserted: number;
  readonly removed: number;
  /** Keys changed in the cache (cache.apply's count). */
  readonly changed: number;
}

export interface PublisherStats {
  publishes: number;
  encoded: number;
  upserted: number;
  removed: number;
}

/** The identity a waypoint presents (from its first pod), part of the workload/service wire form. */
function waypointIdentity(snapshot: MeshSnapshot, key: string | undefined): string {
  if (key === undefined) return '';
  const uid = snapshot.waypoints[key]?.workloads[0];
  return uid === undefined ? '' : (snapshot.workloads[uid]?.identity ?? '');
}

export class SnapshotPublisher {
  private readonly cache: ResourceCache;
  private readonly entries = new Map<WeftKind, Map<string, Entry>>();
  readonly stats: PublisherStats = { publishes: 0, encoded: 0, upserted: 0, removed: 0 };

  constructor(cache: ResourceCache) {
    this.cache = cache;
  }

  publish(snapshot: MeshSnapshot): PublishResult {
    const upserts: CachedResource[] = [];
    const removals: ResourceKey[] = [];
    let encoded = 0;

    const sync = <T>(
      kind: WeftKind,
      items: readonly T[],
      name: (item: T) => string,
      inputKey: (item: T) => string,
      encode: (item: T, version: string) => CachedResource,
    ): void => {
      let current = this.entries.get(kind);
      if (current === undefined) {
        current = new Map();
        this.entries.set(kind, current);
      }
      const next = new Map<string, Entry>();
      for (const item of items) {
        const n = name(item);
        const key = inputKey(item);
        const prev = current.get(n);
        if (prev !== undefined && prev.inputKey === key) {
          next.set(n, prev);
          continue;
        }
        const resource = encode(item, fnv1a64(key));
        encoded++;
        next.set(n, { inputKey: key, resource });
        upserts.push(resource);
      }
      for (const n of current.keys())
        if (!next.has(n)) removals.push({ typeUrl: WEFT_TYPE_URL[kind], name: n });
      this.entries.set(kind, next);
    };

    sync(
      'workload',
      Object.values(snapshot.workloads),
      (w) => w.uid,
      (w) =>
        `${w.hash}|${snapshot.peerAuthentication[w.uid]?.hash ?? ''}|${waypointIdentity(snapshot, w.waypoint?.key)}`,
      (w, version) => weftResource('workload', toProtoWorkload(w, snapshot), version),
    );
    sync(
      'waypoint',
      Object.values(snapshot.waypoints),
      (w) => w.key,
      (w) => w.hash,
      (w, version) => weftResource('waypoint', toProtoWaypoint(w), version),
    );
    sync(
      'service',
      Object.values(snapshot.services),
      (s) => `${s.namespace}/${s.hostname}`,
      (s) => `${s.hash}|${waypointIdentity(snapshot, s.waypoint?.key)}`,
      (s, version) => weftResource('service', toProtoService(s, snapshot), version),
    );
    sync(
      'authorization',
      Object.values(snapshot.authorizationPolicies),
      (p) => p.key,
      (p) => p.hash,
      (p, version) => weftResource('authorization', toProtoAuthorization(p), version),
    );
    sync(
      'httpRoutes',
      Object.values(snapshot.routes),
      (r) => r.key,
      (r) => r.hash,
      (r, version) => weftResource('httpRoutes', toProtoHttpRoutes(r), version),
    );
    sync(
      'backendPolicy',
      Object.values(snapshot.backendPolicies),
      (b) => `${b.source.namespace}/${b.host}`,
      (b) => b.hash,
      (b, version) => weftResource('backendPolicy', toProtoBackendPolicy(b), version),
    );

    const changed = this.cache.apply(upserts, removals);
    this.stats.publishes++;
    this.stats.encoded += encoded;
    this.stats.upserted += upserts.length;
    this.stats.removed += removals.length;
    return { encoded, upserted: upserts.length, removed: removals.length, changed };
  }
}
