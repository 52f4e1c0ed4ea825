/**
 * name -> version a client holds. It may sit on a shared read-only base (the snapshot a fresh
 * subscriber was sent), so a thousand clients that received the same snapshot share one map and
 * each keeps only its own later differences.
 */
export class KnownVersions {
  #base: ReadonlyMap<string, string> | undefined;
  /** Differences from the base; `undefined` marks a base entry the client no longer holds. */
  #overlay = new Map<string, string | undefined>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(name: string): string | undefined {
    const o = this.#overlay.get(name);
    if (o !== undefined || this.#overlay.has(name)) return o;
    return this.#base?.get(name);
  }

  set(name: string, version: string): void {
    if (this.get(name) === undefined) this.#size++;
    this.#overlay.set(name, version);
  }

  delete(name: string): boolean {
    if (this.get(name) === undefined) return false;
    this.#size--;
    if (this.#base?.has(name)) this.#overlay.set(name, undefined);
    else this.#overlay.delete(name);
    return true;
  }

  *keys(): IterableIterator<string> {
    if (this.#base !== undefined) {
      for (const k of this.#base.keys()) if (!this.#overlay.has(k)) yield k;
    }
    for (const [k, v] of this.#overlay) if (v !== undefined) yield k;
  }

  /** Replaces everything with `base` (shared, never mutated here). */
  adopt(base: ReadonlyMap<string, string>): void {
    this.#base = base;
    this.#overlay = new Map();
    this.#size = base.size;
  }
}
