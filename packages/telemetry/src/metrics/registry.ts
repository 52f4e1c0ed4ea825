// The registry every component's metrics go into, and the text a scrape gets.
// One registry per component instance (not prom-client's global one), so tests and several
// proxies in one process (local mode) never see each other's series.

import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { RegistryContentType } from 'prom-client';

// prom-client's index loads every metric class, the push gateway (http, https), the cluster
// aggregator (node:cluster), the process metrics and, through them, @opentelemetry/api: about
// 7 MiB of resident memory in every proxy that only needs the registry (our families are our
// own). So the registry module is loaded alone (the same class the index exports, one module
// instance), and the process metrics only when a component asks for them.
const require = createRequire(import.meta.url);

/** prom-client's `Registry` class. */
export const Registry: typeof PromClient.Registry = require('prom-client/lib/registry.js');
export type Registry<T extends RegistryContentType = PromClient.PrometheusContentType> =
  PromClient.Registry<T>;

/** A prom-client registry of either content type (Prometheus text or OpenMetrics). */
export type MetricsRegistry = Registry<RegistryContentType>;

export interface RegistryOptions {
  /** Labels added to every series, e.g. { component: 'ztunnel' } (keep them few). */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

export function createRegistry(options: RegistryOptions = {}): MetricsRegistry {
  const registry = new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels({ ...options.defaultLabels });
  return registry;
}

export interface ProcessMetricsOptions {
  /** Name prefix for the process/runtime metrics; default none (process_cpu_seconds_total, nodejs_*). */
  readonly prefix?: string;
}

/**
 * Opt-in process and runtime metrics (CPU, memory, file descriptors, event-loop lag, GC) from
 * prom-client. Returns an error value instead of throwing on a runtime that lacks some probe.
 */
export function enableProcessMetrics(
  registry: MetricsRegistry,
  options: ProcessMetricsOptions = {},
): { readonly ok: true } | { readonly ok: false; readonly error: string } {
  try {
    const collectDefaultMetrics: typeof PromClient.collectDefaultMetrics = require('prom-client/lib/defaultMetrics.js');
    collectDefaultMetrics(
      options.prefix === undefined ? { register: registry } : { register: registry, prefix: options.prefix },
    );
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export interface RenderedMetrics {
  readonly contentType: string;
  readonly body: string;
}

/** The Prometheus text exposition of everything in the registry, with its content type. */
export async function renderMetrics(registry: MetricsRegistry): Promise<RenderedMetrics> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** The parts of a Node `IncomingMessage` / `ServerResponse` the handler touches. */
export interface MetricsRequest {
  readonly method?: string | undefined;
}
export interface MetricsResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

/**
 * A request handler serving the registry (for the proxies' :15020/stats/prometheus and
 * weftd's /metrics when not behind fastify). GET and HEAD only.
 */
export function metricsHandler(
  registry: MetricsRegistry,
): (req: MetricsRequest, res: MetricsResponse) => void {
  return (req, res) => {
    if (req.method !== undefined && req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('allow', 'GET, HEAD');
      res.end();
      return;
    }
    renderMetrics(registry).then(
      ({ contentType, body }) => {
        res.statusCode = 200;
        res.setHeader('content-type', contentType);
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      () => {
        res.statusCode = 500;
        res.end();
      },
    );
  };
}
