// HTTP/1.1 to endpoints over connections from the UpstreamConnector, with node's http client and
// a keep-alive Agent whose createConnection asks the connector (TCP or an HBONE tunnel). One
// Agent per transport keys connections by endpoint address.
import { Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import type { Duplex } from 'node:stream';
import { pipeBody, streamBody } from '../http/body.ts';
import { forwardable } from '../http/headers.ts';
import type { Body, Headers, L7Response } from '../http/message.ts';
import { UpstreamConnectError, type UpstreamConnector, type UpstreamEndpoint } from './connector.ts';
import type { SendOptions, SendResult, Transport, TransportStats, UpstreamRequest } from './transport.ts';

export interface Http1TransportOptions {
  readonly connector: UpstreamConnector;
  /** Idle keep-alive connections kept per endpoint. Default 256. */
  readonly maxFreeSockets?: number;
  /** Close idle connections after this long. Default 30 s (node agents otherwise trust the server's hint). */
  readonly idleTimeoutMs?: number;
  /** Close a connection after this many requests (DestinationRule maxRequestsPerConnection); 0 = no limit. */
  readonly maxRequestsPerConnection?: number;
}

interface ConnectPending {
  readonly endpoint: UpstreamEndpoint;
  readonly connectTimeoutMs: number;
}

type SocketLike = Duplex & {
  setKeepAlive?: (enable?: boolean, delay?: number) => unknown;
  setNoDelay?: (noDelay?: boolean) => unknown;
  setTimeout?: (ms: number, cb?: () => void) => unknown;
  ref?: () => unknown;
  unref?: () => unknown;
  weftRequests?: number;
};

/** Tunnels are Duplexes without the socket methods the Agent calls: give them harmless ones. */
function asSocket(d: Duplex): Duplex {
  const s = d as SocketLike;
  if (typeof s.setKeepAlive !== 'function') s.setKeepAlive = () => s;
  if (typeof s.setNoDelay !== 'function') s.setNoDelay = () => s;
  if (typeof s.setTimeout !== 'function') s.setTimeout = () => s;
  if (typeof s.ref !== 'function') s.ref = () => s;
  if (typeof s.unref !== 'function') s.unref = () => s;
  return d;
}

const NO_BODY_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);

