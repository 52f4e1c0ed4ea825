// HTTP/2 (h2c, plaintext inside the tunnel) to endpoints: one session per endpoint over a
// connection from the UpstreamConnector, shared by concurrent requests up to the peer's stream
// limit. Used for http2 / grpc service ports.
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants as h2,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from 'node:http2';
import { pipeBody, streamBody } from '../http/body.ts';
import { forwardable } from '../http/headers.ts';
import type { Body, Headers, L7Response } from '../http/message.ts';
import type { UpstreamConnector, UpstreamEndpoint } from './connector.ts';
import type { SendOptions, SendResult, Transport, TransportStats } from './transport.ts';

export interface Http2TransportOptions {
  readonly connector: UpstreamConnector;
  /** Close a session after this long without streams. Default 60 s. */
  readonly idleTimeoutMs?: number;
}

interface Entry {
  readonly session: Promise<ClientHttp2Session>;
  streams: number;
  live: ClientHttp2Session | undefined;
  idle: ReturnType<typeof setTimeout> | undefined;
}

/** Splits pseudo headers off an HTTP/2 header block. */
export function fromH2Headers(h: IncomingHttpHeaders): Headers {
  const out: Headers = {};
  for (const k in h) if (k.charCodeAt(0) !== 58 /* : */) out[k] = h[k];
  return out;
}

export function grpcStatusOf(h: Headers | undefined): number | undefined {
  const v = h?.['grpc-status'];
  if (v === undefined) return undefined;
  const n = Number(typeof v === 'string' ? v : v[0]);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

export function createHttp2Transport(options: Http2TransportOptions): Transport {
  const entries = new Map<string, Entry>();
  const idleMs = options.idleTimeoutMs ?? 60_000;

  const open = (ep: UpstreamEndpoint, opts: SendOptions): Entry => {
    const entry: Entry = {
      streams: 0,
      live: undefined,
      idle: undefined,
      session: options
        .connector(ep, {
          signal: AbortSignal.timeout(opts.connectTimeoutMs),
          timeoutMs: opts.connectTimeoutMs,
        })
        .then(
          (socket) =>
            new Promise<ClientHttp2Session>((resolve, reject) => {
              const session = connect(`http://${ep.address}`, {
                createConnection: () => socket,
                settings: { enablePush: false },
                maxSessionMemory: 64,
              });
              const drop = () => {
                if (entries.get(ep.address) === entry) entries.delete(ep.address);
              };
              session.once('connect', () => {
                entry.live = session;
                resolve(session);
              });
              session.once('error', (e) => {
                drop();
                reject(e);
              });
              session.on('error', () => {});
              session.once('goaway', drop);
              session.once('close', () => {
                drop();
                reject(new Error('session closed'));
              });
            }),
        ),
    };
    entry.session.catch(() => {
      if (entries.get(ep.address) === entry) entries.delete(ep.address);
    });
    entries.set(ep.address, entry);
    return entry;
  };

  const release = (ep: UpstreamEndpoint, entry: Entry) => {
    entry.streams--;
    if (entry.streams > 0) return;
    if (entry.idle !== undefined) clearTimeout(entry.idle);
    entry.idle = setTimeout(() => {
      if (entry.streams === 0) {
        if (entries.get(ep.address) === entry) entries.delete(ep.address);
        entry.live?.close();
      }
    }, idleMs);
    entry.idle.unref?.();
  };

  return {
    async send(ep, req, opts): Promise<SendResult> {
      let entry = entries.get(ep.address);
      if (entry?.live !== undefined && (entry.live.closed || entry.live.destroyed)) {
        entries.delete(ep.address);
        entry = undefined;
      }
      entry ??= open(ep, opts);
      entry.streams++;
      if (entry.idle !== undefined) {
        clearTimeout(entry.idle);
        entry.idle = undefined;
      }
      let session: ClientHttp2Session;
      try {
        session = await entry.session;
      } catch (e) {
        release(ep, entry);
        return { ok: false, failure: 'connect-failure', detail: e instanceof Error ? e.message : String(e) };
      }
      const e = entry;
      return new Promise<SendResult>((resolve) => {
        let settled = false;
        let released = false;
        const done = () => {
          if (released) return;
          released = true;
          release(ep, e);
        };
        const settle = (r: SendResult) => {
          if (settled) return;
          settled = true;
          opts.cancel.offAbort(onAbort);
          resolve(r);
        };
        const headers: OutgoingHttpHeaders = {};
        for (const k in req.headers) {
          const v = req.headers[k];
          if (v !== undefined && k !== 'host') headers[k] = v;
        }
        headers[':method'] = req.method;
        headers[':path'] = req.path;
        headers[':authority'] = req.authority;
        headers[':scheme'] = 'http';
        const body = req.body;
        if (body.kind === 'bytes') headers['content-length'] = String(body.length);
        let stream: ClientHttp2Stream;
        try {
          stream = session.request(headers, { endStream: body.kind === 'empty' });
          // a reset from the upstream (RST_STREAM with an error code) emits 'error'
          stream.on('error', () => {});
        } catch (err) {
          done();
          settle({
            ok: false,
            failure: 'refused-stream',
            detail: err instanceof Error ? err.message : String(err),
          });
          return;
        }
        const onAbort = () => {
          stream.close(h2.NGHTTP2_CANCEL);
          settle({ ok: false, failure: 'aborted', detail: 'attempt aborted' });
        };
        if (opts.cancel.aborted) {
          onAbort();
          return;
        }
        opts.cancel.onAbort(onAbort);
        let trailers: Headers | undefined;
        stream.on('trailers', (t: IncomingHttpHeaders) => {
          trailers = fromH2Headers(t);
        });
        stream.once('close', () => {
          done();
          if (!settled) {
            const refused = stream.rstCode === h2.NGHTTP2_REFUSED_STREAM;
            settle({
              ok: false,
              failure: refused ? 'refused-stream' : 'reset',
              detail: `stream closed before response (code ${stream.rstCode})`,
            });
          }
        });
        stream.once('response', (h: IncomingHttpHeaders, flags: number) => {
          const status = Number(h[':status'] ?? 502);
          const respHeaders = forwardable(fromH2Headers(h));
          const ended = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0;
          const cl = h['content-length'];
          let rbody: Body;
          if (ended || req.method === 'HEAD' || status === 204 || status === 304) {
            stream.resume();
            rbody = { kind: 'empty' };
          } else {
            rbody = streamBody(stream, cl === undefined ? undefined : Number(cl), () => trailers);
          }
          const response: L7Response = {
            status,
            headers: respHeaders,
            body: rbody,
            grpcStatus: grpcStatusOf(respHeaders),
          };
          settle({ ok: true, response });
        });
        if (body.kind !== 'empty') {
          // Request trailers of a streaming body are dropped (HTTP/2 needs them announced up
          // front with waitForTrailers; no common client sends them).
          pipeBody(body, stream, {
            done: (err) => {
              if (err !== undefined) stream.close(h2.NGHTTP2_CANCEL);
            },
          });
        }
      });
    },
    stats(): TransportStats {
      let idle = 0;
      for (const e of entries.values()) if (e.streams === 0) idle++;
      return { connections: entries.size, idle };
    },
    close() {
      for (const e of entries.values()) {
        if (e.idle !== undefined) clearTimeout(e.idle);
        e.live?.destroy();
      }
      entries.clear();
    },
  };
}
