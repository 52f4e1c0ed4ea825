// Request-target and Host normalization, applied before any path or host rule is matched.
// Every data plane calls these functions, so "/public/../admin" and "/admin" are the same path
// everywhere and an encoded trick is either decoded or rejected, never passed through as-is.

export interface NormalizePathOptions {
  /** Collapse runs of "/" into one ("//admin" -> "/admin"). Default true. */
  readonly mergeSlashes?: boolean;
  /**
   * What to do with %2F, %5C and a literal "\" in the path: `reject` (default) fails the
   * request; `decode` turns each into "/" before dot-segment removal and slash merging.
   */
  readonly escapedSlashes?: 'reject' | 'decode';
  /**
   * What to do with a literal ";" in the path (a path parameter, as in "/admin;x/y" or
   * "/..;/admin"): `reject` (default) fails the request, because servlet containers drop
   * ";..." from each segment before routing, so the backend would see a path ("/admin/y") that
   * the rules never saw; `keep` treats ";" as an ordinary character, for backends that do too.
   */
  readonly pathParameters?: 'reject' | 'keep';
  /** Longest accepted request target, in characters. Default 16384. */
  readonly maxLength?: number;
}

export type NormalizePathFailure =
  | 'empty'
  | 'too-long'
  | 'not-origin-form'
  | 'invalid-character'
  | 'invalid-percent-encoding'
  | 'control-character'
  | 'escaped-slash'
  | 'path-parameter';

export type NormalizedPath =
  | {
      readonly ok: true;
      /** Normalized path, starting with "/" (or exactly "*" for an asterisk-form target). */
      readonly path: string;
      /** Raw query without "?", undefined when the target had no "?". */
      readonly query: string | undefined;
      /** Fragment without "#", undefined when absent; never used for matching. */
      readonly fragment: string | undefined;
    }
  | { readonly ok: false; readonly code: NormalizePathFailure; readonly reason: string };

const DEFAULT_MAX_LENGTH = 16_384;
/** What the slow path of `normalizePath` may change: escapes, backslashes, parameters, "/.", "//". */
const ALREADY_NORMAL_SUSPECT = /[%\\;]|\/\.|\/\//;

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || // -
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x7e // ~
  );
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function fail(code: NormalizePathFailure, reason: string): NormalizedPath {
  return { ok: false, code, reason };
}

/**
 * Normalizes an HTTP request target (`:path`): strips the fragment, splits off the query,
 * decodes percent-encoded unreserved characters, rejects encoded control characters (%00..%1F,
 * %7F) and raw bytes outside printable ASCII, handles encoded slashes per option, merges
 * slashes and removes dot segments (RFC 3986 section 5.2.4). Percent-encodings that stay
 * encoded are upper-cased so that equal paths compare equal.
 */
export function normalizePath(raw: string, options: NormalizePathOptions = {}): NormalizedPath {
  const mergeSlashes = options.mergeSlashes ?? true;
  const decodeSlashes = (options.escapedSlashes ?? 'reject') === 'decode';
  const keepParameters = options.pathParameters === 'keep';
  if (raw.length === 0) return fail('empty', 'empty request path');
  if (raw.length > (options.maxLength ?? DEFAULT_MAX_LENGTH)) {
    return fail('too-long', `request path longer than ${options.maxLength ?? DEFAULT_MAX_LENGTH} characters`);
  }
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x20 || c === 0x7f)
      return fail('control-character', `control character 0x${c.toString(16)} in path`);
    if (c === 0x20 || c > 0x7e)
      return fail('invalid-character', `character ${JSON.stringify(raw[i])} must be percent-encoded`);
  }
  let target = raw;
  let fragment: string | undefined;
  const hash = target.indexOf('#');
  if (hash >= 0) {
    fragment = target.slice(hash + 1);
    target = target.slice(0, hash);
  }
  let query: string | undefined;
  const question = target.indexOf('?');
  if (question >= 0) {
    query = target.slice(question + 1);
    target = target.slice(0, question);
  }
  if (target === '*') return { ok: true, path: '*', query, fragment };
  if (!target.startsWith('/') && !(decodeSlashes && target.startsWith('\\'))) {
    return fail('not-origin-form', 'request path must start with "/"');
  }
  // Already normal, as most paths are (and every path this function returned): nothing to
  // decode, no backslash or parameter, no dot segment and no repeated slash. The steps below
  // would give back the same string, one character at a time.
  if (!ALREADY_NORMAL_SUSPECT.test(target)) return { ok: true, path: target, query, fragment };

  let decoded = '';
  for (let i = 0; i < target.length; i++) {
    const ch = target[i] as string;
    if (ch === '\\') {
      if (!decodeSlashes) return fail('escaped-slash', 'backslash in path');
      decoded += '/';
      continue;
    }
    if (ch === ';' && !keepParameters) return fail('path-parameter', '";" (path parameter) in path');
    if (ch !== '%') {
      decoded += ch;
      continue;
    }
    const hi = hexValue(target.charCodeAt(i + 1));
    const lo = hexValue(target.charCodeAt(i + 2));
    if (hi < 0 || lo < 0)
      return fail('invalid-percent-encoding', `malformed percent-encoding at offset ${i}`);
    const value = hi * 16 + lo;
    i += 2;
    if (value < 0x20 || value === 0x7f) {
      return fail(
        'control-character',
        `encoded control character %${value.toString(16).padStart(2, '0').toUpperCase()} in path`,
      );
    }
    if (value === 0x2f || value === 0x5c) {
      if (!decodeSlashes) return fail('escaped-slash', `encoded ${value === 0x2f ? '"/"' : '"\\"'} in path`);
      decoded += '/';
    } else if (isUnreserved(value)) {
      decoded += String.fromCharCode(value);
    } else {
      decoded += `%${value.toString(16).padStart(2, '0').toUpperCase()}`;
    }
  }
  const merged = mergeSlashes ? decoded.replace(/\/{2,}/g, '/') : decoded;
  return { ok: true, path: removeDotSegments(merged), query, fragment };
}

/** RFC 3986 section 5.2.4 on an absolute path; the result always starts with "/". */
export function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is the empty string before the leading "/"
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i] as string;
    const last = i === segments.length - 1;
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(seg);
    }
  }
  return `/${out.join('/')}`;
}

export type NormalizedHost =
  | { readonly ok: true; readonly host: string; readonly port: number | undefined }
  | { readonly ok: false; readonly reason: string };

/**
 * Normalizes a Host / :authority value for host matching: lower-cased, port split off,
 * one trailing dot removed. IPv6 literals keep their brackets ("[::1]").
 */
export function normalizeHost(raw: string): NormalizedHost {
  if (raw.length === 0 || raw.length > 1024) return { ok: false, reason: 'empty or oversized host' };
  let host = raw;
  let portText: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return { ok: false, reason: 'unterminated IPv6 literal in host' };
    const rest = host.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return { ok: false, reason: 'junk after IPv6 literal in host' };
      portText = rest.slice(1);
    }
    host = host.slice(0, end + 1);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      portText = host.slice(colon + 1);
      host = host.slice(0, colon);
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
      return { ok: false, reason: `invalid port in host: ${JSON.stringify(portText)}` };
    }
    port = Number(portText);
  }
  host = host.toLowerCase();
  if (host.endsWith('.') && !host.startsWith('[')) host = host.slice(0, -1);
  if (host === '' || !/^(\[[0-9a-f:.%a-z]+\]|[a-z0-9._~!$&'()*+,;=%-]+)$/.test(host)) {
    return { ok: false, reason: `invalid host ${JSON.stringify(raw)}` };
  }
  return { ok: true, host, port };
}
