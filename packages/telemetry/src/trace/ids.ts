// Random identifiers for trace context: 128-bit trace ids, 64-bit span ids, UUID v4 request ids.
// Web Crypto (globalThis.crypto) exists on Node 20 and Bun. A proxy makes a span id per request,
// so random bytes are drawn from a pooled buffer refilled 4 KiB at a time instead of one
// getRandomValues call per id.

/** Where new ids come from: the default is crypto-random; tests inject a deterministic one. */
export interface IdSource {
  /** 32 lowercase hex chars, not all zero. */
  traceId(): string;
  /** 16 lowercase hex chars, not all zero. */
  spanId(): string;
  /** A UUID v4 string for x-request-id. */
  requestId(): string;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL_SIZE = 4096;
const pool = new Uint8Array(POOL_SIZE);
let poolOffset = POOL_SIZE;

function hexBytes(n: number): string {
  if (poolOffset + n > POOL_SIZE) {
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  let out = '';
  for (let i = 0; i < n; i++) out += HEX[pool[poolOffset + i] as number];
  poolOffset += n;
  return out;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The default id source: cryptographically random. */
export const randomIds: IdSource = {
  traceId(): string {
    let id = hexBytes(16);
    while (id === ZERO_TRACE) id = hexBytes(16);
    return id;
  },
  spanId(): string {
    let id = hexBytes(8);
    while (id === ZERO_SPAN) id = hexBytes(8);
    return id;
  },
  requestId(): string {
    return globalThis.crypto.randomUUID();
  },
};

/** Whether `s` is exactly `len` lowercase hex digits. */
export function isLowerHex(s: string, len: number): boolean {
  if (s.length !== len) return false;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Whether a hex id is all zeros (invalid as a trace or span id everywhere). */
export function isZeroId(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 0x30) return false;
  return true;
}
