// Request headers as the peer sent them. Runtimes hand listeners a convenience object that joins
// a repeated field into one comma-separated string (node, Bun), so a DENY on one value could be
// dodged by sending the field twice; the evaluator has the right rule for repeated values and
// gets them only from here: one entry per field line, in order, names lower-cased.
import type { Headers } from '../http/message.ts';

export type RawHeadersResult =
  | { readonly ok: true; readonly headers: Headers }
  | { readonly ok: false; readonly field: string; readonly reason: string };

// RFC 9110 token characters, by char code.
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TOKEN_CHARS[c.charCodeAt(0)] = 1;

// A peer names the fields: `__proto__` or `constructor` must be fields like any other, never
// the object's prototype or its constructor (reading them crashed the listener).
function appendField(out: Headers, name: string, value: string): void {
  const prev = Object.hasOwn(out, name) ? out[name] : undefined;
  const next = prev === undefined ? value : typeof prev === 'string' ? [prev, value] : [...prev, value];
  Object.defineProperty(out, name, { value: next, enumerable: true, writable: true, configurable: true });
}

/**
 * HTTP/1.1: `rawHeaders` from node's parser ([name, value, ...], already checked for framing).
 * Every field line becomes one value; a repeated field an array, never a joined string.
 */
export function headersFromHttp1(rawHeaders: readonly string[]): Headers {
  const out: Headers = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    appendField(out, (rawHeaders[i] as string).toLowerCase(), rawHeaders[i + 1] as string);
  return out;
}

/**
 * HTTP/2: the raw field list of a HEADERS block. Pseudo-headers are skipped (the listener reads
 * them); a name that is not a lower-case token or a value with leading or trailing whitespace
 * makes the request malformed (RFC 9113 section 8.2.1): the caller resets the stream with
 * PROTOCOL_ERROR. `cookie` crumbs are joined with "; " (section 8.2.3).
 */
export function headersFromHttp2(rawHeaders: readonly string[]): RawHeadersResult {
  const out: Headers = {};
  let cookies: string[] | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    const bad = invalidName(name) ?? invalidValue(value);
    if (bad !== undefined) return { ok: false, field: name, reason: bad };
    if (name !== 'cookie') appendField(out, name, value);
    else if (cookies === undefined) cookies = [value];
    else cookies.push(value);
  }
  if (cookies !== undefined) out.cookie = cookies.join('; ');
  return { ok: true, headers: out };
}

function invalidName(name: string): string | undefined {
  if (name.length === 0) return 'empty field name';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return 'upper-case field name';
    if (c >= 128 || TOKEN_CHARS[c] !== 1) return 'invalid character in field name';
  }
  return undefined;
}

function invalidValue(value: string): string | undefined {
  const n = value.length;
  if (n === 0) return undefined;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 32 || first === 9 || last === 32 || last === 9)
    return 'leading or trailing whitespace in field value';
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 10 || c === 13) return 'CR, LF or NUL in field value';
  }
  return undefined;
}
