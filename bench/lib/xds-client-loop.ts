// One delta client's own work on a full sync, without sockets: the responses a fresh wildcard
// Workload subscriber receives (the server's shared snapshot chunks, framed as it frames them)
// go through exactly what the client runs per response: `decodeDeltaResponse` (the gRPC
// deserializer's reader), `readDeltaResponse` (decode + validate every resource in place,
// record its version) and a handler's `applyUpdate` that keeps every value in a Map, as a
// proxy's store does. Each round is a new client (empty versions, a fresh string table, an
// empty store), so nothing decoded in one round helps the next; the previous round's store is
// garbage that the runtime collects when it decides to, as in a running process.

import {
  decodeDeltaResponse,
  type ResourceCache,
  type ResourceTypeConfig,
  readDeltaResponse,
  type UpdateBatch,
  weftResourceType,
} from '@weft/xds-protocol';
import { median } from './runtime.ts';

/** The `DeltaDiscoveryResponse` bytes of one full sync of `typeUrl`, as the server frames them. */
export function fullSyncResponses(
  cache: ResourceCache,
  typeUrl: string,
  maxResponseBytes: number,
): Uint8Array[] {
  const snap = cache.snapshot(typeUrl, maxResponseBytes);
  const header = (nonce: number) => {
    // system_version_info = 1, type_url = 4, nonce = 5 (what the server writes before a chunk).
    const enc = new TextEncoder();
    const parts: number[] = [];
    const field = (no: number, s: string) => {
      const b = enc.encode(s);
      if (b.length > 127) throw new Error(`fullSyncResponses: ${s} does not fit a one-byte length`);
      parts.push((no << 3) | 2, b.length, ...b);
    };
    field(1, String(cache.revision));
    field(4, typeUrl);
    field(5, String(nonce));
    return Uint8Array.from(parts);
  };
  return snap.chunks.map((c, i) => {
    const h = header(i + 1);
    const out = new Uint8Array(h.length + c.block.length);
    out.set(h, 0);
    out.set(c.block, h.length);
    return out;
  });
}

export interface ClientLoopResult {
  resources: number;
  rounds: number;
  /**
   * Median over rounds of CPU time per resource, µs: user + system time of the whole process
   * (the loop's thread and V8's GC helpers), which other processes on the machine do not
   * inflate. Run it while the process does nothing else.
   */
  cpuUsPerResource: number;
  /** Median over rounds of wall time per resource, µs (inflated when the cores are shared). */
  wallUsPerResource: number;
  /** Every round's CPU figure, µs per resource. */
  perRound: number[];
}

/**
 * Runs `rounds` fresh clients (each with its own `makeConfig()`) through the full sync; the first
 * `warmup` rounds are not counted.
 */
export function clientLoop(
  responses: readonly Uint8Array[],
  rounds: number,
  makeConfig: () => ResourceTypeConfig = () => weftResourceType('workload'),
  warmup = 2,
): ClientLoopResult {
  const perRound: number[] = [];
  const wall: number[] = [];
  let resources = 0;
  for (let round = 0; round < warmup + rounds; round++) {
    const config = makeConfig();
    const versions = new Map<string, string>();
    const store = new Map<string, unknown>();
    const apply = (batch: UpdateBatch) => {
      for (const u of batch.upserts) store.set(u.name, u.value);
      for (const name of batch.removals) store.delete(name);
    };
    let n = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const bytes of responses) {
      const batch = readDeltaResponse(config, versions, decodeDeltaResponse(bytes));
      if (batch.rejected.length > 0) throw new Error(`client loop: rejected ${batch.rejected[0]?.error}`);
      apply(batch);
      n += batch.upserts.length;
    }
    const c = process.cpuUsage(c0);
    if (round >= warmup) {
      perRound.push((c.user + c.system) / n);
      wall.push(((performance.now() - t0) * 1000) / n);
    }
    resources = n;
  }
  return {
    resources,
    rounds,
    cpuUsPerResource: median(perRound),
    wallUsPerResource: median(wall),
    perRound,
  };
}
