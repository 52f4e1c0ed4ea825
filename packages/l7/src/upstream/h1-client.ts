// HTTP/1.1 to endpoints over connections from the UpstreamConnector (TCP or HBONE tunnels):
// keep-alive pool per endpoint, request heads written directly, response heads and chunked
// bodies read by h1-parse.ts. Listeners are attached once per connection, not per request, and
// a small response that arrives whole is handed on as bytes without a stream: the per-request
// cost is what the engine's throughput depends on.
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import { HOP_BY_HOP, isValidHeaderValue } from '../http/headers.ts';
import type { Body, L7Response } from '../http/message.ts';
import type { Cancellation } from '../runtime.ts';
import { UpstreamConnectError, type UpstreamConnector, type UpstreamEndpoint } from './connector.ts';
import { ChunkedDecoder, chunkHeader, parseResponseHead, type ResponseHead } from './h1-parse.ts';
import type { SendOptions, SendResult, Transport, TransportStats, UpstreamRequest } from './transport.ts';

export interface Http1ClientOptions {
  readonly connector: UpstreamConnector;
  /** Largest response head accepted. Default 64 KiB. */
  readonly maxHeadBytes?: number;
  /** Idle keep-alive connections close after about this long. Default 30 s. */
  readonly idleTimeoutMs?: number;
  /** Idle connections kept per endpoint. Default 128. */
  readonly maxIdlePerEndpoint?: number;
  /** Close a connection after this many requests (DestinationRule maxRequestsPerConnection); 0 = no limit. */
  readonly maxRequestsPerConnection?: number;
  /** Called with the reason when an upstream answers malformed HTTP. */
  readonly onProtocolError?: (reason: string) => void;
}

const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT']);
const HEAD_END = Buffer.from('\r\n\r\n');

/** A response body streamed from a connection, with backpressure on the socket. */
class UpstreamBodyStream extends Readable {
  readonly conn: Conn;
  constructor(conn: Conn) {
    super();
    this.conn = conn;
  }
  override _read(): void {
    if (this.conn.socket.isPaused()) this.conn.socket.resume();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // a body abandoned before its end leaves the connection in an unknown state
    if (!this.readableEnded) this.conn.kill();
    cb(err);
  }
}

class Conn {
  readonly socket: Duplex;
  readonly key: string;
  readonly pool: Http1Pool;
  requests = 0;
  lastUsed = 0;
  exchange: Exchange | undefined;
  dead = false;

  constructor(socket: Duplex, key: string, pool: Http1Pool) {
    this.socket = socket;
    this.key = key;
    this.pool = pool;
    socket.on('data', (b: Buffer) => {
      const x = this.exchange;
      if (x === undefined) {
        // bytes from an idle connection: nothing may come unasked
        this.kill();
        return;
      }
      x.data(b);
    });
    socket.on('end', () => this.lost('connection closed by upstream'));
    socket.on('close', () => this.lost('connection closed'));
    socket.on('error', (e: Error) => this.lost(e.message));
  }

  lost(reason: string): void {
    if (!this.dead) {
      this.dead = true;
      this.pool.forget(this);
    }
    const x = this.exchange;
    this.exchange = undefined;
    x?.connectionLost(reason);
    if (!this.socket.destroyed) this.socket.destroy();
  }

  kill(): void {
    this.lost('connection abandoned');
  }
}

class Exchange {
  readonly conn: Conn;
  readonly req: UpstreamRequest;
  readonly pool: Http1Pool;
  private resolve: ((r: SendResult) => void) | undefined;
  private buf: Buffer | undefined;
  private head: ResponseHead | undefined;
  private remaining = 0;
  private chunked: ChunkedDecoder | undefined;
  private stream: UpstreamBodyStream | undefined;
  private requestSent = false;
  private responseDone = false;
  received = false;
  readonly cancel: Cancellation;
  maxRequests = 0;
  private readonly onCancel = (): void => this.conn.lost('cancelled');

  constructor(
    conn: Conn,
    req: UpstreamRequest,
    pool: Http1Pool,
    cancel: Cancellation,
    resolve: (r: SendResult) => void,
  ) {
    this.conn = conn;
    this.req = req;
    this.pool = pool;
    this.cancel = cancel;
    this.resolve = resolve;
    cancel.onAbort(this.onCancel);
  }

  private settle(r: SendResult): void {
    const res = this.resolve;
    this.resolve = undefined;
    res?.(r);
  }

