// A strict HTTP/1.1 response-head and chunked-body reader for the upstream client. Node's
// client parser is reached only through http.request, whose per-request machinery costs more
// than the rest of the proxy's hot path, so the upstream side reads responses itself: pure
// functions, strict where node is lenient (bare LF, obs-fold, conflicting Content-Length,
// Transfer-Encoding with Content-Length), and tested with tables.
import { fieldOf, type Headers, setField } from '../http/message.ts';

export type Framing =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** Read until the connection closes (not reusable). */
  | { readonly kind: 'close' };

export interface ResponseHead {
  readonly status: number;
  readonly minor: 0 | 1;
  readonly headers: Headers;
  readonly framing: Framing;
  /** Whether the connection may carry another request after this response. */
  readonly keepAlive: boolean;
}

export type HeadResult =
  | { readonly ok: true; readonly head: ResponseHead }
  | { readonly ok: false; readonly reason: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;

/** Whether a header value holds only visible characters, space and tab (no CR, LF, NUL). */
function validValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/**
 * Parses a response head (everything before the blank line, without it), as latin1 text.
 * `method` and the status decide whether a body follows.
 */
export function parseResponseHead(text: string, method: string): HeadResult {
  const lines = text.split('\r\n');
  const statusLine = lines[0] ?? '';
  const m = STATUS_LINE.exec(statusLine);
  if (m === null) return { ok: false, reason: `bad status line ${JSON.stringify(statusLine.slice(0, 64))}` };
  const minor = m[1] === '1' ? 1 : 0;
  const status = Number(m[2]);
  // No prototype: a header named "__proto__" or "constructor" is a header like any other.
  const headers = Object.create(null) as Headers;
  let contentLength: string | undefined;
  let te: string | undefined;
  let connection = '';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.length === 0) return { ok: false, reason: 'empty header line' };
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) return { ok: false, reason: 'obsolete line folding' };
    if (line.includes('\n') || line.includes('\r')) return { ok: false, reason: 'bare CR or LF in head' };
    const colon = line.indexOf(':');
    if (colon <= 0) return { ok: false, reason: 'header line without a name' };
    const rawName = line.slice(0, colon);
    if (!TOKEN.test(rawName))
      return { ok: false, reason: `invalid header name ${JSON.stringify(rawName.slice(0, 64))}` };
    const value = line.slice(colon + 1).trim();
    if (!validValue(value)) return { ok: false, reason: `invalid value for header ${rawName}` };
    const name = rawName.toLowerCase();
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return { ok: false, reason: 'invalid Content-Length' };
      if (contentLength !== undefined && contentLength !== value)
        return { ok: false, reason: 'conflicting Content-Length' };
      contentLength = value;
      setField(headers, name, value);
      continue;
    }
    if (name === 'transfer-encoding') te = te === undefined ? value : `${te}, ${value}`;
    else if (name === 'connection') connection = connection === '' ? value : `${connection}, ${value}`;
    const prev = fieldOf(headers, name);
    setField(
      headers,
      name,
      prev === undefined ? value : typeof prev === 'string' ? [prev, value] : [...prev, value],
    );
  }
  const conn = connection.toLowerCase();
  let keepAlive =
    minor === 1 ? !/(?:^|,)\s*close\s*(?:,|$)/.test(conn) : /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(conn);
  let framing: Framing;
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200))
    framing = { kind: 'none' };
  else if (te !== undefined) {
    if (contentLength !== undefined) return { ok: false, reason: 'Transfer-Encoding with Content-Length' };
    if (te.trim().toLowerCase() !== 'chunked')
      return { ok: false, reason: `unsupported Transfer-Encoding ${JSON.stringify(te.slice(0, 64))}` };
    framing = { kind: 'chunked' };
  } else if (contentLength !== undefined) framing = { kind: 'length', length: Number(contentLength) };
  else {
    framing = { kind: 'close' };
    keepAlive = false;
  }
  return { ok: true, head: { status, minor, headers, framing, keepAlive } };
}

/** Incremental chunked-body decoder. */
export class ChunkedDecoder {
  private state: 'size' | 'data' | 'data-crlf' | 'trailers' | 'done' = 'size';
  private remaining = 0;
  private line = '';
  private trailerText = '';
  error: string | undefined;
  trailers: Headers | undefined;
  private readonly maxLine: number;

  constructor(maxLine = 16 * 1024) {
    this.maxLine = maxLine;
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * Feeds bytes; calls `onData` for body bytes. Returns the number of bytes consumed (less than
   * the input only when the body ended inside it), or -1 on a framing error (see `error`).
   */
  push(buf: Buffer, onData: (b: Buffer) => void): number {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case 'size':
        case 'trailers':
        case 'data-crlf': {
          const lf = buf.indexOf(10, i);
          const end = lf < 0 ? n : lf + 1;
          this.line += buf.toString('latin1', i, end);
          i = end;
          if (this.line.length > this.maxLine) return this.fail('chunk line too long');
          if (lf < 0) return n;
          if (!this.line.endsWith('\r\n')) return this.fail('bare LF in chunked framing');
          const line = this.line.slice(0, -2);
          this.line = '';
          if (this.state === 'data-crlf') {
            if (line !== '') return this.fail('missing CRLF after chunk data');
            this.state = 'size';
          } else if (this.state === 'size') {
            const m = /^([0-9a-fA-F]{1,8})(?:[ \t]*;[^\r\n]*)?$/.exec(line);
            if (m === null) return this.fail('invalid chunk size');
            this.remaining = Number.parseInt(m[1] as string, 16);
            this.state = this.remaining === 0 ? 'trailers' : 'data';
          } else {
            if (line === '') {
              if (this.trailerText !== '') {
                const r = parseResponseHead(`HTTP/1.1 200 OK\r\n${this.trailerText.slice(0, -2)}`, 'GET');
                if (!r.ok) return this.fail(`invalid trailers: ${r.reason}`);
                const t: Headers = { ...r.head.headers };
                delete t['content-length'];
                delete t['transfer-encoding'];
                this.trailers = t;
              }
              this.state = 'done';
              return i;
            }
            this.trailerText += `${line}\r\n`;
            if (this.trailerText.length > this.maxLine) return this.fail('trailers too long');
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.remaining, n - i);
          onData(buf.subarray(i, i + take));
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = 'data-crlf';
          break;
        }
        case 'done':
          return i;
        default: {
          const never: never = this.state;
          return never;
        }
      }
    }
    return i;
  }

  private fail(reason: string): number {
    this.error = reason;
    return -1;
  }
}

/** Encodes one chunk of a chunked request body. */
export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}
