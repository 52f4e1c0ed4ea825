// Endpoint choice for one request. Pure apart from the small per-cluster cursor: randomness is
// injected, so every policy is testable with a table.
import type { LoadBalancerPolicy } from '@weft/policy';

export interface LbCandidate {
  /** "ip:port", unique within a cluster. */
  readonly address: string;
  /** Requests in flight to this endpoint (least-request). */
  readonly active: number;
}

export interface LbState {
  /** Round-robin cursor. */
  next: number;
  /** Ring cache for consistent hashing, rebuilt when the endpoint set changes. */
  ring: HashRing | undefined;
}

export interface HashRing {
  /** Addresses the ring was built for, joined (cache key). */
  readonly id: string;
  readonly hashes: Uint32Array;
  /** Index into the candidate list per ring point. */
  readonly owners: readonly string[];
}

export function newLbState(): LbState {
  return { next: 0, ring: undefined };
}

/** 32-bit FNV-1a over UTF-16 code units; good enough spread for a ring, cheap, no dependency. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche (murmur3 fmix32): FNV alone clusters similar keys
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export const DEFAULT_RING_SIZE = 1024;

export function buildRing(addresses: readonly string[], minimumRingSize = DEFAULT_RING_SIZE): HashRing {
  const sorted = [...addresses].sort();
  const perHost = Math.max(1, Math.ceil(minimumRingSize / Math.max(1, sorted.length)));
  const points: { h: number; a: string }[] = [];
  for (const a of sorted) for (let i = 0; i < perHost; i++) points.push({ h: hash32(`${a}_${i}`), a });
  points.sort((x, y) => x.h - y.h || (x.a < y.a ? -1 : 1));
  return {
    id: sorted.join(','),
    hashes: Uint32Array.from(points.map((p) => p.h)),
    owners: points.map((p) => p.a),
  };
}

/** The ring owner of a key: the first point at or after its hash, wrapping around. */
export function ringLookup(ring: HashRing, key: string): string | undefined {
  const n = ring.hashes.length;
  if (n === 0) return undefined;
  const h = hash32(key);
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ring.hashes[mid] as number) < h) lo = mid + 1;
    else hi = mid;
  }
  return ring.owners[lo === n ? 0 : lo];
}

export interface PickInput {
  /** Consistent-hash key, when the policy hashes and the request carries one. */
  readonly hashKey?: string | undefined;
}

/**
 * Picks one candidate. Round robin walks a cursor; random draws; least-request compares two
 * random choices (power of two choices, as Envoy); consistent hash looks the key up on a ring
 * (no key: random). Candidates must be non-empty for a result.
 */
export function pickEndpoint<C extends LbCandidate>(
  policy: LoadBalancerPolicy | undefined,
  candidates: readonly C[],
  state: LbState,
  random: () => number,
  input: PickInput = {},
): C | undefined {
  const n = candidates.length;
  if (n === 0) return undefined;
  if (n === 1) return candidates[0];
  const rnd = (k: number) => Math.min(k - 1, Math.floor(random() * k));
  const type = policy?.type ?? 'round-robin';
  switch (type) {
    case 'round-robin':
    case 'passthrough': {
      const c = candidates[state.next % n];
      state.next = (state.next + 1) % 1_000_000_007;
      return c;
    }
    case 'random':
      return candidates[rnd(n)];
    case 'least-request': {
      const i = rnd(n);
      let j = rnd(n - 1);
      if (j >= i) j++;
      const a = candidates[i] as C;
      const b = candidates[j] as C;
      return b.active < a.active ? b : a;
    }
    case 'consistent-hash': {
      if (input.hashKey === undefined) return candidates[rnd(n)];
      const id = candidates
        .map((c) => c.address)
        .sort()
        .join(',');
      let ring = state.ring;
      if (ring === undefined || ring.id !== id) {
        const minimum = policy?.type === 'consistent-hash' ? policy.minimumRingSize : undefined;
        ring = buildRing(
          candidates.map((c) => c.address),
          minimum,
        );
        state.ring = ring;
      }
      const owner = ringLookup(ring, input.hashKey);
      return candidates.find((c) => c.address === owner) ?? candidates[0];
    }
    default: {
      const never: never = type;
      return never;
    }
  }
}
