// HTTP/1.1 downstream: node's http server parses (keep-alive, chunked, pipelining), the engine
// decides, and this module writes the answer back. Connections come from anywhere (a TCP
// listener, an HBONE tunnel's in-memory pair) with the Downstream facts attached.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.ts';
import { bufferBody, pipeBody, streamBody } from '../http/body.ts';
import type { Body, Downstream, Headers, L7Request, L7Response } from '../http/message.ts';
import { Cancellation } from '../runtime.ts';
import { BodyLimit } from './body-limit.ts';
import { checkRequestHead, clientErrorReply, rawResponse } from './head.ts';
import { headersFromHttp1 } from './raw-headers.ts';

export interface Http1Listener {
  readonly server: Server;
  /**
   * Serves one connection whose facts are known (HBONE tunnel, sniffed socket); `since`: when
   * its first byte arrived (engine clock), if bytes were read before (sniffing).
   */
  handle(socket: Duplex, downstream: Downstream, since?: number): void;
  /** Open downstream connections. */
  readonly connections: number;
  close(): void;
}

export interface Http1ListenerOptions {
  /** Facts for sockets that reach the server without `handle` (a plain TCP listener). */
  readonly downstreamOf?: (socket: Socket) => Downstream;
}

const downstreams = new WeakMap<object, Downstream>();

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

