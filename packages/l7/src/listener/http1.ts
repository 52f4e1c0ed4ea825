// HTTP/1.1 downstream on raw sockets: this module reads request heads itself (h1-request-head.ts)
// and bodies (Content-Length, chunked via h1-parse.ts's decoder), hands each request to the
// engine and writes the answer back. It is hand-written because node's http server (one
// IncomingMessage, ServerResponse and their listeners per request) measured as the engine's
// bottleneck: the same hop on a raw-socket front end serves several times the requests per CPU
// second. Connections come from anywhere (a TCP listener, an HBONE tunnel's in-memory pair) with
// the Downstream facts attached. Requests of one connection are served one at a time, in order
// (pipelined requests wait in the buffer), so a malformed request is always answered after the
// responses before it.
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import type { Engine } from '../engine/engine.ts';
import { bufferBody, pipeBody } from '../http/body.ts';
import type { Body, Downstream, Headers, L7Request, L7Response } from '../http/message.ts';
import { Cancellation } from '../runtime.ts';
import { ChunkedDecoder } from '../upstream/h1-parse.ts';
import { BodyTooLarge } from './body-limit.ts';
import { parseRequestHead, type RequestHead } from './h1-request-head.ts';
import { type HeadProblem, rawResponse, reasonPhrase } from './head.ts';

export interface Http1Listener {
  /** A TCP server whose connections this listener serves (created on first use). */
  readonly server: Server;
  /**
   * Serves one connection whose facts are known (HBONE tunnel, sniffed socket); `since`: when
   * its first byte arrived (engine clock), if bytes were read before (sniffing); `head`: those
   * bytes, served before anything read from the socket.
   */
  handle(socket: Duplex, downstream: Downstream, since?: number, head?: Buffer): void;
  /** Open downstream connections. */
  readonly connections: number;
  close(): void;
}

export interface Http1ListenerOptions {
  /** Facts for sockets that reach the server without `handle` (a plain TCP listener). */
  readonly downstreamOf?: (socket: Socket) => Downstream;
}

export function downstreamFromSocket(socket: Socket, destination?: { ip: string; port: number }): Downstream {
  return {
    remoteIp: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
    principal: undefined,
    forwardedFor: undefined,
    destinationIp: destination?.ip ?? socket.localAddress ?? '',
    destinationPort: destination?.port ?? socket.localPort ?? 0,
    security: 'none',
  };
}

/** How long a connection answered and closed may take to read the answer before it is reset. */
const CLOSE_GRACE_MS = 1000;
/** Pipelined bytes buffered behind a request in flight before the socket is paused. */
const MAX_PENDING_BYTES = 256 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What node would refuse to write in a header value. */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Response fields this module writes itself (framing and connection management). */
const OWN_FIELDS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

/** Flags that explain an unfinished response by the upstream side (so not DC). */
const UPSTREAM_FAULTS = new Set(['DC', 'UT', 'UR', 'SI', 'UPE', 'UC']);

let dateText = '';
let dateAt = 0;
/** The Date field, formatted at most once a second. */
function httpDate(): string {
  const now = Date.now();
  if (now - dateAt >= 1000) {
    dateAt = now - (now % 1000);
    dateText = new Date(dateAt).toUTCString();
  }
  return dateText;
}

const aborted = (): Error =>
  Object.assign(new Error('request body aborted: the client went away'), { code: 'ECONNRESET' });

/** A request body read from the connection: Content-Length or chunked, with backpressure. */
class RequestBody extends Readable {
  private readonly conn: Conn;
  /** Content-Length bytes still to come (length framing). */
  private remaining: number;
  private readonly decoder: ChunkedDecoder | undefined;
  private readonly limit: number;
  seen = 0;
  complete = false;
  exceeded = false;
  /** The response is done: what is left of the body is read and dropped. */
  discard = false;