  start(): void {
    const req = this.req;
    const socket = this.conn.socket;
    let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.authority}\r\n`;
    // Values are safe to write as they are: the downstream parser refused CR/LF/NUL, generated
    // values (trace ids) are plain, and config values were checked when applied.
    const h = req.headers;
    for (const name in h) {
      const v = h[name];
      if (v === undefined || name === 'content-length' || name === 'host') continue;
      if (typeof v === 'string') head += `${name}: ${v}\r\n`;
      else for (const one of v) head += `${name}: ${one}\r\n`;
    }
    if (req.upgrade !== undefined) head += `connection: upgrade\r\nupgrade: ${req.upgrade}\r\n`;
    const body: Body = req.body;
    if (body.kind === 'empty') {
      if (!NO_BODY_METHODS.has(req.method)) head += 'content-length: 0\r\n';
      socket.write(`${head}\r\n`, 'latin1');
      this.requestSent = true;
      return;
    }
    if (body.kind === 'bytes') {
      head += `content-length: ${body.length}\r\n\r\n`;
      socket.cork();
      socket.write(head, 'latin1');
      for (const c of body.chunks) socket.write(c);
      socket.uncork();
      this.requestSent = true;
      return;
    }
    const chunked = body.length === undefined;
    head += chunked ? 'transfer-encoding: chunked\r\n\r\n' : `content-length: ${body.length}\r\n\r\n`;
    socket.write(head, 'latin1');
    const src = body.stream;
    const onData = (c: Buffer) => {
      if (this.conn.dead) return;
      let ok: boolean;
      if (chunked) {
        socket.cork();
        socket.write(chunkHeader(c.length), 'latin1');
        socket.write(c);
        ok = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else ok = socket.write(c);
      if (!ok) {
        src.pause();
        socket.once('drain', () => src.resume());
      }
    };
    const cleanup = () => {
      src.off('data', onData);
      src.off('end', onEnd);
      src.off('error', onFail);
      src.off('close', onClose);
    };
    const onEnd = () => {
      cleanup();
      if (this.conn.dead) return;
      if (chunked) {
        let tail = '0\r\n';
        const t = body.trailers();
        if (t !== undefined)
          for (const name in t) {
            const v = t[name];
            if (v !== undefined)
              for (const one of typeof v === 'string' ? [v] : v)
                if (isValidHeaderValue(one)) tail += `${name}: ${one}\r\n`;
          }
        socket.write(`${tail}\r\n`, 'latin1');
      }
      this.requestSent = true;
      if (this.responseDone) this.finish();
    };
    const onFail = () => {
      cleanup();
      this.conn.lost('request body failed');
    };
    const onClose = () => {
      if (!src.readableEnded) onFail();
    };
    src.on('data', onData);
    src.once('end', onEnd);
    src.once('error', onFail);
    src.once('close', onClose);
  }

  data(b: Buffer): void {
    this.received = true;
    if (
      this.head === undefined ||
      (this.head.status >= 100 && this.head.status < 200 && this.head.status !== 101)
    ) {
      this.head = undefined;
      const buf = this.buf === undefined ? b : Buffer.concat([this.buf, b]);
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > this.pool.maxHeadBytes) this.protocolError('response head too large');
        else this.buf = buf;
        return;
      }
      if (end > this.pool.maxHeadBytes) {
        this.protocolError('response head too large');
        return;
      }
      this.buf = undefined;
      const r = parseResponseHead(buf.toString('latin1', 0, end), this.req.method);
      if (!r.ok) {
        this.protocolError(r.reason);
        return;
      }
      const head = r.head;
      this.head = head;
      const rest = buf.subarray(end + 4);
      if (head.status === 101 && this.req.upgrade !== undefined) {
        this.upgraded(head, rest);
        return;
      }
      if (head.status >= 100 && head.status < 200) {
        // interim response (100 Continue, 103 Early Hints): wait for the final one
        if (rest.length > 0) this.data(rest);
        return;
      }
      this.begin(head, rest);
      return;
    }
    this.body(b);
  }

  private begin(head: ResponseHead, rest: Buffer): void {
    const headers = head.headers;
    for (const name in headers) if (HOP_BY_HOP.has(name)) delete headers[name];
    const f = head.framing;
    if (f.kind === 'none' || (f.kind === 'length' && f.length === 0)) {
      if (rest.length > 0) {
        this.protocolError('bytes after a response without body');
        return;
      }
      this.settle({ ok: true, response: { status: head.status, headers, body: { kind: 'empty' } } });
      this.endResponse();
      return;
    }
    if (f.kind === 'length' && rest.length >= f.length) {
      // the whole body came with the head: no stream needed
      if (rest.length > f.length) {
        this.protocolError('bytes after the response body');
        return;
      }
      const response: L7Response = {
        status: head.status,
        headers,
        body: { kind: 'bytes', chunks: [rest], length: rest.length },
      };
      this.settle({ ok: true, response });
      this.endResponse();
      return;
    }
    const stream = new UpstreamBodyStream(this.conn);
    this.stream = stream;
    let length: number | undefined;
    if (f.kind === 'length') {
      this.remaining = f.length;
      length = f.length;
    } else if (f.kind === 'chunked') this.chunked = new ChunkedDecoder();
    const decoder = this.chunked;
    const body: Body = {
      kind: 'stream',
      stream,
      length,
      trailers: () => decoder?.trailers,
    };
    this.settle({ ok: true, response: { status: head.status, headers, body } });
    if (rest.length > 0) this.body(rest);
  }

  private readonly pushData = (b: Buffer): void => {
    const s = this.stream;
    if (s !== undefined && !s.push(b)) this.conn.socket.pause();
  };

  private body(b: Buffer): void {
    const f = this.head?.framing;
    if (f === undefined || this.responseDone) return;
    if (f.kind === 'length') {
      if (b.length > this.remaining) {
        this.protocolError('bytes after the response body');
        return;
      }
      this.remaining -= b.length;
      this.pushData(b);
      if (this.remaining === 0) this.endResponse();
    } else if (f.kind === 'chunked') {
      const d = this.chunked as ChunkedDecoder;
      const used = d.push(b, this.pushData);
      if (used < 0) {
        this.protocolError(d.error ?? 'chunked framing');
        return;
      }
      if (d.done) {
        if (used < b.length) {
          this.protocolError('bytes after the chunked body');
          return;
        }
        this.endResponse();
      }
    } else this.pushData(b);
  }

  private upgraded(head: ResponseHead, rest: Buffer): void {
    const conn = this.conn;
    conn.socket.removeAllListeners('data');
    conn.socket.removeAllListeners('end');
    conn.socket.removeAllListeners('close');
    conn.socket.removeAllListeners('error');
    conn.socket.on('error', () => {});
    conn.exchange = undefined;
    conn.dead = true;
    this.pool.forget(conn);
    this.cancel.offAbort(this.onCancel);
    const headers = head.headers;
    const upgrade = headers.upgrade;
    for (const name in headers) if (HOP_BY_HOP.has(name)) delete headers[name];
    if (upgrade !== undefined) headers.upgrade = upgrade;
    this.settle({
      ok: true,
      response: {
        status: 101,
        headers,
        body: { kind: 'empty' },
        upgraded: { socket: conn.socket, head: rest },
      },
    });
  }

  private endResponse(): void {
    this.responseDone = true;
    this.stream?.push(null);
    if (this.requestSent || this.head?.framing.kind === 'close') this.finish();
    else {
      // answered before the request body was sent: this connection cannot be reused
      this.conn.kill();
    }
  }

  private finish(): void {
    this.cancel.offAbort(this.onCancel);
    const conn = this.conn;
    if (conn.exchange !== this) return;
    conn.exchange = undefined;
    if (
      this.head?.keepAlive === true &&
      this.requestSent &&
      (this.maxRequests <= 0 || conn.requests < this.maxRequests)
    )
      this.pool.release(conn);
    else conn.kill();
  }

  private protocolError(reason: string): void {
    this.pool.protocolError(reason);
    this.responseDone = true;
    const s = this.stream;
    if (s !== undefined && !s.destroyed)
      s.destroy(Object.assign(new Error(`upstream protocol error: ${reason}`), { code: 'HPE_UPSTREAM' }));
    this.settle({ ok: false, failure: 'protocol-error', detail: reason });
    this.conn.exchange = undefined;
    this.conn.kill();
  }

  connectionLost(reason: string): void {
    this.cancel.offAbort(this.onCancel);
    if (this.resolve !== undefined) {
      this.settle({ ok: false, failure: this.cancel.aborted ? 'aborted' : 'reset', detail: reason });
      return;
    }
    if (this.responseDone) return;
    const f = this.head?.framing;
    if (f?.kind === 'close') {
      this.responseDone = true;
      this.stream?.push(null);
      return;
    }
    const s = this.stream;
    if (s !== undefined && !s.destroyed)
      s.destroy(Object.assign(new Error(`upstream ${reason}`), { code: 'ECONNRESET' }));
  }
}

class Http1Pool {
  readonly idle = new Map<string, Conn[]>();
  readonly live = new Set<Conn>();
  readonly maxHeadBytes: number;
  readonly maxIdle: number;
  readonly maxRequests: number;
  readonly idleTimeoutMs: number;
  readonly onProtocolError: ((reason: string) => void) | undefined;
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(opts: Http1ClientOptions) {
    this.maxHeadBytes = opts.maxHeadBytes ?? 64 * 1024;
    this.maxIdle = opts.maxIdlePerEndpoint ?? 128;
    this.maxRequests = opts.maxRequestsPerConnection ?? 0;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.onProtocolError = opts.onProtocolError;
  }

  protocolError(reason: string): void {
    this.onProtocolError?.(reason);
  }

  take(key: string): Conn | undefined {
    const list = this.idle.get(key);
    if (list === undefined) return undefined;
    while (list.length > 0) {
      const c = list.pop() as Conn;
      if (!c.dead && !c.socket.destroyed && c.socket.writable) return c;
    }
    return undefined;
  }

  release(conn: Conn): void {
    if (conn.dead) return;
    if (this.maxRequests > 0 && conn.requests >= this.maxRequests) {
      conn.kill();
      return;
    }
    let list = this.idle.get(conn.key);
    if (list === undefined) {
      list = [];
      this.idle.set(conn.key, list);
    }
    if (list.length >= this.maxIdle) {
      conn.kill();
      return;
    }
    conn.lastUsed = Date.now();
    if (conn.socket.isPaused()) conn.socket.resume();
    list.push(conn);
    this.sweep();
  }

  forget(conn: Conn): void {
    this.live.delete(conn);
    const list = this.idle.get(conn.key);
    if (list === undefined) return;
    const i = list.indexOf(conn);
    if (i >= 0) list.splice(i, 1);
  }

  /** One interval timer closes connections idle past the timeout (no timer per request). */
  private sweep(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(
      () => {
        const cutoff = Date.now() - this.idleTimeoutMs;
        let any = false;
        for (const list of this.idle.values())
          for (const c of [...list]) {
            if (c.lastUsed < cutoff) c.kill();
            else any = true;
          }
        if (!any && this.sweeper !== undefined) {
          clearInterval(this.sweeper);
          this.sweeper = undefined;
        }
      },
      Math.max(1000, this.idleTimeoutMs / 2),
    );
    this.sweeper.unref?.();
  }

  close(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    for (const c of [...this.live]) c.kill();
    this.idle.clear();
  }
}

export function createHttp1Client(options: Http1ClientOptions): Transport {
  const pool = new Http1Pool(options);

  const exchange = (
    conn: Conn,
    req: UpstreamRequest,
    opts: SendOptions,
  ): { x: Exchange; p: Promise<SendResult> } => {
    let x: Exchange | undefined;
    const p = new Promise<SendResult>((resolve) => {
      conn.requests++;
      x = new Exchange(conn, req, pool, opts.cancel, resolve);
      x.maxRequests = opts.maxRequestsPerConnection ?? 0;
      conn.exchange = x;
      x.start();
    });
    return { x: x as unknown as Exchange, p };
  };

  const fresh = async (ep: UpstreamEndpoint, opts: SendOptions): Promise<Conn | SendResult> => {
    try {
      const socket = await options.connector(ep, {
        signal: opts.cancel.signal,
        timeoutMs: opts.connectTimeoutMs,
        forwardedFor: opts.forwardedFor,
      });
      const conn = new Conn(socket, ep.address, pool);
      pool.live.add(conn);
      if (opts.cancel.aborted) {
        pool.release(conn);
        return { ok: false, failure: 'aborted', detail: 'cancelled while connecting' };
      }
      return conn;
    } catch (e) {
      if (e instanceof UpstreamConnectError && e.kind === 'aborted')
        return { ok: false, failure: 'aborted', detail: e.message };
      return { ok: false, failure: 'connect-failure', detail: e instanceof Error ? e.message : String(e) };
    }
  };

  return {
    async send(ep, req, opts) {
      if (opts.cancel.aborted) return { ok: false, failure: 'aborted', detail: 'cancelled' };
      const reused = pool.take(ep.address);
      if (reused !== undefined) {
        const { x, p } = exchange(reused, req, opts);
        const r = await p;
        // a pooled connection the upstream closed while idle: once more on a fresh one
        if (
          !r.ok &&
          r.failure === 'reset' &&
          !x.received &&
          req.body.kind !== 'stream' &&
          !opts.cancel.aborted
        ) {
          const c = await fresh(ep, opts);
          return c instanceof Conn ? exchange(c, req, opts).p : c;
        }
        return r;
      }
      const c = await fresh(ep, opts);
      return c instanceof Conn ? exchange(c, req, opts).p : c;
    },
    stats(): TransportStats {
      let idle = 0;
      for (const l of pool.idle.values()) idle += l.length;
      return { connections: pool.live.size, idle };
    },
    close() {
      pool.close();
    },
  };
}
