// The caches proxyless streams read. Client resources are the same for every proxyless client
// and live in the shared cache; a server Listener is named by the bind address
// (`xds.weft.dev/grpc/lds/inbound/0.0.0.0:<port>`), the same in every pod, while its content
// follows that pod's ports and peer authentication. So pods are grouped by what their server
// Listeners depend on, and each group reads an overlay of the shared cache carrying its own
// Listeners (a handful of groups in practice: one per distinct set of ports and mTLS modes).
import type { MeshSnapshot, Workload } from '@weft/policy';
import { OverlayCache, type ResourceCache } from '@weft/xds-protocol';
import { envoyResource } from '@weft/xds-protocol/envoy';
import { proxylessServerListeners, serverSignature } from './proxyless-view.ts';

export class ProxylessServerCaches {
  private readonly base: ResourceCache;
  private readonly overlays = new Map<string, OverlayCache>();
  /** Groups streams were given since the last prune (they stay while a stream may read them). */
  private used = new Set<string>();

  constructor(base: ResourceCache) {
    this.base = base;
  }

  /** The cache the proxyless streams of `pod` read (its server Listeners over the shared cache). */
  cacheFor(snapshot: MeshSnapshot, pod: Workload): ResourceCache {
    const signature = serverSignature(snapshot, pod);
    if (signature === '') return this.base;
    this.used.add(signature);
    let overlay = this.overlays.get(signature);
    if (overlay === undefined) {
      const own = proxylessServerListeners(snapshot, pod).map((l) => envoyResource('listener', l));
      overlay = new OverlayCache(this.base, own, `${this.base.name}+proxyless[${signature}]`);
      this.overlays.set(signature, overlay);
    }
    return overlay.cache;
  }

  /**
   * Drops the groups no proxyless pod of `snapshot` belongs to and no stream was given since the
   * last prune (a pod of another data-plane mode may connect as proxyless too); streams of a
   * dropped group move on the next view refresh.
   */
  prune(snapshot: MeshSnapshot): void {
    const live = this.used;
    this.used = new Set();
    for (const w of Object.values(snapshot.workloads)) {
      if (w.mode === 'proxyless') live.add(serverSignature(snapshot, w));
    }
    for (const [signature, overlay] of this.overlays) {
      if (live.has(signature)) continue;
      overlay.close();
      this.overlays.delete(signature);
    }
  }

  /** Number of groups (for tests and metrics). */
  get size(): number {
    return this.overlays.size;
  }

  close(): void {
    for (const o of this.overlays.values()) o.close();
    this.overlays.clear();
  }
}
