// The two addresses an HBONE request carries: the `:authority` (where the tunnel goes) and the
// RFC 7239 `Forwarded: for=` element (who originally opened the connection). Both are parsed
// strictly: IP literals only, no host names, no zone ids, canonical form out (so policy sees one
// spelling of each address).
import { normalizeIp } from '@weft/policy/runtime';

/** An IP address (canonical text, IPv6 without brackets) and a TCP port. */
export interface SocketAddress {
  readonly ip: string;
  readonly port: number;
}

export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };

const PORT = /^[1-9][0-9]{0,4}$/;
const MAX_AUTHORITY = 64;

/** Parses `ip:port` or `[ipv6]:port`; the port is 1..65535 without leading zeros. */
export function parseAuthority(authority: string | undefined): ParseResult<SocketAddress> {
  if (authority === undefined || authority === '') return fail('missing :authority');
  if (authority.length > MAX_AUTHORITY) return fail(':authority is too long');
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0 || authority[close + 1] !== ':') {
      return fail(`:authority "${clip(authority)}" is not [ipv6]:port`);
    }
    host = authority.slice(1, close);
    portText = authority.slice(close + 2);
    if (!host.includes(':'))
      return fail(`:authority "${clip(authority)}" has a non-IPv6 address in brackets`);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon < 0) return fail(`:authority "${clip(authority)}" has no port`);
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
    if (host.includes(':')) return fail(`:authority "${clip(authority)}": IPv6 addresses need brackets`);
  }
  const port = parsePort(portText);
  if (port === undefined) return fail(`:authority "${clip(authority)}" has an invalid port`);
  const ip = parseIpLiteral(host);
  if (ip === undefined) return fail(`:authority "${clip(authority)}" is not an IP address and port`);
  return { ok: true, value: { ip, port } };
}

/** `1.2.3.4:80` or `[2001:db8::1]:80`. */
export function formatAuthority(addr: SocketAddress): string {
  return addr.ip.includes(':') ? `[${addr.ip}]:${addr.port}` : `${addr.ip}:${addr.port}`;
}

/** Validates and canonicalizes a caller-supplied address; undefined if it is not one. */
export function normalizeSocketAddress(addr: SocketAddress): SocketAddress | undefined {
  if (!Number.isInteger(addr.port) || addr.port < 1 || addr.port > 65535) return undefined;
  const ip = parseIpLiteral(addr.ip);
  return ip === undefined ? undefined : { ip, port: addr.port };
}

/** Canonical IP text, or undefined for anything but a bare IPv4/IPv6 literal (no zone id). */
export function parseIpLiteral(text: string): string | undefined {
  if (text === '' || text.includes('%') || text.includes('[')) return undefined;
  return normalizeIp(text);
}

function parsePort(text: string): number | undefined {
  if (!PORT.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

// --- Forwarded (RFC 7239) ---

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_FORWARDED = 1024;

/**
 * Reads the original client address from a `Forwarded` header: the `for=` of the first element
 * (the one the first proxy wrote). `unknown` and obfuscated identifiers give `undefined`; a
 * header that breaks RFC 7239 syntax, or a `for=` that is neither an IP nor one of those, is an error.
 */
export function parseForwardedFor(header: string | undefined): ParseResult<string | undefined> {
  if (header === undefined) return { ok: true, value: undefined };
  if (header.length > MAX_FORWARDED) return fail('Forwarded header is too long');
  const elements = splitOutsideQuotes(header, ',');
  if (elements === undefined) return fail('Forwarded header has an unterminated quoted string');
  let first: string | undefined | null = null;
  for (const element of elements) {
    const pairs = splitOutsideQuotes(element, ';');
    if (pairs === undefined) return fail('Forwarded header has an unterminated quoted string');
    const seen = new Set<string>();
    let forValue: string | undefined;
    for (const rawPair of pairs) {
      const pair = rawPair.trim();
      if (pair === '' && pairs.length === 1) break; // empty list element, allowed by #rule
      const eq = pair.indexOf('=');
      if (eq <= 0) return fail(`Forwarded pair "${clip(pair)}" is not token=value`);
      const name = pair.slice(0, eq).toLowerCase();
      if (!TOKEN.test(name)) return fail(`Forwarded parameter "${clip(name)}" is not a token`);
      if (seen.has(name)) return fail(`Forwarded parameter "${name}" repeats in one element`);
      seen.add(name);
      const value = unquote(pair.slice(eq + 1));
      if (value === undefined) return fail(`Forwarded value for "${name}" is malformed`);
      if (name === 'for') forValue = value;
    }
    if (first === null) {
      if (forValue === undefined) first = undefined;
      else {
        const ip = parseForNode(forValue);
        if (ip === null) return fail(`Forwarded for="${clip(forValue)}" is not an IP address`);
        first = ip;
      }
    }
  }
  return { ok: true, value: first ?? undefined };
}

/** `for=1.2.3.4` or `for="[2001:db8::1]"` (IPv6 must be quoted: ':' is not a token character). */
export function formatForwardedFor(ip: string): string {
  return ip.includes(':') ? `for="[${ip}]"` : `for=${ip}`;
}

// node = nodename [ ":" node-port ]; nodename = IPv4 / "[" IPv6 "]" / "unknown" / obfnode.
// Returns the canonical IP, undefined for unknown/obfuscated, null if invalid.
function parseForNode(node: string): string | undefined | null {
  let name = node;
  let port: string | undefined;
  if (node.startsWith('[')) {
    const close = node.indexOf(']');
    if (close < 0) return null;
    name = node.slice(1, close);
    const rest = node.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return null;
      port = rest.slice(1);
    }
    if (!name.includes(':')) return null;
  } else {
    const colon = node.indexOf(':');
    if (colon >= 0) {
      name = node.slice(0, colon);
      port = node.slice(colon + 1);
    }
  }
  if (port !== undefined && !/^([0-9]{1,5}|_[A-Za-z0-9._-]+)$/.test(port)) return null;
  if (name === 'unknown' || /^_[A-Za-z0-9._-]+$/.test(name)) return undefined;
  if (!node.startsWith('[') && name.includes(':')) return null;
  return parseIpLiteral(name) ?? null;
}

function unquote(value: string): string | undefined {
  if (!value.startsWith('"')) return TOKEN.test(value) ? value : undefined;
  if (value.length < 2 || !value.endsWith('"')) return undefined;
  let out = '';
  for (let i = 1; i < value.length - 1; i++) {
    let c = value[i] as string;
    if (c === '\\') {
      i++;
      if (i >= value.length - 1) return undefined;
      c = value[i] as string;
    } else if (c === '"') return undefined;
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) return undefined;
    out += c;
  }
  return out;
}

function splitOutsideQuotes(text: string, sep: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return undefined;
  parts.push(text.slice(start));
  return parts;
}

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}

/** Shortens untrusted text before it goes into a message. */
export function clip(text: string, max = 80): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > max ? `${printable.slice(0, max)}...` : printable;
}