  constructor(conn: Conn, length: number | undefined, limit: number, maxTrailerBytes: number) {
    super();
    this.conn = conn;
    this.remaining = length ?? 0;
    this.decoder = length === undefined ? new ChunkedDecoder(maxTrailerBytes) : undefined;
    this.limit = limit;
    // the consumer (router, replay buffer) sees errors through its own listener; nobody may crash
    this.on('error', () => {});
  }

  override _read(): void {
    this.conn.resumeBody();
  }

  trailers(): Headers | undefined {
    return this.decoder?.trailers;
  }

  private pushBody(b: Buffer): void {
    if (this.discard || this.destroyed) return;
    if (!this.push(b)) this.conn.pauseBody();
  }

  /**
   * Feeds connection bytes. Returns what follows the body (the next request), an empty buffer
   * when all was body, or undefined on a framing error (`error` says which).
   */
  feed(chunk: Buffer): Buffer | undefined {
    const d = this.decoder;
    if (d === undefined) {
      const n = Math.min(this.remaining, chunk.length);
      this.seen += n;
      this.remaining -= n;
      this.pushBody(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (this.remaining === 0) this.finishBody();
      return chunk.subarray(n);
    }
    const used = d.push(chunk, (b) => {
      this.seen += b.length;
      if (this.seen > this.limit) {
        if (!this.exceeded) {
          this.exceeded = true;
          if (!this.destroyed) this.destroy(new BodyTooLarge(this.limit));
        }
        return;
      }
      this.pushBody(b);
    });
    if (used < 0) return undefined;
    if (d.done) this.finishBody();
    return chunk.subarray(used);
  }

  get framingError(): string | undefined {
    return this.decoder?.error;
  }

  private finishBody(): void {
    this.complete = true;
    if (!this.discard && !this.destroyed) this.push(null);
  }
}

/** One request on a connection, from its head to the end of its response. */
interface Exchange {
  readonly head: RequestHead;
  readonly body: RequestBody | undefined;
  readonly cancel: Cancellation;
  l7: L7Request | undefined;
  /** Status written (0 until the head is). */
  status: number;
  grpcStatus: number | undefined;
  responseBytes: number;
  responseDone: boolean;
  reported: boolean;
  /** Close the connection after this response. */
  close: boolean;
}

class Conn {
  readonly socket: Duplex;
  readonly down: Downstream;
  readonly listener: ListenerCore;
  private buf: Buffer | undefined;
  /** Where the bare CR/LF scan of an incomplete head stopped. */
  private scanned = 0;
  x: Exchange | undefined;
  /** The request whose body is still arriving (its response may be done). */
  private reading: RequestBody | undefined;
  /** Clock time the head being awaited began (first byte); undefined while idle or serving. */
  headStart: number | undefined;
  /** Clock time the connection went idle. */
  idleSince: number;
  /** An error answer was written, or the connection is closing: nothing more is read. */
  done = false;
  peerEnded = false;
  upgraded = false;
  private bodyPaused = false;
  private pendingPaused = false;

  constructor(listener: ListenerCore, socket: Duplex, down: Downstream, since: number | undefined) {
    this.listener = listener;
    this.socket = socket;
    this.down = down;
    const now = listener.engine.clock.now();
    this.headStart = since ?? now;
    this.idleSince = now;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.once('close', this.onClose);
  }

  /** Bytes from the connection (or read before it was handed over). */
  readonly onData = (chunk: Buffer): void => {
    if (this.done || this.upgraded) return;
    const r = this.reading;
    if (r !== undefined && this.buf === undefined) {
      const rest = r.feed(chunk);
      if (rest === undefined) {
        this.bodyError(r);
        return;
      }
      if (!r.complete) return;
      this.reading = undefined;
      if (rest.length > 0) this.buf = rest;
      // the response may be done already (answered before the body ended): serve what follows
      if (this.x?.responseDone === true) this.afterResponse();
      else this.next();
      return;
    }
    if (this.x === undefined && this.headStart === undefined)
      this.headStart = this.listener.engine.clock.now();
    this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    this.next();
  };

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    const r = this.reading;
    const x = this.x;
    if (r !== undefined && !r.complete) {
      // the body can never end: the request is abandoned, as when the connection resets
      this.reading = undefined;
      if (!r.destroyed) r.destroy(aborted());
      if (x !== undefined && !x.responseDone) {
        this.abandon(x);
        this.end();
        return;
      }
    }
    if (x !== undefined) x.close = true;
    else this.next();
  };

