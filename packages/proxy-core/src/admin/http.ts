// The node-level HTTP ports: admin (15000), Prometheus metrics (15020), readiness (15021). Each
// is a small node:http server with exact-path routes (no normalization, so `/a/../config_dump`
// or `//config_dump` are simply not found), GET/HEAD only, bounded header size and time, and a
// connection cap; malformed requests get 400 and are counted.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { shareEndpointAcrossWorkers } from '../workers/cluster.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpEndpointOptions {
  readonly routes: Readonly<Record<string, Route>>;
  /** Called for each refused request (bad syntax, oversized, timed out). */
  readonly onBadRequest: () => void;
  /** Default 256. */
  readonly maxConnections?: number;
  /** Headers must arrive within this. Default 5 s. */
  readonly headersTimeoutMs?: number;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(text);
}

export function createHttpEndpoint(options: HttpEndpointOptions): Server {
  const headersTimeout = options.headersTimeoutMs ?? 5_000;
  const server = createServer(
    {
      maxHeaderSize: 8 * 1024,
      requestTimeout: headersTimeout * 2,
      headersTimeout,
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const path = q >= 0 ? url.slice(0, q) : url;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        sendText(res, 405, 'method not allowed\n');
        return;
      }
      const route = Object.hasOwn(options.routes, path) ? options.routes[path] : undefined;
      if (route === undefined) {
        sendText(res, 404, 'not found\n');
        return;
      }
      try {
        route(req, res);
      } catch {
        if (!res.headersSent) sendText(res, 500, 'internal error\n');
        else res.destroy();
      }
    },
  );
  // Accept failures (EMFILE) must not crash the node; a listen failure still reaches listen's caller.
  server.on('error', () => {});
  server.maxConnections = options.maxConnections ?? 256;
  server.maxHeadersCount = 64;
  // A socket that never completes a request is closed by headersTimeout / requestTimeout; an idle
  // socket after a response by keepAliveTimeout. A silent socket still needs a bound before that:
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.setTimeout(headersTimeout * 2, () => socket.destroy());
  });
  server.on('clientError', (_err, socket) => {
    options.onBadRequest();
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  // With several workers, metrics and readiness answer for the whole proxy (workers/cluster.ts).
  shareEndpointAcrossWorkers(server, Object.keys(options.routes));
  return server;
}
