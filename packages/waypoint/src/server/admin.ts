// The three small HTTP servers every Weft proxy has: admin (config dump, clusters; localhost),
// Prometheus metrics, and readiness.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { shareEndpointAcrossWorkers } from '@weft/proxy-core';
import { type MetricsRegistry, metricsHandler } from '@weft/telemetry';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export function json(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A GET-only server over a path table; anything else is 404/405. */
export function createSmallServer(routes: Readonly<Record<string, RouteHandler>>): Server {
  const server = createServer(
    { maxHeaderSize: 8192, headersTimeout: 5_000, requestTimeout: 10_000 },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const handler = routes[path];
      if (handler === undefined) {
        text(res, 404, 'not found\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        text(res, 405, 'method not allowed\n');
        return;
      }
      Promise.resolve(handler(req, res)).catch((e: unknown) => {
        if (!res.headersSent) text(res, 500, `${e instanceof Error ? e.message : String(e)}\n`);
      });
    },
  );
  // With several workers, metrics and readiness answer for the whole waypoint.
  shareEndpointAcrossWorkers(server, Object.keys(routes));
  return server;
}

export function metricsServer(registry: MetricsRegistry): Server {
  const handler = metricsHandler(registry);
  return createSmallServer({
    '/stats/prometheus': (req, res) => handler(req, res),
    '/metrics': (req, res) => handler(req, res),
  });
}

export function listen(server: Server, host: string, port: number): Promise<{ ip: string; port: number }> {
  // after listening, a server still emits 'error' (accept failing with EMFILE, for one)
  server.on('error', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address();
      if (a === null || typeof a === 'string') reject(new Error('no TCP address'));
      else resolve({ ip: a.address, port: a.port });
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}