  /** The client went away before the response was written. */
  private abandon(x: Exchange): void {
    x.responseDone = true;
    x.cancel.abort('downstream closed');
    const l7 = x.l7;
    if (l7 !== undefined && !l7.ctx.flags.some((f) => UPSTREAM_FAULTS.has(f))) l7.ctx.flags.push('DC');
    this.report(x);
  }

  private readonly onClose = (): void => {
    this.done = true;
    this.listener.forget(this);
    const r = this.reading;
    this.reading = undefined;
    if (r !== undefined && !r.complete && !r.destroyed) r.destroy(aborted());
    const x = this.x;
    if (x !== undefined && !x.responseDone) this.abandon(x);
  };

  pauseBody(): void {
    if (!this.bodyPaused) {
      this.bodyPaused = true;
      this.socket.pause();
    }
  }

  resumeBody(): void {
    if (this.bodyPaused) {
      this.bodyPaused = false;
      if (!this.pendingPaused) this.socket.resume();
    }
  }

  /** Reads buffered bytes: the rest of a body, then the next head when no request is in flight. */
  next(): void {
    while (!this.done && !this.upgraded) {
      let buf = this.buf;
      const r = this.reading;
      if (r !== undefined) {
        if (buf === undefined) return;
        this.buf = undefined;
        const rest = r.feed(buf);
        if (rest === undefined) {
          this.bodyError(r);
          return;
        }
        if (!r.complete) return;
        this.reading = undefined;
        if (rest.length > 0) this.buf = rest;
        if (this.x?.responseDone === true) {
          this.afterResponse();
          return;
        }
        continue;
      }
      if (this.x !== undefined) {
        // a pipelined request waits for the response before it
        if (buf !== undefined && buf.length > MAX_PENDING_BYTES && !this.pendingPaused) {
          this.pendingPaused = true;
          this.socket.pause();
        }
        return;
      }
      if (buf === undefined || buf.length === 0) {
        this.buf = undefined;
        if (this.peerEnded) this.end();
        return;
      }
      // empty lines before a request line are skipped (RFC 9112 section 2.2)
      let skip = 0;
      while (buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
      if (skip > 0) {
        buf = buf.subarray(skip);
        this.buf = buf.length === 0 ? undefined : buf;
        this.scanned = 0;
        continue;
      }
      this.headStart ??= this.listener.engine.clock.now();
      const max = this.listener.engine.limits.maxRequestHeadersBytes;
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > max) {
          this.refuse(HEADER_TOO_LARGE);
          return;
        }
        if (bareLineBreak(buf, this.scanned)) {
          this.refuse(BARE_LINE_BREAK);
          return;
        }
        this.scanned = Math.max(0, buf.length - 1);
        if (this.peerEnded) this.end();
        return;
      }
      if (end + 4 > max) {
        this.refuse(HEADER_TOO_LARGE);
        return;
      }
      const parsed = parseRequestHead(buf.toString('latin1', 0, end));
      const rest = buf.subarray(end + 4);
      this.buf = rest.length === 0 ? undefined : rest;
      this.scanned = 0;
      this.headStart = undefined;
      if (!parsed.ok) {
        this.refuse(parsed.problem);
        return;
      }
      this.start(parsed.head);
    }
  }

  /** Answers a request the listener refuses (no engine), and closes. */
  refuse(p: HeadProblem): void {
    this.listener.engine.reject(p.reason);
    this.answerAndClose(rawResponse(p.status, p.message));
  }

  answerAndClose(text: string): void {
    this.done = true;
    this.buf = undefined;
    const s = this.socket;
    if (!s.writable) {
      s.destroy();
      return;
    }
    s.write(text, 'latin1');
    this.end();
  }

  /**
   * Ends the connection once what was written is flushed: a kernel socket is then destroyed
   * (destroySoon, as node's server does); an in-memory pair (HBONE tunnel) is only ended, since
   * destroying it would reset the tunnel before the peer read the answer.
   */
  end(): void {
    this.done = true;
    const s = this.socket as Duplex & { destroySoon?: () => void };
    if (!s.writable) s.destroy();
    else if (typeof s.destroySoon === 'function') s.destroySoon();
    else s.end();
  }

  private bodyError(r: RequestBody): void {
    this.reading = undefined;
    const x = this.x;
    const engine = this.listener.engine;
    engine.reject('request_smuggling');
    if (!r.destroyed)
      r.destroy(
        Object.assign(new Error(`request body: ${r.framingError}`), { code: 'HPE_INVALID_CHUNK_SIZE' }),
      );
    if (x !== undefined && x.status === 0) {
      // the request's own answer: its head was not written yet
      x.responseDone = true;
      x.cancel.abort('invalid request body');
      this.report(x);
      this.answerAndClose(rawResponse(400, 'invalid message framing'));
      return;
    }
    this.done = true;
    this.socket.destroy();
  }

  private start(head: RequestHead): void {
    const engine = this.listener.engine;
    const limits = engine.limits;
    if (head.method === 'CONNECT') {
      this.refuse(CONNECT_REFUSED);
      return;
    }
    if (head.upgrade !== undefined) {
      this.upgraded = true;
      const rest = this.buf ?? Buffer.alloc(0);
      this.buf = undefined;
      this.socket.off('data', this.onData);
      this.socket.off('end', this.onEnd);
      this.listener.forget(this);
      serveUpgrade(engine, this.socket, this.down, head, rest);
      return;
    }
    let body: RequestBody | undefined;
    const f = head.framing;
    if (f.kind === 'length') {
      if (f.length > limits.maxRequestBodyBytes) {
        engine.reject('body_too_large');
        this.answerAndClose(rawResponse(413, 'request body too large'));
        return;
      }
      body = new RequestBody(this, f.length, limits.maxRequestBodyBytes, limits.maxRequestHeadersBytes);
    } else if (f.kind === 'chunked') {
      body = new RequestBody(this, undefined, limits.maxRequestBodyBytes, limits.maxRequestHeadersBytes);
    }
    const x: Exchange = {
      head,
      body,
      cancel: new Cancellation(),
      l7: undefined,
      status: 0,
      grpcStatus: undefined,
      responseBytes: 0,
      responseDone: false,
      reported: false,
      close: !head.keepAlive || this.peerEnded,
    };
    this.x = x;
    if (body !== undefined) {
      this.reading = body;
      if (head.expectContinue) this.socket.write(CONTINUE, 'latin1');
    }
    const reqBody: Body =
      body === undefined
        ? { kind: 'empty' }
        : {
            kind: 'stream',
            stream: body,
            length: f.kind === 'length' ? f.length : undefined,
            trailers: () => body.trailers(),
          };
    const { req, response } = engine.dispatch({
      protocol: head.minor === 0 ? 'HTTP/1.0' : 'HTTP/1.1',
      method: head.method,
      rawPath: head.target,
      authority: head.host,
      scheme: 'http',
      headers: head.headers,
      body: reqBody,
      downstream: this.down,
      cancel: x.cancel,
    });
    x.l7 = req;
    response.then((out) => this.respond(x, out));
  }

  private respond(x: Exchange, out: L7Response): void {
    if (x.responseDone || this.done || this.socket.destroyed || !this.socket.writable) {
      if (out.body.kind === 'stream') out.body.stream.destroy();
      if (!x.responseDone) {
        x.responseDone = true;
        this.report(x);
      }
      return;
    }
    if (x.body?.exceeded === true) {
      this.listener.engine.reject('body_too_large');
      if (out.body.kind === 'stream') out.body.stream.destroy();
      out = {
        status: 413,
        headers: { 'content-type': 'text/plain', connection: 'close' },
        body: { kind: 'empty' },
      };
    }
    writeResponse(this, x, out);
  }

  /** The response was written (queued in order on the socket). */
  responseDone(x: Exchange): void {
    x.responseDone = true;
    this.report(x);
    if (x.close) {
      this.x = undefined;
      this.end();
      return;
    }
    const r = this.reading;
    if (r !== undefined && !r.complete) {
      // the answer came before the body ended: read and drop the rest, then serve the next
      r.discard = true;
      if (!r.destroyed) r.destroy();
      this.resumeBody();
      return;
    }
    this.afterResponse();
  }

  private afterResponse(): void {
    this.x = undefined;
    this.idleSince = this.listener.engine.clock.now();
    if (this.pendingPaused) {
      this.pendingPaused = false;
      if (!this.bodyPaused) this.socket.resume();
    }
    this.next();
  }

  report(x: Exchange): void {
    const l7 = x.l7;
    if (x.reported || l7 === undefined) return;
    x.reported = true;
    const engine = this.listener.engine;
    const b = x.body;
    engine.finish(l7, {
      status: x.status,
      grpcStatus: x.grpcStatus,
      requestBytes: b === undefined ? 0 : b.seen,
      responseBytes: x.responseBytes,
      durationMs: engine.clock.now() - l7.ctx.startMono,
    });
  }

  /** The head timed out: 408 and close, however slowly bytes still come. */
  headTimeout(): void {
    this.listener.engine.reject('headers_timeout');
    this.done = true;
    this.buf = undefined;
    const s = this.socket;
    if (!s.writable) {
      s.destroy();
      return;
    }
    // however slowly bytes still come: closed once the answer is out, or after a grace
    s.end(rawResponse(408, 'request header timeout'), 'latin1');
    s.once('finish', () => s.destroy());
    setTimeout(() => s.destroy(), CLOSE_GRACE_MS).unref?.();
  }
}

