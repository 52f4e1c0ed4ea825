import type { ChangeBatch, KubeObject, ObjectChange } from './types.ts';

/** What readers (compile loop, admin config dump) get: no way to write. */
export interface ObjectStoreView {
  /** bumps once per `apply` that changed anything; starts at 0 */
  readonly generation: number;
  readonly size: number;
  get(key: string): KubeObject | undefined;
  /** every object, sorted by key; the same frozen array until the next change */
  objects(): readonly KubeObject[];
}

export interface ApplyResult {
  readonly changed: boolean;
  readonly generation: number;
  readonly added: number;
  readonly updated: number;
  readonly deleted: number;
}

/**
 * The current objects of a source, written by exactly one writer (the loop that consumes the
 * source's events) through `apply`. `add` of a known key acts as an update and `update` of an
 * unknown key as an add, so replays are harmless; `delete` of an unknown key is a no-op.
 */
export class ObjectStore implements ObjectStoreView {
  private readonly byKey = new Map<string, KubeObject>();
  private gen = 0;
  private cache: readonly KubeObject[] | undefined = Object.freeze([]);

  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): KubeObject | undefined {
    return this.byKey.get(key);
  }

  objects(): readonly KubeObject[] {
    if (this.cache === undefined) {
      const keys = [...this.byKey.keys()].sort();
      this.cache = Object.freeze(keys.map((k) => this.byKey.get(k) as KubeObject));
    }
    return this.cache;
  }

  apply(batch: ChangeBatch | readonly ObjectChange[]): ApplyResult {
    const changes = 'changes' in batch ? batch.changes : batch;
    let added = 0;
    let updated = 0;
    let deleted = 0;
    for (const change of changes) {
      switch (change.type) {
        case 'add':
        case 'update': {
          const previous = this.byKey.get(change.key);
          if (previous === change.object) break;
          this.byKey.set(change.key, change.object);
          if (previous === undefined) added++;
          else updated++;
          break;
        }
        case 'delete':
          if (this.byKey.delete(change.key)) deleted++;
          break;
        default:
          assertNever(change);
      }
    }
    const changed = added + updated + deleted > 0;
    if (changed) {
      this.gen++;
      this.cache = undefined;
    }
    return { changed, generation: this.gen, added, updated, deleted };
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected change ${JSON.stringify(value)}`);
}
