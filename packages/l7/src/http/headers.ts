// Header helpers shared by listeners, filters and the router.
import type { HeaderModifier } from '@weft/policy';
import type { Headers } from './message.ts';

/**
 * Connection-specific headers (RFC 9110 section 7.6.1) never forwarded by a proxy, plus the ones
 * HTTP/2 forbids. `te: trailers` is the one exception, kept for gRPC over HTTP/2.
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
]);

/** The first value of a header. */
export function first(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return v === undefined ? undefined : typeof v === 'string' ? v : v[0];
}

/**
 * Copies the headers a proxy forwards: drops hop-by-hop ones and those the `Connection` header
 * names. `te: trailers` survives when `keepTeTrailers` (HTTP/2 upstreams, gRPC).
 */
export function forwardable(headers: Headers, keepTeTrailers = false): Headers {
  // No prototype: a field a peer named `__proto__` is copied as a field, not lost as a prototype.
  const out: Headers = Object.create(null);
  const conn = headers.connection;
  let named: Set<string> | undefined;
  if (conn !== undefined) {
    named = new Set();
    for (const v of typeof conn === 'string' ? [conn] : conn)
      for (const t of v.split(',')) {
        const n = t.trim().toLowerCase();
        if (n !== '') named.add(n);
      }
  }
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te' && keepTeTrailers && isTeTrailers(v)) out.te = 'trailers';
      continue;
    }
    if (named?.has(name)) continue;
    out[name] = v;
  }
  return out;
}

function isTeTrailers(v: string | string[]): boolean {
  const s = typeof v === 'string' ? v : v.join(',');
  return s
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .includes('trailers');
}

/** Applies a route model header modifier in place: remove, then set, then add (Gateway API order). */
export function applyHeaderModifier(headers: Headers, m: HeaderModifier | undefined): void {
  if (m === undefined) return;
  if (m.remove) for (const name of m.remove) delete headers[name.toLowerCase()];
  // values come from config: one with CR, LF or NUL would split a header line, so it is skipped
  if (m.set) for (const h of m.set) if (isValidHeaderValue(h.value)) headers[h.name.toLowerCase()] = h.value;
  if (m.add)
    for (const h of m.add) {
      if (!isValidHeaderValue(h.value)) continue;
      const name = h.name.toLowerCase();
      const prev = headers[name];
      headers[name] =
        prev === undefined ? h.value : typeof prev === 'string' ? [prev, h.value] : [...prev, h.value];
    }
}

/** Header names a modifier may never touch: they would change framing or routing identity. */
export const PROTECTED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
]);

/** Whether a value is a legal field value (no CR, LF or NUL; RFC 9110 section 5.5). */
export function isValidHeaderValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13 || c > 0xff) return false;
  }
  return true;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** Whether a name is a legal lower-case field name (RFC 9110 token). */
export function isValidHeaderName(n: string): boolean {
  return TOKEN.test(n);
}