const HEADER_TOO_LARGE: HeadProblem = {
  reason: 'header_too_large',
  status: 431,
  message: 'request header fields too large',
};
const BARE_LINE_BREAK: HeadProblem = {
  reason: 'bad_request',
  status: 400,
  message: 'bare CR or LF in request head',
};
const CONNECT_REFUSED: HeadProblem = {
  reason: 'bad_request',
  status: 405,
  message: 'CONNECT is not proxied here',
};

/** Whether `buf` (an incomplete head) holds a CR not followed by LF or an LF not after a CR. */
function bareLineBreak(buf: Buffer, from: number): boolean {
  for (let i = buf.indexOf(10, from); i >= 0; i = buf.indexOf(10, i + 1))
    if (i === 0 || buf[i - 1] !== 13) return true;
  for (let i = buf.indexOf(13, from); i >= 0 && i + 1 < buf.length; i = buf.indexOf(13, i + 1))
    if (buf[i + 1] !== 10) return true;
  return false;
}

/** A body sink on the connection: raw bytes (Content-Length or until close) or chunked. */
class ResponseSink {
  private readonly socket: Duplex;
  private readonly chunked: boolean;
  trailerText = '';
  constructor(socket: Duplex, chunked: boolean) {
    this.socket = socket;
    this.chunked = chunked;
  }
  write(c: Uint8Array): boolean {
    if (!this.chunked) return this.socket.write(c);
    if (c.byteLength === 0) return true;
    this.socket.write(`${c.byteLength.toString(16)}\r\n`, 'latin1');
    this.socket.write(c);
    return this.socket.write('\r\n', 'latin1');
  }
  end(c?: Uint8Array): void {
    if (c !== undefined) this.write(c);
    if (this.chunked) this.socket.write(`0\r\n${this.trailerText}\r\n`, 'latin1');
  }
  once(event: 'drain', listener: () => void): unknown {
    return this.socket.once(event, listener);
  }
}

