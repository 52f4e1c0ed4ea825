// A strict HTTP/1.1 request-head reader for the downstream listener. Hand-written because node's
// http server (its per-request IncomingMessage/ServerResponse machinery) measured as the
// engine's bottleneck: the raw-socket listener in http1.ts reads heads with this instead. Pure:
// text in, a head or the exact refusal (status, reject reason, message) out, tested with tables.
// It is at least as strict as node's parser in strict mode: known methods only, one space
// between the parts of the request line, HTTP/1.0 and 1.1 only, CRLF line ends (no bare CR or
// LF), no obs-fold, no whitespace before the colon, token names, no control characters in
// values, and the framing rules of head.ts (one Content-Length of digits, Transfer-Encoding
// exactly `chunked` and never with Content-Length, one Host).
import { fieldOf, type Headers, setField } from '../http/message.ts';
import type { HeadProblem } from './head.ts';

export type RequestFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export interface RequestHead {
  readonly method: string;
  /** The request target as sent. */
  readonly target: string;
  readonly minor: 0 | 1;
  /** Lower-case names, one value per field line in order (a repeated field is an array). */
  readonly headers: Headers;
  readonly host: string;
  readonly framing: RequestFraming;
  /** Whether the connection may carry another request after this one. */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request. */
  readonly expectContinue: boolean;
  /** The protocol asked for by `Connection: upgrade` + `Upgrade`. */
  readonly upgrade: string | undefined;
}

export type RequestHeadResult =
  | { readonly ok: true; readonly head: RequestHead }
  | { readonly ok: false; readonly problem: HeadProblem };

