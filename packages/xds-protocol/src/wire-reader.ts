// A lean protobuf reader for the client's hot path: a full sync is millions of small resources,
// and the generated decoders pay per resource for a BinaryReader (with a DataView), a view per
// message and an array per string. This reader works in place on the response buffer between
// `pos` and `end`, with the same varint, bounds and skip rules as @bufbuild/protobuf's
// BinaryReader (a malformed input throws where that reader throws), and reads short ASCII
// strings through a per-client table so the values repeated across resources (namespaces,
// nodes, label keys) are not built again for every resource.

/** Strings longer than this are never looked up in a StringTable. */
const MAX_INTERNED = 64;

// @bufbuild/protobuf decodes non-ASCII strings with this decoder (a leading U+FEFF is text).
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

type SliceFn = (this: Uint8Array, start: number, end: number) => string;
// Node and Bun expose Buffer's native latin1 slice; on ASCII bytes it is exact and the fastest
// way to build a string from a byte range. Elsewhere: one code unit per byte.
const latin1Slice: SliceFn | undefined = (globalThis as { Buffer?: { prototype: { latin1Slice?: SliceFn } } })
  .Buffer?.prototype.latin1Slice;

function asciiString(buf: Uint8Array, start: number, end: number): string {
  if (latin1Slice !== undefined) return latin1Slice.call(buf, start, end);
  return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
}

/** Decodes UTF-8 bytes exactly as @bufbuild/protobuf's non-strict `string()` does. */
export function utf8String(buf: Uint8Array, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if ((buf[i] as number) > 0x7f) return utf8.decode(buf.subarray(start, end));
  }
  return asciiString(buf, start, end);
}

/**
 * A fixed-size table of recently decoded short ASCII strings, keyed by their bytes. One per
 * client (per type config), so clients never share what they decoded; a miss costs one hash of
 * the bytes, a hit saves building the string and the garbage it leaves.
 */
export class StringTable {
  private readonly slots: Array<string | undefined>;
  private readonly mask: number;

  /** `size` is rounded up to a power of two. */
  constructor(size = 4096) {
    let n = 16;
    while (n < size) n *= 2;
    this.slots = new Array<string | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }

  /** The string of `buf[start, end)` (UTF-8), from the table when it holds it. */
  get(buf: Uint8Array, start: number, end: number): string {
    const len = end - start;
    if (len > MAX_INTERNED) return utf8String(buf, start, end);
    if (len < 2) return len === 0 ? '' : utf8String(buf, start, end);
    // A few sampled bytes pick the slot; the comparison below decides. Strings that differ only
    // where the sample does not look share a slot and take turns (a miss, never a wrong hit).
    let h = Math.imul(len, 0x9e3779b1);
    h = Math.imul(h ^ (buf[end - 1] as number), 0x01000193);
    h = Math.imul(h ^ (buf[end - 2] as number), 0x01000193);
    h = Math.imul(h ^ (buf[start + (len >> 1)] as number), 0x01000193);
    h = Math.imul(h ^ (buf[start + (len >> 2)] as number), 0x01000193);
    h = Math.imul(h ^ (buf[start] as number), 0x01000193);
    const slot = (h ^ (h >>> 15)) & this.mask;
    const cached = this.slots[slot];
    // Cached strings are ASCII: equal code units mean equal bytes.
    if (cached !== undefined && bytesEqualString(buf, start, end, cached)) return cached;
    for (let i = start; i < end; i++) {
      if ((buf[i] as number) > 0x7f) return utf8.decode(buf.subarray(start, end));
    }
    const s = asciiString(buf, start, end);
    this.slots[slot] = s;
    return s;
  }
}

/** Whether `buf[start, end)` holds exactly the ASCII text of `s`. */
export function bytesEqualString(buf: Uint8Array, start: number, end: number, s: string): boolean {
  if (end - start !== s.length) return false;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== buf[start + i]) return false;
  }
  return true;
}

/**
 * Reads protobuf wire data in `buf[pos, end)`. Semantics follow @bufbuild/protobuf's
 * BinaryReader over `buf.subarray(pos, end)`: reading past `end` throws "premature EOF".
 */
