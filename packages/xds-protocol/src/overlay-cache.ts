import { ResourceCache, type ResourceKey } from './cache.ts';
import type { CachedResource } from './resource.ts';

/** One revision sequence per base, shared by its overlays, ahead of the base's own revisions. */
const sequences = new WeakMap<ResourceCache, { last: number }>();

function sequenceOf(base: ResourceCache): () => number {
  let seq = sequences.get(base);
  if (seq === undefined) {
    seq = { last: 0 };
    sequences.set(base, seq);
  }
  const s = seq;
  return () => {
    s.last = Math.max(s.last, base.revision) + 1;
    return s.last;
  };
}

/**
 * A cache that follows a base cache and adds resources of its own: what a group of clients sees
 * when most of its resources are shared but a few, under names every client uses, differ by group
 * (a proxyless gRPC server's Listener is named by its bind address, the same in every pod, while
 * its content follows the pod's peer authentication). The base's CachedResource objects are
 * shared, not copied; a change to the base reaches the overlay in one batch. An own resource hides
 * a base resource of the same type and name. *
 * Revisions of the overlays of one base come from one sequence, ahead of the base's own: they
 * never repeat between overlays, so a client moved from one overlay to another (its group
 * changed) sees a new version.
 */
export class OverlayCache {
  readonly cache: ResourceCache;
  readonly #base: ResourceCache;
  #own = new Map<string, CachedResource>();
  /** Base revision already mirrored, per type. */
  readonly #seen = new Map<string, number>();
  readonly #unsubscribe: () => void;

  constructor(base: ResourceCache, own: readonly CachedResource[] = [], name = `${base.name}+overlay`) {
    this.#base = base;
    this.cache = new ResourceCache({ name, nextRevision: sequenceOf(base) });
    this.#own = keyed(own);
    const upserts: CachedResource[] = [...this.#own.values()];
    for (const typeUrl of base.typeUrls()) {
      for (const r of base.entries(typeUrl).values()) if (!this.#own.has(key(r))) upserts.push(r);
      this.#seen.set(typeUrl, base.typeRevision(typeUrl));
    }
    this.cache.apply(upserts);
    this.#unsubscribe = base.onChange((_c, typeUrls) => this.#follow(typeUrls));
  }

  /** The overlay's own resources, now: the previous ones not listed are removed (or uncovered). */
  setOwn(resources: readonly CachedResource[]): number {
    const next = keyed(resources);
    const upserts: CachedResource[] = [...next.values()];
    const removals: ResourceKey[] = [];
    for (const [k, r] of this.#own) {
      if (next.has(k)) continue;
      const under = this.#base.get(r.typeUrl, r.name);
      if (under !== undefined) upserts.push(under);
      else removals.push({ typeUrl: r.typeUrl, name: r.name });
    }
    this.#own = next;
    return this.cache.apply(upserts, removals);
  }

  /** Stops following the base. */
  close(): void {
    this.#unsubscribe();
  }

  #follow(typeUrls: ReadonlySet<string>): void {
    const upserts: CachedResource[] = [];
    const removals: ResourceKey[] = [];
    for (const typeUrl of typeUrls) {
      const changed = this.#base.changedSince(typeUrl, this.#seen.get(typeUrl) ?? 0);
      this.#seen.set(typeUrl, this.#base.typeRevision(typeUrl));
      const names =
        changed === 'all'
          ? new Set([...this.#base.entries(typeUrl).keys(), ...this.cache.entries(typeUrl).keys()])
          : new Set(changed);
      for (const name of names) {
        if (this.#own.has(`${typeUrl} ${name}`)) continue;
        const r = this.#base.get(typeUrl, name);
        if (r !== undefined) upserts.push(r);
        else removals.push({ typeUrl, name });
      }
    }
    this.cache.apply(upserts, removals);
  }
}

function key(r: { typeUrl: string; name: string }): string {
  return `${r.typeUrl} ${r.name}`;
}

function keyed(resources: readonly CachedResource[]): Map<string, CachedResource> {
  return new Map(resources.map((r) => [key(r), r]));
}
