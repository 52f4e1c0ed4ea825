// IP addresses and CIDR blocks for authorization rules.
//
// Hand-written on purpose: parsing is strict (dotted-quad IPv4 only, no octal, hex or
// shortened legacy forms that some libraries accept, because "010.0.0.1" must not silently
// mean 8.0.0.1 in a security rule) and IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a
// dual-stack socket reports) are matched as the IPv4 address they carry.

/** A parsed address: 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = Uint8Array;

export interface Cidr {
  readonly bytes: IpBytes;
  readonly prefix: number;
}

export function parseIPv4(text: string): IpBytes | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] ?? '';
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** An IPv6 address as a socket or URL reports it: `[...]` brackets and a `%zone` are dropped. */
export function parseIPv6(input: string): IpBytes | undefined {
  let text = input;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone); // scope ids do not take part in matching
  return parseIPv6Literal(text);
}

/** A bare IPv6 literal (RFC 4291 text form, RFC 3986 `IPv6address`): no brackets, no zone. */
function parseIPv6Literal(text: string): IpBytes | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups: number[] = [];
  const parseSide = (side: string, allowV4Tail: boolean): number[] | undefined => {
    if (side === '') return [];
    const items = side.split(':');
    const words: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i] ?? '';
      if (allowV4Tail && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIPv4(item);
        if (!v4) return undefined;
        words.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return undefined;
      words.push(Number.parseInt(item, 16));
    }
    return words;
  };
  if (halves.length === 2) {
    const head = parseSide(halves[0] ?? '', false);
    const tail = parseSide(halves[1] ?? '', true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = parseSide(text, true);
    if (all?.length !== 8) return undefined;
    groups.push(...all);
  }
  const out = new Uint8Array(16);
  groups.forEach((word, i) => {
    out[i * 2] = word >> 8;
    out[i * 2 + 1] = word & 0xff;
  });
  return out;
}

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 addresses come back as 4 bytes. */
export function parseIp(text: string): IpBytes | undefined {
  if (text.includes(':')) {
    const v6 = parseIPv6(text);
    return v6 && isV4Mapped(v6) ? v6.slice(12) : v6;
  }
  return parseIPv4(text);
}

function isV4Mapped(b: IpBytes): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

export function isIp(text: string): boolean {
  return parseIp(text) !== undefined;
}

/** Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a full-length prefix). */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const rawBytes = addr.includes(':') ? parseIPv6(addr) : parseIPv4(addr);
  if (!rawBytes) return undefined;
  let prefix = rawBytes.length * 8;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > rawBytes.length * 8) return undefined;
  }
  // ::ffff:10.0.0.0/104 is the IPv4 block 10.0.0.0/8.
  if (rawBytes.length === 16 && isV4Mapped(rawBytes) && prefix >= 96) {
    return { bytes: maskBytes(rawBytes.slice(12), prefix - 96), prefix: prefix - 96 };
  }
  return { bytes: maskBytes(rawBytes, prefix), prefix };
}

function maskBytes(bytes: IpBytes, prefix: number): IpBytes {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** The block in canonical text form ("10.0.0.0/8", "2001:db8::/32"). */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.bytes)}/${cidr.prefix}`;
}

export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // Longest run of zero words (length >= 2) becomes "::" (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * An address literal as wire formats carry it -> its bytes in network order: `10.0.0.1` -> 4
 * bytes, `fd00::1` -> 16 bytes. Stricter than `parseIp`: no brackets or zone, and an IPv4-mapped
 * address stays 16 bytes (the wire keeps what was sent). undefined when not an IP literal.
 */
export function ipToBytes(text: string): IpBytes | undefined {
  return text.includes(':') ? parseIPv6Literal(text) : parseIPv4(text);
}

/** 4 or 16 bytes -> canonical text (RFC 5952 for IPv6); undefined for other lengths. */
export function bytesToIp(bytes: Uint8Array): string | undefined {
  return bytes.length === 4 || bytes.length === 16 ? formatIp(bytes) : undefined;
}

/** Canonical text of an address (IPv4-mapped IPv6 shown as IPv4); undefined if invalid. */
export function normalizeIp(text: string): string | undefined {
  const bytes = parseIp(text);
  return bytes ? formatIp(bytes) : undefined;
}

/** Whether `ip` lies in `cidr`. Addresses of the other family never match. */
export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  if (cidr.bytes.length !== ip.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((ip[i] ?? 0) & mask) !== (cidr.bytes[i] ?? 0)) return false;
  }
  return true;
}