export class WireReader {
  buf: Uint8Array;
  pos: number;
  end: number;
  readonly strings: StringTable | undefined;

  constructor(buf: Uint8Array, pos: number, end: number, strings?: StringTable) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.strings = strings;
  }

  assertBounds(): void {
    if (this.pos > this.end) throw new RangeError('premature EOF');
  }

  /** An unsigned 32-bit varint (tags, lengths, uint32 and enum fields). */
  uint32(): number {
    const buf = this.buf;
    let b = buf[this.pos++] as number;
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return b;
    }
    let result = b & 0x7f;
    b = buf[this.pos++] as number;
    result |= (b & 0x7f) << 7;
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return result;
    }
    b = buf[this.pos++] as number;
    result |= (b & 0x7f) << 14;
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return result;
    }
    b = buf[this.pos++] as number;
    result |= (b & 0x7f) << 21;
    if ((b & 0x80) === 0) {
      this.assertBounds();
      return result;
    }
    b = buf[this.pos++] as number;
    result |= (b & 0x0f) << 28;
    for (let read = 5; (b & 0x80) !== 0 && read < 10; read++) b = buf[this.pos++] as number;
    if ((b & 0x80) !== 0) throw new Error('invalid varint');
    this.assertBounds();
    return result >>> 0;
  }

  int32(): number {
    return this.uint32() | 0;
  }

  /** Start and end of a length-delimited field's payload; `pos` moves past it. */
  span(): number {
    const len = this.uint32();
    const start = this.pos;
    this.pos += len;
    this.assertBounds();
    return start;
  }

  /** A string field, built fresh (for values unique per resource: names, versions). */
  string(): string {
    const start = this.span();
    return utf8String(this.buf, start, this.pos);
  }

  /** A string field, through the reader's StringTable when it has one. */
  sharedString(): string {
    const start = this.span();
    const t = this.strings;
    return t === undefined ? utf8String(this.buf, start, this.pos) : t.get(this.buf, start, this.pos);
  }

  /** A bytes field: a view into the buffer. */
  bytes(): Uint8Array {
    const start = this.span();
    return this.buf.subarray(start, this.pos);
  }

  /**
   * A bytes field as its own small array: cheaper than a view for a few bytes (an IP address),
   * and it does not keep the whole response buffer alive for as long as the value lives.
   */
  ownBytes(): Uint8Array {
    const start = this.span();
    const len = this.pos - start;
    if (len > 64) return this.buf.slice(start, this.pos);
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = this.buf[start + i] as number;
    return out;
  }

  /** Skips one field of `wireType` (after its tag), as BinaryReader.skip does. */
  skip(wireType: number, fieldNo?: number, depth = 100): void {
    switch (wireType) {
      case 0:
        while ((this.buf[this.pos++] as number) & 0x80) {
          // the varint's continuation bytes
        }
        break;
      case 1:
        this.pos += 8;
        break;
      case 5:
        this.pos += 4;
        break;
      case 2: {
        const len = this.uint32();
        this.pos += len;
        break;
      }
      case 3:
        if (depth <= 0) throw new Error('maximum recursion depth reached');
        for (;;) {
          const [fn, wt] = this.tag();
          if (wt === 4) {
            if (fieldNo !== undefined && fn !== fieldNo) throw new Error('invalid end group tag');
            break;
          }
          this.skip(wt, fn, depth - 1);
        }
        break;
      default:
        throw new Error(`cant skip wire type ${wireType}`);
    }
    this.assertBounds();
  }

  /** A checked tag: field number and wire type (BinaryReader.tag). */
  tag(): [number, number] {
    const start = this.pos;
    const tag = this.uint32();
    const read = this.pos - start;
    if (read > 5 || (read === 5 && (this.buf[this.pos - 1] as number) > 0x0f)) {
      throw new Error('illegal tag: varint overflows uint32');
    }
    const fieldNo = tag >>> 3;
    const wireType = tag & 7;
    if (fieldNo <= 0 || wireType > 5)
      throw new Error(`illegal tag: field no ${fieldNo} wire type ${wireType}`);
    return [fieldNo, wireType];
  }
}