function headersForWrite(h: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function createHttp1Listener(engine: Engine, options: Http1ListenerOptions = {}): Http1Listener {
  const limits = engine.limits;
  let connections = 0;
  const server = createServer({
    maxHeaderSize: limits.maxRequestHeadersBytes,
    requireHostHeader: false,
    joinDuplicateHeaders: false,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
  });
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;

  const downstreamOf = (socket: Socket): Downstream => {
    let d = downstreams.get(socket);
    if (d === undefined) {
      d = options.downstreamOf ? options.downstreamOf(socket) : downstreamFromSocket(socket);
      downstreams.set(socket, d);
    }
    return d;
  };

  const answered = new WeakSet<Duplex>();
  let pendingSince: number | undefined;
  const heads = watchHeads(engine, (socket) => {
    // the head did not arrive in time: 408 and close, however slowly bytes still come
    engine.reject('headers_timeout');
    if (answered.has(socket) || !socket.writable) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    socket.end(rawResponse(408, 'request header timeout'));
    socket.once('finish', () => socket.destroy());
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  });

  server.on('connection', (socket: Socket) => {
    connections++;
    socket.once('close', () => connections--);
    if (connections > limits.maxConnections) {
      engine.reject('connection_limit');
      socket.destroy();
      return;
    }
    heads.add(socket, pendingSince);
  });

  // Requests of a connection still being answered, and what to send once they all are.
  const inFlight = new WeakMap<object, number>();
  const afterResponses = new WeakMap<object, () => void>();
  const lastRequest = new WeakMap<object, IncomingMessage>();
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // one answer (and one count) per connection, whatever the parser reports after it
    if (answered.has(socket)) {
      if (!socket.writableEnded) socket.end();
      return;
    }
    answered.add(socket);
    const p = clientErrorReply(err.code);
    if (p === undefined || !socket.writable) {
      socket.destroy();
      return;
    }
    engine.reject(p.reason);
    const answer = () => {
      if (socket.writable) socket.end(rawResponse(p.status, p.message));
      else socket.destroy();
    };
    // A malformed pipelined request is answered after the responses to the requests before it:
    // a 400 first would read as the answer to a request the upstream already executed. An error
    // inside a request's own body (not fully read yet) is that request's answer, at once.
    const previous = lastRequest.get(socket);
    if ((inFlight.get(socket) ?? 0) > 0 && previous?.complete === true) afterResponses.set(socket, answer);
    else answer();
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    heads.started(socket);
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    lastRequest.set(socket, req);
    res.once('close', () => {
      heads.finished(socket);
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      const then = left === 0 ? afterResponses.get(socket) : undefined;
      if (then !== undefined) {
        afterResponses.delete(socket);
        then();
      }
    });
    const down = downstreamOf(req.socket);
    const problem = checkRequestHead(req.rawHeaders, req.httpVersion);
    if (problem !== undefined) {
      answered.add(req.socket);
      engine.reject(problem.reason);
      simpleReply(res, problem.status, problem.message);
      return;
    }
    // the field lines as sent: req.headers joins repeated fields into one string
    const headers = headersFromHttp1(req.rawHeaders);
    const cl = headers['content-length'] as string | undefined;
    let body: Body;
    let limiter: BodyLimit | undefined;
    if (cl !== undefined) {
      const n = Number(cl);
      if (n > limits.maxRequestBodyBytes) {
        engine.reject('body_too_large');
        simpleReply(res, 413, 'request body too large');
        return;
      }
      body = n === 0 ? { kind: 'empty' } : streamBody(req, n, () => trailersOf(req));
    } else if (headers['transfer-encoding'] !== undefined) {
      limiter = new BodyLimit(limits.maxRequestBodyBytes);
      req.on('error', (e) => limiter?.destroy(e));
      req.pipe(limiter);
      body = streamBody(limiter, undefined, () => trailersOf(req));
    } else {
      body = { kind: 'empty' };
    }
    serve(req, res, down, headers, body, limiter);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    heads.delete(socket);
    const proto = typeof req.headers.upgrade === 'string' ? req.headers.upgrade : '';
    const problem = checkRequestHead(req.rawHeaders, req.httpVersion);
    if (problem !== undefined || proto === '' || proto.toLowerCase() === 'h2c') {
      engine.reject(problem?.reason ?? 'bad_request');
      socket.end(
        rawResponse(problem?.status ?? 400, problem?.message ?? `upgrade to "${proto}" is not proxied`),
      );
      return;
    }
    const down = downstreamOf(req.socket as Socket);
    const cancel = new Cancellation();
    let upgradedOk = false;
    socket.once('close', () => {
      if (!upgradedOk) cancel.abort('downstream closed');
    });
    const { req: l7, response } = engine.dispatch({
      protocol: 'HTTP/1.1',
      method: req.method ?? 'GET',
      rawPath: req.url ?? '/',
      authority: req.headers.host,
      scheme: 'http',
      headers: headersFromHttp1(req.rawHeaders),
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
        socket.write(`${head101}\r\n`);
        if (out.upgraded.head.length > 0) socket.write(out.upgraded.head);
        if (head.length > 0) up.write(head);
        let sent = 0;
        let received = head.length;
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
      if (!socket.destroyed) socket.end(rawResponse(out.status, text, extra));
      engine.finish(l7, {
        status: out.status,
        grpcStatus: undefined,
        requestBytes: 0,
        responseBytes: text.length,
        durationMs: engine.clock.now() - l7.ctx.startMono,
      });
    });
  });

  const serve = (
    req: IncomingMessage,
    res: ServerResponse,
    down: Downstream,
    headers: Headers,
    body: Body,
    limiter: BodyLimit | undefined,
  ) => {
    const cancel = new Cancellation();
    let responseBytes = 0;
    let l7: L7Request | undefined;
    let status = 0;
    let grpcStatus: number | undefined;
    let reported = false;
    const report = () => {
      if (reported || l7 === undefined) return;
      reported = true;
      if (!res.writableFinished) {
        cancel.abort('downstream closed');
        if (!l7.ctx.flags.some(upstreamFault)) l7.ctx.flags.push('DC');
      }
      engine.finish(l7, {
        status: res.headersSent ? status : 0,
        grpcStatus,
        requestBytes:
          limiter !== undefined
            ? limiter.seen
            : body.kind === 'stream' && req.complete
              ? (body.length ?? 0)
              : 0,
        responseBytes,
        durationMs: engine.clock.now() - l7.ctx.startMono,
      });
    };
    res.once('close', report);
    const { req: r, response } = engine.dispatch({
      protocol: req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1',
      method: req.method ?? 'GET',
      rawPath: req.url ?? '/',
      authority: headers.host as string | undefined,
      scheme: 'http',
      headers,
      body,
      downstream: down,
      cancel,
    });
    l7 = r;
    response.then((out) => {
      if (limiter?.exceeded) {
        engine.reject('body_too_large');
        out = {
          status: 413,
          headers: { 'content-type': 'text/plain', connection: 'close' },
          body: { kind: 'empty' },
        };
      }
      status = out.status;
      grpcStatus = out.grpcStatus;
      writeResponse(res, out, r, (bytes) => {
        responseBytes = bytes;
      });
    });
  };

  return {
    server,
    handle(socket, downstream, since) {
      downstreams.set(socket, downstream);
      pendingSince = since;
      try {
        server.emit('connection', socket);
      } finally {
        pendingSince = undefined;
      }
    },
    get connections() {
      return connections;
    },
    close() {
      heads.close();
      server.closeAllConnections?.();
      server.close();
    },
  };
}

/** How long a connection answered 408 may take to read it before it is reset. */
const CLOSE_GRACE_MS = 1000;

