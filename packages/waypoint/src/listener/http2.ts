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
import type { Body, Downstream, Headers, L7Response } from '../http/message.ts';
import { Cancellation } from '../runtime.ts';
import { fromH2Headers } from '../upstream/http2.ts';
import { BodyLimit } from './body-limit.ts';

export interface Http2Listener {
  readonly server: Http2Server;
  handle(socket: Duplex, downstream: Downstream): void;
  readonly sessions: number;
  close(): void;
}

interface Guard {
  windowStart: number;
  resets: number;
  control: number;
  down: Downstream;
}

const downstreams = new WeakMap<object, Downstream>();

export function createHttp2Listener(
  engine: Engine,
  options: { readonly downstreamOf?: (socket: Socket) => Downstream } = {},
): Http2Listener {
  const limits = engine.limits;
  const clock = engine.clock;
  const guards = new WeakMap<ServerHttp2Session, Guard>();
  let sessions = 0;
  let pendingDownstream: Downstream | undefined;
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
  });

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
    reason: 'rapid_reset' | 'control_frame_flood' | 'h2_protocol_error',
  ) => {
    if (session.destroyed) return;
    engine.reject(reason);
    try {
      session.goaway(h2.NGHTTP2_ENHANCE_YOUR_CALM);
    } catch {
      // already going away
    }
    session.destroy();
  };

  server.on('session', (session: ServerHttp2Session) => {
    sessions++;
    const sock = session.socket as unknown as object;
    const down =
      pendingDownstream ??
      downstreams.get(sock) ??
      (options.downstreamOf ? options.downstreamOf(session.socket as Socket) : fallbackDownstream(session));
    const g: Guard = { windowStart: clock.now(), resets: 0, control: 0, down };
    guards.set(session, g);
    session.once('close', () => sessions--);
    session.on('error', (e: NodeJS.ErrnoException) => {
      // nghttp2's own flood and protocol checks end here
      if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') engine.reject('h2_protocol_error');
    });
    session.on('frameError', () => {});
    const control = () => {
      tick(g);
      if (++g.control > limits.h2MaxControlFrames) kill(session, 'control_frame_flood');
    };
    session.on('remoteSettings', control);
    session.on('ping', control);
  });

  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => {
    const session = stream.session;
    const g = session === undefined ? undefined : guards.get(session as ServerHttp2Session);
    if (session === undefined || g === undefined) {
      stream.close(h2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    stream.on('error', () => {});
    const cancel = new Cancellation();
    let responded = false;
    let finished = false;
    stream.once('close', () => {
      if (!finished) {
        cancel.abort('downstream closed');
        if (!responded) {
          // cancelled before we answered: rapid-reset accounting
          tick(g);
          if (++g.resets > limits.h2MaxPrematureResets) kill(session as ServerHttp2Session, 'rapid_reset');
        }
      }
    });

    const method = headers[':method'] ?? '';
    const rawPath = headers[':path'] ?? '';
    const authority = headers[':authority'] ?? (typeof headers.host === 'string' ? headers.host : undefined);
    const h = fromH2Headers(headers);
    const ended = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0;
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
      downstream: g.down,
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
  });

  return {
    server,
    handle(socket, downstream) {
      // node creates the session (and emits 'session') synchronously inside emit('connection');
      // session.socket is a proxy object, so it cannot key a WeakMap
      downstreams.set(socket, downstream);
      pendingDownstream = downstream;
      try {
        server.emit('connection', socket);
      } finally {
        pendingDownstream = undefined;
      }
    },
    get sessions() {
      return sessions;
    },
    close() {
      server.close();
    },
  };
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