/** The methods node's parser knows (http.METHODS, without PRI). */
const METHODS = new Set([
  'ACL',
  'BIND',
  'CHECKOUT',
  'CONNECT',
  'COPY',
  'DELETE',
  'GET',
  'HEAD',
  'LINK',
  'LOCK',
  'M-SEARCH',
  'MERGE',
  'MKACTIVITY',
  'MKCALENDAR',
  'MKCOL',
  'MOVE',
  'NOTIFY',
  'OPTIONS',
  'PATCH',
  'POST',
  'PROPFIND',
  'PROPPATCH',
  'PURGE',
  'PUT',
  'QUERY',
  'REBIND',
  'REPORT',
  'SEARCH',
  'SOURCE',
  'SUBSCRIBE',
  'TRACE',
  'UNBIND',
  'UNLINK',
  'UNLOCK',
  'UNSUBSCRIBE',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII only: no space, control character, DEL or byte above 0x7e in a request target. */
const TARGET = /^[\x21-\x7e]+$/;
/** Control characters other than HTAB, CR and LF (checked per line), and DEL: never in a head. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0x7f) return true;
  }
  return false;
}

const bad = (message: string): RequestHeadResult => ({
  ok: false,
  problem: { reason: 'bad_request', status: 400, message },
});
const smuggling = (message: string): RequestHeadResult => ({
  ok: false,
  problem: { reason: 'request_smuggling', status: 400, message },
});

/** Trims optional whitespace (SP, HTAB) only: String#trim also takes NBSP and others. */
function trimOws(s: string, from: number): string {
  let a = from;
  let b = s.length;
  while (a < b) {
    const c = s.charCodeAt(a);
    if (c !== 32 && c !== 9) break;
    a++;
  }
  while (b > a) {
    const c = s.charCodeAt(b - 1);
    if (c !== 32 && c !== 9) break;
    b--;
  }
  return s.slice(a, b);
}

/** Whether a comma-separated header value holds `token` (case-insensitive). */
function hasToken(value: string, token: string): boolean {
  const v = value.toLowerCase();
  if (v === token) return true;
  for (const part of v.split(',')) if (trimOws(part, 0) === token) return true;
  return false;
}

/**
 * Parses a request head: `text` is everything before the blank line that ends it (without that
 * blank line), read as latin1.
 */
export function parseRequestHead(text: string): RequestHeadResult {
  if (hasControl(text)) return bad('control character in request head');
  const lines = text.split('\r\n');
  const line0 = lines[0] as string;
  const sp1 = line0.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line0.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0) return bad('malformed request line');
  const method = line0.slice(0, sp1);
  if (!METHODS.has(method)) return bad('unknown method');
  const target = line0.slice(sp1 + 1, sp2);
  if (!TARGET.test(target)) return bad('invalid request target');
  const version = line0.slice(sp2 + 1);
  let minor: 0 | 1;
  if (version === 'HTTP/1.1') minor = 1;
  else if (version === 'HTTP/1.0') minor = 0;
  else return bad('unsupported HTTP version');
  if (line0.includes('\n') || line0.includes('\r') || line0.includes('\t'))
    return bad('malformed request line');

  // No prototype: a field named `__proto__` or `constructor` is a field like any other.
  const headers = Object.create(null) as Headers;
  let contentLength: string | undefined;
  let contentLengths = 0;
  let transferEncodings = 0;
  let te = '';
  let hosts = 0;
  let host = '';
  let connection: string | undefined;
  let expect: string | undefined;
  let upgrade: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) return bad('obsolete line folding');
    if (line.includes('\n') || line.includes('\r')) return bad('bare CR or LF in request head');
    const colon = line.indexOf(':');
    if (colon <= 0) return bad('header line without a name');
    const rawName = line.slice(0, colon);
    if (!TOKEN.test(rawName)) return bad('invalid header name');
    const value = trimOws(line, colon + 1);
    const name = rawName.toLowerCase();
    switch (name) {
      case 'host':
        hosts++;
        host = value;
        break;
      case 'content-length':
        contentLengths++;
        contentLength = value;
        break;
      case 'transfer-encoding':
        transferEncodings++;
        te = value.toLowerCase();
        break;
      case 'connection':
        connection = connection === undefined ? value : `${connection}, ${value}`;
        break;
      case 'expect':
        expect = value;
        break;
      case 'upgrade':
        upgrade = value;
        break;
      default:
        break;
    }
    const prev = fieldOf(headers, name);
    setField(
      headers,
      name,
      prev === undefined ? value : typeof prev === 'string' ? [prev, value] : [...prev, value],
    );
  }
  // framing first: these are the smuggling shapes
  if (contentLengths > 1) return smuggling('repeated Content-Length');
  if (transferEncodings > 0 && contentLengths > 0) return smuggling('Content-Length with Transfer-Encoding');
  if (transferEncodings > 1 || (transferEncodings === 1 && te !== 'chunked'))
    return smuggling('unsupported Transfer-Encoding');
  if (transferEncodings === 1 && minor === 0) return smuggling('Transfer-Encoding in an HTTP/1.0 request');
  let framing: RequestFraming;
  if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) return smuggling('invalid Content-Length');
    const length = Number(contentLength);
    framing = length === 0 ? { kind: 'none' } : { kind: 'length', length };
  } else framing = transferEncodings === 1 ? { kind: 'chunked' } : { kind: 'none' };
  if (hosts > 1)
    return { ok: false, problem: { reason: 'invalid_host', status: 400, message: 'repeated Host' } };
  if (hosts === 0)
    return {
      ok: false,
      problem: {
        reason: 'invalid_host',
        status: 400,
        message: minor === 0 ? 'missing Host (HTTP/1.0)' : 'missing Host',
      },
    };
  let expectContinue = false;
  if (expect !== undefined && minor === 1) {
    if (expect.toLowerCase() !== '100-continue')
      return {
        ok: false,
        problem: { reason: 'bad_request', status: 417, message: 'only Expect: 100-continue is understood' },
      };
    expectContinue = true;
  }
  const keepAlive =
    connection === undefined
      ? minor === 1
      : minor === 1
        ? !hasToken(connection, 'close')
        : hasToken(connection, 'keep-alive');
  const isUpgrade =
    upgrade !== undefined &&
    connection !== undefined &&
    hasToken(connection, 'upgrade') &&
    method !== 'CONNECT';
  return {
    ok: true,
    head: {
      method,
      target,
      minor,
      headers,
      host,
      framing,
      keepAlive,
      expectContinue,
      upgrade: isUpgrade ? upgrade : undefined,
    },
  };
}