interface HeadState {
  /** Requests whose head arrived and whose response is not finished. */
  inFlight: number;
  /** When the head being awaited began (its first byte), if it has. */
  start: number | undefined;
  /** Bytes read when the connection last went idle. */
  idleBytes: number;
  readonly bytes: () => number;
}

/**
 * headersTimeoutMs, enforced from the first byte of a request head to its end, even when bytes
 * keep dripping. Node's own check runs only for servers that listen, every 30 s by default, and
 * Bun has none; these connections mostly come from `handle`. A connection's first head counts from
 * the connection's first byte (or its start); later heads from the first byte read after the previous response. One
 * sweep per listener, every tenth of the timeout, reads byte counts (a kernel socket read by
 * node's parser emits no 'data'), so a head is cut between 1 and 1.2 timeouts after it began.
 */
function watchHeads(engine: Engine, onTimeout: (socket: Duplex) => void) {
  const timeoutMs = engine.limits.headersTimeoutMs;
  const clock = engine.clock;
  const conns = new Map<Duplex, HeadState>();
  let sweep: ReturnType<typeof setInterval> | undefined;
  const check = () => {
    const now = clock.now();
    for (const [socket, st] of conns) {
      if (st.inFlight > 0) continue;
      if (st.start === undefined) {
        if (st.bytes() > st.idleBytes) st.start = now;
        continue;
      }
      if (now - st.start >= timeoutMs) {
        conns.delete(socket);
        onTimeout(socket);
      }
    }
    if (conns.size === 0 && sweep !== undefined) {
      clearInterval(sweep);
      sweep = undefined;
    }
  };
  return {
    add(socket: Duplex, since: number | undefined) {
      if (timeoutMs <= 0) return;
      let bytes: () => number;
      if (typeof (socket as Socket).bytesRead === 'number') bytes = () => (socket as Socket).bytesRead;
      else {
        let n = 0;
        socket.on('data', (c: Buffer) => {
          n += c.length;
        });
        bytes = () => n;
      }
      conns.set(socket, { inFlight: 0, start: since ?? clock.now(), idleBytes: 0, bytes });
      socket.once('close', () => conns.delete(socket));
      sweep ??= setInterval(check, Math.max(5, Math.min(1000, Math.floor(timeoutMs / 10))));
      sweep.unref?.();
    },
    started(socket: Duplex) {
      const st = conns.get(socket);
      if (st === undefined) return;
      st.inFlight++;
      st.start = undefined;
    },
    finished(socket: Duplex) {
      const st = conns.get(socket);
      if (st === undefined || --st.inFlight > 0) return;
      st.inFlight = 0;
      st.start = undefined;
      st.idleBytes = st.bytes();
    },
    delete(socket: Duplex) {
      conns.delete(socket);
    },
    close() {
      conns.clear();
      if (sweep !== undefined) clearInterval(sweep);
      sweep = undefined;
    },
  };
}

/** Flags that explain an unfinished response by the upstream side (so not DC). */
const UPSTREAM_FAULTS = new Set(['DC', 'UT', 'UR', 'SI', 'UPE', 'UC']);
function upstreamFault(f: string): boolean {
  return UPSTREAM_FAULTS.has(f);
}

function trailersOf(req: IncomingMessage): Headers | undefined {
  for (const _ in req.trailers) return req.trailers as Headers;
  return undefined;
}

function simpleReply(res: ServerResponse, status: number, message: string): void {
  res.shouldKeepAlive = false;
  res.writeHead(status, {
    'content-type': 'text/plain',
    'content-length': Buffer.byteLength(message),
    connection: 'close',
  });
  res.end(message);
}

function writeResponse(
  res: ServerResponse,
  out: L7Response,
  req: L7Request,
  onBytes: (n: number) => void,
): void {
  if (res.destroyed || res.writableEnded) {
    if (out.body.kind === 'stream') out.body.stream.destroy();
    return;
  }
  try {
    res.writeHead(out.status, headersForWrite(out.headers));
  } catch {
    // an upstream header node refuses to write (invalid characters)
    if (out.body.kind === 'stream') out.body.stream.destroy();
    req.ctx.flags.push('UPE');
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain', 'content-length': 20 });
      res.end('invalid upstream head');
    }
    return;
  }
  pipeBody(out.body, res, {
    trailers: (t) => res.addTrailers(headersForWrite(t) as Record<string, string>),
    done: (err, bytes) => {
      onBytes(bytes);
      if (err !== undefined) {
        if (!req.ctx.flags.includes('UT') && !req.ctx.flags.includes('SI')) req.ctx.flags.push('UR');
        res.destroy(err);
      }
    },
  });
}
