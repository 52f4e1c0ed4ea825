import type { CachedResource } from './resource.ts';
import { encodeDeltaResourceBlock } from './wire.ts';

export interface ResourceKey {
  typeUrl: string;
  name: string;
}

/** Called after each change batch with the types it touched. */
export type CacheListener = (cache: ResourceCache, typeUrls: ReadonlySet<string>) => void;

interface TypeEntries {
  resources: Map<string, CachedResource>;
  /** Revision of the last change to this type. */
  revision: number;
  /** Change log: names[i] changed at revisions[i] (ascending). */
  logNames: string[];
  logRevisions: number[];
  /** Changes at or before this revision are no longer in the log. */
  compactedThrough: number;
}

export interface ResourceCacheOptions {
  /** Shown in syncz; helps tell per-view caches apart. */
  name?: string;
  /** The change log of a type is halved when longer than max(this, 2 x resources). */
  minLogEntries?: number;
  /**
   * Where revisions come from when several caches must never show the same revision (their
   * versions), e.g. when a client may move from one to another: each batch takes the larger of
   * this and the cache's own next revision. Default: the cache's own counter.
   */
  nextRevision?: () => number;
}

/**
 * Resources keyed by type URL + name, with a per-type change log so each stream can ask what
 * changed since the revision it last saw (cheap fan-out: a change notifies streams once, and
 * every stream then reads only the names that changed). One writer: the control plane.
 */
export class ResourceCache {
  readonly name: string;
  #types = new Map<string, TypeEntries>();
  #revision = 0;
  #listeners = new Set<CacheListener>();
  #minLog: number;
  #nextRevision: (() => number) | undefined;
  #snapshots = new Map<string, TypeSnapshot>();

  constructor(options: ResourceCacheOptions = {}) {
    this.name = options.name ?? 'default';
    this.#minLog = options.minLogEntries ?? 4096;
    this.#nextRevision = options.nextRevision;
  }

  /** Increases with every change batch that changed something. */
  get revision(): number {
    return this.#revision;
  }

  typeRevision(typeUrl: string): number {
    return this.#types.get(typeUrl)?.revision ?? 0;
  }