function fieldLines(h: Headers, skipOwn: boolean): string | undefined {
  let text = '';
  for (const name in h) {
    const v = h[name];
    if (v === undefined || (skipOwn && OWN_FIELDS.has(name))) continue;
    if (!TOKEN.test(name)) return undefined;
    if (typeof v === 'string') {
      if (INVALID_VALUE.test(v)) return undefined;
      text += `${name}: ${v}\r\n`;
    } else
      for (const one of v) {
        if (INVALID_VALUE.test(one)) return undefined;
        text += `${name}: ${one}\r\n`;
      }
  }
  return text;
}

function hasClose(v: string | string[] | undefined): boolean {
  if (v === undefined) return false;
  for (const one of typeof v === 'string' ? [v] : v)
    for (const t of one.split(',')) if (t.trim().toLowerCase() === 'close') return true;
  return false;
}

function writeResponse(conn: Conn, x: Exchange, out: L7Response): void {
  const socket = conn.socket;
  const head = x.head;
  const l7 = x.l7 as L7Request;
  const status = out.status;
  const fields = fieldLines(out.headers, true);
  if (fields === undefined) {
    // an upstream field node would refuse to write (invalid characters)
    if (out.body.kind === 'stream') out.body.stream.destroy();
    l7.ctx.flags.push('UPE');
    x.status = 502;
    x.close = true;
    socket.write(rawResponse(502, 'invalid upstream head'), 'latin1');
    conn.responseDone(x);
    return;
  }
  if (hasClose(out.headers.connection)) x.close = true;
  const noBody =
    head.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
  const body = out.body;
  const trailers = body.kind === 'stream' ? undefined : body.trailers;
  let framing: string;
  let chunked = false;
  if (noBody) {
    const cl = out.headers['content-length'];
    framing =
      status === 204 || status < 200 || cl === undefined
        ? ''
        : `content-length: ${typeof cl === 'string' ? cl : cl[0]}\r\n`;
  } else if (body.kind === 'empty' || body.kind === 'bytes') {
    if (trailers !== undefined && head.minor === 1) {
      chunked = true;
      framing = 'transfer-encoding: chunked\r\n';
    } else framing = `content-length: ${body.kind === 'empty' ? 0 : body.length}\r\n`;
  } else {
    const cl = out.headers['content-length'];
    const declared = typeof cl === 'string' ? cl : cl?.[0];
    if (declared !== undefined && /^\d{1,15}$/.test(declared)) framing = `content-length: ${declared}\r\n`;
    else if (head.minor === 1) {
      chunked = true;
      framing = 'transfer-encoding: chunked\r\n';
    } else {
      // HTTP/1.0 without a length: the body ends with the connection
      framing = '';
      x.close = true;
    }
  }
  const conn1 = x.close ? 'connection: close\r\n' : head.minor === 0 ? 'connection: keep-alive\r\n' : '';
  const date = out.headers.date === undefined ? `date: ${httpDate()}\r\n` : '';
  const text = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n${fields}${framing}${conn1}${date}\r\n`;
  x.status = status;
  x.grpcStatus = out.grpcStatus;
  if (noBody) {
    if (body.kind === 'stream') body.stream.destroy();
    socket.write(text, 'latin1');
    conn.responseDone(x);
    return;
  }
  if (!chunked && (body.kind === 'empty' || (body.kind === 'bytes' && body.chunks.length <= 1))) {
    // the common small answer: head and body in one buffer, one write
    const chunk = body.kind === 'bytes' ? body.chunks[0] : undefined;
    const size = chunk === undefined ? 0 : chunk.byteLength;
    const out = Buffer.allocUnsafe(text.length + size);
    out.write(text, 0, 'latin1');
    if (chunk !== undefined) out.set(chunk, text.length);
    socket.write(out);
    x.responseBytes = size;
    conn.responseDone(x);
    return;
  }
  if (body.kind !== 'stream') {
    const sink = new ResponseSink(socket, chunked);
    if (trailers !== undefined && chunked) sink.trailerText = fieldLines(trailers, true) ?? '';
    socket.cork();
    socket.write(text, 'latin1');
    if (body.kind === 'bytes') for (const c of body.chunks) sink.write(c);
    sink.end();
    socket.uncork();
    x.responseBytes = body.kind === 'bytes' ? body.length : 0;
    conn.responseDone(x);
    return;
  }
  socket.write(text, 'latin1');
  const sink = new ResponseSink(socket, chunked);
  pipeBody(body, sink, {
    trailers: (t) => {
      sink.trailerText = fieldLines(t, true) ?? '';
    },
    done: (err, bytes) => {
      x.responseBytes = bytes;
      if (err !== undefined) {
        if (!l7.ctx.flags.includes('UT') && !l7.ctx.flags.includes('SI')) l7.ctx.flags.push('UR');
        socket.destroy();
        return;
      }
      conn.responseDone(x);
    },
  });
}

/** An Upgrade request (WebSocket): the engine decides, a 101 joins the two sockets. */
function serveUpgrade(
  engine: Engine,
  socket: Duplex,
  down: Downstream,
  head: RequestHead,
  rest: Buffer,
): void {
  const proto = head.upgrade ?? '';
  if (proto === '' || proto.toLowerCase() === 'h2c') {
    engine.reject('bad_request');
    socket.end(rawResponse(400, `upgrade to "${proto}" is not proxied`), 'latin1');
    return;
  }
  const cancel = new Cancellation();
  let upgradedOk = false;
  socket.once('close', () => {
    if (!upgradedOk) cancel.abort('downstream closed');
  });
  const { req: l7, response } = engine.dispatch({
    protocol: 'HTTP/1.1',
    method: head.method,
    rawPath: head.target,
    authority: head.host,
    scheme: 'http',
    headers: head.headers,
    body: { kind: 'empty' },
    upgrade: proto,
    downstream: down,
    cancel,
  });
  response.then(async (out) => {
    if (out.upgraded !== undefined && out.status === 101) {
      upgradedOk = true;
      const up = out.upgraded.socket;
      let head101 = 'HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\n';
      for (const [k, v] of Object.entries(out.headers)) {
        if (v === undefined || k === 'connection') continue;
        for (const one of typeof v === 'string' ? [v] : v) head101 += `${k}: ${one}\r\n`;
      }
      socket.write(`${head101}\r\n`, 'latin1');
      if (out.upgraded.head.length > 0) socket.write(out.upgraded.head);
      if (rest.length > 0) up.write(rest);
      let sent = 0;
      let received = rest.length;
      up.on('data', (c: Buffer) => {
        sent += c.length;
      });
      socket.on('data', (c: Buffer) => {
        received += c.length;
      });
      up.on('error', () => {});
      socket.pipe(up);
      up.pipe(socket);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        socket.destroy();
        up.destroy();
        engine.finish(l7, {
          status: 101,
          grpcStatus: undefined,
          requestBytes: received,
          responseBytes: sent,
          durationMs: engine.clock.now() - l7.ctx.startMono,
        });
      };
      socket.once('close', close);
      up.once('close', close);
      if (socket.destroyed) close();
      return;
    }
    // not upgraded: a plain answer, then close
    let text = '';
    if (out.body.kind !== 'empty') {
      const r = await bufferBody(out.body, 64 * 1024);
      text = r.ok ? Buffer.concat(r.body.chunks).toString('latin1') : '';
    }
    let extra = '';
    for (const [k, v] of Object.entries(out.headers)) {
      if (v === undefined || k === 'content-length' || k === 'content-type' || k === 'connection') continue;
      for (const one of typeof v === 'string' ? [v] : v) extra += `${k}: ${one}\r\n`;
    }
    if (!socket.destroyed) socket.end(rawResponse(out.status, text, extra), 'latin1');
    engine.finish(l7, {
      status: out.status,
      grpcStatus: undefined,
      requestBytes: 0,
      responseBytes: text.length,
      durationMs: engine.clock.now() - l7.ctx.startMono,
    });
  });
}

/** The listener's shared state: the engine, its connections, one sweep for their timers. */
class ListenerCore {
  readonly engine: Engine;
  readonly conns = new Set<Conn>();
  private sweep: ReturnType<typeof setInterval> | undefined;
  private readonly period: number;

  constructor(engine: Engine) {
    this.engine = engine;
    const l = engine.limits;
    const shortest = Math.min(
      l.headersTimeoutMs > 0 ? l.headersTimeoutMs : Number.POSITIVE_INFINITY,
      l.keepAliveTimeoutMs > 0 ? l.keepAliveTimeoutMs : Number.POSITIVE_INFINITY,
    );
    this.period = Number.isFinite(shortest) ? Math.max(5, Math.min(1000, Math.floor(shortest / 10))) : 0;
  }

  add(c: Conn): void {
    this.conns.add(c);
    if (this.period > 0 && this.sweep === undefined) {
      this.sweep = setInterval(() => this.check(), this.period);
      this.sweep.unref?.();
    }
  }

  forget(c: Conn): void {
    this.conns.delete(c);
  }

  /**
   * headersTimeoutMs runs from the first byte of a head to its end, even when bytes keep
   * dripping (a connection's first head from its start); keepAliveTimeoutMs closes a connection
   * idle between requests. Checked every tenth of the shorter one.
   */
  private check(): void {
    const now = this.engine.clock.now();
    const { headersTimeoutMs, keepAliveTimeoutMs } = this.engine.limits;
    for (const c of this.conns) {
      if (c.x !== undefined || c.done || c.upgraded) continue;
      if (c.headStart !== undefined) {
        if (headersTimeoutMs > 0 && now - c.headStart >= headersTimeoutMs) {
          this.conns.delete(c);
          c.headTimeout();
        }
      } else if (keepAliveTimeoutMs > 0 && now - c.idleSince >= keepAliveTimeoutMs) {
        this.conns.delete(c);
        c.done = true;
        c.socket.destroy();
      }
    }
    if (this.conns.size === 0 && this.sweep !== undefined) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }

  close(): void {
    if (this.sweep !== undefined) clearInterval(this.sweep);
    this.sweep = undefined;
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
  }
}

export function createHttp1Listener(engine: Engine, options: Http1ListenerOptions = {}): Http1Listener {
  const core = new ListenerCore(engine);
  let connections = 0;
  let server: Server | undefined;

  const handle = (socket: Duplex, downstream: Downstream, since?: number, head?: Buffer): void => {
    socket.on('error', () => {});
    connections++;
    socket.once('close', () => connections--);
    if (connections > engine.limits.maxConnections) {
      engine.reject('connection_limit');
      socket.destroy();
      return;
    }
    const conn = new Conn(core, socket, downstream, since);
    core.add(conn);
    if (head !== undefined && head.length > 0) conn.onData(head);
  };

  return {
    get server() {
      server ??= createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
        socket.on('error', () => {});
        const d = options.downstreamOf ? options.downstreamOf(socket) : downstreamFromSocket(socket);
        handle(socket, d);
      });
      return server;
    },
    handle,
    get connections() {
      return connections;
    },
    close() {
      core.close();
      server?.close();
    },
  };
}
