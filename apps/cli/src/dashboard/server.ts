// The dashboard's composition root: polls weftd's snapshot and every proxy's metrics, keeps the
// last graph, serves it as /api/graph beside the page. Errors from weftd or a proxy are shown in
// the graph (`error`, a proxy's `ok: false`), never thrown out of the poll loop.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parsePrometheusText } from '@weft/telemetry/testing';
import {
  buildGraph,
  EMPTY_RATE_STATE,
  type Graph,
  type RateState,
  type Scrape,
  type SnapshotView,
} from './graph.ts';
import { dashboardPage } from './page.ts';

/** The demo's endpoints.json, as far as the dashboard reads it. */
export interface DashboardEndpoints {
  readonly nodes?: readonly { readonly name: string; readonly metrics: string }[];
  readonly waypoints?: readonly { readonly pod: string; readonly metrics: string }[];
  readonly sidecars?: readonly { readonly pod: string; readonly metrics: string }[];
}

export interface DashboardOptions {
  /** weftd's admin base URL, e.g. http://127.0.0.1:15014. */
  readonly weftdAdmin: string;
  /** A bearer token of an identity in weftd's admin namespace. */
  readonly token: string;
  readonly endpoints: DashboardEndpoints;
  /** host:port to serve on (default 127.0.0.1:15030; port 0 picks one). */
  readonly listen?: string;
  readonly pollMs?: number;
  /** How long an edge stays red after its last denied call (default 30 s). */
  readonly denyHoldMs?: number;
  /** Fetch, for tests (default global fetch). */
  readonly fetch?: typeof fetch;
}

export interface Dashboard {
  readonly url: string;
  /** The latest graph (polls once if none yet). */
  graph(): Promise<Graph>;
  close(): Promise<void>;
}

export const DEFAULT_LISTEN = '127.0.0.1:15030';

export function metricsTargets(endpoints: DashboardEndpoints): { name: string; url: string }[] {
  return [
    ...(endpoints.nodes ?? []).map((n) => ({ name: `ztunnel ${n.name}`, url: n.metrics })),
    ...(endpoints.waypoints ?? []).map((w) => ({ name: w.pod, url: w.metrics })),
    ...(endpoints.sidecars ?? []).map((s) => ({ name: `sidecar ${s.pod}`, url: s.metrics })),
  ];
}

export function splitHostPort(listen: string): { host: string; port: number } | { error: string } {
  const cut = listen.lastIndexOf(':');
  const host = listen.slice(0, cut).replace(/^\[|\]$/g, '');
  const port = Number(listen.slice(cut + 1));
  if (cut <= 0 || host === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    return { error: `--listen ${listen}: expected host:port` };
  }
  return { host, port };
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const listen = splitHostPort(opts.listen ?? DEFAULT_LISTEN);
  if ('error' in listen) throw new Error(listen.error);
  const pollMs = opts.pollMs ?? 2000;
  const doFetch = opts.fetch ?? fetch;
  const targets = metricsTargets(opts.endpoints);
  const timeoutMs = Math.max(500, Math.min(pollMs, 3000));

  let state: RateState = EMPTY_RATE_STATE;
  let latest: Graph | undefined;
  let inFlight: Promise<Graph> | undefined;

  const scrape = async (t: { name: string; url: string }): Promise<Scrape> => {
    try {
      const res = await doFetch(t.url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) return { ...t, samples: null, error: `HTTP ${res.status}` };
      return { ...t, samples: parsePrometheusText(await res.text()).samples };
    } catch (err) {
      return { ...t, samples: null, error: (err as Error).message };
    }
  };
  const snapshot = async (): Promise<{ value: SnapshotView | null; error: string | null }> => {
    try {
      const res = await doFetch(`${opts.weftdAdmin.replace(/\/$/, '')}/debug/config_dump`, {
        headers: { authorization: `Bearer ${opts.token}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) return { value: null, error: `weftd ${opts.weftdAdmin}: HTTP ${res.status}` };
      return { value: (await res.json()) as SnapshotView, error: null };
    } catch (err) {
      return { value: null, error: `weftd ${opts.weftdAdmin}: ${(err as Error).message}` };
    }
  };
  const poll = (): Promise<Graph> => {
    inFlight ??= (async () => {
      const [snap, scrapes] = await Promise.all([snapshot(), Promise.all(targets.map(scrape))]);
      const built = buildGraph(
        snap.value,
        scrapes,
        state,
        Date.now(),
        opts.denyHoldMs !== undefined ? { denyHoldMs: opts.denyHoldMs } : {},
      );
      state = built.state;
      latest = { ...built.graph, error: snap.error };
      return latest;
    })().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const page = dashboardPage(pollMs);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(page);
      return;
    }
    if (path === '/api/graph') {
      void (latest !== undefined ? Promise.resolve(latest) : poll()).then((g) => {
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify(g));
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('connection', (socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const bound = server.address() as AddressInfo;
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host;

  await poll();
  const timer = setInterval(() => void poll(), pollMs);
  timer.unref();

  return {
    url: `http://${host}:${bound.port}/`,
    graph: () => (latest !== undefined ? Promise.resolve(latest) : poll()),
    async close() {
      clearInterval(timer);
      await inFlight?.catch(() => {});
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
