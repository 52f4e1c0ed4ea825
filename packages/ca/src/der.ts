// Minimal DER reader: finds the exact bytes of nested TLVs, so signatures are checked over the
// bytes that were signed (not over a re-encoding) and issuer names are copied byte for byte.

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

/** Reads the TLV at `offset`; throws RangeError on truncated or non-minimal input. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new RangeError('truncated DER');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('multi-byte DER tags are not supported');
  let lenByte = buf[offset + 1] as number;
  let pos = offset + 2;
  let length: number;
  if (lenByte < 0x80) {
    length = lenByte;
  } else {
    lenByte &= 0x7f;
    if (lenByte === 0 || lenByte > 4) throw new RangeError('unsupported DER length');
    if (pos + lenByte > limit) throw new RangeError('truncated DER');
    length = 0;
    for (let i = 0; i < lenByte; i++) length = length * 256 + (buf[pos + i] as number);
    pos += lenByte;
  }
  if (pos + length > limit) throw new RangeError('truncated DER');
  return { tag, start: offset, contentStart: pos, end: pos + length };
}

/** The TLVs directly inside a constructed TLV. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const child = readTlv(buf, pos, parent.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

/**
 * Whether `buf` is exactly one TLV whose every length (recursively through constructed TLVs) is
 * in its shortest form, so decoding and re-encoding gives the same bytes. BER leniencies (long
 * form for short lengths, leading zero length bytes) make it false.
 */
export function isMinimalDer(buf: Uint8Array, offset = 0, limit = buf.length): boolean {
  try {
    let pos = offset;
    while (pos < limit) {
      const tlv = readTlv(buf, pos, limit);
      const headerLength = tlv.contentStart - tlv.start;
      if (headerLength !== 1 + encodeLength(tlv.end - tlv.contentStart).length) return false;
      if ((tlv.tag & 0x20) !== 0 && !isMinimalDer(buf, tlv.contentStart, tlv.end)) return false;
      pos = tlv.end;
      if (offset === 0 && limit === buf.length && pos !== limit) return false;
    }
    return true;
  } catch {
    return false;
  }
}

export function slice(buf: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + tlv.start, tlv.end - tlv.start);
}

/** Encodes a DER length prefix. */
export function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function encodeTlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** All PEM blocks of `label` in `text`, as DER. */
export function pemBlocks(text: string, label: string): Buffer[] {
  const out: Buffer[] = [];
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, 'g');
  for (const m of text.matchAll(re)) out.push(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
  return out;
}

/** Splits a PEM bundle into single-certificate PEM strings. */
export function splitPemCertificates(text: string): string[] {
  return pemBlocks(text, 'CERTIFICATE').map((der) => derToPem(der, 'CERTIFICATE'));
}
