// Where the waypoint's config comes from. The store has one writer interface (applyUpdate); a
// ConfigSource is whoever calls it: a static snapshot (tests, the manifest loader), or the delta
// xDS client once its weft.v1 -> domain conversion is wired in (see README).

import { applyUpdate, batchFromSnapshot, type StateBatch, type StateStore } from '@weft/l7';
import type { MeshSnapshot } from '@weft/policy';

export interface ConfigSource {
  /** Shown in the config dump. */
  readonly name: string;
  /** Starts writing to the store. */
  start(store: StateStore): void;
  stop(): void;
}

/** Applies one snapshot (or batch) when started. */
export function staticConfigSource(input: MeshSnapshot | StateBatch, name = 'static'): ConfigSource {
  return {
    name,
    start(store) {
      const batch =
        'workloads' in input && 'trustDomain' in input
          ? batchFromSnapshot(input as MeshSnapshot)
          : (input as StateBatch);
      applyUpdate(store, batch);
    },
    stop() {},
  };
}