export function createHttp1Transport(options: Http1TransportOptions): Transport {
  const endpoints = new Map<string, ConnectPending>();
  const maxPerConn = options.maxRequestsPerConnection ?? 0;

  class ConnectorAgent extends Agent {
    override createConnection(
      opts: { host?: string; port?: number | string },
      cb: (err: Error | null, s?: Duplex) => void,
    ): undefined {
      const key = `${opts.host}:${opts.port}`;
      const p = endpoints.get(key);
      if (p === undefined) {
        queueMicrotask(() => cb(new UpstreamConnectError('other', key, 'unknown endpoint')));
        return undefined;
      }
      const ac = new AbortController();
      options.connector(p.endpoint, { signal: ac.signal, timeoutMs: p.connectTimeoutMs }).then(
        (s) => cb(null, asSocket(s)),
        (e: unknown) => cb(e instanceof Error ? e : new Error(String(e))),
      );
      return undefined;
    }
  }
  const agent = new ConnectorAgent({
    keepAlive: true,
    maxFreeSockets: options.maxFreeSockets ?? 256,
    timeout: options.idleTimeoutMs ?? 30_000,
    scheduling: 'lifo',
  });
  if (maxPerConn > 0) {
    // node's typings declare keepSocketAlive as returning void; it returns whether to keep
    const a = agent as unknown as { keepSocketAlive: (s: SocketLike) => boolean };
    const base = a.keepSocketAlive.bind(agent);
    a.keepSocketAlive = (s: SocketLike) => {
      s.weftRequests = (s.weftRequests ?? 0) + 1;
      if (s.weftRequests >= maxPerConn) return false;
      return base(s);
    };
  }

  const attempt = (
    ep: UpstreamEndpoint,
    req: UpstreamRequest,
    opts: SendOptions,
    retryReused: boolean,
  ): Promise<SendResult> =>
    new Promise<SendResult>((resolve) => {
      let settled = false;
      const settle = (r: SendResult) => {
        if (settled) return;
        settled = true;
        opts.signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      const headers: Record<string, string | string[]> = {};
      for (const k in req.headers) {
        const v = req.headers[k];
        if (v !== undefined) headers[k] = v;
      }
      headers.host = req.authority;
      const body = req.body;
      if (body.kind === 'bytes') headers['content-length'] = String(body.length);
      else if (body.kind === 'empty') {
        if (!NO_BODY_METHODS.has(req.method)) headers['content-length'] = '0';
        else delete headers['content-length'];
      }
      if (req.upgrade !== undefined) {
        headers.connection = 'upgrade';
        headers.upgrade = req.upgrade;
      }
      endpoints.set(ep.address, { endpoint: ep, connectTimeoutMs: opts.connectTimeoutMs });
      let cr: ClientRequest;
      try {
        cr = request({
          host: ep.ip,
          port: ep.port,
          method: req.method,
          path: req.path,
          headers,
          agent,
          setHost: false,
        });
      } catch (e) {
        settle({ ok: false, failure: 'protocol-error', detail: e instanceof Error ? e.message : String(e) });
        return;
      }
      const onAbort = () => {
        cr.destroy();
        settle({ ok: false, failure: 'aborted', detail: 'attempt aborted' });
      };
      if (opts.signal.aborted) {
        onAbort();
        return;
      }
      opts.signal.addEventListener('abort', onAbort, { once: true });
      cr.on('error', (e: NodeJS.ErrnoException) => {
        if (settled) return;
        if (e instanceof UpstreamConnectError) {
          settle({ ok: false, failure: 'connect-failure', detail: e.message });
          return;
        }
        // A pooled connection the server closed while idle: try once on a fresh one.
        if (retryReused && cr.reusedSocket && body.kind !== 'stream') {
          settled = true;
          opts.signal.removeEventListener('abort', onAbort);
          attempt(ep, req, opts, false).then(resolve);
          return;
        }
        settle({
          ok: false,
          failure:
            e.code === 'HPE_INVALID_CONSTANT' || e.code?.startsWith('HPE_') ? 'protocol-error' : 'reset',
          detail: e.message,
        });
      });
      cr.on('response', (res: IncomingMessage) => settle({ ok: true, response: toResponse(req, res) }));
      cr.on('upgrade', (res: IncomingMessage, socket: Duplex, head: Buffer) => {
        settle({
          ok: true,
          response: {
            status: res.statusCode ?? 101,
            headers: { ...forwardable(res.headers as Headers), upgrade: res.headers.upgrade },
            body: { kind: 'empty' },
            upgraded: { socket, head },
          },
        });
      });
      if (req.upgrade !== undefined) {
        cr.end();
        return;
      }
      pipeBody(body, cr, {
        trailers: (t) => cr.addTrailers(t as Record<string, string>),
        done: (err) => {
          if (err !== undefined) cr.destroy(err);
        },
      });
    });

  return {
    send: (ep, req, opts) => attempt(ep, req, opts, true),
    stats(): TransportStats {
      let connections = 0;
      let idle = 0;
      for (const list of Object.values(agent.sockets)) connections += list?.length ?? 0;
      for (const list of Object.values(agent.freeSockets)) idle += list?.length ?? 0;
      return { connections: connections + idle, idle };
    },
    close() {
      agent.destroy();
    },
  };
}

function toResponse(req: UpstreamRequest, res: IncomingMessage): L7Response {
  const status = res.statusCode ?? 502;
  const headers = forwardable(res.headers as Headers);
  const cl = res.headers['content-length'];
  const noBody =
    req.method === 'HEAD' ||
    status === 204 ||
    status === 304 ||
    (status >= 100 && status < 200) ||
    cl === '0';
  let body: Body;
  if (noBody) {
    res.resume();
    body = { kind: 'empty' };
  } else {
    body = streamBody(res, cl === undefined ? undefined : Number(cl), () =>
      Object.keys(res.trailers).length > 0 ? (res.trailers as Headers) : undefined,
    );
  }
  return { status, headers, body };
}