  typeUrls(): string[] {
    return [...this.#types.keys()];
  }

  get(typeUrl: string, name: string): CachedResource | undefined {
    return this.#types.get(typeUrl)?.resources.get(name);
  }

  /** Live view of one type's resources; do not mutate. */
  entries(typeUrl: string): ReadonlyMap<string, CachedResource> {
    return this.#types.get(typeUrl)?.resources ?? EMPTY;
  }

  size(typeUrl?: string): number {
    if (typeUrl !== undefined) return this.#types.get(typeUrl)?.resources.size ?? 0;
    let n = 0;
    for (const t of this.#types.values()) n += t.resources.size;
    return n;
  }

  /**
   * Applies upserts and removals as one batch; listeners hear about it once. A resource whose
   * version equals the cached one is not a change. Returns the number of changed keys.
   */
  apply(upserts: readonly CachedResource[], removals: readonly ResourceKey[] = []): number {
    const revision = Math.max(this.#revision + 1, this.#nextRevision?.() ?? 0);
    const touched = new Set<string>();
    for (const r of upserts) {
      const t = this.#type(r.typeUrl);
      const old = t.resources.get(r.name);
      if (old !== undefined && old.version === r.version) continue;
      t.resources.set(r.name, r);
      this.#log(t, r.name, revision);
      touched.add(r.typeUrl);
    }
    for (const k of removals) {
      const t = this.#types.get(k.typeUrl);
      if (t === undefined || !t.resources.delete(k.name)) continue;
      this.#log(t, k.name, revision);
      touched.add(k.typeUrl);
    }
    if (touched.size === 0) return 0;
    this.#revision = revision;
    let changed = 0;
    for (const typeUrl of touched) {
      const t = this.#types.get(typeUrl) as TypeEntries;
      t.revision = revision;
      changed += countFrom(t.logRevisions, revision);
      this.#compact(t);
    }
    for (const l of this.#listeners) l(this, touched);
    return changed;
  }

  set(resource: CachedResource): boolean {
    return this.apply([resource]) > 0;
  }

  delete(typeUrl: string, name: string): boolean {
    return this.apply([], [{ typeUrl, name }]) > 0;
  }

  /** Makes `resources` the whole content of `typeUrl`: upserts them and removes the rest. */
  replaceType(typeUrl: string, resources: readonly CachedResource[]): number {
    const keep = new Set<string>();
    for (const r of resources) {
      if (r.typeUrl !== typeUrl) throw new TypeError(`replaceType(${typeUrl}): got ${r.typeUrl} ${r.name}`);
      keep.add(r.name);
    }
    const removals: ResourceKey[] = [];
    for (const name of this.entries(typeUrl).keys()) if (!keep.has(name)) removals.push({ typeUrl, name });
    return this.apply(resources, removals);
  }

  /**
   * Names of `typeUrl` changed after `revision`, possibly with repeats, or `'all'` when the log
   * no longer reaches back that far (the caller then compares everything).
   */
  changedSince(typeUrl: string, revision: number): readonly string[] | 'all' {
    const t = this.#types.get(typeUrl);
    if (t === undefined || t.revision <= revision) return [];
    if (revision < t.compactedThrough) return 'all';
    const from = firstAfter(t.logRevisions, revision);
    return t.logNames.slice(from);
  }

  /** The type's full content at the current revision, framed in chunks (memoised). */
  snapshot(typeUrl: string, maxBytes: number): TypeSnapshot {
    const revision = this.typeRevision(typeUrl);
    const key = `${typeUrl} ${maxBytes}`;
    const memo = this.#snapshots.get(key);
    if (memo !== undefined && memo.revision === revision) return memo;
    const chunks: SnapshotChunk[] = [];
    const versions = new Map<string, string>();
    let parts: Uint8Array[] = [];
    let names: string[] = [];
    let bytes = 0;
    const cut = () => {
      chunks.push({ block: encodeDeltaResourceBlock(parts), count: parts.length, names });
      parts = [];
      names = [];
      bytes = 0;
    };
    for (const r of this.entries(typeUrl).values()) {
      const d = r.deltaResource;
      if (parts.length > 0 && bytes + d.length > maxBytes) cut();
      parts.push(d);
      names.push(r.name);
      bytes += d.length;
      versions.set(r.name, r.version);
    }
    if (parts.length > 0) cut();
    const snap: TypeSnapshot = { typeUrl, revision, chunks, versions };
    this.#snapshots.set(key, snap);
    return snap;
  }

  onChange(listener: CacheListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #type(typeUrl: string): TypeEntries {
    let t = this.#types.get(typeUrl);
    if (t === undefined) {
      t = { resources: new Map(), revision: 0, logNames: [], logRevisions: [], compactedThrough: 0 };
      this.#types.set(typeUrl, t);
    }
    return t;
  }

  #log(t: TypeEntries, name: string, revision: number): void {
    t.logNames.push(name);
    t.logRevisions.push(revision);
  }

  #compact(t: TypeEntries): void {
    const limit = Math.max(this.#minLog, 2 * t.resources.size);
    if (t.logNames.length <= limit) return;
    // Drop whole revisions only, so changedSince never returns half a batch.
    let cut = t.logNames.length - Math.floor(limit / 2);
    const rev = t.logRevisions[cut - 1] as number;
    while (cut < t.logRevisions.length && t.logRevisions[cut] === rev) cut++;
    t.compactedThrough = rev;
    t.logNames.splice(0, cut);
    t.logRevisions.splice(0, cut);
  }
}

const EMPTY: ReadonlyMap<string, CachedResource> = new Map();

/** Index of the first entry greater than `revision` (ascending array). */
function firstAfter(revisions: readonly number[], revision: number): number {
  let lo = 0;
  let hi = revisions.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((revisions[mid] as number) <= revision) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function countFrom(revisions: readonly number[], revision: number): number {
  return revisions.length - firstAfter(revisions, revision - 1);
}

/** One response's worth of a type's resources, framed once and shared by every stream. */
export interface SnapshotChunk {
  block: Uint8Array;
  count: number;
  names: readonly string[];
  /** The last response framed around this chunk (streams that send it with the same header share it). */
  framed?: { version: string; nonce: string; bytes: Uint8Array };
}

/**
 * A whole type at one revision, cut into chunks of at most ~maxBytes: what a fresh wildcard
 * subscriber with no filter receives. Built once per (type, revision, size) and shared.
 */
export interface TypeSnapshot {
  typeUrl: string;
  revision: number;
  chunks: SnapshotChunk[];
  /** name -> version of every resource in the snapshot (read-only). */
  versions: ReadonlyMap<string, string>;
}
