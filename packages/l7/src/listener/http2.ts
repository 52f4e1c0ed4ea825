// HTTP/2 downstream (h2c: the tunnel already gives mutual TLS): node's http2 server parses, the
// engine decides, this module answers, including gRPC trailers. Work per connection is bounded:
// streams cancelled before their response (rapid reset) and SETTINGS/PING frames are counted per
// window and a connection over either limit gets GOAWAY and is closed.
import {
  createServer,
  type Http2Server,
  constants as h2,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine.ts';
import { pipeBody, streamBody } from '../http/body.ts';
import { HOP_BY_HOP } from '../http/headers.ts';
import { encodeGrpcMessage } from '../http/local-reply.ts';
import type { Body, Downstream, Headers, L7Response } from '../http/message.ts';
import { Cancellation } from '../runtime.ts';
import { fromH2Headers } from '../upstream/http2.ts';
import { BodyLimit } from './body-limit.ts';
import { headersFromHttp2 } from './raw-headers.ts';

/**
 * Where one request goes, on a listener whose connections carry requests for many destinations
 * (the waypoint's proxyless listener: one mTLS connection from a gRPC client, the service named
 * by each request's :authority): the connection's `Downstream` with the request's destination,
 * or a refusal answered here (a trailers-only gRPC status for gRPC, else the HTTP status), which
 * never reaches the engine. Whoever refuses counts it.
 */
export type RequestDestination =
  | { readonly ok: true; readonly downstream: Downstream }
  | {
      readonly ok: false;
      readonly status: number;
      readonly grpcStatus: number;
      readonly message: string;
    };

export interface Http2ListenerOptions {
  readonly downstreamOf?: (socket: Socket) => Downstream;
  /** Per request: the destination from the request's :authority (default: the connection's). */
  readonly destinationOf?: (connection: Downstream, authority: string | undefined) => RequestDestination;
}

export interface Http2Listener {
  readonly server: Http2Server;
  /** `since`: when the connection's first byte arrived (engine clock), if read before (sniffing). */
  handle(socket: Duplex, downstream: Downstream, since?: number): void;
  readonly sessions: number;
  close(): void;
}

interface Guard {
  /** GOAWAY sent, close pending. */
  killed: boolean;
  windowStart: number;
  resets: number;
  control: number;
  down: Downstream;
}

const downstreams = new WeakMap<object, Downstream>();

/** How long a connection told to go away (a flood) may finish its open streams. */
const KILL_GRACE_MS = 1000;

export function createHttp2Listener(engine: Engine, options: Http2ListenerOptions = {}): Http2Listener {
  const limits = engine.limits;
  const clock = engine.clock;
  let sessions = 0;
  let pendingDownstream: Downstream | undefined;
  let pendingSince: number | undefined;
  const server = createServer({
    settings: {
      maxConcurrentStreams: limits.h2MaxConcurrentStreams,
      maxHeaderListSize: limits.maxRequestHeadersBytes,
      enablePush: false,
    },
    maxSessionMemory: 16,
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    maxSettings: 32,
    maxOutstandingPings: 10,
    // hand fields with surrounding whitespace to the listener, which resets the stream; the
    // runtime's own check drops the field and lets the request through (Node 22+, Bun)
    strictFieldWhitespaceValidation: false,
  } as Parameters<typeof createServer>[0]);

  const tick = (g: Guard) => {
    const now = clock.now();
    if (now - g.windowStart > limits.h2WindowMs) {
      g.windowStart = now;
      g.resets = 0;
      g.control = 0;
    }
  };
  const kill = (
    session: ServerHttp2Session,
    g: Guard,
    reason: 'rapid_reset' | 'control_frame_flood' | 'h2_protocol_error',
  ) => {
    if (g.killed || session.destroyed) return;
    g.killed = true;
    engine.reject(reason);
    // GOAWAY ENHANCE_YOUR_CALM (destroy() alone would say NO_ERROR), then close once it is
    // written; streams still open are cut after a short grace
    try {
      session.goaway(h2.NGHTTP2_ENHANCE_YOUR_CALM);
      session.close();
    } catch {
      // already going away
    }
    setTimeout(() => session.destroy(), KILL_GRACE_MS).unref();
  };

  // never listened on (connections are handed over), but an 'error' here must not end the process
  server.on('error', ignoreError);
  server.on('sessionError', ignoreError);
  const prematureReset = (session: ServerHttp2Session, g: Guard) => {
    tick(g);
    if (++g.resets > limits.h2MaxPrematureResets) kill(session, g, 'rapid_reset');
  };

  const live = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    session.on('error', (e: NodeJS.ErrnoException) => {
      // nghttp2's own flood and protocol checks end here
      if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') engine.reject('h2_protocol_error');
    });
    session.on('frameError', () => {});
    sessions++;
    live.add(session);
    const sock = session.socket as unknown as object;
    const down =
      pendingDownstream ??
      downstreams.get(sock) ??
      (options.downstreamOf ? options.downstreamOf(session.socket as Socket) : fallbackDownstream(session));
    const g: Guard = { killed: false, windowStart: clock.now(), resets: 0, control: 0, down };
    const since = pendingSince ?? clock.now();
    // The first request's HEADERS (with its CONTINUATION frames) must be complete within
    // headersTimeoutMs of the session's start: a peer that sends the preface and then nothing,
    // or a header block one slow frame at a time, holds no connection longer than that.
    // (destroy: GOAWAY NO_ERROR, the socket ended once it is written; nothing to finish)
    const firstHeaders =
      limits.headersTimeoutMs > 0
        ? setTimeout(
            () => {
              if (g.killed || session.destroyed) return;
              g.killed = true;
              engine.reject('headers_timeout');
              session.destroy();
            },
            Math.max(0, limits.headersTimeoutMs - (clock.now() - since)),
          )
        : undefined;
    firstHeaders?.unref?.();
    session.once('stream', () => clearTimeout(firstHeaders));
    session.once('close', () => {
      clearTimeout(firstHeaders);
      sessions--;
      live.delete(session);
    });
    const control = () => {
      tick(g);
      if (++g.control > limits.h2MaxControlFrames) kill(session, g, 'control_frame_flood');
    };
    session.on('remoteSettings', control);
    session.on('ping', control);
    session.on(
      'stream',
      (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw?: string[]) =>
        onStream(session, g, stream, headers, flags, raw),
    );
  });

  const onStream = (
    session: ServerHttp2Session,
    g: Guard,
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    flags: number,
    rawHeaders: readonly string[] | undefined,
  ) => {
    // First, before anything can throw or return: a peer reset with an error code (REFUSED_STREAM,
    // INTERNAL_ERROR, ...) makes the stream emit 'error', and one unheard 'error' ends the process.
    stream.on('error', ignoreError);
    if (session.destroyed || g.killed) {
      // the connection was closed (a flood) while this stream's HEADERS were still queued
      if (!stream.destroyed) stream.close(h2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (stream.destroyed) {
      // opened and reset in the same read (HEADERS then RST_STREAM): the runtime closed it
      // before this event, and it counts like any stream cancelled before its answer
      prematureReset(session, g);
      return;
    }
    const cancel = new Cancellation();
    let responded = false;
    let finished = false;
    stream.once('close', () => {
      if (!finished) {
        cancel.abort('downstream closed');
        // cancelled before we answered: rapid-reset accounting
        if (!responded) prematureReset(session, g);
      }
    });
    // the field list as sent (runtimes join repeated fields and drop some invalid ones)
    const fields = headersFromHttp2(rawHeaders ?? flattenHeaders(headers));
    if (!fields.ok) {
      // a malformed request (RFC 9113 section 8.2.1) is a stream error, never a request
      responded = true;
      finished = true;
      engine.reject('h2_protocol_error');
      engine.logger.debug('malformed HTTP/2 request', { field: fields.field, reason: fields.reason });
      stream.close(h2.NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    const h = fields.headers;

    const method = headers[':method'] ?? '';
    const rawPath = headers[':path'] ?? '';
    const authority = headers[':authority'] ?? (typeof headers.host === 'string' ? headers.host : undefined);
    const ended = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0;
    let down = g.down;
    if (options.destinationOf !== undefined) {
      const dest = options.destinationOf(g.down, authority);
      if (!dest.ok) {
        responded = true;
        finished = true;
        refuse(stream, dest, h['content-type']);
        return;
      }
      down = dest.downstream;
    }
    let body: Body;
    let limiter: BodyLimit | undefined;
    let trailers: Headers | undefined;
    stream.on('trailers', (t: IncomingHttpHeaders) => {
      trailers = fromH2Headers(t);
    });
    const cl = h['content-length'];
    if (ended) body = { kind: 'empty' };
    else if (typeof cl === 'string') {
      if (Number(cl) > limits.maxRequestBodyBytes) {
        engine.reject('body_too_large');
        responded = true;
        stream.respond({ ':status': 413, 'content-type': 'text/plain' });
        stream.end('request body too large');
        return;
      }
      body = streamBody(stream, Number(cl), () => trailers);
    } else {
      limiter = new BodyLimit(limits.maxRequestBodyBytes);
      stream.pipe(limiter);
      body = streamBody(limiter, undefined, () => trailers);
    }

    const { req, response } = engine.dispatch({
      protocol: 'HTTP/2',
      method,
      rawPath,
      authority,
      scheme: headers[':scheme'] === 'https' ? 'https' : 'http',
      headers: h,
      body,
      downstream: down,
      cancel,
    });
    let status = 0;
    let grpcStatus: number | undefined;
    let responseBytes = 0;
    const report = () => {
      if (finished) return;
      finished = true;
      if (
        stream.rstCode !== undefined &&
        stream.rstCode !== h2.NGHTTP2_NO_ERROR &&
        !req.ctx.flags.some((f) => f === 'DC' || f === 'UT' || f === 'UR' || f === 'SI' || f === 'UPE')
      )
        req.ctx.flags.push('DC');
      engine.finish(req, {
        status: responded ? status : 0,
        grpcStatus,
        requestBytes: limiter !== undefined ? limiter.seen : typeof cl === 'string' ? Number(cl) : 0,
        responseBytes,
        durationMs: clock.now() - req.ctx.startMono,
      });
    };
    response.then((out) => {
      if (limiter?.exceeded) {
        engine.reject('body_too_large');
        out = { status: 413, headers: { 'content-type': 'text/plain' }, body: { kind: 'empty' } };
      }
      if (stream.destroyed || stream.closed) {
        if (out.body.kind === 'stream') out.body.stream.destroy();
        report();
        return;
      }
      status = out.status;
      grpcStatus = out.grpcStatus;
      stream.once('close', report);
      respond(stream, out, req.ctx.grpc, (bytes, trailerGrpc) => {
        responseBytes = bytes;
        if (trailerGrpc !== undefined) grpcStatus = trailerGrpc;
      });
      responded = true;
    });
  };

  return {
    server,
    handle(socket, downstream, since) {
      // node creates the session (and emits 'session') synchronously inside emit('connection');
      // session.socket is a proxy object, so it cannot key a WeakMap
      downstreams.set(socket, downstream);
      pendingDownstream = downstream;
      pendingSince = since;
      try {
        server.emit('connection', socket);
      } finally {
        pendingDownstream = undefined;
        pendingSince = undefined;
      }
    },
    get sessions() {
      return sessions;
    },
    close() {
      server.close();
      for (const s of live) s.destroy();
    },
  };
}

function ignoreError(): void {}

/** A refused request's answer: trailers-only gRPC status for gRPC callers, else the HTTP status. */
function refuse(
  stream: ServerHttp2Stream,
  r: Extract<RequestDestination, { ok: false }>,
  contentType: string | readonly string[] | undefined,
): void {
  // the request body, if any, is not wanted; reading it lets the stream close cleanly
  stream.resume();
  try {
    if (typeof contentType === 'string' && contentType.startsWith('application/grpc')) {
      stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(r.grpcStatus),
          'grpc-message': encodeGrpcMessage(r.message),
        },
        { endStream: true },
      );
      return;
    }
    stream.respond({ ':status': r.status, 'content-type': 'text/plain; charset=utf-8' });
    stream.end(`${r.message}\n`);
  } catch {
    stream.close(h2.NGHTTP2_INTERNAL_ERROR);
  }
}

/** Node's header object back to a field list (runtimes that do not pass the raw list). */
function flattenHeaders(h: IncomingHttpHeaders): string[] {
  const out: string[] = [];
  for (const k in h) {
    const v = h[k];
    if (v === undefined) continue;
    if (typeof v === 'string') out.push(k, v);
    else for (const one of v) out.push(k, one);
  }
  return out;
}

function fallbackDownstream(session: ServerHttp2Session): Downstream {
  const s = session.socket;
  return {
    remoteIp: s?.remoteAddress ?? '',
    remotePort: s?.remotePort ?? 0,
    principal: undefined,
    forwardedFor: undefined,
    destinationIp: s?.localAddress ?? '',
    destinationPort: s?.localPort ?? 0,
    security: 'none',
  };
}

function toOutgoing(h: Headers): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const k in h) {
    const v = h[k];
    // HTTP/2 has no connection-specific headers
    if (v !== undefined && k !== 'host' && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  return out;
}

function respond(
  stream: ServerHttp2Stream,
  out: L7Response,
  grpc: boolean,
  done: (bytes: number, grpcStatus: number | undefined) => void,
): void {
  const headers = toOutgoing(out.headers);
  headers[':status'] = out.status;
  const body = out.body;
  try {
    if (body.kind === 'empty' && body.trailers === undefined) {
      stream.respond(headers, { endStream: true });
      done(0, undefined);
      return;
    }
    const wantTrailers = grpc || body.trailers !== undefined;
    stream.respond(headers, wantTrailers ? { waitForTrailers: true } : {});
  } catch {
    stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    if (body.kind === 'stream') body.stream.destroy();
    done(0, undefined);
    return;
  }
  let trailers: Headers | undefined;
  stream.once('wantTrailers', () => {
    try {
      stream.sendTrailers(toOutgoing(trailers ?? {}));
    } catch {
      stream.close();
    }
  });
  pipeBody(body, stream, {
    trailers: (t) => {
      trailers = t;
    },
    done: (err, bytes) => {
      const gs = trailers?.['grpc-status'];
      done(bytes, gs === undefined ? undefined : Number(typeof gs === 'string' ? gs : gs[0]));
      if (err !== undefined) stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    },
  });
}
